// Package cli implements the curbside command line: `curbside serve` and the
// operator and client subcommands. Every subcommand is a function that takes
// its arguments and streams and returns an error, so tests run them in
// process exactly as a user types them.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Env carries what a subcommand may touch besides its arguments.
type Env struct {
	Version string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
}

type command struct {
	name, summary string
	run           func(ctx context.Context, env *Env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the server", runServe},
		{"user", "manage users: add, list, passwd, state, careteam", runUser},
		{"group", "manage groups: add, members", runGroup},
		{"policy", "show or set the security policy", runPolicy},
		{"audit", "the audit log: verify, export, list", runAudit},
		{"restore", "restore a data directory from its replica", runRestore},
		{"drill", "restore the replica into a temporary directory and check it", runDrill},
		{"client", "the command-line client: login, send, recv", runClient},
		{"version", "print the version, the commit and the Go version", runVersion},
	}
}

// UsageError is an error in how a command was called; it exits with status 2.
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &UsageError{fmt.Sprintf(format, a...)} }

// ExitCode maps an error returned by Run to a process exit status.
func ExitCode(err error) int {
	var u *UsageError
	if errors.As(err, &u) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// Run runs the curbside command line with args (without the program name).
func Run(ctx context.Context, version string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	env := &Env{Version: version, Stdin: stdin, Stdout: stdout, Stderr: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stdout)
		if len(args) == 0 {
			return usagef("no command given")
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, env, args[1:])
		}
	}
	printUsage(stderr)
	return usagef("unknown command %q", args[0])
}

func printUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("usage: curbside COMMAND [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'curbside COMMAND -h' for a command's flags.\n")
	io.WriteString(w, b.String())
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(env *Env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("curbside "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// parseFlags parses args and turns a flag error into a UsageError.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &UsageError{err.Error()}
	}
	return nil
}
