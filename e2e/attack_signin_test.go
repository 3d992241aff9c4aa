package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/curbside-health/curbside/internal/apitest"
	"github.com/curbside-health/curbside/protocol"
)

// Attacks on sign-in, against the real server. The attacker sends from
// other loopback addresses (127.0.0.x) than the clinician (127.0.0.1), as
// a script elsewhere on the network would.

// from returns an HTTP client whose requests come from the address ip.
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 30 * time.Second}
}

// post sends a JSON body and decodes the JSON answer.
func post(t *testing.T, c *http.Client, url, token string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// answer is an error answer's code and message with its numbers taken out.
func answer(code int, out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	m, _ := e["message"].(string)
	return fmt.Sprintf("%d %v %s", code, e["code"], regexp.MustCompile(`[0-9]+`).ReplaceAllString(m, "N"))
}

// signIn posts a password sign-in from c.
func signIn(t *testing.T, c *http.Client, ts *testServer, user, pw string) (int, map[string]any) {
	t.Helper()
	return post(t, c, ts.URL+"/api/v1/login", "", map[string]string{"username": user, "password": pw})
}

// TestAttackGuessingLocksOutClinician: a script guessing at a clinician's
// password from elsewhere used to lock the account for everyone (five
// guesses, fifteen minutes, again and again). Now the guesses only make
// further guesses wait, and the clinician's own device, which proves its
// key, signs in at once with the right password.
func TestAttackGuessingLocksOutClinician(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "alice", "staff")
	clinic := from("127.0.0.1")
	// Alice's browser was set up earlier: a device with its keys.
	_, out := signIn(t, clinic, ts, "alice", password)
	tok, _ := out["token"].(string)
	uid := int64(out["user"].(map[string]any)["id"].(float64))
	dev := apitest.NewTestDevice()
	if code, out := post(t, clinic, ts.URL+"/api/v1/devices", tok, map[string]any{"name": "browser", "list": apitest.SignedList(uid, 1, dev, dev.Listed())}); code != 201 {
		t.Fatalf("register: %d %v", code, out)
	}

	// The attack: wrong passwords from several addresses.
	for i := range 12 {
		signIn(t, from(fmt.Sprintf("127.0.0.%d", 2+i%4)), ts, "alice", fmt.Sprintf("guess number %d", i))
	}

	// A sign-in without the device, even with the right password, waits.
	if code, out := signIn(t, from("127.0.0.9"), ts, "alice", password); code != http.StatusTooManyRequests {
		t.Fatalf("a sign-in without a device proof during the wait: %d %v", code, out)
	}
	// Alice, on her device, with the right password: signed in.
	_, ch := post(t, clinic, ts.URL+"/api/v1/login/challenge", "", nil)
	nonce, _ := ch["nonce"].(string)
	raw := apitest.DecodeB64(t, nonce)
	proof := map[string]any{"id": dev.ID, "nonce": raw, "sig": ed25519.Sign(dev.Sign, protocol.LoginProofBytes(uid, dev.ID, raw))}
	code, out := post(t, clinic, ts.URL+"/api/v1/login", "", map[string]any{"username": "alice", "password": password, "device": proof})
	if code != 200 || out["token"] == nil {
		t.Fatalf("alice on her own device after the guessing: %d %v", code, out)
	}
}

// TestAttackGuessingLocksOutCLIDevice: the command-line client sent no
// device proof, so a script guessing at the password kept a scripted
// device (an interface engine's, say) from signing in again. Now `client
// signin` proves the state file's device key and gets in during the wait,
// while a sign-in as a new device still waits.
func TestAttackGuessingLocksOutCLIDevice(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "alice", "staff")
	ts.addUser(t, "bob", "staff")
	dir := t.TempDir()
	state := filepath.Join(dir, "alice.json")
	if out, err := curbside(t, password+"\n", "client", "login", "--server", ts.URL, "--username", "alice", "--password-stdin", "--state", state); err != nil {
		t.Fatalf("login: %v\n%s", err, out)
	}
	if out, err := curbside(t, password+"\n", "client", "login", "--server", ts.URL, "--username", "bob", "--password-stdin", "--state", filepath.Join(dir, "bob.json")); err != nil {
		t.Fatalf("login bob: %v\n%s", err, out)
	}
	// The device's session ends (here: it is signed out).
	var st struct {
		Token string `json:"token"`
	}
	raw, _ := os.ReadFile(state)
	json.Unmarshal(raw, &st)
	if code, out := post(t, from("127.0.0.1"), ts.URL+"/api/v1/logout", st.Token, nil); code != 200 && code != 204 {
		t.Fatalf("logout: %d %v", code, out)
	}
	if out, err := curbside(t, "", "client", "send", "--state", state, "--to", "bob", "after sign-out"); err == nil || !strings.Contains(out+err.Error(), "client signin") {
		t.Fatalf("send after sign-out: %v %q, want advice to run client signin", err, out)
	}

	// The attack: wrong passwords from several addresses.
	for i := range 12 {
		signIn(t, from(fmt.Sprintf("127.0.0.%d", 2+i%4)), ts, "alice", fmt.Sprintf("guess number %d", i))
	}
	// A new device, even with the right password, waits...
	if out, err := curbside(t, password+"\n", "client", "login", "--server", ts.URL, "--username", "alice", "--password-stdin", "--state", filepath.Join(dir, "new.json")); err == nil || !strings.Contains(out+err.Error(), "rate_limited") {
		t.Fatalf("a new device during the wait: %v %q", err, out)
	}
	// ...while the device that holds its keys signs in again and sends.
	if out, err := curbside(t, password+"\n", "client", "signin", "--state", state, "--password-stdin"); err != nil {
		t.Fatalf("client signin during the wait: %v\n%s", err, out)
	}
	if out, err := curbside(t, "", "client", "send", "--state", state, "--to", "bob", "after signing in again"); err != nil {
		t.Fatalf("send after signin: %v %s", err, out)
	}
}

// TestAttackUsernameEnumeration: an unknown username never got the
// "locked" answer that an account got after five failures, so guessing
// told which usernames exist. Now an account and an unknown username get
// the same answers, attempt by attempt.
func TestAttackUsernameEnumeration(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "alice", "staff")
	seq := map[string][]string{}
	for n, name := range []string{"alice", "nosuchuser"} {
		attacker := from(fmt.Sprintf("127.0.0.%d", 2+n)) // each within its address's allowance
		for i := range 8 {
			seq[name] = append(seq[name], answer(signIn(t, attacker, ts, name, fmt.Sprintf("guess number %d", i))))
		}
	}
	if !slices.Equal(seq["alice"], seq["nosuchuser"]) {
		t.Fatalf("an account and an unknown username answered differently:\n%q\n%q", seq["alice"], seq["nosuchuser"])
	}
}

// TestAttackDisabledAccountPasswordOracle: a disabled account answered
// "this account is disabled" to the right password and "wrong password" to
// a wrong one, so it could be used to confirm a leaked password. Now both
// get the answer an unknown username gets.
func TestAttackDisabledAccountPasswordOracle(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "alice", "staff")
	if out, err := curbside(t, "", "user", "state", "--data", ts.Data, "--username", "alice", "--set", "disabled"); err != nil {
		t.Fatalf("user state: %v\n%s", err, out)
	}
	c := from("127.0.0.2")
	right := answer(signIn(t, c, ts, "alice", password))
	wrong := answer(signIn(t, c, ts, "alice", "not the password"))
	unknown := answer(signIn(t, c, ts, "nosuchuser", "not the password"))
	if right != wrong || right != unknown {
		t.Fatalf("disabled account: right password %q, wrong %q, unknown user %q", right, wrong, unknown)
	}
}

// TestAttackAuditFlood: every failed sign-in was one row of an audit log
// kept for six years, so a flood of bad sign-ins grew it without bound.
// Now each address adds at most two rows a minute, which still count
// every failure.
func TestAttackAuditFlood(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "alice", "staff")
	const sources, each = 4, 10 // within each address's allowance
	for s := range sources {
		c := from(fmt.Sprintf("127.0.0.%d", 2+s))
		for i := range each {
			signIn(t, c, ts, fmt.Sprintf("user%d", i%3), "guess")
		}
	}
	ts.stop() // the last minute's counts are written at shutdown
	db, err := sql.Open("sqlite", "file:"+filepath.Join(ts.Data, "curbside.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, failures int
	err = db.QueryRowContext(context.Background(), `SELECT count(*), sum(coalesce(CASE WHEN json_valid(detail) THEN json_extract(detail, '$.count') END, 1))
		FROM audit WHERE action = 'login.fail'`).Scan(&rows, &failures)
	if err != nil {
		t.Fatal(err)
	}
	if rows > 2*sources || failures != sources*each {
		t.Fatalf("%d failed sign-ins from %d addresses: %d audit rows counting %d failures; want at most %d rows counting all", sources*each, sources, rows, failures, 2*sources)
	}
}
