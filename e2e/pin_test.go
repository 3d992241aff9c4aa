package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/protocol"
)

// TestPINLockoutWipesTheDevice drives the real binary: the server counts
// wrong PIN proofs of a device and, at the policy's pin_max_attempts,
// deletes its key share, wipes it (its live relay connection is closed as
// revoked and peers stop seeing it active) and audits it. The proofs here
// are a client's; what the browser derives them from is in PROTOCOL.md 9.1.
func TestPINLockoutWipesTheDevice(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "nina", "staff")
	withAdmin(t, ts)
	if out, err := curbside(t, "", "policy", "set", "--data", ts.Data, "pin_max_attempts=3"); err != nil {
		t.Fatalf("policy set: %v\n%s", err, out)
	}
	c := ts.device(t, "nina")
	state := filepath.Join(t.TempDir(), "nina.json")
	if err := c.Save(state); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Token string }
	if err := json.Unmarshal(raw, &st); err != nil || st.Token == "" {
		t.Fatalf("no token in the state file: %v", err)
	}
	cn := connect(t, c)

	proof := func(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }
	share := fmt.Sprintf("%s/api/v1/devices/%d/share", ts.URL, c.DeviceID())
	if code, _, body := bearer(t, "PUT", ts.URL+"/api/v1/devices/me/pin", st.Token, map[string]any{"proof": proof(1)}); code != 204 {
		t.Fatalf("set the verifier: %d %s", code, body)
	}
	if code, out, body := bearer(t, "POST", share, st.Token, map[string]any{"proof": proof(1)}); code != 200 || out["verified"] != true {
		t.Fatalf("the right proof: %d %s", code, body)
	}
	for _, left := range []string{"2 attempts left.", "1 attempt left: one more wrong PIN erases this device's messages."} {
		code, out, body := bearer(t, "POST", share, st.Token, map[string]any{"proof": proof(2)})
		if e, _ := out["error"].(map[string]any); code != 403 || e["code"] != "wrong_pin" || !strings.HasSuffix(e["message"].(string), left) {
			t.Fatalf("wrong PIN, want %q: %d %s", left, code, body)
		}
	}
	code, out, body := bearer(t, "POST", share, st.Token, map[string]any{"proof": proof(2)})
	if e, _ := out["error"].(map[string]any); code != 410 || e["code"] != "pin_locked_out" {
		t.Fatalf("the last wrong PIN: %d %s", code, body)
	}
	if got := closeCode(t, cn); got != protocol.CloseRevoked {
		t.Fatalf("the device's connection closed with %d, want %d (revoked)", got, protocol.CloseRevoked)
	}
	// The share is gone with the device's session: the right PIN opens nothing now.
	if code, _, _ := bearer(t, "POST", share, st.Token, map[string]any{"proof": proof(1)}); code != 401 {
		t.Fatalf("the right PIN after the lock-out: %d", code)
	}
	_, keys, _ := bearer(t, "GET", fmt.Sprintf("%s/api/v1/keys/%d", ts.URL, c.User().ID), adminToken(t, ts), nil)
	if active, _ := keys["active"].([]any); len(active) != 0 {
		t.Fatalf("the wiped device is still active: %v", keys)
	}
	_, _, audit := bearer(t, "GET", ts.URL+"/api/v1/admin/audit?limit=200", adminToken(t, ts), nil)
	for _, want := range []string{`"device.pin.set"`, `"device.pin"`, `"device.pin.lockout"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("no %s entry in the audit log: %s", want, audit)
		}
	}
}

// adminToken signs root (withAdmin) in and returns the session token.
func adminToken(t *testing.T, ts *testServer) string {
	t.Helper()
	code, out, body := bearer(t, "POST", ts.URL+"/api/v1/login", "", map[string]string{"username": "root", "password": password})
	tok, _ := out["token"].(string)
	if code != 200 || tok == "" {
		t.Fatalf("root login: %d %s", code, body)
	}
	return tok
}
