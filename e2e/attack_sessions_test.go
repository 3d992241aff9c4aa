package e2e

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/protocol"
)

// The attacks of this file are on sessions and devices that outlive what
// should have ended them: a socket that keeps receiving ciphertext after
// its user was disabled or signed out or its session expired, a password
// change (or an accepted reset link) that leaves the old sign-ins alive, an older reset link that still works, and a wipe
// check that tells anybody about any device.

// adminDo signs name in and calls a console route with a JSON body,
// returning the status and the decoded answer.
func adminDo(t *testing.T, ts *testServer, name, method, path string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"username": name, "password": password})
	res, err := http.Post(ts.URL+"/api/v1/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var lr struct{ Token string }
	json.NewDecoder(res.Body).Decode(&lr)
	res.Body.Close()
	var rd *bytes.Reader
	if body != nil {
		b, _ = json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, ts.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+lr.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// withAdmin adds an administrator, root, and lifts the console's second
// factor requirement so the test can use the console with a password.
func withAdmin(t *testing.T, ts *testServer) {
	t.Helper()
	ts.addUser(t, "root", "admin")
	if out, err := curbside(t, "", "policy", "set", "--data", ts.Data, "mfa_required="); err != nil {
		t.Fatalf("policy set: %v\n%s", err, out)
	}
}

// sessionEndBound bounds the wait for a socket to close after its session
// ended. The relay closes it at the next access-epoch poll (a second), or
// at once for a change the server made itself; without either it would
// still close it at its periodic recheck of every session, 30 s after the
// last. The bound lies well between the two, so that a broken epoch
// trigger or poll fails these tests instead of passing late. It bounds a
// wait for an event; it does not measure speed.
const sessionEndBound = 5 * time.Second

// wantSessionEnded waits for the connection to be closed and checks it was
// closed because its session ended, and that the session is gone for HTTP
// too.
func wantSessionEnded(t *testing.T, what string, c *client.Client, cn *client.Conn) {
	t.Helper()
	if code := closeCodeWithin(t, cn, sessionEndBound); code != protocol.CloseSessionEnded {
		t.Fatalf("%s: the connection closed with %d (%v), want %d", what, code, cn.Err(), protocol.CloseSessionEnded)
	}
	var ae *client.Error
	if _, _, err := c.Me(ctxT(t)); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Fatalf("%s: the session still answers: %v", what, err)
	}
}

// A user disabled with the operator CLI while the server runs (another
// process writing the database) loses the live socket at once, and
// sending to them is refused with recipient_inactive instead of being
// accepted as if it would be delivered.
func TestAttackDisabledUserKeepsLiveSocket(t *testing.T) {
	ts, alice, bob, ctx := aliceAndBob(t)
	ca, cb := connect(t, alice), connect(t, bob)
	if _, err := ca.Send(ctx, client.Outgoing{To: []int64{bob.User().ID}, Text: "before"}); err != nil {
		t.Fatalf("send before: %v", err)
	}
	if out, err := curbside(t, "", "user", "state", "--data", ts.Data, "--username", "bob", "--set", "disabled"); err != nil {
		t.Fatalf("user state: %v\n%s", err, out)
	}
	wantSessionEnded(t, "disabled with the CLI", bob, cb)
	_, err := ca.Send(ctx, client.Outgoing{To: []int64{bob.User().ID}, Text: "after the account was disabled"})
	if client.ErrorCode(err) != protocol.CodeRecipientInactive {
		t.Fatalf("send to a disabled user: %v, want %s", err, protocol.CodeRecipientInactive)
	}
}

// Locking a user in the console closes their live socket too.
func TestAttackLockedUserKeepsLiveSocket(t *testing.T) {
	ts, _, bob, _ := aliceAndBob(t)
	withAdmin(t, ts)
	cb := connect(t, bob)
	if code, out := adminDo(t, ts, "root", "POST", fmt.Sprintf("/api/v1/admin/users/%d/state", bob.User().ID), map[string]string{"state": "locked"}); code != 200 {
		t.Fatalf("lock bob: %d %v", code, out)
	}
	wantSessionEnded(t, "locked in the console", bob, cb)
}

// Signing out ends the relay socket opened under that session, not only
// the HTTP session.
func TestAttackSignedOutSessionKeepsSocket(t *testing.T) {
	_, _, bob, ctx := aliceAndBob(t)
	cb := connect(t, bob)
	if err := bob.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if code := closeCodeWithin(t, cb, sessionEndBound); code != protocol.CloseSessionEnded {
		t.Fatalf("sign-out closed the connection with %d (%v), want %d", code, cb.Err(), protocol.CloseSessionEnded)
	}
}

// `curbside user passwd` ends every session of the user and closes their
// sockets: whoever signed in with the old password is out.
func TestAttackPasswdLeavesSessions(t *testing.T) {
	ts, _, bob, _ := aliceAndBob(t)
	cb := connect(t, bob)
	out, err := curbside(t, "a new and different passphrase\n", "user", "passwd", "--data", ts.Data, "--username", "bob", "--password-stdin")
	if err != nil {
		t.Fatalf("user passwd: %v\n%s", err, out)
	}
	wantSessionEnded(t, "password changed with the CLI", bob, cb)
}

// Resetting a user's second factors in the console closes their sockets.
func TestAttackMFAResetKeepsSocket(t *testing.T) {
	ts, _, bob, _ := aliceAndBob(t)
	withAdmin(t, ts)
	cb := connect(t, bob)
	if code, out := adminDo(t, ts, "root", "POST", fmt.Sprintf("/api/v1/admin/users/%d/mfa/reset", bob.User().ID), nil); code != 200 {
		t.Fatalf("mfa reset: %d %v", code, out)
	}
	wantSessionEnded(t, "second factors reset in the console", bob, cb)
}

// A session that reaches its end closes its socket when it falls due, not
// at the relay's periodic recheck. Its end is written into the database
// (as a session_max of a few seconds would have set it at sign-in; the
// policy's shortest is a minute) before the socket opens: the relay learns
// it when the socket opens and checks again when it falls due.
func TestAttackExpiredSessionKeepsSocket(t *testing.T) {
	ts, _, bob, _ := aliceAndBob(t)
	const left = 2 * time.Second
	if _, err := openDB(t, ts).Exec(`UPDATE sessions SET expires_at = ? WHERE user_id = ?`, time.Now().Add(left).UnixMilli(), bob.User().ID); err != nil {
		t.Fatal(err)
	}
	cb := connect(t, bob)
	if code := closeCodeWithin(t, cb, left+sessionEndBound); code != protocol.CloseSessionEnded {
		t.Fatalf("expiry closed the connection with %d (%v), want %d", code, cb.Err(), protocol.CloseSessionEnded)
	}
	var ae *client.Error
	if _, _, err := bob.Me(ctxT(t)); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Fatalf("the expired session still answers: %v", err)
	}
}

// Accepting a password-reset link ends every session of the user and
// closes their sockets: whoever held the old password is out.
func TestAttackAcceptedResetLinkKeepsSocket(t *testing.T) {
	ts, _, bob, _ := aliceAndBob(t)
	withAdmin(t, ts)
	cb := connect(t, bob)
	code, out := adminDo(t, ts, "root", "POST", fmt.Sprintf("/api/v1/admin/users/%d/password", bob.User().ID), nil)
	if code != 200 {
		t.Fatalf("password reset: %d %v", code, out)
	}
	u := out["invitation"].(map[string]any)["url"].(string)
	b, _ := json.Marshal(map[string]string{"token": u[strings.Index(u, "#invite=")+len("#invite="):], "password": "bob's fresh new passphrase"})
	res, err := http.Post(ts.URL+"/api/v1/invitations/accept", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("accept the reset link: %d", res.StatusCode)
	}
	wantSessionEnded(t, "the reset link accepted", bob, cb)
}

// Of two reset links made for one account, only the newer one sets the
// password: the older was voided when the newer was made.
func TestAttackOlderResetLinkStillWorks(t *testing.T) {
	ts, _, bob, _ := aliceAndBob(t)
	withAdmin(t, ts)
	link := func() string {
		code, out := adminDo(t, ts, "root", "POST", fmt.Sprintf("/api/v1/admin/users/%d/password", bob.User().ID), nil)
		if code != 200 {
			t.Fatalf("password reset: %d %v", code, out)
		}
		u := out["invitation"].(map[string]any)["url"].(string)
		return u[strings.Index(u, "#invite=")+len("#invite="):]
	}
	older, newer := link(), link()
	accept := func(token, pw string) int {
		b, _ := json.Marshal(map[string]string{"token": token, "password": pw})
		res, err := http.Post(ts.URL+"/api/v1/invitations/accept", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := accept(older, "the attacker's own passphrase"); code != http.StatusGone {
		t.Fatalf("the older link: %d, want %d", code, http.StatusGone)
	}
	if code := accept(newer, "bob's fresh new passphrase"); code != 200 {
		t.Fatalf("the newer link: %d", code)
	}
}

// The wipe check tells nobody but the device itself whether and when it
// was wiped: an anonymous GET gets nothing, a signature by another key is
// refused like an unknown device, the device proving its key gets the
// command, and one address cannot ask without limit.
func TestAttackAnonymousWipeCheck(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "alice", "staff")
	withAdmin(t, ts)
	laptop := ts.device(t, "alice")
	adminPost(t, ts, "root", fmt.Sprintf("/api/v1/admin/devices/%d/wipe", laptop.DeviceID()))
	path := fmt.Sprintf("%s/api/v1/devices/%d/wipe", ts.URL, laptop.DeviceID())

	res, err := http.Get(path)
	if err != nil {
		t.Fatal(err)
	}
	var cmd protocol.DeviceCommand
	json.NewDecoder(res.Body).Decode(&cmd)
	res.Body.Close()
	if res.StatusCode == 200 || cmd.Kind != "" {
		t.Fatalf("an anonymous GET learnt of the wipe: %d %+v", res.StatusCode, cmd)
	}
	check := func(device int64, key ed25519.PrivateKey) int {
		p := fmt.Sprintf("%s/api/v1/devices/%d/wipe", ts.URL, device)
		res, err := http.Post(p+"/challenge", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		var ch struct{ Nonce []byte }
		json.NewDecoder(res.Body).Decode(&ch)
		res.Body.Close()
		if res.StatusCode != 200 {
			return res.StatusCode
		}
		b, _ := json.Marshal(map[string]any{"nonce": ch.Nonce, "sig": ed25519.Sign(key, protocol.WipeCheckBytes(device, ch.Nonce))})
		res, err = http.Post(p, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	_, stranger, _ := ed25519.GenerateKey(nil)
	if code := check(laptop.DeviceID(), stranger); code != http.StatusForbidden {
		t.Fatalf("a stranger's signature: %d, want 403", code)
	}
	if code := check(laptop.DeviceID()+1, stranger); code != http.StatusForbidden {
		t.Fatalf("an unknown device: %d, want 403 like any refusal", code)
	}
	got, err := laptop.WipeCommand(ctxT(t))
	if err != nil || got == nil || got.Kind != protocol.CommandWipe || got.Device != laptop.DeviceID() {
		t.Fatalf("the device itself: %+v %v", got, err)
	}
	limited := false
	for i := 0; i < 500 && !limited; i++ {
		limited = check(laptop.DeviceID(), stranger) == http.StatusTooManyRequests
	}
	if !limited {
		t.Fatal("500 wipe checks from one address were never limited")
	}
}
