package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// The approval walk-through with the CLI alone, as a script would run it:
// the new device waits, the old one answers, the new one shows its code,
// a wrong code approves nothing, the right one approves it.
func TestCLIDeviceApproval(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "alice", "staff")
	ts.addUser(t, "bob", "staff")
	ts.device(t, "bob")
	dir := t.TempDir()
	phone, laptop := filepath.Join(dir, "phone.json"), filepath.Join(dir, "laptop.json")
	run := func(stdin string, args ...string) string {
		t.Helper()
		out, err := curbside(t, stdin, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return out
	}
	login := func(state string) map[string]any {
		var out map[string]any
		json.Unmarshal([]byte(run(password+"\n", "client", "login", "--server", ts.URL, "--username", "alice", "--password-stdin", "--state", state)), &out)
		return out
	}
	if out := login(phone); out["approval"] != nil {
		t.Fatalf("the first device waits for approval: %v", out)
	}
	if out := login(laptop); out["approval"] != "pending" {
		t.Fatalf("the second device does not wait for approval: %v", out)
	}
	if out, err := curbside(t, "", "client", "send", "--state", laptop, "--to", "bob", "too early"); err == nil || !strings.Contains(err.Error(), "waiting to be approved") {
		t.Fatalf("a pending device sent: %v %s", err, out)
	}
	var dev struct {
		Device  int64
		State   string
		Code    string
		Devices []map[string]any
	}
	// Before the phone answers, the laptop has no code to show.
	json.Unmarshal([]byte(run("", "client", "devices", "--state", laptop)), &dev)
	if dev.State != "pending" || dev.Code != "" {
		t.Fatalf("laptop before the answer: %+v", dev)
	}
	laptopID := dev.Device
	json.Unmarshal([]byte(run("", "client", "devices", "--state", phone)), &dev)
	if dev.State != "active" || len(dev.Devices) != 2 || dev.Devices[1]["state"] != "pending" || int64(dev.Devices[1]["id"].(float64)) != laptopID {
		t.Fatalf("phone's devices: %+v", dev)
	}
	json.Unmarshal([]byte(run("", "client", "devices", "--state", laptop)), &dev)
	if dev.State != "pending" || len(dev.Code) != 6 {
		t.Fatalf("laptop after the answer: %+v", dev)
	}
	code := dev.Code
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	if out, err := curbside(t, "", "client", "approve", "--state", phone, wrong); err == nil || !strings.Contains(err.Error(), "nothing was approved") {
		t.Fatalf("approve with a wrong code: %v %s", err, out)
	}
	if out := run("", "client", "approve", "--state", phone, code[:3]+" "+code[3:]); !strings.Contains(out, itoa(laptopID)) {
		t.Fatalf("approve: %s", out)
	}
	json.Unmarshal([]byte(run("", "client", "devices", "--state", laptop)), &dev)
	if dev.State != "active" {
		t.Fatalf("laptop after approval: %+v", dev)
	}
	run("", "client", "send", "--state", laptop, "--to", "bob", "now I may")
}
