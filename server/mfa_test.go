package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/curbside-health/curbside/internal/web"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/pquerna/otp/totp"
	_ "modernc.org/sqlite"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/store"
)

// mfaFixture is a fixture whose per-address sign-in limiter does not get in
// the way of a test that signs in many times from one address.
func mfaFixture(t *testing.T, names ...string) *fixture {
	f := newFixture(t, names...)
	f.auth.SetLoginLimit(0, 10000)
	// Start the server's TOTP clock one second into a step, so that a test
	// (which steps the clock itself with tick) never sees the real clock
	// cross into the next step between making a code and sending it.
	now := time.Now()
	next := time.Unix((now.Unix()/auth.TOTPPeriod+1)*auth.TOTPPeriod+1, 0)
	f.auth.ShiftClock(next.Sub(now))
	return f
}

// tick moves the server's TOTP clock to the next step, so that a fresh
// code exists without waiting.
func (f *fixture) tick() { f.auth.ShiftClock(auth.TOTPPeriod * time.Second) }

// code is the TOTP code for secret at the server's clock.
func (f *fixture) code(secret string) string { return totpAt(f.t, secret, f.auth.Now()) }

// enrollTOTP sets up TOTP for the session's user and returns the secret
// and the recovery codes.
func (f *fixture) enrollTOTP(token string) (string, []string) {
	f.t.Helper()
	code, out := f.do("POST", "/api/v1/me/mfa/totp", token, nil)
	if code != 200 {
		f.t.Fatalf("begin totp: %d %v", code, out)
	}
	secret := out["secret"].(string)
	if uri := out["uri"].(string); !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "secret="+secret) {
		f.t.Fatalf("uri %q", uri)
	}
	code, out = f.do("POST", "/api/v1/me/mfa/totp/confirm", token, map[string]string{"code": f.code(secret)})
	if code != 200 {
		f.t.Fatalf("confirm totp: %d %v", code, out)
	}
	f.tick() // the step just used is spent
	var rc []string
	for _, c := range out["recovery_codes"].([]any) {
		rc = append(rc, c.(string))
	}
	return secret, rc
}

func totpAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, auth.TOTPOpts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongTOTP is a 6-digit code that no step near the server's clock has.
func (f *fixture) wrongTOTP(secret string) string {
	t := f.t
	now := f.auth.Now()
	near := map[string]bool{}
	for d := -2; d <= 2; d++ {
		near[totpAt(t, secret, now.Add(time.Duration(d*auth.TOTPPeriod)*time.Second))] = true
	}
	for _, c := range []string{"000000", "111111", "222222", "333333", "444444", "555555"} {
		if !near[c] {
			return c
		}
	}
	t.Fatal("no wrong code")
	return ""
}

// passwordStep signs in with the password and expects the MFA challenge.
func (f *fixture) passwordStep(name string) map[string]any {
	f.t.Helper()
	code, out := f.do("POST", "/api/v1/login", "", map[string]string{"username": name, "password": testPassword})
	if code != 200 || out["mfa"] == nil {
		f.t.Fatalf("login %s: want the second step, got %d %v", name, code, out)
	}
	if _, has := out["token"]; has {
		f.t.Fatalf("a session token before the second step: %v", out)
	}
	if _, has := out["user"]; has {
		f.t.Fatalf("user details before the second step: %v", out)
	}
	return out["mfa"].(map[string]any)
}

// mfaAuditRows reads the audit log's rows straight from the database.
func mfaAuditRows(t *testing.T, st *store.Store) []store.AuditEntry {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+st.Path()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT actor, action, target, outcome, detail FROM audit ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		if err := rows.Scan(&e.Actor, &e.Action, &e.Target, &e.Outcome, &e.Detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func findAudit(rows []store.AuditEntry, action, detailPart string) *store.AuditEntry {
	for i := range rows {
		if rows[i].Action == action && strings.Contains(rows[i].Detail, detailPart) {
			return &rows[i]
		}
	}
	return nil
}

func TestMFATOTPLogin(t *testing.T) {
	f := mfaFixture(t, "alice")
	ctx := context.Background()
	alice := f.users["alice"]
	tok := f.login("alice")

	// Enrollment: a wrong code does not confirm the secret.
	code, out := f.do("POST", "/api/v1/me/mfa/totp", tok, nil)
	if code != 200 {
		t.Fatal(code, out)
	}
	secret := out["secret"].(string)
	if code, out = f.do("POST", "/api/v1/me/mfa/totp/confirm", tok, map[string]string{"code": f.wrongTOTP(secret)}); code != 400 || errCode(out) != "code_not_accepted" {
		t.Fatalf("wrong enrollment code: %d %v", code, out)
	}
	if code, out = f.do("POST", "/api/v1/me/mfa/totp/confirm", tok, map[string]string{"code": "12ab"}); code != 400 || errCode(out) != "bad_request" {
		t.Fatalf("malformed enrollment code: %d %v", code, out)
	}
	if m, _ := f.st.MFAStatusOf(ctx, alice.ID); m.Has() || !m.TOTPPending {
		t.Fatalf("after a wrong code: %+v", m)
	}
	code, out = f.do("POST", "/api/v1/me/mfa/totp/confirm", tok, map[string]string{"code": f.code(secret)})
	if code != 200 {
		t.Fatal(code, out)
	}
	// The code that confirmed the set-up cannot sign in.
	ch0 := f.passwordStep("alice")
	if code, out := f.do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch0["token"].(string), "code": f.code(secret)}); code != 401 || errCode(out) != "wrong_code" {
		t.Fatalf("the enrollment code again: %d %v", code, out)
	}
	f.st.LoginSucceeded(ctx, alice.ID)
	f.tick()
	rc := out["recovery_codes"].([]any)
	if len(rc) != 10 {
		t.Fatalf("%d recovery codes", len(rc))
	}
	// A second set-up while one is on is refused.
	if code, out = f.do("POST", "/api/v1/me/mfa/totp", tok, nil); code != 409 {
		t.Fatalf("second totp: %d %v", code, out)
	}
	// The enrolling session is now confirmed.
	if _, out = f.do("GET", "/api/v1/me", tok, nil); out["mfa"] != "totp" || out["mfa_enrollment_required"] != false {
		t.Fatalf("me after enrollment: %v", out)
	}
	_, out = f.do("GET", "/api/v1/me/mfa", tok, nil)
	if out["totp"] != true || out["recovery_left"] != float64(10) {
		t.Fatalf("status: %v", out)
	}

	// The password alone now starts no session.
	var sessions int
	countSessions := func() int {
		db, _ := sql.Open("sqlite", "file:"+f.st.Path()+"?mode=ro")
		defer db.Close()
		var n int
		db.QueryRow(`SELECT COUNT(*) FROM sessions WHERE user_id = ?`, alice.ID).Scan(&n)
		return n
	}
	sessions = countSessions()
	ch := f.passwordStep("alice")
	if got := ch["methods"].([]any); !slices.Equal(got, []any{"totp", "recovery"}) {
		t.Fatalf("methods %v", got)
	}
	if countSessions() != sessions {
		t.Fatal("the password step made a session")
	}

	// A wrong code is refused and counts toward the lockout.
	if code, out = f.do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": f.wrongTOTP(secret)}); code != 401 || errCode(out) != "wrong_code" {
		t.Fatalf("wrong code: %d %v", code, out)
	}
	if u, _ := f.st.UserByID(ctx, alice.ID); u.FailedLogins != 1 {
		t.Fatalf("failed logins %d, want 1", u.FailedLogins)
	}
	// An unknown token is refused.
	if code, out = f.do("POST", "/api/v1/login/mfa", "", map[string]string{"token": "nope", "code": "123456"}); code != 401 || errCode(out) != "mfa_expired" {
		t.Fatalf("unknown token: %d %v", code, out)
	}
	// The right code signs in, once; the session says how.
	good := f.code(secret)
	code, out = f.do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": good})
	if code != 200 || out["token"] == nil || out["mfa_confirmed"] != "totp" {
		t.Fatalf("right code: %d %v", code, out)
	}
	tok2 := out["token"].(string)
	if _, out = f.do("GET", "/api/v1/me", tok2, nil); out["mfa"] != "totp" {
		t.Fatalf("me: %v", out)
	}
	if u, _ := f.st.UserByID(ctx, alice.ID); u.FailedLogins != 0 {
		t.Fatalf("failed logins %d after success, want 0", u.FailedLogins)
	}
	// The token is single use.
	if code, out = f.do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": good}); code != 401 || errCode(out) != "mfa_expired" {
		t.Fatalf("reused token: %d %v", code, out)
	}
	// The same code is refused on a new sign-in: no replay.
	ch = f.passwordStep("alice")
	if code, out = f.do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": good}); code != 401 || errCode(out) != "wrong_code" {
		t.Fatalf("replayed code: %d %v", code, out)
	}
	// A recovery code works once, typed with spaces and upper case.
	first := rc[0].(string)
	code, out = f.do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": " " + strings.ToUpper(strings.ReplaceAll(first, "-", " ")) + " "})
	if code != 200 || out["mfa_confirmed"] != "recovery" || out["recovery_left"] != float64(9) {
		t.Fatalf("recovery code: %d %v", code, out)
	}
	ch = f.passwordStep("alice")
	if code, out = f.do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": first}); code != 401 || errCode(out) != "wrong_code" {
		t.Fatalf("reused recovery code: %d %v", code, out)
	}
	// Web sign-in: the token stays in the cookie.
	{
		b, _ := json.Marshal(map[string]any{"token": ch["token"], "code": rc[1], "web": true})
		res, err := http.Post(f.srv.URL+"/api/v1/login/mfa", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		var cookie *http.Cookie
		for _, c := range res.Cookies() {
			if c.Name == auth.SessionCookie {
				cookie = c
			}
		}
		if res.StatusCode != 200 || body["token"] != nil || cookie == nil || !cookie.HttpOnly {
			t.Fatalf("web second step: %d %v cookie %v", res.StatusCode, body, cookie)
		}
	}

	// New recovery codes need a current code, and replace the old ones.
	if code, out = f.do("POST", "/api/v1/me/mfa/recovery", tok2, map[string]string{"code": f.wrongTOTP(secret)}); code != 400 || errCode(out) != "code_not_accepted" {
		t.Fatalf("new codes, wrong code: %d %v", code, out)
	}
	f.tick()
	spent := f.code(secret)
	code, out = f.do("POST", "/api/v1/me/mfa/recovery", tok2, map[string]string{"code": spent})
	if code != 200 || len(out["recovery_codes"].([]any)) != 10 {
		t.Fatalf("new codes: %d %v", code, out)
	}
	ch = f.passwordStep("alice")
	if code, out = f.do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": rc[2].(string)}); code != 401 {
		t.Fatalf("an old recovery code after renewal: %d %v", code, out)
	}

	// Removing TOTP needs a current, unspent code; then the password is
	// enough again.
	if code, out = f.do("DELETE", "/api/v1/me/mfa/totp", tok2, map[string]string{"code": f.wrongTOTP(secret)}); code != 400 {
		t.Fatalf("remove with a wrong code: %d %v", code, out)
	}
	if code, out = f.do("DELETE", "/api/v1/me/mfa/totp", tok2, map[string]string{"code": spent}); code != 400 {
		t.Fatalf("remove with a spent code: %d %v", code, out)
	}
	f.tick()
	if code, out = f.do("DELETE", "/api/v1/me/mfa/totp", tok2, map[string]string{"code": f.code(secret)}); code != 204 {
		t.Fatalf("remove: %d %v", code, out)
	}
	if m, _ := f.st.MFAStatusOf(ctx, alice.ID); m.Has() || m.RecoveryLeft != 0 {
		t.Fatalf("after removal: %+v", m)
	}
	f.login("alice")

	rows := mfaAuditRows(t, f.st)
	for _, want := range []struct{ action, detail string }{
		{"mfa.totp_enrolled", ""}, {"login.fail", `"wrong code"`}, {"login.ok", `"mfa":"totp"`},
		{"login.ok", `"mfa":"recovery"`}, {"mfa.recovery_used", `"left":9`}, {"mfa.recovery_regenerated", ""},
		{"mfa.totp_removed", ""}, {"login.ok", `"mfa":"none"`},
	} {
		e := findAudit(rows, want.action, want.detail)
		if e == nil {
			t.Errorf("no audit entry %s %s", want.action, want.detail)
			continue
		}
		if e.Target != auth.UserTarget(alice.ID) {
			t.Errorf("%s targets %q", want.action, e.Target)
		}
	}
	for _, e := range rows {
		for _, c := range append([]string{secret, good}, first) {
			if strings.Contains(e.Detail, c) {
				t.Errorf("audit %s holds a secret or code: %s", e.Action, e.Detail)
			}
		}
	}
}

func TestMFAWrongCodesLockOut(t *testing.T) {
	f := mfaFixture(t, "alice")
	ctx := context.Background()
	if err := f.st.SetPolicy(ctx, map[string]string{"lockout_threshold": "3"}); err != nil {
		t.Fatal(err)
	}
	secret, _ := f.enrollTOTP(f.login("alice"))
	ch := f.passwordStep("alice")
	bad := f.wrongTOTP(secret)
	for i := range 2 {
		if code, out := f.do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": bad}); code != 401 {
			t.Fatalf("wrong code %d: %d %v", i, code, out)
		}
	}
	code, out := f.do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": bad})
	if code != 423 || errCode(out) != "locked" {
		t.Fatalf("third wrong code: want the lockout, got %d %v", code, out)
	}
	// Locked out: even the right code on that token does nothing, and the
	// password is refused until the cooldown ends.
	if code, out = f.do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": f.code(secret)}); code != 401 || errCode(out) != "mfa_expired" {
		t.Fatalf("after lockout: %d %v", code, out)
	}
	if code, out = f.do("POST", "/api/v1/login", "", map[string]string{"username": "alice", "password": testPassword}); code != 423 {
		t.Fatalf("password during lockout: %d %v", code, out)
	}
	// Five wrong codes end a pending sign-in even below the lockout.
	if err := f.st.SetPolicy(ctx, map[string]string{"lockout_threshold": "50"}); err != nil {
		t.Fatal(err)
	}
	f.st.LoginSucceeded(ctx, f.users["alice"].ID)
	ch = f.passwordStep("alice")
	for i := range 5 {
		code, out = f.do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": bad})
		if i < 4 && errCode(out) != "wrong_code" || i == 4 && errCode(out) != "mfa_expired" {
			t.Fatalf("wrong code %d: %d %v", i, code, out)
		}
	}
	if code, out = f.do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": f.code(secret)}); errCode(out) != "mfa_expired" {
		t.Fatalf("after five wrong codes: %d %v", code, out)
	}
	// Other sign-in failures are audited with their reason.
	f.do("POST", "/api/v1/login", "", map[string]string{"username": "nobody", "password": "x"})
	f.do("POST", "/api/v1/login", "", map[string]string{"username": "alice", "password": "wrong"})
	if err := f.st.SetUserState(ctx, f.users["alice"].ID, model.StateLocked); err != nil {
		t.Fatal(err)
	}
	f.do("POST", "/api/v1/login", "", map[string]string{"username": "alice", "password": testPassword})
	rows := mfaAuditRows(t, f.st)
	for _, want := range []struct{ action, detail string }{
		{"login.locked_out", "until"}, {"login.fail", `"lockout"`}, {"login.fail", `"unknown user"`},
		{"login.fail", `"wrong password"`}, {"login.fail", `"account state"`},
	} {
		if findAudit(rows, want.action, want.detail) == nil {
			t.Errorf("no audit entry %s %s", want.action, want.detail)
		}
	}
	if e := findAudit(rows, "login.fail", `"unknown user"`); e != nil && (e.Target != "" || strings.Contains(e.Detail, "nobody")) {
		t.Errorf("unknown-user entry %+v", e)
	}
}

func TestMFAEnrollmentOnlySession(t *testing.T) {
	f := mfaFixture(t, "bob")
	ctx := context.Background()
	if err := f.st.SetPolicy(ctx, map[string]string{"mfa_required": "staff"}); err != nil {
		t.Fatal(err)
	}
	tok := f.login("bob")
	_, out := f.do("GET", "/api/v1/me", tok, nil)
	if out["mfa_enrollment_required"] != true {
		t.Fatalf("me: %v", out)
	}
	for _, p := range []struct{ method, path string }{
		{"GET", "/api/v1/directory"}, {"GET", "/api/v1/groups"}, {"GET", "/api/v1/config"},
		{"GET", "/api/v1/devices/me/share"}, {"POST", "/api/v1/devices"}, {"GET", "/api/v1/keys/1"},
	} {
		if code, out := f.do(p.method, p.path, tok, map[string]any{}); code != 403 || errCode(out) != "mfa_enrollment_required" {
			t.Errorf("%s %s: %d %v", p.method, p.path, code, out)
		}
	}
	// The relay upgrade is refused too.
	req := httptest.NewRequest("GET", "/api/v1/relay", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if _, err := f.auth.Admit(req, web.Device); err == nil || !strings.Contains(err.Error(), "second sign-in step") {
		t.Fatalf("relay: %v", err)
	}
	// Enrollment routes are open, and enrolling unlocks this session.
	if code, out := f.do("GET", "/api/v1/me/mfa", tok, nil); code != 200 || out["enrollment_required"] != true || out["required"] != true {
		t.Fatalf("status: %d %v", code, out)
	}
	secret, _ := f.enrollTOTP(tok)
	if code, out := f.do("GET", "/api/v1/directory", tok, nil); code != 200 {
		t.Fatalf("after enrollment: %d %v", code, out)
	}
	// The last factor cannot be removed while the policy requires one.
	if code, out := f.do("DELETE", "/api/v1/me/mfa/totp", tok, map[string]string{"code": f.code(secret)}); code != 409 {
		t.Fatalf("removing the last factor: %d %v", code, out)
	}
	// A session started with the password alone for a user who has a
	// factor but was reset is enrollment-only again.
	if _, _, err := f.st.ResetMFA(ctx, f.users["bob"].ID); err != nil {
		t.Fatal(err)
	}
	tok = f.login("bob")
	if code, out := f.do("GET", "/api/v1/directory", tok, nil); code != 403 || errCode(out) != "mfa_enrollment_required" {
		t.Fatalf("after reset: %d %v", code, out)
	}
}

func TestMFAResetByAdmin(t *testing.T) {
	f := mfaFixture(t, "alice", "root", "help", "boss")
	ctx := context.Background()
	set := func(name, level string) {
		u := f.users[name]
		if _, err := f.st.UpdateUser(ctx, u.ID, store.UserUpdate{AdminLevel: &level}); err != nil {
			t.Fatal(err)
		}
	}
	set("root", model.LevelAdmin)
	set("help", model.LevelHelpdesk)
	set("boss", model.LevelOwner)
	alice := f.users["alice"]
	aliceTok := f.login("alice")
	f.enrollTOTP(aliceTok)

	// An admin's console needs a confirmed sign-in: enroll first.
	rootTok := f.login("root")
	path := "/api/v1/admin/users/" + itoa(alice.ID) + "/mfa/reset"
	if code, out := f.do("POST", path, rootTok, nil); code != 403 {
		t.Fatalf("unconfirmed admin: %d %v", code, out)
	}
	f.enrollTOTP(rootTok)
	helpTok := f.login("help")
	f.enrollTOTP(helpTok)
	if code, out := f.do("POST", path, helpTok, nil); code != 403 {
		t.Fatalf("helpdesk reset: %d %v", code, out)
	}
	bossTok := f.login("boss")
	f.enrollTOTP(bossTok)
	if code, out := f.do("POST", "/api/v1/admin/users/"+itoa(f.users["boss"].ID)+"/mfa/reset", rootTok, nil); code != 403 {
		t.Fatalf("admin resets an owner: %d %v", code, out)
	}
	if code, out := f.do("POST", "/api/v1/admin/users/999999/mfa/reset", rootTok, nil); code != 404 {
		t.Fatalf("no such user: %d %v", code, out)
	}
	code, out := f.do("POST", path, rootTok, nil)
	if code != 200 || out["revoked_sessions"] != float64(1) {
		t.Fatalf("reset: %d %v", code, out)
	}
	if rm := out["removed"].(map[string]any); rm["totp"] != true || rm["recovery_codes"] != float64(10) {
		t.Fatalf("removed: %v", rm)
	}
	if m, _ := f.st.MFAStatusOf(ctx, alice.ID); m.Has() || m.RecoveryLeft != 0 {
		t.Fatalf("after reset: %+v", m)
	}
	// Alice's session ended; her password alone signs her in again.
	if code, _ := f.do("GET", "/api/v1/me", aliceTok, nil); code != 401 {
		t.Fatalf("alice's old session: %d", code)
	}
	f.login("alice")
	// The user detail shows the factors.
	_, out = f.do("GET", "/api/v1/admin/users/"+itoa(f.users["root"].ID), rootTok, nil)
	if m, _ := out["mfa"].(map[string]any); m["totp"] != true {
		t.Fatalf("user detail mfa: %v", out)
	}
	rows := mfaAuditRows(t, f.st)
	e := findAudit(rows, "mfa.reset", `"totp":true`)
	if e == nil || e.Target != auth.UserTarget(alice.ID) || e.Actor != f.users["root"].ID || e.Outcome != store.OutcomeOK {
		t.Fatalf("mfa.reset entry %+v", e)
	}
	if findAudit(rows, "mfa.reset", `"level"`) == nil {
		t.Fatal("the refused reset of an owner is not audited")
	}
	// Logging out is audited.
	f.do("POST", "/api/v1/logout", rootTok, nil)
	if e := findAudit(mfaAuditRows(t, f.st), "logout", ""); e == nil || e.Actor != f.users["root"].ID {
		t.Fatalf("logout entry %+v", e)
	}
}

// softAuthenticator is a minimal WebAuthn authenticator (ES256, "none"
// attestation), enough to run real ceremonies against the server.
type softAuthenticator struct {
	id    []byte
	key   *ecdsa.PrivateKey
	count uint32
}

func newSoftAuthenticator() *softAuthenticator {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	id := make([]byte, 16)
	rand.Read(id)
	return &softAuthenticator{id: id, key: k}
}

var b64u = base64.RawURLEncoding

func clientData(t *testing.T, typ string, opts map[string]any, origin string) []byte {
	pk := opts["publicKey"].(map[string]any)
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": pk["challenge"], "origin": origin, "crossOrigin": false})
	return b
}

func (s *softAuthenticator) authData(rpID string, flags byte, attested []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	s.count++
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, s.count)
	return append(out, attested...)
}

func (s *softAuthenticator) create(t *testing.T, opts map[string]any, origin string) map[string]any {
	t.Helper()
	rpID := opts["publicKey"].(map[string]any)["rp"].(map[string]any)["id"].(string)
	x, y := s.key.X.FillBytes(make([]byte, 32)), s.key.Y.FillBytes(make([]byte, 32))
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	if err != nil {
		t.Fatal(err)
	}
	att := make([]byte, 16) // zero AAGUID
	att = binary.BigEndian.AppendUint16(att, uint16(len(s.id)))
	att = append(append(att, s.id...), cose...)
	ad := s.authData(rpID, 0x45, att) // UP, UV, AT
	obj, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"id": b64u.EncodeToString(s.id), "rawId": b64u.EncodeToString(s.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64u.EncodeToString(clientData(t, "webauthn.create", opts, origin)), "attestationObject": b64u.EncodeToString(obj)}}
}

func (s *softAuthenticator) get(t *testing.T, opts map[string]any, origin string, userHandle []byte) map[string]any {
	t.Helper()
	rpID := opts["publicKey"].(map[string]any)["rpId"].(string)
	cd := clientData(t, "webauthn.get", opts, origin)
	ad := s.authData(rpID, 0x05, nil) // UP, UV
	ch := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), ch[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"id": b64u.EncodeToString(s.id), "rawId": b64u.EncodeToString(s.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64u.EncodeToString(cd), "authenticatorData": b64u.EncodeToString(ad),
			"signature": b64u.EncodeToString(sig), "userHandle": b64u.EncodeToString(userHandle)}}
}

func TestPasskeys(t *testing.T) {
	f := mfaFixture(t, "alice", "carol")
	ctx := context.Background()
	alice := f.users["alice"]
	tok := f.login("alice")
	host := "localhost"
	origin := "http://localhost"

	// An IP address cannot be a relying party.
	if code, out := f.do("POST", "/api/v1/me/passkeys/begin", tok, nil); code != 400 || errCode(out) != "passkey_unavailable" {
		t.Fatalf("begin on an IP: %d %v", code, out)
	}
	// Finish without begin, and bad bodies.
	if code, out := f.doHost(host, "POST", "/api/v1/me/passkeys/finish", tok, map[string]any{"name": "x", "credential": map[string]any{}}); code != 409 {
		t.Fatalf("finish without begin: %d %v", code, out)
	}
	if code, out := f.doHost(host, "POST", "/api/v1/me/passkeys/finish", tok, map[string]any{"name": "", "credential": map[string]any{}}); code != 400 {
		t.Fatalf("no name: %d %v", code, out)
	}
	code, out := f.doHost(host, "POST", "/api/v1/me/passkeys/begin", tok, nil)
	if code != 200 {
		t.Fatal(code, out)
	}
	if code, out := f.doHost(host, "POST", "/api/v1/me/passkeys/finish", tok, map[string]any{"name": "Laptop", "credential": map[string]any{"id": "AAAA", "type": "public-key"}}); code != 400 || errCode(out) != "passkey_failed" {
		t.Fatalf("garbage credential: %d %v", code, out)
	}
	// A ceremony answered for another origin is refused.
	authr := newSoftAuthenticator()
	_, out = f.doHost(host, "POST", "/api/v1/me/passkeys/begin", tok, nil)
	if code, out := f.doHost(host, "POST", "/api/v1/me/passkeys/finish", tok, map[string]any{"name": "Laptop", "credential": authr.create(t, out["options"].(map[string]any), "http://evil.example")}); code != 400 || errCode(out) != "passkey_failed" {
		t.Fatalf("wrong origin: %d %v", code, out)
	}
	// A real registration.
	_, out = f.doHost(host, "POST", "/api/v1/me/passkeys/begin", tok, nil)
	opts := out["options"].(map[string]any)
	if rp := opts["publicKey"].(map[string]any)["rp"].(map[string]any); rp["id"] != "localhost" {
		t.Fatalf("rp %v", rp)
	}
	code, out = f.doHost(host, "POST", "/api/v1/me/passkeys/finish", tok, map[string]any{"name": "Laptop", "credential": authr.create(t, opts, origin)})
	if code != 201 || len(out["recovery_codes"].([]any)) != 10 {
		t.Fatalf("register: %d %v", code, out)
	}
	pkID := out["passkey"].(map[string]any)["id"].(string)
	if _, out = f.do("GET", "/api/v1/me", tok, nil); out["mfa"] != "passkey" {
		t.Fatalf("session after adding a passkey: %v", out)
	}
	if _, out = f.do("GET", "/api/v1/me/passkeys", tok, nil); len(out["passkeys"].([]any)) != 1 {
		t.Fatalf("list: %v", out)
	}

	// A session signed in with the password alone (from before the first
	// factor) cannot add another factor.
	raw := make([]byte, 32)
	rand.Read(raw)
	bare := b64u.EncodeToString(raw)
	if err := f.st.CreateSessionFrom(ctx, auth.HashToken(bare), alice.ID, time.Now().Add(time.Hour).UnixMilli(), "", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if code, out := f.doHost(host, "POST", "/api/v1/me/passkeys/begin", bare, nil); code != 403 || errCode(out) != "mfa_required" {
		t.Fatalf("password-only session adds a passkey: %d %v", code, out)
	}
	if code, out := f.do("POST", "/api/v1/me/mfa/totp", bare, nil); code != 403 || errCode(out) != "mfa_required" {
		t.Fatalf("password-only session adds totp: %d %v", code, out)
	}

	// Sign-in: the password asks for the passkey.
	ch := f.passwordStep("alice")
	if got := ch["methods"].([]any); !slices.Equal(got, []any{"recovery", "passkey"}) {
		t.Fatalf("methods %v", got)
	}
	ptok := ch["token"].(string)
	if code, out := f.doHost(host, "POST", "/api/v1/login/passkey/finish", "", map[string]any{"token": ptok, "credential": map[string]any{}}); code != 400 {
		t.Fatalf("finish before begin: %d %v", code, out)
	}
	if code, out := f.doHost(host, "POST", "/api/v1/login/passkey/begin", "", map[string]any{"token": "nope"}); code != 401 || errCode(out) != "mfa_expired" {
		t.Fatalf("begin with a bad token: %d %v", code, out)
	}
	_, out = f.doHost(host, "POST", "/api/v1/login/passkey/begin", "", map[string]any{"token": ptok})
	lopts := out["options"].(map[string]any)
	uh := make([]byte, 8)
	binary.BigEndian.PutUint64(uh, uint64(alice.ID))
	// Another authenticator's signature is refused, and counted.
	other := newSoftAuthenticator()
	other.id = authr.id
	if code, out := f.doHost(host, "POST", "/api/v1/login/passkey/finish", "", map[string]any{"token": ptok, "credential": other.get(t, lopts, origin, uh)}); code != 401 || errCode(out) != "wrong_code" {
		t.Fatalf("forged assertion: %d %v", code, out)
	}
	if u, _ := f.st.UserByID(ctx, alice.ID); u.FailedLogins != 1 {
		t.Fatalf("failed logins %d", u.FailedLogins)
	}
	_, out = f.doHost(host, "POST", "/api/v1/login/passkey/begin", "", map[string]any{"token": ptok})
	lopts = out["options"].(map[string]any)
	code, out = f.doHost(host, "POST", "/api/v1/login/passkey/finish", "", map[string]any{"token": ptok, "credential": authr.get(t, lopts, origin, uh)})
	if code != 200 || out["mfa_confirmed"] != "passkey" || out["token"] == nil {
		t.Fatalf("passkey sign-in: %d %v", code, out)
	}
	pks, _ := f.st.PasskeysOf(ctx, alice.ID)
	if len(pks) != 1 || pks[0].LastUsed == 0 || !strings.Contains(string(pks[0].Credential), `"signCount":3`) {
		t.Fatalf("passkey after use: %+v %s", pks, pks[0].Credential)
	}
	// Carol (no passkey) cannot begin a passkey sign-in.
	f.enrollTOTP(f.login("carol"))
	cch := f.passwordStep("carol")
	if code, out := f.doHost(host, "POST", "/api/v1/login/passkey/begin", "", map[string]any{"token": cch["token"]}); code != 409 {
		t.Fatalf("carol: %d %v", code, out)
	}
	// Carol cannot remove alice's passkey; alice can.
	carolTok := f.login2(t, "carol")
	if code, _ := f.do("DELETE", "/api/v1/me/passkeys/"+pkID, carolTok, nil); code != 404 {
		t.Fatalf("carol removes alice's passkey: %d", code)
	}
	if code, _ := f.do("DELETE", "/api/v1/me/passkeys/not*base64", tok, nil); code != 400 {
		t.Fatalf("bad id: %d", code)
	}
	if code, out := f.do("DELETE", "/api/v1/me/passkeys/"+pkID, tok, nil); code != 204 {
		t.Fatalf("remove: %d %v", code, out)
	}
	if m, _ := f.st.MFAStatusOf(ctx, alice.ID); m.Has() || m.RecoveryLeft != 0 {
		t.Fatalf("after removing the only passkey: %+v", m)
	}
	rows := mfaAuditRows(t, f.st)
	for _, a := range []string{"mfa.passkey_added", "mfa.passkey_used", "mfa.passkey_removed"} {
		if e := findAudit(rows, a, "Laptop"); e == nil || e.Target != auth.UserTarget(alice.ID) {
			t.Errorf("no audit entry %s: %+v", a, e)
		}
	}
	if findAudit(rows, "login.ok", `"mfa":"passkey"`) == nil || findAudit(rows, "login.fail", `"method":"passkey"`) == nil {
		t.Error("passkey sign-in not audited")
	}
}

// login2 signs in a user who has TOTP, answering the second step with a
// code from the stored secret.
func (f *fixture) login2(t *testing.T, name string) string {
	t.Helper()
	ch := f.passwordStep(name)
	tot, err := f.st.TOTPOf(context.Background(), f.users[name].ID)
	if err != nil {
		t.Fatal(err)
	}
	f.tick()
	code, out := f.do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": f.code(tot.Secret)})
	if code != 200 {
		t.Fatalf("login2 %s: %d %v", name, code, out)
	}
	return out["token"].(string)
}

// TestOwnCodeGuessingIsRateLimited: a signed-in session guessing codes (to
// turn TOTP off, or for new recovery codes) meets the sign-in rate limit.
func TestOwnCodeGuessingIsRateLimited(t *testing.T) {
	f := newFixture(t, "alice")
	f.auth.SetLoginLimit(time.Hour, 0) // no refill during the test
	tok := f.login("alice")
	secret, _ := f.enrollTOTP(tok)
	bad := f.wrongTOTP(secret)
	limited := false
	for range 12 {
		code, out := f.do("POST", "/api/v1/me/mfa/recovery", tok, map[string]string{"code": bad})
		if code == http.StatusTooManyRequests && errCode(out) == "rate_limited" {
			limited = true
			break
		}
		if code != 400 || errCode(out) != "code_not_accepted" {
			t.Fatalf("wrong code: %d %v", code, out)
		}
	}
	if !limited {
		t.Fatal("12 wrong codes from one address were all checked")
	}
}

// TestSuccessfulSignInsKeepTheAllowance: a practice signing in together
// from one address is not slowed down by its own successes, while failures
// still use the allowance up.
func TestSuccessfulSignInsKeepTheAllowance(t *testing.T) {
	f := newFixture(t, "alice", "bob")
	f.auth.SetLoginLimit(time.Hour, 0) // no attempt is earned back during the test
	secret, _ := f.enrollTOTP(f.login("bob"))
	for i := range auth.DefaultLoginBurst + 5 {
		f.login("alice")
		ch := f.passwordStep("bob")
		f.tick()
		if code, out := f.do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": f.code(secret)}); code != 200 {
			t.Fatalf("sign-in %d with a code: %d %v", i, code, out)
		}
	}
	var last int
	var out map[string]any
	for range auth.DefaultLoginBurst + 1 {
		last, out = f.do("POST", "/api/v1/login", "", map[string]string{"username": "alice", "password": "not the password"})
		if last == http.StatusLocked { // the account's own lockout came first: clear it and go on
			f.st.LoginSucceeded(context.Background(), f.users["alice"].ID)
		}
	}
	if last != http.StatusTooManyRequests || errCode(out) != "rate_limited" {
		t.Fatalf("after %d failures: %d %v", auth.DefaultLoginBurst+1, last, out)
	}
}
