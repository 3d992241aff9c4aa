package webui

import (
	"os"
	"os/exec"
	"testing"
)

// TestUnitModules runs test/unit.mjs under Node: checks of the app's pure
// modules, such as how a send the server refused for a full disk is kept
// and retried. Without Node it is skipped, except under CI, which has it.
func TestUnitModules(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not installed; CI needs it for the web app's unit checks")
		}
		t.Skip("node is not installed")
	}
	out, err := exec.Command("node", "test/unit.mjs").CombinedOutput()
	if err != nil {
		t.Fatalf("node test/unit.mjs: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
