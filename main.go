// Command curbside is a self-hosted, end-to-end-encrypted messenger for small
// medical practices: a ciphertext relay, a directory and an operator CLI in
// one binary. See README.md and docs/ARCHITECTURE.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/curbside-health/curbside/cli"
)

// version and commit are set at build time with -ldflags "-X
// main.version=… -X main.commit=…"; commit only where the build has no
// version control to stamp (the Dockerfile's).
var version, commit = "dev", ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	cli.LinkedCommit = commit
	err := cli.Run(ctx, version, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "curbside:", err)
		os.Exit(cli.ExitCode(err))
	}
}
