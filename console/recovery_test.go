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
	nonce  []byte // the new device's approval nonce
	admin  string // ada's console session
	secret string // ada's TOTP secret
}

func newRecovery(t *testing.T) *recoveryFixture {
	f := apitest.NewMFA(t, "erin", "finn")
	r := &recoveryFixture{Fixture: f, uid: f.Users["erin"].ID, dev: apitest.NewTestDevice(), nonce: approvalNonce()}
	r.admin = f.ConsoleToken("ada", "admin")
	r.secret, _ = f.EnrollTOTP(r.admin)
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
	// The wiped phone is named as revoked, with when (PROTOCOL.md 3.3).
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
		{"device.recovery_approve", "fail", `"reason":"step_up"`},
		{"device.recovery_approve", "fail", `"reason":"wrong code"`},
		{"device.recovery_approve", "ok", `"name":"new phone"`},
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
		if c, out := r.approve(wrong, r.Code(r.secret)); c != 400 || apitest.ErrCode(out) != "approval_code_wrong" {
			t.Fatalf("wrong code %d: %d %v", i+1, c, out)
		}
	}
	r.Tick()
	if c, out := r.approve(code, r.Code(r.secret)); c != 404 {
		t.Fatalf("the right code after three wrong ones: %d %v", c, out)
	}
	if c, _ := r.Do("GET", "/api/v1/devices/me/request", r.tok, nil); c != 404 {
		t.Fatalf("the device still waits after its request ended: %d", c)
	}
}

// An administrator approves their own new device only when no other
// administrator could; a denial ends the request.
func TestRecoverySelfApprovalAndDenial(t *testing.T) {
	r := newRecovery(t)
	// ada's own device, lost: with another admin around, she may not
	// approve her own recovery.
	adaID := r.Users["ada"].ID
	r.ConsoleToken("bo", "admin")
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
