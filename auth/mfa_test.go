package auth_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/apitest"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
)

func TestMFATOTPLogin(t *testing.T) {
	f := apitest.NewMFA(t, "alice")
	ctx := context.Background()
	alice := f.Users["alice"]
	tok := f.Login("alice")

	// Enrollment: a wrong code does not confirm the secret.
	code, out := f.Do("POST", "/api/v1/me/mfa/totp", tok, nil)
	if code != 200 {
		t.Fatal(code, out)
	}
	secret := out["secret"].(string)
	if code, out = f.Do("POST", "/api/v1/me/mfa/totp/confirm", tok, map[string]string{"code": f.WrongTOTP(secret)}); code != 400 || apitest.ErrCode(out) != "code_not_accepted" {
		t.Fatalf("wrong enrollment code: %d %v", code, out)
	}
	if code, out = f.Do("POST", "/api/v1/me/mfa/totp/confirm", tok, map[string]string{"code": "12ab"}); code != 400 || apitest.ErrCode(out) != "bad_request" {
		t.Fatalf("malformed enrollment code: %d %v", code, out)
	}
	if m, _ := f.Store.MFAStatusOf(ctx, alice.ID); m.Has() || !m.TOTPPending {
		t.Fatalf("after a wrong code: %+v", m)
	}
	code, out = f.Do("POST", "/api/v1/me/mfa/totp/confirm", tok, map[string]string{"code": f.Code(secret)})
	if code != 200 {
		t.Fatal(code, out)
	}
	// The code that confirmed the set-up cannot sign in.
	ch0 := f.PasswordStep("alice")
	if code, out := f.Do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch0["token"].(string), "code": f.Code(secret)}); code != 401 || apitest.ErrCode(out) != "wrong_code" {
		t.Fatalf("the enrollment code again: %d %v", code, out)
	}
	f.Store.LoginSucceeded(ctx, alice.ID)
	f.Tick()
	rc := out["recovery_codes"].([]any)
	if len(rc) != 10 {
		t.Fatalf("%d recovery codes", len(rc))
	}
	// A second set-up while one is on is refused.
	if code, out = f.Do("POST", "/api/v1/me/mfa/totp", tok, nil); code != 409 {
		t.Fatalf("second totp: %d %v", code, out)
	}
	// The enrolling session is now confirmed.
	if _, out = f.Do("GET", "/api/v1/me", tok, nil); out["mfa"] != "totp" || out["mfa_enrollment_required"] != false {
		t.Fatalf("me after enrollment: %v", out)
	}
	_, out = f.Do("GET", "/api/v1/me/mfa", tok, nil)
	if out["totp"] != true || out["recovery_left"] != float64(10) {
		t.Fatalf("status: %v", out)
	}

	// The password alone now starts no session.
	var sessions int
	countSessions := func() int {
		db, _ := sql.Open("sqlite", "file:"+f.Store.Path()+"?mode=ro")
		defer db.Close()
		var n int
		db.QueryRow(`SELECT COUNT(*) FROM sessions WHERE user_id = ?`, alice.ID).Scan(&n)
		return n
	}
	sessions = countSessions()
	ch := f.PasswordStep("alice")
	if got := ch["methods"].([]any); !slices.Equal(got, []any{"totp", "recovery"}) {
		t.Fatalf("methods %v", got)
	}
	if countSessions() != sessions {
		t.Fatal("the password step made a session")
	}

	// A wrong code is refused and counts toward the lockout.
	if code, out = f.Do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": f.WrongTOTP(secret)}); code != 401 || apitest.ErrCode(out) != "wrong_code" {
		t.Fatalf("wrong code: %d %v", code, out)
	}
	if u, _ := f.Store.UserByID(ctx, alice.ID); u.FailedLogins != 1 {
		t.Fatalf("failed logins %d, want 1", u.FailedLogins)
	}
	// An unknown token is refused.
	if code, out = f.Do("POST", "/api/v1/login/mfa", "", map[string]string{"token": "nope", "code": "123456"}); code != 401 || apitest.ErrCode(out) != "mfa_expired" {
		t.Fatalf("unknown token: %d %v", code, out)
	}
	// The right code signs in, once; the session says how.
	good := f.Code(secret)
	code, out = f.Do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": good})
	if code != 200 || out["token"] == nil || out["mfa_confirmed"] != "totp" {
		t.Fatalf("right code: %d %v", code, out)
	}
	tok2 := out["token"].(string)
	if _, out = f.Do("GET", "/api/v1/me", tok2, nil); out["mfa"] != "totp" {
		t.Fatalf("me: %v", out)
	}
	if u, _ := f.Store.UserByID(ctx, alice.ID); u.FailedLogins != 0 {
		t.Fatalf("failed logins %d after success, want 0", u.FailedLogins)
	}
	// The token is single use.
	if code, out = f.Do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": good}); code != 401 || apitest.ErrCode(out) != "mfa_expired" {
		t.Fatalf("reused token: %d %v", code, out)
	}
	// The same code is refused on a new sign-in: no replay.
	ch = f.PasswordStep("alice")
	if code, out = f.Do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": good}); code != 401 || apitest.ErrCode(out) != "wrong_code" {
		t.Fatalf("replayed code: %d %v", code, out)
	}
	// A recovery code works once, typed with spaces and upper case.
	first := rc[0].(string)
	code, out = f.Do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": " " + strings.ToUpper(strings.ReplaceAll(first, "-", " ")) + " "})
	if code != 200 || out["mfa_confirmed"] != "recovery" || out["recovery_left"] != float64(9) {
		t.Fatalf("recovery code: %d %v", code, out)
	}
	ch = f.PasswordStep("alice")
	if code, out = f.Do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": first}); code != 401 || apitest.ErrCode(out) != "wrong_code" {
		t.Fatalf("reused recovery code: %d %v", code, out)
	}
	// Web sign-in: the token stays in the cookie.
	{
		b, _ := json.Marshal(map[string]any{"token": ch["token"], "code": rc[1], "web": true})
		res, err := http.Post(f.Srv.URL+"/api/v1/login/mfa", "application/json", bytes.NewReader(b))
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
	if code, out = f.Do("POST", "/api/v1/me/mfa/recovery", tok2, map[string]string{"code": f.WrongTOTP(secret)}); code != 400 || apitest.ErrCode(out) != "code_not_accepted" {
		t.Fatalf("new codes, wrong code: %d %v", code, out)
	}
	f.Tick()
	spent := f.Code(secret)
	code, out = f.Do("POST", "/api/v1/me/mfa/recovery", tok2, map[string]string{"code": spent})
	if code != 200 || len(out["recovery_codes"].([]any)) != 10 {
		t.Fatalf("new codes: %d %v", code, out)
	}
	ch = f.PasswordStep("alice")
	if code, out = f.Do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": rc[2].(string)}); code != 401 {
		t.Fatalf("an old recovery code after renewal: %d %v", code, out)
	}

	// Removing TOTP needs a current, unspent code; then the password is
	// enough again.
	if code, out = f.Do("DELETE", "/api/v1/me/mfa/totp", tok2, map[string]string{"code": f.WrongTOTP(secret)}); code != 400 {
		t.Fatalf("remove with a wrong code: %d %v", code, out)
	}
	if code, out = f.Do("DELETE", "/api/v1/me/mfa/totp", tok2, map[string]string{"code": spent}); code != 400 {
		t.Fatalf("remove with a spent code: %d %v", code, out)
	}
	f.Tick()
	if code, out = f.Do("DELETE", "/api/v1/me/mfa/totp", tok2, map[string]string{"code": f.Code(secret)}); code != 204 {
		t.Fatalf("remove: %d %v", code, out)
	}
	if m, _ := f.Store.MFAStatusOf(ctx, alice.ID); m.Has() || m.RecoveryLeft != 0 {
		t.Fatalf("after removal: %+v", m)
	}
	f.Login("alice")

	rows := apitest.MFAAuditRows(t, f.Store)
	for _, want := range []struct{ action, detail string }{
		{"mfa.totp_enrolled", ""}, {"login.fail", `"wrong code"`}, {"login.ok", `"mfa":"totp"`},
		{"login.ok", `"mfa":"recovery"`}, {"mfa.recovery_used", `"left":9`}, {"mfa.recovery_regenerated", ""},
		{"mfa.totp_removed", ""}, {"login.ok", `"mfa":"none"`},
	} {
		e := apitest.FindAudit(rows, want.action, want.detail)
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

func TestMFAWrongCodesBackOff(t *testing.T) {
	f := apitest.NewMFA(t, "alice")
	ctx := context.Background()
	if err := f.Store.SetPolicy(ctx, map[string]string{"lockout_threshold": "3"}); err != nil {
		t.Fatal(err)
	}
	secret, _ := f.EnrollTOTP(f.Login("alice"))
	ch := f.PasswordStep("alice")
	bad := f.WrongTOTP(secret)
	for i := range 3 {
		if code, out := f.Do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": bad}); code != 401 || apitest.ErrCode(out) != "wrong_code" {
			t.Fatalf("wrong code %d: %d %v", i, code, out)
		}
	}
	// Three wrong codes reached the threshold: the next password step
	// waits, even with the right password, so knowing the password buys
	// no more guesses at the code.
	if code, out := f.Do("POST", "/api/v1/login", "", map[string]string{"username": "alice", "password": apitest.TestPassword}); code != 429 || !strings.Contains(apitest.ErrMessage(out), "with this username") {
		t.Fatalf("password during the wait: %d %v", code, out)
	}
	// The sign-in under way is not cut short by the wait: its right code
	// still finishes it.
	if code, out := f.Do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": f.Code(secret)}); code != 200 {
		t.Fatalf("right code after wrong ones: %d %v", code, out)
	}
	// Five wrong codes end a pending sign-in even below the threshold.
	if err := f.Store.SetPolicy(ctx, map[string]string{"lockout_threshold": "50"}); err != nil {
		t.Fatal(err)
	}
	f.Store.LoginSucceeded(ctx, f.Users["alice"].ID)
	ch = f.PasswordStep("alice")
	var code int
	var out map[string]any
	for i := range 5 {
		code, out = f.Do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": bad})
		if i < 4 && apitest.ErrCode(out) != "wrong_code" || i == 4 && apitest.ErrCode(out) != "mfa_expired" {
			t.Fatalf("wrong code %d: %d %v", i, code, out)
		}
	}
	if code, out = f.Do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": f.Code(secret)}); apitest.ErrCode(out) != "mfa_expired" {
		t.Fatalf("after five wrong codes: %d %v", code, out)
	}
	// Other sign-in failures are audited with their reason (coalesced per
	// address and minute: FlushFailures ends the minute).
	f.Store.LoginSucceeded(ctx, f.Users["alice"].ID)
	f.Do("POST", "/api/v1/login", "", map[string]string{"username": "nobody", "password": "x"})
	f.Do("POST", "/api/v1/login", "", map[string]string{"username": "alice", "password": "wrong"})
	if err := f.Store.SetUserState(ctx, f.Users["alice"].ID, model.StateLocked); err != nil {
		t.Fatal(err)
	}
	f.Do("POST", "/api/v1/login", "", map[string]string{"username": "alice", "password": apitest.TestPassword})
	f.Auth.FlushFailures()
	rows := apitest.MFAAuditRows(t, f.Store)
	for _, want := range []struct{ action, detail string }{
		{"login.fail", `"wrong code"`}, {"login.fail", `"unknown user"`},
		{"login.fail", `"wrong password"`}, {"login.fail", `"account state"`},
	} {
		if apitest.FindAudit(rows, want.action, want.detail) == nil {
			t.Errorf("no audit entry %s %s", want.action, want.detail)
		}
	}
	if e := apitest.FindAudit(rows, "login.fail", `"unknown user"`); e != nil && (e.Target != "" || strings.Contains(e.Detail, "nobody")) {
		t.Errorf("unknown-user entry %+v", e)
	}
}

func TestMFAEnrollmentOnlySession(t *testing.T) {
	f := apitest.NewMFA(t, "bob")
	ctx := context.Background()
	if err := f.Store.SetPolicy(ctx, map[string]string{"mfa_required": "staff"}); err != nil {
		t.Fatal(err)
	}
	tok := f.Login("bob")
	_, out := f.Do("GET", "/api/v1/me", tok, nil)
	if out["mfa_enrollment_required"] != true {
		t.Fatalf("me: %v", out)
	}
	for _, p := range []struct{ method, path string }{
		{"GET", "/api/v1/directory"}, {"GET", "/api/v1/groups"}, {"GET", "/api/v1/config"},
		{"POST", "/api/v1/devices/1/share"}, {"POST", "/api/v1/devices"}, {"GET", "/api/v1/keys/1"},
	} {
		if code, out := f.Do(p.method, p.path, tok, map[string]any{}); code != 403 || apitest.ErrCode(out) != "mfa_enrollment_required" {
			t.Errorf("%s %s: %d %v", p.method, p.path, code, out)
		}
	}
	// The relay upgrade is refused too.
	req := httptest.NewRequest("GET", "/api/v1/relay", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if _, err := f.Auth.Admit(req, web.Device); err == nil || !strings.Contains(err.Error(), "second sign-in step") {
		t.Fatalf("relay: %v", err)
	}
	// Enrollment routes are open, and enrolling unlocks this session.
	if code, out := f.Do("GET", "/api/v1/me/mfa", tok, nil); code != 200 || out["enrollment_required"] != true || out["required"] != true {
		t.Fatalf("status: %d %v", code, out)
	}
	secret, _ := f.EnrollTOTP(tok)
	if code, out := f.Do("GET", "/api/v1/directory", tok, nil); code != 200 {
		t.Fatalf("after enrollment: %d %v", code, out)
	}
	// The last factor cannot be removed while the policy requires one.
	if code, out := f.Do("DELETE", "/api/v1/me/mfa/totp", tok, map[string]string{"code": f.Code(secret)}); code != 409 {
		t.Fatalf("removing the last factor: %d %v", code, out)
	}
	// A session started with the password alone for a user who has a
	// factor but was reset is enrollment-only again.
	if _, _, err := f.Store.ResetMFA(ctx, f.Users["bob"].ID); err != nil {
		t.Fatal(err)
	}
	tok = f.Login("bob")
	if code, out := f.Do("GET", "/api/v1/directory", tok, nil); code != 403 || apitest.ErrCode(out) != "mfa_enrollment_required" {
		t.Fatalf("after reset: %d %v", code, out)
	}
}

// TestOwnCodeGuessingIsRateLimited: a signed-in session guessing codes (to
// turn TOTP off, or for new recovery codes) meets the sign-in rate limit.
func TestOwnCodeGuessingIsRateLimited(t *testing.T) {
	f := apitest.New(t, "alice")
	f.Auth.SetLoginLimit(time.Hour, 0) // no refill during the test
	tok := f.Login("alice")
	secret, _ := f.EnrollTOTP(tok)
	bad := f.WrongTOTP(secret)
	limited := false
	for range 12 {
		code, out := f.Do("POST", "/api/v1/me/mfa/recovery", tok, map[string]string{"code": bad})
		if code == http.StatusTooManyRequests && apitest.ErrCode(out) == "rate_limited" {
			limited = true
			break
		}
		if code != 400 || apitest.ErrCode(out) != "code_not_accepted" {
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
	f := apitest.New(t, "alice", "bob")
	f.Auth.SetLoginLimit(time.Hour, 0) // no attempt is earned back during the test
	secret, _ := f.EnrollTOTP(f.Login("bob"))
	for i := range auth.DefaultLoginBurst + 5 {
		f.Login("alice")
		ch := f.PasswordStep("bob")
		f.Tick()
		if code, out := f.Do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": f.Code(secret)}); code != 200 {
			t.Fatalf("sign-in %d with a code: %d %v", i, code, out)
		}
	}
	var last int
	var out map[string]any
	for range auth.DefaultLoginBurst + 1 {
		last, out = f.Do("POST", "/api/v1/login", "", map[string]string{"username": "alice", "password": "not the password"})
		if strings.Contains(apitest.ErrMessage(out), "with this username") { // the account's own wait came first: clear it and go on
			f.Store.LoginSucceeded(context.Background(), f.Users["alice"].ID)
		}
	}
	if last != http.StatusTooManyRequests || !strings.Contains(apitest.ErrMessage(out), "from this address") {
		t.Fatalf("after %d failures: %d %v", auth.DefaultLoginBurst+1, last, out)
	}
}
