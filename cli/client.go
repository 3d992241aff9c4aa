package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/protocol"
)

// Defaults of the client subcommands.
const (
	// DefaultClientTimeout bounds a whole one-shot client command (login,
	// send, receipt, recall, details, safety).
	DefaultClientTimeout = 30 * time.Second
	// DefaultRecvQuiet is how long `client recv` without --wait waits for
	// another frame before deciding the queue is drained. The server sends
	// what it has queued right after hello, so a short pause means done.
	DefaultRecvQuiet = 300 * time.Millisecond
)

// timeLayout is how the client prints times: RFC 3339, milliseconds, UTC.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// clientCommand is one `curbside client` subcommand. Each lives in a file
// of its own: client_login.go, client_send.go, client_recv.go,
// client_msg.go (receipt, recall, details), client_safety.go and
// client_devices.go (devices, approve, deny).
type clientCommand struct {
	name, summary string
	run           func(ctx context.Context, env *Env, args []string) error
}

// clientCommands lists the subcommands in the order usage shows them.
func clientCommands() []clientCommand {
	return []clientCommand{
		{"login", "sign in and register this device (keys are made here)", clientLogin},
		{"signin", "sign this state's device in again, proving its key", clientSignIn},
		{"send", "send one end-to-end-encrypted message", clientSend},
		{"recv", "print received messages and events as JSON lines", clientRecv},
		{"receipt", "send a read or acknowledged receipt", clientReceipt},
		{"recall", "recall a message you sent", clientRecall},
		{"details", "show a sent message's delivery status", clientDetails},
		{"safety", "show the safety number shared with a user", clientSafety},
		{"devices", "list your devices; show or answer a device's approval", clientDevices},
		{"approve", "approve the new device that shows CODE", clientApprove},
		{"deny", "refuse the new device with that id", clientDeny},
	}
}

// runClient dispatches `curbside client SUBCOMMAND`.
func runClient(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printClientUsage(env.Stdout)
		if len(args) == 0 {
			return usagef("client needs a subcommand")
		}
		return nil
	}
	for _, c := range clientCommands() {
		if c.name == args[0] {
			return c.run(ctx, env, args[1:])
		}
	}
	printClientUsage(env.Stderr)
	return usagef("unknown client subcommand %q", args[0])
}

// printClientUsage writes the list of client subcommands to w.
func printClientUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("usage: curbside client SUBCOMMAND --state FILE [flags]\n\nsubcommands:\n")
	for _, c := range clientCommands() {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	b.WriteString("\nThe state file holds the device's private keys; it is written with mode 0600.\n")
	b.WriteString("Run 'curbside client SUBCOMMAND -h' for a subcommand's flags.\n")
	io.WriteString(w, b.String())
}

// parseInterspersed parses flags that may come before or after positional
// arguments (`send --to bob "hi" --ack`), which flag.Parse alone does not.
// Everything after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// clientFlags are the flags every client subcommand has.
type clientFlags struct {
	state   string
	timeout time.Duration
}

// register adds the common flags to fs.
func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.state, "state", "", "the client's state `file` (required; holds the device's private keys)")
	fs.DurationVar(&f.timeout, "timeout", DefaultClientTimeout, "give up after this long")
}

// check reports a missing state file or a useless timeout as a usage error.
func (f *clientFlags) check() error {
	if f.state == "" {
		return usagef("--state FILE is required: the file `curbside client login` wrote")
	}
	if f.timeout <= 0 {
		return usagef("--timeout must be positive, like 30s")
	}
	return nil
}

// load reads the state file with key-change warnings going to stderr.
func (f *clientFlags) load(env *Env) (*client.Client, error) {
	return client.Load(f.state, client.WithKeyChangeHandler(keyChangeWarner(env, f.state)))
}

// keyChangeWarner warns on stderr when a user's devices change, saying
// how to check that the change is genuine.
func keyChangeWarner(env *Env, state string) func(client.KeyChange) {
	return func(k client.KeyChange) {
		if k.Own {
			fmt.Fprintf(env.Stderr, "curbside: warning: %s; these are your own devices: if you did not sign in on a new device, tell your administrator now\n", k)
			return
		}
		who := k.Username
		if who == "" {
			who = fmt.Sprint(k.User)
		}
		fmt.Fprintf(env.Stderr, "curbside: warning: %s; if nobody you trust added a device, compare safety numbers: curbside client safety --state %s --user %s\n", k, state, who)
	}
}

// explain turns an error into one that says what to do about it.
func explain(err error, state string) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	var oe *net.OpError
	switch client.ErrorCode(err) {
	case protocol.CodeUnauthorized:
		return fmt.Errorf("%w\nthe session in %s is no longer valid (it expired or was logged out): sign this device in again with `curbside client signin --state %s --password-stdin`; if the device was revoked, run `curbside client login` with a new --state file", err, state, state)
	case protocol.CodeBadLogin:
		return fmt.Errorf("%w\ncheck the username and password", err)
	case protocol.CodeLocked:
		return fmt.Errorf("%w\nthe account is locked: wait, or ask an administrator to unlock it", err)
	case protocol.CodeRateLimited:
		return fmt.Errorf("%w\ntoo many attempts: wait as the message says and try again", err)
	case protocol.CodeDevicesChanged:
		return fmt.Errorf("%w\nthe recipients' devices changed twice while sending: run the command again", err)
	case protocol.CodeIDReused:
		return fmt.Errorf("%w\nthat --id was already used for a different message: choose another id", err)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w\nthe server did not answer in time: check it is running, or raise --timeout", err)
	case errors.As(err, &oe) || errors.As(err, &ne):
		return fmt.Errorf("%w\ncannot reach the server: check the URL and that it is running", err)
	}
	return err
}

// printJSON writes v as one JSON line.
func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// fmtTime formats t in timeLayout; the zero time prints as "".
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// fmtMS formats Unix milliseconds like fmtTime; 0 prints as "".
func fmtMS(ms int64) string {
	if ms == 0 {
		return ""
	}
	return fmtTime(time.UnixMilli(ms))
}

// readLine reads the first line of r without its line ending.
func readLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// withConn loads the state, connects, runs f, closes and saves.
func withConn(ctx context.Context, env *Env, cf *clientFlags, f func(ctx context.Context, c *client.Client, conn *client.Conn) error) error {
	c, err := cf.load(env)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	conn, err := c.Connect(ctx, client.Buffer(0))
	if err != nil {
		return explain(err, cf.state)
	}
	ferr := f(ctx, c, conn)
	conn.Close()
	if err := c.Save(cf.state); err != nil && ferr == nil {
		ferr = err
	}
	return explain(ferr, cf.state)
}
