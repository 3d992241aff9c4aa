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
	"os"
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

type clientCommand struct {
	name, summary string
	run           func(ctx context.Context, env *Env, args []string) error
}

func clientCommands() []clientCommand {
	return []clientCommand{
		{"login", "sign in and register this device (keys are made here)", clientLogin},
		{"send", "send one end-to-end-encrypted message", clientSend},
		{"recv", "print received messages and events as JSON lines", clientRecv},
		{"receipt", "send a read or acknowledged receipt", clientReceipt},
		{"recall", "recall a message you sent", clientRecall},
		{"details", "show a sent message's delivery status", clientDetails},
		{"safety", "show the safety number shared with a user", clientSafety},
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

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.state, "state", "", "the client's state `file` (required; holds the device's private keys)")
	fs.DurationVar(&f.timeout, "timeout", DefaultClientTimeout, "give up after this long")
}

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
		return fmt.Errorf("%w\nthe session in %s is no longer valid (it expired, was logged out, or the device was revoked): run `curbside client login` with a new --state file", err, state)
	case protocol.CodeBadLogin:
		return fmt.Errorf("%w\ncheck the username and password", err)
	case protocol.CodeLocked:
		return fmt.Errorf("%w\nthe account is locked: wait, or ask an administrator to unlock it", err)
	case protocol.CodeRateLimited:
		return fmt.Errorf("%w\ntoo many attempts: wait a minute and try again", err)
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

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

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

func clientLogin(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "client login")
	var cf clientFlags
	cf.register(fs)
	server := fs.String("server", "", "the server's `URL`, like https://curbside.example.org (required)")
	username := fs.String("username", "", "your `username` (required)")
	passwordStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	deviceName := fs.String("device-name", client.DefaultDeviceName(), "the `name` this device is shown under")
	force := fs.Bool("force", false, "replace an existing state file (its device stays registered)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("client login takes no arguments; got %q", fs.Args())
	}
	if err := cf.check(); err != nil {
		return err
	}
	switch {
	case *server == "":
		return usagef("--server URL is required, like --server https://curbside.example.org")
	case *username == "":
		return usagef("--username is required")
	case !*passwordStdin:
		return usagef("pass the password on standard input with --password-stdin; it is not taken as a flag so it stays out of the process list")
	}
	if _, err := os.Stat(cf.state); err == nil && !*force {
		return fmt.Errorf("%s already holds a device's state: use another --state file, or --force to replace it (the old device stays registered until an administrator revokes it)", cf.state)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	password, err := readLine(env.Stdin)
	if err != nil {
		return fmt.Errorf("reading the password from standard input: %w", err)
	}
	if password == "" {
		return usagef("standard input has no password: pipe it in, like: printf '%%s\\n' \"$PASSWORD\" | curbside client login ... --password-stdin")
	}
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	c, err := client.Login(ctx, *server, *username, password, *deviceName, client.WithKeyChangeHandler(keyChangeWarner(env, cf.state)))
	if err != nil {
		return explain(err, cf.state)
	}
	if err := c.Save(cf.state); err != nil {
		return err
	}
	u := c.User()
	return printJSON(env.Stdout, map[string]any{"user": u.Username, "user_id": u.ID, "device": c.DeviceID(), "state": cf.state})
}

func clientSend(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "client send")
	var cf clientFlags
	cf.register(fs)
	to := fs.String("to", "", "recipient `usernames`, comma-separated: one is a direct message, several a broadcast")
	group := fs.String("group", "", "send to the group with this `name` (one you belong to) instead of --to")
	id := fs.String("id", "", "the message `id` (16-64 of A-Z a-z 0-9 _ -); resending the same id is idempotent")
	ack := fs.Bool("ack", false, "ask each recipient to acknowledge the message")
	urgent := fs.Bool("urgent", false, "mark the message urgent")
	replyTo := fs.String("reply-to", "", "the `id` of the message this one answers")
	fromStdin := fs.Bool("stdin", false, "read the text from standard input instead of the arguments (keeps it out of the process list)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := cf.check(); err != nil {
		return err
	}
	text := strings.Join(pos, " ")
	switch {
	case *fromStdin && len(pos) > 0:
		return usagef("give the text as arguments or with --stdin, not both")
	case *fromStdin:
		b, err := io.ReadAll(io.LimitReader(env.Stdin, protocol.MaxBodyBytes+1))
		if err != nil {
			return fmt.Errorf("reading the text from standard input: %w", err)
		}
		text = strings.TrimRight(string(b), "\r\n")
	}
	switch {
	case text == "":
		return usagef("no message text: give it as the last argument, like: curbside client send --state FILE --to bob \"Room 4 is ready\"")
	case *to == "" && *group == "":
		return usagef("say who to send to: --to USER[,USER...] or --group NAME")
	case *to != "" && *group != "":
		return usagef("use --to or --group, not both")
	case *id != "" && !protocol.ValidID(*id):
		return usagef("--id must be %d-%d characters of A-Z a-z 0-9 _ -", protocol.MinIDLen, protocol.MaxIDLen)
	case *replyTo != "" && !protocol.ValidID(*replyTo):
		return usagef("--reply-to must be a message id")
	}
	c, err := cf.load(env)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()

	out := client.Outgoing{ID: *id, Text: text, ReplyTo: *replyTo}
	if *ack {
		out.Flags |= protocol.FlagAckRequested
	}
	if *urgent {
		out.Flags |= protocol.FlagUrgent
	}
	if *group != "" {
		g, err := c.GroupByName(ctx, *group)
		if err != nil {
			return explain(err, cf.state)
		}
		out.Conv = protocol.GroupConv(g.ID)
		for _, m := range g.Members {
			if m.ID != c.User().ID {
				out.To = append(out.To, m.ID)
			}
		}
		if len(out.To) == 0 {
			return fmt.Errorf("group %q has no members besides you", *group)
		}
	} else {
		seen := map[string]bool{}
		for _, name := range strings.Split(*to, ",") {
			name = strings.TrimSpace(name)
			if name == "" || seen[name] {
				continue
			}
			seen[name] = true
			if name == c.User().Username {
				return usagef("--to lists yourself (%s); your other devices get a copy of every message anyway", name)
			}
			u, err := c.UserByName(ctx, name)
			if err != nil {
				return explain(err, cf.state)
			}
			out.To = append(out.To, u.ID)
		}
		if len(out.To) == 0 {
			return usagef("--to names no users")
		}
	}

	conn, err := c.Connect(ctx, client.Buffer(0))
	if err != nil {
		return explain(err, cf.state)
	}
	acc, sendErr := conn.Send(ctx, out)
	conn.Close()
	// Save even after a failed send: pinned keys learned on the way count.
	if err := c.Save(cf.state); err != nil && sendErr == nil {
		sendErr = err
	}
	if sendErr != nil {
		return explain(sendErr, cf.state)
	}
	return printJSON(env.Stdout, sendOut{ID: acc.ID, SentAt: fmtTime(acc.SentAt), Dup: acc.Dup})
}

// sendOut is how `client send` prints the server's acceptance.
type sendOut struct {
	ID     string `json:"id"`
	SentAt string `json:"sent_at"`
	Dup    bool   `json:"dup,omitempty"` // the server had accepted this id before
}

// recvMessage is how `client recv` prints a message.
type recvMessage struct {
	ID           string `json:"id"`
	Conv         string `json:"conv"`
	From         string `json:"from"`
	FromUser     int64  `json:"from_user"`
	FromDevice   int64  `json:"from_device"`
	Type         string `json:"type"`
	Text         string `json:"text"`
	ReplyTo      string `json:"reply_to,omitempty"`
	Created      string `json:"created"`
	SentAt       string `json:"sent_at"`
	AckRequested bool   `json:"ack_requested"`
	Urgent       bool   `json:"urgent,omitempty"`
	Seq          int64  `json:"seq"`
}

// recvEvent is how `client recv` prints a receipt, recall or presence.
type recvEvent struct {
	Event    string `json:"event"`
	Msg      string `json:"msg,omitempty"`
	Kind     string `json:"kind,omitempty"`
	Status   string `json:"status,omitempty"`
	User     int64  `json:"user,omitempty"`
	Username string `json:"username,omitempty"`
	Device   int64  `json:"device,omitempty"`
	At       string `json:"at"`
	Seq      int64  `json:"seq,omitempty"`
}

func clientRecv(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "client recv")
	var cf clientFlags
	cf.register(fs)
	wait := fs.Duration("wait", 0, "keep receiving for this `duration`; 0 means until what is queued now is drained")
	count := fs.Int("count", 0, "stop after this many messages; fewer by the end of --wait is an error")
	presence := fs.Bool("presence", false, "print presence updates too")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("client recv takes no arguments; got %q", fs.Args())
	}
	if err := cf.check(); err != nil {
		return err
	}
	if *wait < 0 || *count < 0 {
		return usagef("--wait and --count must not be negative")
	}
	c, err := cf.load(env)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, cf.timeout)
	conn, err := c.Connect(cctx)
	cancel()
	if err != nil {
		return explain(err, cf.state)
	}
	n, recvErr := recvLoop(ctx, env, conn, *wait, *count, *presence)
	conn.Close()
	if err := c.Save(cf.state); err != nil && recvErr == nil {
		recvErr = err
	}
	if recvErr != nil {
		return explain(recvErr, cf.state)
	}
	if *count > 0 && n < *count {
		return fmt.Errorf("received %d of %d messages before giving up (raise --wait to wait longer)", n, *count)
	}
	return nil
}

// recvLoop prints what conn delivers, acknowledging each item after it is
// printed, until the wait ends, the queue is drained, or count messages
// have come. It returns how many messages it printed.
func recvLoop(ctx context.Context, env *Env, conn *client.Conn, wait time.Duration, count int, presence bool) (int, error) {
	var deadline <-chan time.Time
	quiet := time.NewTimer(DefaultRecvQuiet)
	defer quiet.Stop()
	quietC := quiet.C
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		deadline, quietC = t.C, nil
	}
	poke := func() {
		if quietC != nil {
			quiet.Reset(DefaultRecvQuiet)
		}
	}
	msgs, events, errs := conn.Messages(), conn.Events(), conn.Errors()
	n := 0
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				<-conn.Done()
				return n, conn.Err()
			}
			err := printJSON(env.Stdout, recvMessage{
				ID: m.ID, Conv: m.Conv, From: m.FromUsername, FromUser: m.FromUser, FromDevice: m.FromDevice,
				Type: m.Type, Text: m.Text, ReplyTo: m.ReplyTo, Created: fmtTime(m.Created), SentAt: fmtTime(m.SentAt),
				AckRequested: m.AckRequested(), Urgent: m.Urgent(), Seq: m.Seq,
			})
			if err != nil {
				return n, err // not printed, so not acknowledged
			}
			conn.Ack(m.Seq)
			n++
			if count > 0 && n >= count {
				return n, nil
			}
			poke()
		case ev, ok := <-events:
			if !ok {
				<-conn.Done()
				return n, conn.Err()
			}
			if ev.Type == protocol.TPresence && !presence {
				continue // ephemeral: nothing to acknowledge
			}
			err := printJSON(env.Stdout, recvEvent{Event: ev.Type, Msg: ev.Msg, Kind: ev.Kind, Status: ev.Status,
				User: ev.User, Username: ev.Username, Device: ev.Device, At: fmtTime(ev.At), Seq: ev.Seq})
			if err != nil {
				return n, err
			}
			if ev.Seq > 0 {
				conn.Ack(ev.Seq)
			}
			poke()
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			fmt.Fprintf(env.Stderr, "curbside: warning: %v\n", err)
			poke()
		case <-quietC:
			return n, nil
		case <-deadline:
			return n, nil
		case <-ctx.Done():
			return n, nil // interrupted: what was printed is acked, the rest stays queued
		}
	}
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

func msgFlag(fs *flag.FlagSet) *string {
	return fs.String("msg", "", "the message `id` (required)")
}

func checkMsg(id string) error {
	if !protocol.ValidID(id) {
		return usagef("--msg must be a message id (16-64 of A-Z a-z 0-9 _ -)")
	}
	return nil
}

// parseMsgCommand parses the flags of a command about one message: the
// client's flags, --msg, and any more that more registers.
func parseMsgCommand(env *Env, name string, args []string, more func(*flag.FlagSet)) (*clientFlags, *string, error) {
	fs := newFlagSet(env, "client "+name)
	cf := &clientFlags{}
	cf.register(fs)
	msg := msgFlag(fs)
	if more != nil {
		more(fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return nil, nil, err
	}
	if err := cf.check(); err != nil {
		return nil, nil, err
	}
	if err := checkMsg(*msg); err != nil {
		return nil, nil, err
	}
	return cf, msg, nil
}

func clientReceipt(ctx context.Context, env *Env, args []string) error {
	var kind *string
	cf, msg, err := parseMsgCommand(env, "receipt", args, func(fs *flag.FlagSet) {
		kind = fs.String("kind", protocol.ReceiptRead, "read or acknowledged")
	})
	if err != nil {
		return err
	}
	if *kind != protocol.ReceiptRead && *kind != protocol.ReceiptAcknowledged {
		return usagef("--kind must be read or acknowledged")
	}
	return withConn(ctx, env, cf, func(ctx context.Context, _ *client.Client, conn *client.Conn) error {
		if err := conn.Receipt(ctx, *msg, *kind); err != nil {
			return err
		}
		return printJSON(env.Stdout, map[string]any{"msg": *msg, "receipt": *kind})
	})
}

func clientRecall(ctx context.Context, env *Env, args []string) error {
	cf, msg, err := parseMsgCommand(env, "recall", args, nil)
	if err != nil {
		return err
	}
	return withConn(ctx, env, cf, func(ctx context.Context, _ *client.Client, conn *client.Conn) error {
		if err := conn.Recall(ctx, *msg); err != nil {
			return err
		}
		// Confirm from the server's own record rather than from silence.
		d, err := conn.Details(ctx, *msg)
		if err != nil {
			return fmt.Errorf("recall sent, but checking it failed: %w", err)
		}
		if !d.Recalled {
			return fmt.Errorf("the server does not show message %s as recalled", *msg)
		}
		return printJSON(env.Stdout, map[string]any{"msg": *msg, "recalled": true})
	})
}

// detailsOut is how `client details` prints a message's status.
type detailsOut struct {
	Msg          string         `json:"msg"`
	Conv         string         `json:"conv"`
	Created      string         `json:"created"`
	SentAt       string         `json:"sent_at"`
	AckRequested bool           `json:"ack_requested"`
	Recalled     bool           `json:"recalled"`
	Recipients   []recipientOut `json:"recipients"`
}

type recipientOut struct {
	User         int64  `json:"user"`
	Username     string `json:"username,omitempty"`
	Delivered    string `json:"delivered,omitempty"`
	Read         string `json:"read,omitempty"`
	Acknowledged string `json:"acknowledged,omitempty"`
}

func clientDetails(ctx context.Context, env *Env, args []string) error {
	cf, msg, err := parseMsgCommand(env, "details", args, nil)
	if err != nil {
		return err
	}
	return withConn(ctx, env, cf, func(ctx context.Context, c *client.Client, conn *client.Conn) error {
		d, err := conn.Details(ctx, *msg)
		if err != nil {
			return err
		}
		out := detailsOut{Msg: d.Msg, Conv: d.Conv, Created: fmtMS(d.Created), SentAt: fmtMS(d.Sent),
			AckRequested: d.AckRequested, Recalled: d.Recalled, Recipients: []recipientOut{}}
		names := map[int64]string{}
		for _, p := range c.Pins() {
			names[p.User] = p.Username
		}
		for _, r := range d.Recipients {
			out.Recipients = append(out.Recipients, recipientOut{User: r.User, Username: names[r.User],
				Delivered: fmtMS(r.Delivered), Read: fmtMS(r.Read), Acknowledged: fmtMS(r.Acknowledged)})
		}
		return printJSON(env.Stdout, out)
	})
}

func clientSafety(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "client safety")
	var cf clientFlags
	cf.register(fs)
	user := fs.String("user", "", "the other user's `username` (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := cf.check(); err != nil {
		return err
	}
	if *user == "" {
		return usagef("--user is required")
	}
	c, err := cf.load(env)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	u, err := c.UserByName(ctx, *user)
	if err != nil {
		return explain(err, cf.state)
	}
	n, err := c.SafetyNumber(ctx, u.ID)
	if err != nil {
		return explain(err, cf.state)
	}
	if err := c.Save(cf.state); err != nil {
		return err
	}
	return printJSON(env.Stdout, map[string]any{"user": u.Username, "safety_number": n})
}
