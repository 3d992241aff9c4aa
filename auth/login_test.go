package auth_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/apitest"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

func TestLoginAndSession(t *testing.T) {
	f := apitest.New(t, "alice")
	b, _ := json.Marshal(map[string]string{"username": "alice", "password": apitest.TestPassword})
	res, err := http.Post(f.Srv.URL+"/api/v1/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == auth.SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v: want HttpOnly and SameSite=Strict", cookie)
	}
	// The cookie authenticates a browser request.
	req, _ := http.NewRequest("GET", f.Srv.URL+"/api/v1/me", nil)
	req.AddCookie(cookie)
	res, _ = http.DefaultClient.Do(req)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("me with cookie: %d", res.StatusCode)
	}

	token := f.Login("alice")
	if code, out := f.Do("GET", "/api/v1/me", token, nil); code != 200 || out["user"].(map[string]any)["username"] != "alice" {
		t.Fatalf("me: %d %v", code, out)
	}
	if code, out := f.Do("GET", "/api/v1/me", "", nil); code != 401 || apitest.ErrCode(out) != "unauthorized" {
		t.Fatalf("me without a token: %d %v", code, out)
	}
	if code, _ := f.Do("GET", "/api/v1/me", "forged", nil); code != 401 {
		t.Fatalf("me with a forged token: %d", code)
	}
	if code, _ := f.Do("POST", "/api/v1/logout", token, nil); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := f.Do("GET", "/api/v1/me", token, nil); code != 401 {
		t.Fatalf("token still valid after logout: %d", code)
	}
	// The password hash never leaves the server.
	_, out := f.Do("GET", "/api/v1/users/alice", f.Login("alice"), nil)
	if b, _ := json.Marshal(out); bytes.Contains(b, []byte("argon2")) {
		t.Fatalf("user lookup leaks the hash: %s", b)
	}
}

// waitMessage is an answer's message with its numbers taken out, to
// compare two waits that may differ by a second.
func waitMessage(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	m, _ := e["message"].(string)
	return regexp.MustCompile(`[0-9]+`).ReplaceAllString(m, "N")
}

// login posts one password sign-in from the fixture's one address.
func login(f *apitest.Fixture, user, pw string) (int, map[string]any) {
	f.T.Helper()
	return f.Do("POST", "/api/v1/login", "", map[string]string{"username": user, "password": pw})
}

// TestBackoffAfterFailures: after the policy's threshold of failures a
// username waits before its next attempt is checked, however right the
// password; an unknown username gets exactly the same answers, so the
// answers do not tell which accounts exist; and the wait is not a lock
// that further guessing can extend.
func TestBackoffAfterFailures(t *testing.T) {
	f := apitest.New(t, "bob")
	f.Auth.SetLoginLimit(0, 1000) // the address's limit is not what this test is about
	answers := map[string][]string{}
	var bobWait [2]time.Time
	for _, name := range []string{"bob", "nobody"} {
		// Five wrong passwords (the default threshold) are answered alike...
		for i := range 5 {
			if name == "bob" && i == 4 {
				bobWait[0] = time.Now()
			}
			code, out := login(f, name, "wrong password!")
			if code != http.StatusUnauthorized || apitest.ErrCode(out) != "bad_login" {
				t.Fatalf("%s attempt %d: %d %v", name, i+1, code, out)
			}
			answers[name] = append(answers[name], waitMessage(out))
		}
		if name == "bob" {
			bobWait[1] = time.Now() // the wait began with the fifth failure, in between
		}
		// ...and then the next attempt, even with the right password, waits.
		for range 3 {
			code, out := login(f, name, apitest.TestPassword)
			if code != http.StatusTooManyRequests || apitest.ErrCode(out) != "rate_limited" || !strings.Contains(waitMessage(out), "wait N seconds") {
				t.Fatalf("%s during the wait: %d %v", name, code, out)
			}
			answers[name] = append(answers[name], waitMessage(out))
		}
	}
	if !slices.Equal(answers["bob"], answers["nobody"]) {
		t.Fatalf("an account and an unknown username are answered differently:\n%q\n%q", answers["bob"], answers["nobody"])
	}
	// The wait is also told to programs, in Retry-After, to the second.
	// What is left of bob's 30 s wait 10 s on, to the second, within the
	// bounds of when the wait began and when it is asked (however long
	// this test took on a busy machine).
	f.Auth.ShiftClock(10 * time.Second)
	asked := time.Now()
	res, err := f.Srv.Client().Post(f.Srv.URL+"/api/v1/login", "application/json", strings.NewReader(`{"username":"bob","password":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	answered := time.Now()
	secs := func(d time.Duration) int64 { return int64(math.Ceil(d.Seconds())) }
	lo, hi := secs(bobWait[0].Add(20*time.Second).Sub(answered)), secs(bobWait[1].Add(20*time.Second).Sub(asked))
	got, _ := strconv.ParseInt(res.Header.Get("Retry-After"), 10, 64)
	if res.StatusCode != http.StatusTooManyRequests || got < lo || got > hi {
		t.Fatalf("during the wait, 10 s in: %d, Retry-After %q, want %d to %d", res.StatusCode, res.Header.Get("Retry-After"), lo, hi)
	}
	f.Auth.ShiftClock(-10 * time.Second)
	// Attempts during the wait were not counted: one failure, not four,
	// follows the threshold.
	if u, _ := f.Store.UserByName(context.Background(), "bob"); u.FailedLogins != 5 {
		t.Fatalf("failures counted: %d, want 5", u.FailedLogins)
	}
	// Once the wait is over, the right password signs in and clears the
	// failures.
	f.Auth.ShiftClock(31 * time.Second)
	if code, out := login(f, "bob", apitest.TestPassword); code != 200 {
		t.Fatalf("after the wait: %d %v", code, out)
	}
	if u, _ := f.Store.UserByName(context.Background(), "bob"); u.FailedLogins != 0 || u.LockedUntil != 0 {
		t.Fatalf("after a sign-in: %d failures, wait until %d", u.FailedLogins, u.LockedUntil)
	}
}

// TestBackoffWaitsGrow: each failure past the threshold doubles the wait,
// up to lockout_cooldown.
func TestBackoffWaitsGrow(t *testing.T) {
	f := apitest.New(t, "bob")
	f.Auth.SetLoginLimit(0, 1000)
	if err := f.Store.SetPolicy(context.Background(), map[string]string{"lockout_threshold": "1", "lockout_cooldown": "3m"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 5 {
		login(f, "bob", "wrong password!")
		_, out := login(f, "bob", "wrong password!")
		e, _ := out["error"].(map[string]any)
		m, _ := e["message"].(string)
		got = append(got, regexp.MustCompile(`wait [0-9]+ [a-z]+`).FindString(m))
		f.Auth.ShiftClock(3 * time.Minute)
	}
	want := []string{"wait 30 seconds", "wait 60 seconds", "wait 2 minutes", "wait 3 minutes", "wait 3 minutes"}
	if !slices.Equal(got, want) {
		t.Fatalf("waits %q, want %q", got, want)
	}
}

// TestDisabledAccountAnswersLikeAWrongPassword: a right password for a
// disabled or locked account gets the answer a wrong one gets.
func TestDisabledAccountAnswersLikeAWrongPassword(t *testing.T) {
	f := apitest.New(t, "dora")
	for _, state := range []string{model.StateDisabled, model.StateLocked} {
		if err := f.Store.SetUserState(context.Background(), f.Users["dora"].ID, state); err != nil {
			t.Fatal(err)
		}
		rc, right := login(f, "dora", apitest.TestPassword)
		wc, wrong := login(f, "dora", "wrong password!")
		uc, unknown := login(f, "nobody", "wrong password!")
		if rc != wc || rc != uc || rc != http.StatusUnauthorized || fmt.Sprint(right) != fmt.Sprint(wrong) || fmt.Sprint(right) != fmt.Sprint(unknown) {
			t.Fatalf("%s: right %d %v, wrong %d %v, unknown %d %v", state, rc, right, wc, wrong, uc, unknown)
		}
		f.Store.LoginSucceeded(context.Background(), f.Users["dora"].ID)
	}
}

// TestKnownDeviceSkipsTheBackoff: a device that proves its key signs in
// with the right password while its account waits; without a proof, with
// a used nonce, with another user's device or with a wrong password it
// does not.
func TestKnownDeviceSkipsTheBackoff(t *testing.T) {
	f := apitest.New(t, "ruth", "sam")
	f.Auth.SetLoginLimit(0, 1000)
	ruth, sam := registerDevice(t, f, "ruth"), registerDevice(t, f, "sam")
	for range 6 {
		login(f, "ruth", "wrong password!")
	}
	if code, out := login(f, "ruth", apitest.TestPassword); code != http.StatusTooManyRequests {
		t.Fatalf("without a proof: %d %v", code, out)
	}
	proof := func(d *apitest.TestDevice, user int64) map[string]any {
		_, ch := f.Do("POST", "/api/v1/login/challenge", "", nil)
		nonce := apitest.DecodeB64(t, ch["nonce"].(string))
		return map[string]any{"id": d.ID, "nonce": nonce, "sig": ed25519.Sign(d.Sign, protocol.LoginProofBytes(user, d.ID, nonce))}
	}
	uid := f.Users["ruth"].ID
	try := func(pw string, p map[string]any) (int, map[string]any) {
		return f.Do("POST", "/api/v1/login", "", map[string]any{"username": "ruth", "password": pw, "device": p})
	}
	// A wrong password with a good proof is still wrong.
	if code, out := try("wrong password!", proof(ruth, uid)); code != http.StatusUnauthorized || apitest.ErrCode(out) != "bad_login" {
		t.Fatalf("wrong password from the known device: %d %v", code, out)
	}
	// Another user's device, or a signature by the wrong key, proves nothing.
	if code, out := try(apitest.TestPassword, proof(sam, uid)); code != http.StatusTooManyRequests {
		t.Fatalf("with sam's device: %d %v", code, out)
	}
	forged := proof(ruth, uid)
	forged["sig"] = ed25519.Sign(sam.Sign, protocol.LoginProofBytes(uid, ruth.ID, forged["nonce"].([]byte)))
	if code, out := try(apitest.TestPassword, forged); code != http.StatusTooManyRequests {
		t.Fatalf("with a forged signature: %d %v", code, out)
	}
	// The real device signs in...
	p := proof(ruth, uid)
	code, out := try(apitest.TestPassword, p)
	if code != 200 || out["token"] == nil {
		t.Fatalf("from the known device during the wait: %d %v", code, out)
	}
	// ...and its proof cannot be used again.
	for range 6 {
		login(f, "ruth", "wrong password!")
	}
	if code, out := try(apitest.TestPassword, p); code != http.StatusTooManyRequests {
		t.Fatalf("a proof used twice: %d %v", code, out)
	}
}

// TestWipeKeyProofSkipsTheBackoff: a browser whose signing key is sealed
// until unlock proves itself at sign-in with the wipe-check key it
// registered; a wipe-check key of another device, or none registered,
// proves nothing.
func TestWipeKeyProofSkipsTheBackoff(t *testing.T) {
	f := apitest.New(t, "ruth", "sam")
	f.Auth.SetLoginLimit(0, 1000)
	ruth, sam := registerDevice(t, f, "ruth"), registerDevice(t, f, "sam")
	uid := f.Users["ruth"].ID
	wipePub, wipeKey, _ := ed25519.GenerateKey(nil)
	samPub, samKey, _ := ed25519.GenerateKey(nil)
	proof := func(key ed25519.PrivateKey) map[string]any {
		_, ch := f.Do("POST", "/api/v1/login/challenge", "", nil)
		nonce := apitest.DecodeB64(t, ch["nonce"].(string))
		return map[string]any{"id": ruth.ID, "nonce": nonce, "sig": ed25519.Sign(key, protocol.LoginProofBytes(uid, ruth.ID, nonce))}
	}
	try := func(p map[string]any) (int, map[string]any) {
		return f.Do("POST", "/api/v1/login", "", map[string]any{"username": "ruth", "password": apitest.TestPassword, "device": p})
	}
	for range 6 {
		login(f, "ruth", "wrong password!")
	}
	// Before the device registers it, the key proves nothing.
	if code, out := try(proof(wipeKey)); code != http.StatusTooManyRequests {
		t.Fatalf("an unregistered wipe-check key: %d %v", code, out)
	}
	ctx := context.Background()
	if err := f.Store.SetDeviceWipeKey(ctx, ruth.ID, wipePub); err != nil {
		t.Fatal(err)
	}
	if err := f.Store.SetDeviceWipeKey(ctx, sam.ID, samPub); err != nil {
		t.Fatal(err)
	}
	if code, out := try(proof(samKey)); code != http.StatusTooManyRequests {
		t.Fatalf("another device's wipe-check key: %d %v", code, out)
	}
	if code, out := try(proof(wipeKey)); code != 200 || out["token"] == nil {
		t.Fatalf("the device's wipe-check key during the wait: %d %v", code, out)
	}
}

// TestKnownDeviceGuessesWait: a device proof buys no faster guessing. The
// device's own wrong passwords start a wait of its own, as the username's;
// during it the proof lets it past nothing, and once the wait is over a
// right password from it signs in and clears it.
func TestKnownDeviceGuessesWait(t *testing.T) {
	f := apitest.New(t, "ruth")
	f.Auth.SetLoginLimit(0, 1000)
	ruth := registerDevice(t, f, "ruth")
	uid := f.Users["ruth"].ID
	try := func(pw string) (int, map[string]any) {
		_, ch := f.Do("POST", "/api/v1/login/challenge", "", nil)
		nonce := apitest.DecodeB64(t, ch["nonce"].(string))
		p := map[string]any{"id": ruth.ID, "nonce": nonce, "sig": ed25519.Sign(ruth.Sign, protocol.LoginProofBytes(uid, ruth.ID, nonce))}
		return f.Do("POST", "/api/v1/login", "", map[string]any{"username": "ruth", "password": pw, "device": p})
	}
	for i := range 5 {
		if code, out := try("wrong password!"); code != http.StatusUnauthorized {
			t.Fatalf("guess %d with the proof: %d %v", i, code, out)
		}
	}
	if code, out := try(apitest.TestPassword); code != http.StatusTooManyRequests || apitest.ErrCode(out) != "rate_limited" {
		t.Fatalf("the right password from the device that guessed, during its wait: %d %v", code, out)
	}
	f.Auth.ShiftClock(16 * time.Minute) // past every wait
	if code, out := try(apitest.TestPassword); code != 200 {
		t.Fatalf("after the wait: %d %v", code, out)
	}
	for range 6 {
		login(f, "ruth", "wrong password!")
	}
	if code, out := try(apitest.TestPassword); code != 200 {
		t.Fatalf("the device's wait was cleared by its sign-in, the username's others started is skipped: %d %v", code, out)
	}
}

// registerDevice signs name in and registers a new device of theirs.
func registerDevice(t *testing.T, f *apitest.Fixture, name string) *apitest.TestDevice {
	t.Helper()
	d := apitest.NewTestDevice()
	uid := f.Users[name].ID
	if code, out := f.Do("POST", "/api/v1/devices", f.Login(name), map[string]any{"name": "browser", "list": apitest.SignedList(uid, 1, d, d.Listed())}); code != 201 {
		t.Fatalf("register: %d %v", code, out)
	}
	return d
}

// TestFailedSignInsAreAuditedCoalesced: a flood of failed sign-ins from one
// address adds two audit rows a minute, not one per attempt, and the rows
// still count every failure.
func TestFailedSignInsAreAuditedCoalesced(t *testing.T) {
	f := apitest.New(t, "bob")
	f.Auth.SetLoginLimit(0, 1000)
	for i := range 40 {
		login(f, fmt.Sprintf("guess%d", i%7), "wrong password!")
	}
	login(f, "bob", "wrong password!")
	f.Auth.FlushFailures()
	var rows []store.AuditEntry
	for _, e := range apitest.MFAAuditRows(t, f.Store) {
		if e.Action == "login.fail" {
			rows = append(rows, e)
		}
	}
	if len(rows) != 2 {
		t.Fatalf("%d audit rows for 41 failures, want 2: %+v", len(rows), rows)
	}
	var summary struct {
		Count   int            `json:"count"`
		Reasons map[string]int `json:"reasons"`
	}
	if err := json.Unmarshal([]byte(rows[1].Detail), &summary); err != nil {
		t.Fatal(err)
	}
	if summary.Count != 40 || summary.Reasons["unknown user"]+summary.Reasons["backoff"]+summary.Reasons["wrong password"] != 40 {
		t.Fatalf("summary row %+v", rows[1])
	}
}

func TestLoginRateLimitPerAddress(t *testing.T) {
	f := apitest.New(t, "carol")
	f.Auth.SetLoginLimit(time.Hour, 0) // no attempt is earned back however slow the machine
	var last int
	var out map[string]any
	for range auth.DefaultLoginBurst + 1 {
		last, out = f.Do("POST", "/api/v1/login", "", map[string]string{"username": "nobody", "password": "whatever it is"})
	}
	if last != http.StatusTooManyRequests || apitest.ErrCode(out) != "rate_limited" {
		t.Fatalf("after %d attempts: %d %v", auth.DefaultLoginBurst+1, last, out)
	}
}

func TestWebLoginKeepsTokenInCookie(t *testing.T) {
	f := apitest.New(t, "web")
	code, out := f.Do("POST", "/api/v1/login", "", map[string]any{"username": "web", "password": apitest.TestPassword, "web": true})
	if code != 200 {
		t.Fatalf("web login: %d %v", code, out)
	}
	if _, has := out["token"]; has {
		t.Fatalf("a web login returned the token in the body: %v", out)
	}
}

// A sign-in is recorded with the session it makes: while the audit log
// refuses entries no session is made, and a right password is answered
// internal; once it accepts them, the sign-in and its entry are made
// together. A failed sign-in is recorded on its own, and is still answered
// as one.
func TestLoginAuditedWithSession(t *testing.T) {
	f := apitest.New(t, "alice")
	ctx := context.Background()
	alice := f.Users["alice"].ID
	allow := apitest.RefuseAudit(t, f.Store)
	code, out := f.Do("POST", "/api/v1/login", "", map[string]string{"username": "alice", "password": apitest.TestPassword})
	if code != http.StatusInternalServerError || apitest.ErrCode(out) != "internal" {
		t.Fatalf("sign-in with the log refusing: %d %v", code, out)
	}
	if n, err := f.Store.SessionCount(ctx, alice); err != nil || n != 0 {
		t.Fatalf("a session was made without its entry: %d %v", n, err)
	}
	if code, _ := f.Do("POST", "/api/v1/login", "", map[string]string{"username": "alice", "password": "wrong"}); code != http.StatusUnauthorized {
		t.Fatalf("wrong password with the log refusing: %d", code)
	}
	allow()
	f.Login("alice")
	if n, err := f.Store.SessionCount(ctx, alice); err != nil || n != 1 {
		t.Fatalf("sessions after signing in: %d %v", n, err)
	}
	if !apitest.HasAudit(apitest.AuditRows(t, f.Store), [4]string{"login.ok", auth.UserTarget(alice), "alice", store.OutcomeOK}) {
		t.Fatal("no login.ok entry")
	}
}
