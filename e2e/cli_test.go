package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLI drives the client commands exactly as the README shows them.
func TestCLI(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "alice", "staff")
	ts.addUser(t, "bob", "staff")
	dir := t.TempDir()
	alice, bob := filepath.Join(dir, "alice.json"), filepath.Join(dir, "bob.json")
	for user, state := range map[string]string{"alice": alice, "bob": bob} {
		if out, err := curbside(t, password+"\n", "client", "login", "--server", ts.URL, "--username", user, "--password-stdin", "--state", state); err != nil {
			t.Fatalf("login %s: %v\n%s", user, err, out)
		}
		fi, err := os.Stat(state)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("state file %s: %v mode %v, want 0600", state, err, fi.Mode().Perm())
		}
	}
	// A wrong password fails with a clear message and writes no state.
	bad := filepath.Join(dir, "bad.json")
	out, err := curbside(t, "not the password\n", "client", "login", "--server", ts.URL, "--username", "alice", "--password-stdin", "--state", bad)
	if err == nil || !strings.Contains(strings.ToLower(out+err.Error()), "password") {
		t.Fatalf("login with a wrong password: %v %q", err, out)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Fatal("a failed login wrote a state file")
	}

	out, err = curbside(t, "", "client", "send", "--state", alice, "--to", "bob", "--ack", "BP 120/80, stable")
	if err != nil {
		t.Fatalf("send: %v %s", err, out)
	}
	var sent struct {
		ID     string `json:"id"`
		SentAt string `json:"sent_at"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &sent); err != nil || sent.ID == "" {
		t.Fatalf("send printed %q: %v", out, err)
	}
	if _, err := curbside(t, "", "client", "send", "--state", alice, "--to", "nobody-here", "hello"); err == nil {
		t.Fatal("send to an unknown user exited 0")
	}

	out, err = curbside(t, "", "client", "recv", "--state", bob)
	if err != nil {
		t.Fatalf("recv: %v %s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var got map[string]any
	for _, l := range lines {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["id"] == sent.ID {
			got = m
		}
	}
	if got == nil {
		t.Fatalf("recv did not print message %s:\n%s", sent.ID, out)
	}
	if got["from"] != "alice" || got["text"] != "BP 120/80, stable" || got["ack_requested"] != true {
		t.Fatalf("recv line %v", got)
	}
	if _, err := time.Parse(time.RFC3339, got["sent_at"].(string)); err != nil {
		t.Fatalf("sent_at %v: %v", got["sent_at"], err)
	}
	// recv acknowledged it: a second recv prints no message.
	out, err = curbside(t, "", "client", "recv", "--state", bob)
	if err != nil || strings.Contains(out, sent.ID) {
		t.Fatalf("second recv: %v\n%s", err, out)
	}
	// The sender sees the delivered receipt.
	out, err = curbside(t, "", "client", "recv", "--state", alice, "--wait", "2s")
	if err != nil || !strings.Contains(out, `"delivered"`) {
		t.Fatalf("alice's recv: %v\n%s", err, out)
	}
}
