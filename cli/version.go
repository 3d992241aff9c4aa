package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// Build describes the binary: its version, the commit it was built from
// and the Go that built it.
type Build struct {
	Version  string // set with -ldflags "-X main.version=…", else the module's, else "dev"
	Commit   string // the VCS revision, "" when the build recorded none
	Time     string // the commit's time, RFC 3339, "" when unknown
	Modified bool   // the working tree had uncommitted changes
	Go       string // e.g. go1.26.8
	Platform string // GOOS/GOARCH
}

// BuildOf returns what the running binary says of itself. version is
// main.version; "dev" or "" falls back to the module version that `go
// install …@vX` records.
func BuildOf(version string) Build {
	b := Build{Version: version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if (b.Version == "" || b.Version == "dev") && info.Main.Version != "" && info.Main.Version != "(devel)" {
		b.Version = info.Main.Version
	}
	if b.Version == "" {
		b.Version = "dev"
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
		commit = "unknown (built without version control information, e.g. by go run)"
	case b.Modified:
		commit += " (with uncommitted changes)"
	}
	if b.Time != "" {
		commit += " " + b.Time
	}
	_, err := fmt.Fprintf(env.Stdout, "curbside %s\ncommit %s\n%s %s\n", b.Version, commit, b.Go, b.Platform)
	return err
}
