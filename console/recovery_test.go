package console_test

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/internal/apitest"
	"github.com/curbside-health/curbside/protocol"
)

func approvalNonce() []byte {
	b := make([]byte, protocol.ApprovalNonceSize)
	rand.Read(b)
	return b
}

// recoveryFixture: erin had a phone, which was wiped; she sets up a new
// device, which waits for an administrator (PROTOCOL.md 3.2).
type recoveryFixture struct {
	*apitest.Fixture
	uid    int64
	tok    string // the new device's session
	dev    *apitest.TestDevice
	nonce  []byte   // the new device's approval nonce
	admin  string   // ada's console session
	secret string   // ada's TOTP secret
	codes  []string // ada's recovery codes
}

func newRecovery(t *testing.T) *recoveryFixture {
	f := apitest.NewMFA(t, "erin", "finn")
	r := &recoveryFixture{Fixture: f, uid: f.Users["erin"].ID, dev: apitest.NewTestDevice(), nonce: approvalNonce()}
	r.admin = f.ConsoleToken("ada", "admin")
	r.secret, r.codes = f.EnrollTOTP(r.admin)
	d1 := apitest.NewTestDevice()
	if code, out := f.Do("POST", "/api/v1/devices", f.Login("erin"), map[string]any{"name": "phone", "list": apitest.SignedList(r.uid, 1, d1, d1.Listed())}); code != 201 {
		t.Fatalf("first device: %d %v", code, out)
	}
	if code, out := f.Do("POST", "/api/v1/admin/devices/"+apitest.Itoa(d1.ID)+"/wipe", r.admin, map[string]any{"reason": "lost"}); code != 200 {
		t.Fatalf("wipe: %d %v", code, out)
	}
	r.tok = f.Login("erin")
	code, out := f.Do("POST", "/api/v1/devices", r.tok, map[string]any{"name": "new phone", "list": apitest.SignedList(r.uid, 2, r.dev, r.dev.Listed()), "commit": protocol.ApprovalCommit(r.nonce)})
	if code != 202 || out["state"] != "pending" || out["approval"] != "admin" {
		t.Fatalf("a user with no device left registers at once: %d %v", code, out)
	}
	return r
}

func (r *recoveryFixture) path(rest string) string {
	return "/api/v1/admin/users/" + apitest.Itoa(r.uid) + "/device-requests" + rest
}

// stage is what the console says of erin's one waiting device.
func (r *recoveryFixture) stage(t *testing.T, token string) map[string]any {
	t.Helper()
	code, out := r.Do("GET", r.path(""), token, nil)
	reqs, _ := out["requests"].([]any)
	if code != 200 || len(reqs) != 1 {
		t.Fatalf("recovery requests: %d %v", code, out)
	}
	return reqs[0].(map[string]any)
}

// start answers the request as ada and has the device reveal its nonce;
// it returns the code the device shows.
func (r *recoveryFixture) start(t *testing.T) string {
	t.Helper()
	if code, out := r.Do("POST", r.path("/"+apitest.Itoa(r.dev.ID)+"/answer"), r.admin, nil); code != 200 {
		t.Fatalf("answer: %d %v", code, out)
	}
	_, mine := r.Do("GET", "/api/v1/devices/me/request", r.tok, nil)
	req := mine["request"].(map[string]any)
	if req["approval"] != "admin" || req["approver_nonce"] == nil {
		t.Fatalf("the new device's view: %v", mine)
	}
	if code, out := r.Do("POST", "/api/v1/devices/me/request/reveal", r.tok, map[string]any{"nonce": r.nonce}); code != 200 {
		t.Fatalf("reveal: %d %v", code, out)
	}
	return protocol.ApprovalCode(r.uid, r.dev.Listed(), r.nonce, apitest.DecodeB64(t, req["approver_nonce"].(string)))
}

func (r *recoveryFixture) approve(code, stepUp string) (int, map[string]any) {
	return r.Do("POST", r.path("/"+apitest.Itoa(r.dev.ID)+"/approve"), r.admin, map[string]any{"code": code, "step_up": stepUp})
}

// TestAttackPasswordOnlyAddsDeviceAfterLoss: with the password of a user
// whose devices are all gone, an attacker used to get a device at once,
// which peers accepted as a reset. Now the device waits, receives nothing,
// and only an administrator who passes a step-up and types the code the
// device shows can approve it; peers are told who approved it.
func TestAttackPasswordOnlyAddsDeviceAfterLoss(t *testing.T) {
	r := newRecovery(t)
	if _, out := r.Do("GET", "/api/v1/me", r.tok, nil); out["device"].(float64) != 0 {
		t.Fatalf("a waiting device's session is bound: %v", out)
	}
	_, keys := r.Do("GET", "/api/v1/keys/"+apitest.Itoa(r.uid), r.Login("finn"), nil)
	if act := keys["active"].([]any); len(act) != 0 || keys["list"].(map[string]any)["version"].(float64) != 1 || keys["admin_approved"] != nil {
		t.Fatalf("keys while the device waits: %v", keys)
	}
	// The wiped phone is named as revoked, with when (PROTOCOL.md 3.4).
	if rv, _ := keys["revoked"].([]any); len(rv) != 1 || rv[0].(map[string]any)["at"].(float64) <= 0 {
		t.Fatalf("keys name the wiped device as revoked: %v", keys["revoked"])
	}
	if code, _ := r.Do("POST", "/api/v1/devices/"+apitest.Itoa(r.dev.ID)+"/share", r.tok, map[string]any{"proof": make([]byte, 32)}); code != 404 {
		t.Fatalf("share for a waiting device: %d", code)
	}
	if got := r.stage(t, r.admin); got["stage"] != "new" || got["tries_left"].(float64) != 3 || got["fingerprint"] == "" {
		t.Fatalf("console view before: %v", got)
	}
	// Helpdesk may not approve devices.
	if code, _ := r.Do("GET", r.path(""), r.ConsoleToken("hal", "helpdesk"), nil); code != 403 {
		t.Fatalf("helpdesk lists recovery requests: %d", code)
	}
	code := r.start(t)
	if got := r.stage(t, r.admin); got["stage"] != "code" {
		t.Fatalf("console view after the reveal: %v", got)
	}
	// A console cookie alone approves nothing: the step-up is required,
	// and a wrong one is refused.
	if c, out := r.approve(code, ""); c != 403 || apitest.ErrCode(out) != "step_up_required" {
		t.Fatalf("no step-up: %d %v", c, out)
	}
	if c, out := r.approve(code, r.WrongTOTP(r.secret)); c != 400 || apitest.ErrCode(out) != "code_not_accepted" {
		t.Fatalf("wrong step-up: %d %v", c, out)
	}
	// A code that is not the device's is refused and counted.
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	if c, out := r.approve(wrong, r.Code(r.secret)); c != 400 || apitest.ErrCode(out) != "approval_code_wrong" {
		t.Fatalf("wrong device code: %d %v", c, out)
	}
	if got := r.stage(t, r.admin); got["tries_left"].(float64) != 2 {
		t.Fatalf("tries after a wrong code: %v", got)
	}
	r.Tick()
	// The step-up's code cannot serve twice.
	used := r.Code(r.secret)
	if c, out := r.approve(code, used); c != 200 {
		t.Fatalf("approve: %d %v", c, out)
	}
	if _, out := r.Do("GET", "/api/v1/me", r.tok, nil); int64(out["device"].(float64)) != r.dev.ID {
		t.Fatalf("the approved device's session is not bound to it: %v", out)
	}
	_, keys = r.Do("GET", "/api/v1/keys/"+apitest.Itoa(r.uid), r.Login("finn"), nil)
	if act := keys["active"].([]any); len(act) != 1 || keys["list"].(map[string]any)["version"].(float64) != 2 || keys["admin_approved"] != true {
		t.Fatalf("keys after the approval: %v", keys)
	}
	rows := apitest.MFAAuditRows(t, r.Store)
	for _, want := range []struct{ action, outcome, detail string }{
		{"device.recovery_request", "ok", `"list_version":2`},
		{"device.recovery_start", "ok", `"user":`},
		{"device.recovery_approve", "fail", `"reason":"step_up"`},
		{"device.recovery_approve", "fail", `"reason":"wrong code"`},
		{"device.recovery_approve", "ok", `"step_up":"totp"`},
	} {
		found := false
		for _, e := range rows {
			if e.Action == want.action && e.Outcome == want.outcome && e.Target == "device:"+apitest.Itoa(r.dev.ID) && contains(e.Detail, want.detail) {
				found = true
			}
		}
		if !found {
			t.Errorf("no audit entry %s %s with %s in %v", want.action, want.outcome, want.detail, rows)
		}
	}
}

// Three wrong codes end the request: the person must ask again.
func TestRecoveryEndsAfterThreeWrongCodes(t *testing.T) {
	r := newRecovery(t)
	code := r.start(t)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for i := range 3 {
		r.Tick()
		stepUp := r.Code(r.secret)
		if i == 0 {
			stepUp = r.codes[0] // a recovery code serves once, and is audited
		}
		if c, out := r.approve(wrong, stepUp); c != 400 || apitest.ErrCode(out) != "approval_code_wrong" {
			t.Fatalf("wrong code %d: %d %v", i+1, c, out)
		}
		if i == 0 {
			if c, out := r.approve(code, r.codes[0]); c != 400 || apitest.ErrCode(out) != "code_not_accepted" {
				t.Fatalf("a recovery code used twice for a step-up: %d %v", c, out)
			}
		}
	}
	if e := apitest.FindAudit(apitest.MFAAuditRows(t, r.Store), "mfa.recovery_used", `"for":"step_up"`); e == nil {
		t.Fatal("no mfa.recovery_used entry for the step-up")
	}
	r.Tick()
	if c, out := r.approve(code, r.Code(r.secret)); c != 404 {
		t.Fatalf("the right code after three wrong ones: %d %v", c, out)
	}
	if c, _ := r.Do("GET", "/api/v1/devices/me/request", r.tok, nil); c != 404 {
		t.Fatalf("the device still waits after its request ended: %d", c)
	}
}

// An administrator approves their own new device only when nobody else
// could; a denial ends the request.
func TestRecoverySelfApprovalAndDenial(t *testing.T) {
	r := newRecovery(t)
	// ada's own device, lost: with an owner around who could approve it,
	// she may not approve her own recovery.
	adaID := r.Users["ada"].ID
	r.EnrollTOTP(r.ConsoleToken("bo", "owner"))
	if c, out := r.Do("GET", "/api/v1/admin/users/"+apitest.Itoa(adaID)+"/device-requests", r.admin, nil); c != 403 || apitest.ErrCode(out) != "forbidden" {
		t.Fatalf("self-approval with another admin: %d %v", c, out)
	}
	if c, _ := r.Do("DELETE", r.path("/"+apitest.Itoa(r.dev.ID)), r.admin, nil); c != 204 {
		t.Fatalf("deny: %d", c)
	}
	if c, _ := r.Do("GET", "/api/v1/devices/me/request", r.tok, nil); c != 404 {
		t.Fatalf("a denied device still waits: %d", c)
	}
	if e := apitest.FindAudit(apitest.MFAAuditRows(t, r.Store), "device.recovery_deny", ""); e == nil || e.Target != "device:"+apitest.Itoa(r.dev.ID) {
		t.Fatalf("no device.recovery_deny entry: %v", e)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// askRecovery has name, whose devices are all gone, sign in on a new
// device, which waits for an administrator; it returns the device, its
// nonce and its session.
func askRecovery(t *testing.T, f *apitest.Fixture, name string, version int64) (*apitest.TestDevice, []byte, string) {
	t.Helper()
	dev, n, tok := apitest.NewTestDevice(), approvalNonce(), f.MFASession(name)
	uid := f.Users[name].ID
	code, out := f.Do("POST", "/api/v1/devices", tok, map[string]any{"name": "new " + name, "list": apitest.SignedList(uid, version, dev, dev.Listed()), "commit": protocol.ApprovalCommit(n)})
	if code != 202 || out["approval"] != "admin" {
		t.Fatalf("%s asks: %d %v", name, code, out)
	}
	return dev, n, tok
}

// lostDevice gives name one device and wipes it, as token (an administrator) may.
func lostDevice(t *testing.T, f *apitest.Fixture, name, token string) {
	t.Helper()
	d := apitest.NewTestDevice()
	if code, out := f.Do("POST", "/api/v1/devices", f.MFASession(name), map[string]any{"name": "phone", "list": apitest.SignedList(f.Users[name].ID, 1, d, d.Listed())}); code != 201 {
		t.Fatalf("%s's first device: %d %v", name, code, out)
	}
	if code, out := f.Do("POST", "/api/v1/admin/devices/"+apitest.Itoa(d.ID)+"/wipe", token, nil); code != 200 {
		t.Fatalf("wipe %s's device: %d %v", name, code, out)
	}
}

// approveAs walks a recovery through as the administrator behind token
// (with TOTP secret) and returns the approval's answer.
func approveAs(t *testing.T, f *apitest.Fixture, token, secret, name string, dev *apitest.TestDevice, n []byte, devTok string) (int, map[string]any) {
	t.Helper()
	base := "/api/v1/admin/users/" + apitest.Itoa(f.Users[name].ID) + "/device-requests/" + apitest.Itoa(dev.ID)
	if code, out := f.Do("POST", base+"/answer", token, nil); code != 200 {
		return code, out
	}
	_, mine := f.Do("GET", "/api/v1/devices/me/request", devTok, nil)
	if code, out := f.Do("POST", "/api/v1/devices/me/request/reveal", devTok, map[string]any{"nonce": n}); code != 200 {
		t.Fatalf("reveal: %d %v", code, out)
	}
	an := apitest.DecodeB64(t, mine["request"].(map[string]any)["approver_nonce"].(string))
	f.Tick()
	return f.Do("POST", base+"/approve", token, map[string]any{"code": protocol.ApprovalCode(f.Users[name].ID, dev.Listed(), n, an), "step_up": f.Code(secret)})
}

// Who approves whose recovery: an owner is approved by another owner, an
// admin by an owner, and anyone approves their own only when nobody else
// could; so a practice's only owner gets a lost device back.
func TestRecoveryApprovers(t *testing.T) {
	f := apitest.NewMFA(t, "erin")
	olga := f.ConsoleToken("olga", "owner")
	olgaSecret, _ := f.EnrollTOTP(olga)
	ada := f.ConsoleToken("ada", "admin")
	f.EnrollTOTP(ada)

	// The owner lost her phone; the admin may not manage her account, so
	// she approves her own new device.
	lostDevice(t, f, "olga", olga)
	dev, n, tok := askRecovery(t, f, "olga", 2)
	if code, out := f.Do("GET", "/api/v1/admin/users/"+apitest.Itoa(f.Users["olga"].ID)+"/device-requests", ada, nil); code != 403 {
		t.Fatalf("an admin lists an owner's recovery: %d %v", code, out)
	}
	if code, out := approveAs(t, f, olga, olgaSecret, "olga", dev, n, tok); code != 200 {
		t.Fatalf("the only owner approves her own device: %d %v", code, out)
	}

	// The admin lost hers: the owner approves it, not the admin herself.
	lostDevice(t, f, "ada", olga)
	dev, n, tok = askRecovery(t, f, "ada", 2)
	if code, out := f.Do("GET", "/api/v1/admin/users/"+apitest.Itoa(f.Users["ada"].ID)+"/device-requests", ada, nil); code != 403 {
		t.Fatalf("an admin lists her own recovery while an owner could approve it: %d %v", code, out)
	}
	if code, out := approveAs(t, f, olga, olgaSecret, "ada", dev, n, tok); code != 200 {
		t.Fatalf("the owner approves the admin's device: %d %v", code, out)
	}
}

// Two recoveries of one user, two administrators: the second administrator
// to answer is refused and sees who has it; once one device is approved
// the other request ends; and wrong step-ups are limited.
func TestRecoveryRaces(t *testing.T) {
	r := newRecovery(t)
	bo := r.ConsoleToken("bo", "admin")
	boSecret, _ := r.EnrollTOTP(bo)
	other, otherN, otherTok := askRecovery(t, r.Fixture, "erin", 2)
	if code, out := r.Do("POST", r.path("/"+apitest.Itoa(r.dev.ID)+"/answer"), r.admin, nil); code != 200 {
		t.Fatalf("ada answers: %d %v", code, out)
	}
	if code, out := r.Do("POST", r.path("/"+apitest.Itoa(r.dev.ID)+"/answer"), bo, nil); code != 409 {
		t.Fatalf("bo answers the request ada has: %d %v", code, out)
	}
	_, list := r.Do("GET", r.path(""), bo, nil)
	for _, x := range list["requests"].([]any) {
		if m := x.(map[string]any); int64(m["id"].(float64)) == r.dev.ID && m["stage"] != "other" {
			t.Fatalf("bo's view of ada's approval: %v", m)
		}
	}
	// Wrong step-ups: five, then refused as too many.
	code := r.start(t)
	for i := range 5 {
		if c, out := r.approve(code, r.WrongTOTP(r.secret)); c != 400 {
			t.Fatalf("wrong step-up %d: %d %v", i+1, c, out)
		}
	}
	if c, out := r.approve(code, r.Code(r.secret)); c != 429 {
		t.Fatalf("a sixth step-up after five wrong ones: %d %v", c, out)
	}
	// Bo approves the other device instead; ada's request ends with it.
	if c, out := approveAs(t, r.Fixture, bo, boSecret, "erin", other, otherN, otherTok); c != 200 {
		t.Fatalf("bo approves the other device: %d %v", c, out)
	}
	if c, _ := r.Do("GET", "/api/v1/devices/me/request", r.tok, nil); c != 404 {
		t.Fatalf("the sibling request still waits after the approval: %d", c)
	}
	if _, out := r.Do("GET", r.path(""), bo, nil); len(out["requests"].([]any)) != 0 {
		t.Fatalf("requests after the approval: %v", out)
	}
}

// A device waiting for one of the user's devices is stranded when the last
// of them is wiped: its request ends, and asked again it is a recovery.
func TestWipingTheLastDeviceEndsItsRequests(t *testing.T) {
	f := apitest.NewMFA(t, "erin")
	admin := f.ConsoleToken("ada", "admin")
	uid := f.Users["erin"].ID
	d1, d2 := apitest.NewTestDevice(), apitest.NewTestDevice()
	if code, out := f.Do("POST", "/api/v1/devices", f.MFASession("erin"), map[string]any{"name": "phone", "list": apitest.SignedList(uid, 1, d1, d1.Listed())}); code != 201 {
		t.Fatalf("first device: %d %v", code, out)
	}
	tok := f.MFASession("erin")
	code, out := f.Do("POST", "/api/v1/devices", tok, map[string]any{"name": "laptop", "list": apitest.SignedList(uid, 2, d2, d1.Listed(), d2.Listed()), "commit": protocol.ApprovalCommit(approvalNonce())})
	if code != 202 || out["approval"] != "device" {
		t.Fatalf("second device: %d %v", code, out)
	}
	if code, out := f.Do("POST", "/api/v1/admin/devices/"+apitest.Itoa(d1.ID)+"/wipe", admin, nil); code != 200 {
		t.Fatalf("wipe: %d %v", code, out)
	}
	if c, _ := f.Do("GET", "/api/v1/devices/me/request", tok, nil); c != 404 {
		t.Fatalf("the request waiting for the wiped device still waits: %d", c)
	}
	askRecovery(t, f, "erin", 2)
}
