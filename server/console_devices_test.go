package server

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/curbside-health/curbside/api"
	"github.com/curbside-health/curbside/console"
	"github.com/curbside-health/curbside/devicecmd"

	"github.com/curbside-health/curbside/auth"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// consoleUser adds a user with an admin level to the fixture.
func (f *fixture) consoleUser(name, level string) {
	f.t.Helper()
	hash, _ := auth.HashPassword(testPassword)
	u := &model.User{Username: name, Display: name, Role: model.RoleStaff, State: model.StateActive, AdminLevel: level, PasswordHash: hash}
	if err := f.st.CreateUser(context.Background(), u); err != nil {
		f.t.Fatal(err)
	}
	f.users[name] = u
}

// auditRows returns the audit log's (action, target, actor name, outcome)
// rows, read straight from the database file.
func auditRows(t *testing.T, st *store.Store) [][4]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+st.Path()+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT action, target, actor_name, outcome FROM audit ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][4]string
	for rows.Next() {
		var r [4]string
		if err := rows.Scan(&r[0], &r[1], &r[2], &r[3]); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func hasAudit(rows [][4]string, want [4]string) bool {
	for _, r := range rows {
		if r == want {
			return true
		}
	}
	return false
}

func TestConsoleDeviceLockAndWipe(t *testing.T) {
	f := newFixture(t, "nina", "omar")
	ctx := context.Background()
	if err := f.st.SetPolicy(ctx, map[string]string{"mfa_required": ""}); err != nil {
		t.Fatal(err)
	}
	f.consoleUser("help", model.LevelHelpdesk)
	f.consoleUser("boss", model.LevelAdmin)
	help, boss := f.login("help"), f.login("boss")
	nina := f.users["nina"].ID

	// nina registers two devices: a phone (d1) and a laptop (d2).
	d1, d2 := newTestDevice(), newTestDevice()
	tok1 := f.login("nina")
	if code, out := f.do("POST", "/api/v1/devices", tok1, map[string]any{"name": "phone", "list": signedList(nina, 1, d1, d1.listed())}); code != 201 {
		t.Fatalf("register d1: %d %v", code, out)
	}
	tok2 := f.login("nina")
	if code, out := f.do("POST", "/api/v1/devices", tok2, map[string]any{"name": "laptop", "list": signedList(nina, 2, d2, d1.listed(), d2.listed())}); code != 201 {
		t.Fatalf("register d2: %d %v", code, out)
	}
	_, sh := f.do("GET", "/api/v1/devices/me/share", tok1, nil)
	share1 := sh["share"]

	// omar's message waits in d1's queue.
	omar := f.users["omar"].ID
	od := newTestDevice()
	if code, out := f.do("POST", "/api/v1/devices", f.login("omar"), map[string]any{"name": "o", "list": signedList(omar, 1, od, od.listed())}); code != 201 {
		t.Fatalf("register omar: %d %v", code, out)
	}
	raw := []byte(`{"id":"MMMMMMMMMMMMMMMMMMMM"}`)
	sum := sha256.Sum256(raw)
	env := &protocol.Envelope{V: 1, Suite: 1, ID: "MMMMMMMMMMMMMMMMMMMM", Conv: protocol.DirectConv(omar, nina), From: protocol.Party{User: omar, Device: od.id}, Created: 1}
	if _, err := f.st.Accept(ctx, &model.NewMessage{Env: env, Raw: raw, Digest: sum[:], Recipients: []int64{nina}, Deliver: []int64{d1.id, d2.id}, ExpiresAt: time.Now().Add(time.Hour).UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	if items, _ := f.st.Pending(ctx, d1.id, 0, 10); len(items) != 1 {
		t.Fatalf("d1's queue before the wipe: %d items", len(items))
	}

	// The helpdesk sees nina's devices, with agent, fingerprint and sessions.
	code, out := f.do("GET", fmt.Sprintf("/api/v1/admin/users/%d/devices", nina), help, nil)
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
	if code, _ := f.do("GET", "/api/v1/admin/users/99999/devices", help, nil); code != 404 {
		t.Fatalf("devices of an unknown user: %d", code)
	}
	// The whole inventory is for admins.
	if code, out := f.do("GET", "/api/v1/admin/devices", help, nil); code != 403 {
		t.Fatalf("inventory as helpdesk: %d %v", code, out)
	}
	code, out = f.do("GET", "/api/v1/admin/devices?q=nina", boss, nil)
	if code != 200 || out["total"].(float64) != 2 || out["devices"].([]any)[0].(map[string]any)["user"].(map[string]any)["username"] != "nina" {
		t.Fatalf("inventory ?q=nina: %d %v", code, out)
	}
	if code, _ := f.do("GET", "/api/v1/admin/devices?state=lost", boss, nil); code != 400 {
		t.Fatalf("inventory with a bad state: %d", code)
	}

	// Lock d1 (helpdesk may): its session ends, the device and the other
	// device's session stay.
	lock := fmt.Sprintf("/api/v1/admin/devices/%d/lock", d1.id)
	code, out = f.do("POST", lock, help, map[string]any{"reason": "left on the ward"})
	if code != 200 || out["ended_sessions"].(float64) != 1 || out["device"].(map[string]any)["state"] != "active" {
		t.Fatalf("lock: %d %v", code, out)
	}
	if code, _ := f.do("GET", "/api/v1/me", tok1, nil); code != 401 {
		t.Fatalf("the locked device's session still works: %d", code)
	}
	if code, _ := f.do("GET", "/api/v1/me", tok2, nil); code != 200 {
		t.Fatalf("the other device's session ended too: %d", code)
	}
	if d, _ := f.st.DeviceByID(ctx, d1.id); d.State != store.DeviceActive || d.Wiped {
		t.Fatalf("after lock the device is %+v", d)
	}
	if items, _ := f.st.Pending(ctx, d1.id, 0, 10); len(items) != 1 {
		t.Fatal("lock deleted the device's queue")
	}
	// Signing in again resumes it, with the same share: history stays.
	tok3 := f.login("nina")
	path := "/api/v1/devices/" + itoa(d1.id)
	_, ch := f.do("POST", path+"/challenge", tok3, nil)
	nonce := decodeB64(t, ch["nonce"].(string))
	if code, out := f.do("POST", path+"/resume", tok3, map[string]any{"sig": ed25519.Sign(d1.sign, api.ResumeBytes(nina, d1.id, nonce))}); code != 200 {
		t.Fatalf("resume after lock: %d %v", code, out)
	}
	if _, sh := f.do("GET", "/api/v1/devices/me/share", tok3, nil); sh["share"] != share1 {
		t.Fatal("after lock and resume the share changed")
	}

	// Wipe: helpdesk may not; an admin may.
	wipe := fmt.Sprintf("/api/v1/admin/devices/%d/wipe", d1.id)
	if code, out := f.do("POST", wipe, help, nil); code != 403 {
		t.Fatalf("wipe as helpdesk: %d %v", code, out)
	}
	if code, _ := f.do("GET", "/api/v1/devices/"+itoa(d1.id)+"/wipe", "", nil); code != 404 {
		t.Fatalf("wipe command before any wipe: %d", code)
	}
	code, out = f.do("POST", wipe, boss, nil)
	if code != 200 || out["ended_sessions"].(float64) != 1 || out["device"].(map[string]any)["wiped"] != true || out["device"].(map[string]any)["state"] != "revoked" {
		t.Fatalf("wipe: %d %v", code, out)
	}
	if code, _ := f.do("GET", "/api/v1/devices/me/share", tok3, nil); code != 401 {
		t.Fatalf("share after wipe: %d", code)
	}
	if items, _ := f.st.Pending(ctx, d1.id, 0, 10); len(items) != 0 {
		t.Fatalf("d1's queue after the wipe: %d items", len(items))
	}
	if items, _ := f.st.Pending(ctx, d2.id, 0, 10); len(items) != 1 {
		t.Fatal("the wipe of d1 touched d2's queue")
	}
	if _, err := f.st.DeviceShare(ctx, d1.id); err != model.ErrNotFound {
		t.Fatalf("share of the wiped device: %v", err)
	}
	// The other device of nina goes on.
	if code, _ := f.do("GET", "/api/v1/devices/me/share", tok2, nil); code != 200 {
		t.Fatalf("the other device lost its share: %d", code)
	}

	// The command is served without a session and verifies with the key of
	// /api/v1/config.
	res, err := http.Get(f.srv.URL + "/api/v1/devices/" + itoa(d1.id) + "/wipe")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var cmd protocol.DeviceCommand
	if res.StatusCode != 200 || json.Unmarshal(body, &cmd) != nil {
		t.Fatalf("wipe command: %d %s", res.StatusCode, body)
	}
	_, cfg := f.do("GET", "/api/v1/config", tok2, nil)
	pub, err := base64.StdEncoding.DecodeString(cfg["command_key"].(string))
	if err != nil || len(pub) != ed25519.PublicKeySize {
		t.Fatalf("command_key %v: %v", cfg["command_key"], err)
	}
	if err := cmd.Verify(pub, d1.id); err != nil || cmd.Kind != protocol.CommandWipe || cmd.User != nina {
		t.Fatalf("command %+v: %v", cmd, err)
	}
	if cmd.Verify(pub, d2.id) == nil {
		t.Fatal("the command verified for another device")
	}
	forged := cmd
	forged.Device = d2.id
	if forged.Verify(pub, d2.id) == nil {
		t.Fatal("a command whose device was changed still verifies")
	}
	_, other, _ := ed25519.GenerateKey(nil)
	if cmd.Verify(other.Public().(ed25519.PublicKey), d1.id) == nil {
		t.Fatal("the command verified with another key")
	}

	// A reason that is too long, or a body that is not JSON, is refused.
	lock2 := fmt.Sprintf("/api/v1/admin/devices/%d/lock", d2.id)
	if code, out := f.do("POST", lock2, boss, map[string]any{"reason": strings.Repeat("x", console.MaxReasonBytes+1)}); code != 400 || errCode(out) != "bad_request" {
		t.Fatalf("lock with a long reason: %d %v", code, out)
	}
	if code, _ := f.raw("POST", lock2, boss, "text/plain", "lost"); code != http.StatusUnsupportedMediaType {
		t.Fatalf("lock with a text body: %d", code)
	}
	if code, _ := f.raw("POST", lock2, boss, "application/json", ""); code != 200 {
		t.Fatalf("lock with an empty JSON body: %d", code)
	}

	// Again, and a lock of the wiped device, are conflicts; unknown ids 404.
	if code, _ := f.do("POST", wipe, boss, nil); code != 409 {
		t.Fatalf("second wipe: %d", code)
	}
	if code, _ := f.do("POST", lock, help, nil); code != 409 {
		t.Fatalf("lock of a wiped device: %d", code)
	}
	for _, p := range []string{"/api/v1/admin/devices/12345/lock", "/api/v1/admin/devices/12345/wipe"} {
		if code, out := f.do("POST", p, boss, nil); code != 404 || errCode(out) != "not_found" {
			t.Fatalf("%s: %d %v", p, code, out)
		}
	}
	if code, _ := f.do("POST", "/api/v1/admin/devices/x/lock", boss, nil); code != 400 {
		t.Fatalf("lock of a non-numeric id: %d", code)
	}
	if code, _ := f.do("GET", "/api/v1/devices/12345/wipe", "", nil); code != 404 {
		t.Fatalf("wipe command of an unknown device: %d", code)
	}
	if code, _ := f.do("GET", "/api/v1/admin/devices?state=revoked", boss, nil); code != 200 {
		t.Fatalf("inventory of revoked devices: %d", code)
	}

	// Nobody acts on the devices of someone above their level.
	bd := newTestDevice()
	if code, out := f.do("POST", "/api/v1/devices", boss, map[string]any{"name": "boss phone", "list": signedList(f.users["boss"].ID, 1, bd, bd.listed())}); code != 201 {
		t.Fatalf("register boss's device: %d %v", code, out)
	}
	if code, out := f.do("POST", fmt.Sprintf("/api/v1/admin/devices/%d/lock", bd.id), help, nil); code != 403 || errCode(out) != "forbidden" {
		t.Fatalf("helpdesk locks an admin's device: %d %v", code, out)
	}
	if d, _ := f.st.DeviceByID(ctx, bd.id); d.State != store.DeviceActive {
		t.Fatal("the refused lock changed the device")
	}

	// Every step is in the audit log, with who did it.
	rows := auditRows(t, f.st)
	dt := func(d *testDevice) string { return "device:" + itoa(d.id) }
	for _, want := range [][4]string{
		{"device.register", dt(d1), "nina", "ok"},
		{"device.register", dt(d2), "nina", "ok"},
		{"device.lock", dt(d1), "help", "ok"},
		{"device.resume", dt(d1), "nina", "ok"},
		{"device.wipe", dt(d1), "boss", "ok"},
		{"console.refused", "", "help", "fail"},
	} {
		if !hasAudit(rows, want) {
			t.Errorf("audit log lacks %v; it has %v", want, rows)
		}
	}
}

func TestCommandKeyIsStable(t *testing.T) {
	f := newFixture(t, "kim")
	tok := f.login("kim")
	_, a := f.do("GET", "/api/v1/config", tok, nil)
	// A second API over the same store (a restart) publishes the same key.
	k, err := devicecmd.New(f.st).PublicKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.StdEncoding.EncodeToString(k); got != a["command_key"] {
		t.Fatalf("command key changed: %s vs %v", got, a["command_key"])
	}
}

// Offboarding wipes every device of the user: each gets a wipe command
// and a device.wipe audit entry, and an admin may not wipe an owner's
// device (nor helpdesk lock an admin's).
func TestOffboardWipesDevices(t *testing.T) {
	f, tokens := consoleFixture(t)
	ctx := context.Background()
	sam := f.users["sam"]
	d1, d2 := newTestDevice(), newTestDevice()
	f.do("POST", "/api/v1/devices", tokens["sam"], map[string]any{"name": "phone", "list": signedList(sam.ID, 1, d1, d1.listed())})
	if code, out := f.do("POST", "/api/v1/devices", f.login("sam"), map[string]any{"name": "laptop", "list": signedList(sam.ID, 2, d2, d1.listed(), d2.listed())}); code != 201 {
		t.Fatalf("second device: %d %v", code, out)
	}
	// d2 was wiped before offboarding; it is left as it was.
	if code, _ := f.do("POST", fmt.Sprintf("/api/v1/admin/devices/%d/wipe", d2.id), tokens[model.LevelAdmin], nil); code != 200 {
		t.Fatalf("wipe d2: %d", code)
	}
	before, _ := f.st.DeviceWipeCommand(ctx, d2.id)
	if code, out := f.do("POST", "/api/v1/admin/users/"+itoa(sam.ID)+"/offboard", tokens[model.LevelAdmin], nil); code != 200 || out["revoked_devices"].(float64) != 1 {
		t.Fatalf("offboard: %d %v", code, out)
	}
	for _, d := range []*testDevice{d1, d2} {
		if code, _ := f.do("GET", "/api/v1/devices/"+itoa(d.id)+"/wipe", "", nil); code != 200 {
			t.Fatalf("wipe command of device %d after offboarding: %d", d.id, code)
		}
	}
	if after, _ := f.st.DeviceWipeCommand(ctx, d2.id); string(after) != string(before) {
		t.Fatal("offboarding replaced the earlier wipe command")
	}
	rows := auditRows(t, f.st)
	if !hasAudit(rows, [4]string{"device.wipe", "device:" + itoa(d1.id), model.LevelAdmin, "ok"}) {
		t.Fatalf("no device.wipe entry for the offboarded user's device: %v", rows)
	}

	// Levels: an admin cannot wipe the owner's device; helpdesk cannot lock
	// an admin's; the owner can wipe an admin's.
	od, ad := newTestDevice(), newTestDevice()
	f.do("POST", "/api/v1/devices", f.login(model.LevelOwner), map[string]any{"name": "o", "list": signedList(f.users[model.LevelOwner].ID, 1, od, od.listed())})
	f.do("POST", "/api/v1/devices", f.login(model.LevelAdmin), map[string]any{"name": "a", "list": signedList(f.users[model.LevelAdmin].ID, 1, ad, ad.listed())})
	for _, tc := range []struct {
		who, action string
		dev         *testDevice
		want        int
	}{
		{model.LevelAdmin, "wipe", od, 403},
		{model.LevelHelpdesk, "lock", ad, 403},
		{model.LevelOwner, "lock", ad, 200},
		{model.LevelOwner, "wipe", ad, 200},
	} {
		if code, out := f.do("POST", fmt.Sprintf("/api/v1/admin/devices/%d/%s", tc.dev.id, tc.action), tokens[tc.who], nil); code != tc.want {
			t.Errorf("%s %s: %d %v, want %d", tc.who, tc.action, code, out, tc.want)
		}
	}
}
