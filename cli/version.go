package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Build describes the binary: its version, the commit it was built from
// and the Go that built it.
type Build struct {
	Version  string // set with -ldflags "-X main.version=…", else the module's, else "dev"
	Commit   string // the VCS revision, else LinkedCommit, "" when neither is known
	Time     string // the commit's time, RFC 3339, "" when unknown
	Modified bool   // the working tree had uncommitted changes
	Go       string // e.g. go1.26.8
	Platform string // GOOS/GOARCH
}

// LinkedCommit is the commit given at build time with -ldflags "-X
// main.commit=…" (main sets it before Run), for builds that have no
// version control to stamp: the Dockerfile's, which copies no .git and
// passes its COMMIT build argument. The stamp that `go build` records
// from a checkout wins over it.
var LinkedCommit string

// BuildOf returns what the running binary says of itself. version is
// main.version; "dev" or "" falls back to the module version that `go
// install …@vX` records.
func BuildOf(version string) Build {
	info, _ := debug.ReadBuildInfo()
	return buildFrom(version, LinkedCommit, info)
}

// buildFrom is BuildOf over a given build record (nil: none).
func buildFrom(version, linked string, info *debug.BuildInfo) Build {
	b := Build{Version: version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info != nil {
		if (b.Version == "" || b.Version == "dev") && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	if b.Commit == "" {
		b.Commit = strings.TrimSpace(linked)
	}
	return b
}

// String is the build on one line, as serve logs it.
func (b Build) String() string {
	commit := b.Commit
	if commit == "" {
		commit = "unknown"
	}
	if b.Modified {
		commit += "+modified"
	}
	return fmt.Sprintf("%s (commit %s, %s %s)", b.Version, commit, b.Go, b.Platform)
}

// runVersion prints the version, the commit and the Go version, a line
// each.
func runVersion(_ context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("version takes no arguments; got %q", fs.Args())
	}
	b := BuildOf(env.Version)
	commit := b.Commit
	switch {
	case commit == "":
		commit = "unknown (built without version control information: by go run, or from a copy without .git; docker build takes --build-arg COMMIT=$(git rev-parse HEAD))"
	case b.Modified:
		commit += " (with uncommitted changes)"
	}
	if b.Time != "" {
		commit += " " + b.Time
	}
	_, err := fmt.Fprintf(env.Stdout, "curbside %s\ncommit %s\n%s %s\n", b.Version, commit, b.Go, b.Platform)
	return err
}
