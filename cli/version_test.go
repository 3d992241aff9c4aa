package cli

import (
	"runtime/debug"
	"strings"
	"testing"
)

// TestBuildCommitFallback: a build without version control information
// (the Dockerfile's: no .git, -buildvcs=false) names the commit given with
// -X main.commit; a build that recorded its revision keeps that one.
func TestBuildCommitFallback(t *testing.T) {
	const linked = "0123456789abcdef0123456789abcdef01234567"
	noVCS := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}
	stamped := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "fedcba9876543210fedcba9876543210fedcba98"},
		{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	for _, tc := range []struct {
		name, linked string
		info         *debug.BuildInfo
		commit       string
		modified     bool
	}{
		{"no stamp, linked", linked, noVCS, linked, false},
		{"no stamp, linked with a newline", linked + "\n", noVCS, linked, false},
		{"no build record, linked", linked, nil, linked, false},
		{"no stamp, none linked", "", noVCS, "", false},
		{"stamp wins", linked, stamped, "fedcba9876543210fedcba9876543210fedcba98", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := buildFrom("v1.0.0", tc.linked, tc.info)
			if b.Commit != tc.commit || b.Modified != tc.modified || b.Version != "v1.0.0" {
				t.Fatalf("%+v, want commit %q modified %v", b, tc.commit, tc.modified)
			}
		})
	}
	if s := buildFrom("dev", linked, noVCS).String(); !strings.HasPrefix(s, "dev (commit "+linked+",") {
		t.Fatalf("String() = %q", s)
	}
	if s := buildFrom("dev", "", noVCS).String(); !strings.HasPrefix(s, "dev (commit unknown,") {
		t.Fatalf("String() = %q", s)
	}
}
