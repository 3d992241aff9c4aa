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

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, version, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "curbside:", err)
		os.Exit(cli.ExitCode(err))
	}
}
