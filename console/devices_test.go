package console_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/curbside-health/curbside/console"
	"github.com/curbside-health/curbside/internal/apitest"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

func TestConsoleDeviceLockAndWipe(t *testing.T) {
	f := apitest.New(t, "nina", "omar")
	ctx := context.Background()
	if err := f.Store.SetPolicy(ctx, map[string]string{"mfa_required": ""}); err != nil {
		t.Fatal(err)
	}
	f.ConsoleUser("help", model.LevelHelpdesk)
	f.ConsoleUser("boss", model.LevelAdmin)
	help, boss := f.Login("help"), f.Login("boss")
	nina := f.Users["nina"].ID

	// nina registers two devices: a phone (d1) and a laptop (d2).
	d1, d2 := apitest.NewTestDevice(), apitest.NewTestDevice()
	tok1 := f.Login("nina")
	if code, out := f.Do("POST", "/api/v1/devices", tok1, map[string]any{"name": "phone", "list": apitest.SignedList(nina, 1, d1, d1.Listed())}); code != 201 {
		t.Fatalf("register d1: %d %v", code, out)
	}
	tok2 := f.Login("nina")
	if code, out := f.AddDevice(nina, tok2, d2, tok1, d1, 2, d1.Listed(), d2.Listed()); code != 200 {
		t.Fatalf("register d2: %d %v", code, out)
	}
	pin := map[string]any{"proof": make([]byte, 32)}
	share1Path := fmt.Sprintf("/api/v1/devices/%d/share", d1.ID)
	_, sh := f.Do("POST", share1Path, tok1, pin)
	share1 := sh["share"]

	// omar's message waits in d1's queue.
	omar := f.Users["omar"].ID
	od := apitest.NewTestDevice()
	if code, out := f.Do("POST", "/api/v1/devices", f.Login("omar"), map[string]any{"name": "o", "list": apitest.SignedList(omar, 1, od, od.Listed())}); code != 201 {
		t.Fatalf("register omar: %d %v", code, out)
	}
	raw := []byte(`{"id":"MMMMMMMMMMMMMMMMMMMM"}`)
	sum := sha256.Sum256(raw)
	env := &protocol.Envelope{V: 1, Suite: 1, ID: "MMMMMMMMMMMMMMMMMMMM", Conv: protocol.DirectConv(omar, nina), From: protocol.Party{User: omar, Device: od.ID}, Created: 1}
	if _, err := f.Store.Accept(ctx, &model.NewMessage{Env: env, Raw: raw, Digest: sum[:], Recipients: []int64{nina}, Deliver: []int64{d1.ID, d2.ID}, ExpiresAt: time.Now().Add(time.Hour).UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	if items, _ := f.Store.Pending(ctx, d1.ID, 0, 10); len(items) != 1 {
		t.Fatalf("d1's queue before the wipe: %d items", len(items))
	}

	// The helpdesk sees nina's devices, with agent, fingerprint and sessions.
	code, out := f.Do("GET", fmt.Sprintf("/api/v1/admin/users/%d/devices", nina), help, nil)
	devs, _ := out["devices"].([]any)
	if code != 200 || len(devs) != 2 {
		t.Fatalf("user devices: %d %v", code, out)
	}
	fp := regexp.MustCompile(`^[0-9a-f]{4}( [0-9a-f]{4}){7}$`)
	for _, x := range devs {
		d := x.(map[string]any)
		if d["agent"] != "Go-http-client/1.1" || !fp.MatchString(d["fingerprint"].(string)) || d["sessions"].(float64) != 1 || d["state"] != "active" || d["wiped"] != false {
			t.Fatalf("device row %v", d)
		}
	}
	if code, _ := f.Do("GET", "/api/v1/admin/users/99999/devices", help, nil); code != 404 {
		t.Fatalf("devices of an unknown user: %d", code)
	}
	// The whole inventory is for admins.
	if code, out := f.Do("GET", "/api/v1/admin/devices", help, nil); code != 403 {
		t.Fatalf("inventory as helpdesk: %d %v", code, out)
	}
	code, out = f.Do("GET", "/api/v1/admin/devices?q=nina", boss, nil)
	if code != 200 || out["total"].(float64) != 2 || out["devices"].([]any)[0].(map[string]any)["user"].(map[string]any)["username"] != "nina" {
		t.Fatalf("inventory ?q=nina: %d %v", code, out)
	}
	if code, _ := f.Do("GET", "/api/v1/admin/devices?state=lost", boss, nil); code != 400 {
		t.Fatalf("inventory with a bad state: %d", code)
	}

	// Lock d1 (helpdesk may): its session ends, the device and the other
	// device's session stay.
	lock := fmt.Sprintf("/api/v1/admin/devices/%d/lock", d1.ID)
	code, out = f.Do("POST", lock, help, map[string]any{"reason": "left on the ward"})
	if code != 200 || out["ended_sessions"].(float64) != 1 || out["device"].(map[string]any)["state"] != "active" {
		t.Fatalf("lock: %d %v", code, out)
	}
	if code, _ := f.Do("GET", "/api/v1/me", tok1, nil); code != 401 {
		t.Fatalf("the locked device's session still works: %d", code)
	}
	if code, _ := f.Do("GET", "/api/v1/me", tok2, nil); code != 200 {
		t.Fatalf("the other device's session ended too: %d", code)
	}
	if d, _ := f.Store.DeviceByID(ctx, d1.ID); d.State != store.DeviceActive || d.Wiped {
		t.Fatalf("after lock the device is %+v", d)
	}
	if items, _ := f.Store.Pending(ctx, d1.ID, 0, 10); len(items) != 1 {
		t.Fatal("lock deleted the device's queue")
	}
	// Signing in again resumes it, with the same share: history stays.
	tok3 := f.Login("nina")
	path := "/api/v1/devices/" + apitest.Itoa(d1.ID)
	_, ch := f.Do("POST", path+"/challenge", tok3, nil)
	nonce := apitest.DecodeB64(t, ch["nonce"].(string))
	if code, out := f.Do("POST", path+"/resume", tok3, map[string]any{"sig": ed25519.Sign(d1.Sign, protocol.ResumeBytes(nina, d1.ID, nonce))}); code != 200 {
		t.Fatalf("resume after lock: %d %v", code, out)
	}
	if _, sh := f.Do("POST", share1Path, tok3, pin); sh["share"] != share1 {
		t.Fatal("after lock and resume the share changed")
	}

	// Wipe: helpdesk may not; an admin may.
	wipe := fmt.Sprintf("/api/v1/admin/devices/%d/wipe", d1.ID)
	if code, out := f.Do("POST", wipe, help, nil); code != 403 {
		t.Fatalf("wipe as helpdesk: %d %v", code, out)
	}
	if code, _ := f.WipeCheck(d1.ID, d1.Sign); code != 404 {
		t.Fatalf("wipe command before any wipe: %d", code)
	}
	code, out = f.Do("POST", wipe, boss, nil)
	if code != 200 || out["ended_sessions"].(float64) != 1 || out["device"].(map[string]any)["wiped"] != true || out["device"].(map[string]any)["state"] != "revoked" {
		t.Fatalf("wipe: %d %v", code, out)
	}
	if code, _ := f.Do("POST", share1Path, tok3, pin); code != 401 {
		t.Fatalf("share after wipe: %d", code)
	}
	if items, _ := f.Store.Pending(ctx, d1.ID, 0, 10); len(items) != 0 {
		t.Fatalf("d1's queue after the wipe: %d items", len(items))
	}
	if items, _ := f.Store.Pending(ctx, d2.ID, 0, 10); len(items) != 1 {
		t.Fatal("the wipe of d1 touched d2's queue")
	}
	if _, err := f.Store.DeviceShare(ctx, d1.ID); err != model.ErrNotFound {
		t.Fatalf("share of the wiped device: %v", err)
	}
	// The other device of nina goes on.
	if code, _ := f.Do("POST", fmt.Sprintf("/api/v1/devices/%d/share", d2.ID), tok2, pin); code != 200 {
		t.Fatalf("the other device lost its share: %d", code)
	}

	// The command is served without a session and verifies with the key of
	// /api/v1/config.
	status, body := f.WipeCheck(d1.ID, d1.Sign)
	var cmd protocol.DeviceCommand
	if status != 200 || json.Unmarshal(body, &cmd) != nil {
		t.Fatalf("wipe command: %d %s", status, body)
	}
	_, cfg := f.Do("GET", "/api/v1/config", tok2, nil)
	pub, err := base64.StdEncoding.DecodeString(cfg["command_key"].(string))
	if err != nil || len(pub) != ed25519.PublicKeySize {
		t.Fatalf("command_key %v: %v", cfg["command_key"], err)
	}
	if err := cmd.Verify(pub, d1.ID); err != nil || cmd.Kind != protocol.CommandWipe || cmd.User != nina {
		t.Fatalf("command %+v: %v", cmd, err)
	}
	if cmd.Verify(pub, d2.ID) == nil {
		t.Fatal("the command verified for another device")
	}
	forged := cmd
	forged.Device = d2.ID
	if forged.Verify(pub, d2.ID) == nil {
		t.Fatal("a command whose device was changed still verifies")
	}
	_, other, _ := ed25519.GenerateKey(nil)
	if cmd.Verify(other.Public().(ed25519.PublicKey), d1.ID) == nil {
		t.Fatal("the command verified with another key")
	}

	// A reason that is too long, or a body that is not JSON, is refused.
	lock2 := fmt.Sprintf("/api/v1/admin/devices/%d/lock", d2.ID)
	if code, out := f.Do("POST", lock2, boss, map[string]any{"reason": strings.Repeat("x", console.MaxReasonBytes+1)}); code != 400 || apitest.ErrCode(out) != "bad_request" {
		t.Fatalf("lock with a long reason: %d %v", code, out)
	}
	if code, _ := f.Raw("POST", lock2, boss, "text/plain", "lost"); code != http.StatusUnsupportedMediaType {
		t.Fatalf("lock with a text body: %d", code)
	}
	if code, _ := f.Raw("POST", lock2, boss, "application/json", ""); code != 200 {
		t.Fatalf("lock with an empty JSON body: %d", code)
	}

	// Again, and a lock of the wiped device, are conflicts; unknown ids 404.
	if code, _ := f.Do("POST", wipe, boss, nil); code != 409 {
		t.Fatalf("second wipe: %d", code)
	}
	if code, _ := f.Do("POST", lock, help, nil); code != 409 {
		t.Fatalf("lock of a wiped device: %d", code)
	}
	for _, p := range []string{"/api/v1/admin/devices/12345/lock", "/api/v1/admin/devices/12345/wipe"} {
		if code, out := f.Do("POST", p, boss, nil); code != 404 || apitest.ErrCode(out) != "not_found" {
			t.Fatalf("%s: %d %v", p, code, out)
		}
	}
	if code, _ := f.Do("POST", "/api/v1/admin/devices/x/lock", boss, nil); code != 400 {
		t.Fatalf("lock of a non-numeric id: %d", code)
	}
	if code, _ := f.WipeCheck(12345, apitest.NewTestDevice().Sign); code != 403 {
		t.Fatalf("wipe command of an unknown device: %d", code)
	}
	if code, _ := f.Do("GET", "/api/v1/admin/devices?state=revoked", boss, nil); code != 200 {
		t.Fatalf("inventory of revoked devices: %d", code)
	}

	// Nobody acts on the devices of someone above their level.
	bd := apitest.NewTestDevice()
	if code, out := f.Do("POST", "/api/v1/devices", boss, map[string]any{"name": "boss phone", "list": apitest.SignedList(f.Users["boss"].ID, 1, bd, bd.Listed())}); code != 201 {
		t.Fatalf("register boss's device: %d %v", code, out)
	}
	if code, out := f.Do("POST", fmt.Sprintf("/api/v1/admin/devices/%d/lock", bd.ID), help, nil); code != 403 || apitest.ErrCode(out) != "forbidden" {
		t.Fatalf("helpdesk locks an admin's device: %d %v", code, out)
	}
	if d, _ := f.Store.DeviceByID(ctx, bd.ID); d.State != store.DeviceActive {
		t.Fatal("the refused lock changed the device")
	}

	// Every step is in the audit log, with who did it.
	rows := apitest.AuditRows(t, f.Store)
	dt := func(d *apitest.TestDevice) string { return "device:" + apitest.Itoa(d.ID) }
	for _, want := range [][4]string{
		{"device.register", dt(d1), "nina", "ok"},
		{"device.request", dt(d2), "nina", "ok"},
		{"device.approve", dt(d2), "nina", "ok"},
		{"device.lock", dt(d1), "help", "ok"},
		{"device.resume", dt(d1), "nina", "ok"},
		{"device.wipe", dt(d1), "boss", "ok"},
		{"console.refused", "", "help", "fail"},
	} {
		if !apitest.HasAudit(rows, want) {
			t.Errorf("audit log lacks %v; it has %v", want, rows)
		}
	}
}

// Offboarding wipes every device of the user: each gets a wipe command
// and a device.wipe audit entry, and an admin may not wipe an owner's
// device (nor helpdesk lock an admin's).
func TestOffboardWipesDevices(t *testing.T) {
	f, tokens := apitest.NewConsole(t)
	ctx := context.Background()
	sam := f.Users["sam"]
	d1, d2 := apitest.NewTestDevice(), apitest.NewTestDevice()
	f.Do("POST", "/api/v1/devices", tokens["sam"], map[string]any{"name": "phone", "list": apitest.SignedList(sam.ID, 1, d1, d1.Listed())})
	if code, out := f.AddDevice(sam.ID, f.Login("sam"), d2, tokens["sam"], d1, 2, d1.Listed(), d2.Listed()); code != 200 {
		t.Fatalf("second device: %d %v", code, out)
	}
	// d2 was wiped before offboarding; it is left as it was.
	if code, _ := f.Do("POST", fmt.Sprintf("/api/v1/admin/devices/%d/wipe", d2.ID), tokens[model.LevelAdmin], nil); code != 200 {
		t.Fatalf("wipe d2: %d", code)
	}
	before, _ := f.Store.DeviceWipeCommand(ctx, d2.ID)
	if code, out := f.Do("POST", "/api/v1/admin/users/"+apitest.Itoa(sam.ID)+"/offboard", tokens[model.LevelAdmin], nil); code != 200 || out["revoked_devices"].(float64) != 1 {
		t.Fatalf("offboard: %d %v", code, out)
	}
	for _, d := range []*apitest.TestDevice{d1, d2} {
		if code, _ := f.WipeCheck(d.ID, d.Sign); code != 200 {
			t.Fatalf("wipe command of device %d after offboarding: %d", d.ID, code)
		}
	}
	if after, _ := f.Store.DeviceWipeCommand(ctx, d2.ID); string(after) != string(before) {
		t.Fatal("offboarding replaced the earlier wipe command")
	}
	rows := apitest.AuditRows(t, f.Store)
	if !apitest.HasAudit(rows, [4]string{"device.wipe", "device:" + apitest.Itoa(d1.ID), model.LevelAdmin, "ok"}) {
		t.Fatalf("no device.wipe entry for the offboarded user's device: %v", rows)
	}

	// Levels: an admin cannot wipe the owner's device; helpdesk cannot lock
	// an admin's; the owner can wipe an admin's.
	od, ad := apitest.NewTestDevice(), apitest.NewTestDevice()
	f.Do("POST", "/api/v1/devices", f.Login(model.LevelOwner), map[string]any{"name": "o", "list": apitest.SignedList(f.Users[model.LevelOwner].ID, 1, od, od.Listed())})
	f.Do("POST", "/api/v1/devices", f.Login(model.LevelAdmin), map[string]any{"name": "a", "list": apitest.SignedList(f.Users[model.LevelAdmin].ID, 1, ad, ad.Listed())})
	for _, tc := range []struct {
		who, action string
		dev         *apitest.TestDevice
		want        int
	}{
		{model.LevelAdmin, "wipe", od, 403},
		{model.LevelHelpdesk, "lock", ad, 403},
		{model.LevelOwner, "lock", ad, 200},
		{model.LevelOwner, "wipe", ad, 200},
	} {
		if code, out := f.Do("POST", fmt.Sprintf("/api/v1/admin/devices/%d/%s", tc.dev.ID, tc.action), tokens[tc.who], nil); code != tc.want {
			t.Errorf("%s %s: %d %v, want %d", tc.who, tc.action, code, out, tc.want)
		}
	}
}
