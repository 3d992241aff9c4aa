package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestVersion: `curbside version` says the version given at build time,
// the commit the binary was built from and the Go that built it, as the
// Dockerfile and docs/OPERATIONS.md build it.
func TestVersion(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "curbside")
	head, gitErr := exec.Command("git", "rev-parse", "HEAD").Output()
	vcs := "-buildvcs=false"
	if gitErr == nil {
		vcs = "-buildvcs=true"
	}
	build := exec.Command("go", "build", vcs, "-ldflags=-X main.version=v1.2.3-test", "-o", bin, "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("version: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 {
		t.Fatalf("version printed %q, want three lines", out)
	}
	if lines[0] != "curbside v1.2.3-test" {
		t.Errorf("version line %q", lines[0])
	}
	switch {
	case gitErr == nil && !strings.HasPrefix(lines[1], "commit "+strings.TrimSpace(string(head))):
		t.Errorf("commit line %q, want the checkout's HEAD %s", lines[1], head)
	case gitErr != nil && !strings.HasPrefix(lines[1], "commit unknown"):
		t.Errorf("commit line %q without version control, want unknown", lines[1])
	}
	if want := runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH; lines[2] != want {
		t.Errorf("Go line %q, want %q", lines[2], want)
	}
}

// TestVersionWithoutVCS: built as the Dockerfile builds it (-trimpath,
// -buildvcs=false, as from a copy without .git, and the COMMIT build
// argument in -X main.commit), `curbside version` names that commit.
func TestVersionWithoutVCS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	const commit = "0123456789abcdef0123456789abcdef01234567"
	bin := filepath.Join(t.TempDir(), "curbside")
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -X main.version=v1.2.3-test -X main.commit="+commit, "-o", bin, "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("version: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 || lines[0] != "curbside v1.2.3-test" || lines[1] != "commit "+commit {
		t.Fatalf("version printed %q, want the version and commit %s", out, commit)
	}
	// The Dockerfile passes its COMMIT argument the same way.
	df, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ARG COMMIT", "-X main.commit=${COMMIT}"} {
		if !strings.Contains(string(df), want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
}

// TestSystemdUnit: deploy/curbside.service passes `systemd-analyze
// verify` without a warning, and `systemd-analyze security` finds its
// hardening in place, on machines that have systemd.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed here")
	}
	unit, err := os.ReadFile("../deploy/curbside.service")
	if err != nil {
		t.Fatal(err)
	}
	// The unit names the installed binary; verify checks that it exists
	// and is executable, so point it at the one under test.
	file := filepath.Join(t.TempDir(), "curbside.service")
	os.WriteFile(file, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/curbside", binary(t))), 0o644)
	out, err := exec.Command(analyze, "verify", file).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, want := range []string{"NoNewPrivileges=true", "ProtectSystem=strict", "ReadWritePaths=/var/lib/curbside",
		"AmbientCapabilities=CAP_NET_BIND_SERVICE", "User=curbside"} {
		if !strings.Contains(string(unit), "\n"+want+"\n") {
			t.Errorf("the unit lacks %s", want)
		}
	}
	sec, err := exec.Command(analyze, "security", "--offline=true", file).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, sec)
	}
	if !strings.Contains(string(sec), "Overall exposure level") || !strings.Contains(string(sec), " OK ") {
		t.Errorf("systemd-analyze security does not rate the unit OK:\n%s", sec[max(0, len(sec)-400):])
	}
}
