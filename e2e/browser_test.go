package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBrowser runs the PWA's tests in real Chromium (webui/test/run.mjs,
// through playwright-core) against the real binary: two users in two
// browser contexts, Go ↔ browser interoperability, the offline queue, PIN
// lock, key-change warnings, and scans of the server's data directory and
// the browser profile for plaintext. Screenshots of the main screens go to
// webui/screenshots/ (ignored by git).
//
// It needs node, the npm packages of webui/test and /usr/bin/chromium,
// which .ci/run installs. Without them it is skipped, except under CI,
// where a missing part is a failure: a browser test that silently does not
// run proves nothing.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are long")
	}
	needBrowser(t)
	shots, _ := filepath.Abs("../webui/screenshots")
	// About 8 minutes on an idle 2-core machine, 9 on a loaded one: the
	// limit leaves room, within the 30 minutes the package has.
	ctx, cancel := context.WithTimeout(context.Background(), 18*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "webui/test/run.mjs", "--bin", binary(t), "--screenshots", shots)
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	t.Logf("browser tests:\n%s", out)
	if err != nil {
		t.Fatalf("browser tests failed: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if last := lines[len(lines)-1]; !strings.HasSuffix(last, " 0 failed") || strings.HasPrefix(last, "0 passed") {
		t.Fatalf("browser tests closed with %q", last)
	}
}

// needBrowser skips the test when node, the npm packages of webui/test or
// Chromium are missing, or fails it under CI.
func needBrowser(t *testing.T) {
	t.Helper()
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node"
	} else if _, err := os.Stat("../webui/test/node_modules/playwright-core"); err != nil {
		missing = "webui/test/node_modules (run: cd webui/test && npm ci)"
	} else if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		missing = "/usr/bin/chromium (run: apt-get install -y chromium)"
	} else if _, err := exec.LookPath("pdftotext"); err != nil {
		missing = "pdftotext (run: apt-get install -y poppler-utils)"
	}
	if missing != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("the browser tests cannot run: %s is missing; .ci/run installs it", missing)
		}
		t.Skipf("browser tests skipped: %s is missing; .ci/run installs it", missing)
	}
}
