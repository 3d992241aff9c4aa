package server

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curbside-health/curbside/auth"

	"github.com/curbside-health/curbside/api"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

const testPassword = "correct horse battery"

// fixture is the HTTP surface that Run mounts (auth, the apps' API, the
// console, the relay and the assets, behind the one guard) over a fresh
// store, with users made straight in the store.
type fixture struct {
	t      *testing.T
	auth   *auth.Auth
	api    *api.API
	st     *store.Store
	log    *slog.Logger
	srv    *httptest.Server
	routes []web.Route
	users  map[string]*model.User
}

func newFixture(t *testing.T, names ...string) *fixture {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	p, err := wire(st, Config{}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.relay.Close)
	var ready atomic.Bool
	ready.Store(true)
	mux := http.NewServeMux()
	routes := p.routes(&ready)
	web.Mount(mux, log, p.auth, routes)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f := &fixture{t: t, auth: p.auth, api: p.apps, st: st, log: log, srv: srv, routes: routes, users: map[string]*model.User{}}
	hash, _ := auth.HashPassword(testPassword)
	for _, n := range names {
		u := &model.User{Username: n, Display: strings.ToUpper(n), Role: model.RoleStaff, State: model.StateActive, PasswordHash: hash}
		if err := st.CreateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		f.users[n] = u
	}
	return f
}

// do sends a request with a JSON body (nil: none) and decodes the JSON
// answer.
func (f *fixture) do(method, path, token string, body any) (int, map[string]any) {
	f.t.Helper()
	return f.doHost("", method, path, token, body)
}

// doHost is do with a Host header (empty: the server's address); passkeys
// need a name, not 127.0.0.1.
func (f *fixture) doHost(host, method, path, token string, body any) (int, map[string]any) {
	f.t.Helper()
	var rd io.Reader
	ctype := ""
	if body != nil {
		b, _ := json.Marshal(body)
		rd, ctype = bytes.NewReader(b), "application/json"
	}
	code, b := f.send(host, method, path, token, ctype, rd)
	var out map[string]any
	json.Unmarshal(b, &out)
	return code, out
}

// send sends one request and returns the status and body.
func (f *fixture) send(host, method, path, token, ctype string, body io.Reader) (int, []byte) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, body)
	if host != "" {
		req.Host = host
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (f *fixture) login(name string) string {
	f.t.Helper()
	code, out := f.do("POST", "/api/v1/login", "", map[string]string{"username": name, "password": testPassword})
	if code != 200 {
		f.t.Fatalf("login %s: %d %v", name, code, out)
	}
	return out["token"].(string)
}

func errCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestLoginAndSession(t *testing.T) {
	f := newFixture(t, "alice")
	b, _ := json.Marshal(map[string]string{"username": "alice", "password": testPassword})
	res, err := http.Post(f.srv.URL+"/api/v1/login", "application/json", bytes.NewReader(b))
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
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/me", nil)
	req.AddCookie(cookie)
	res, _ = http.DefaultClient.Do(req)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("me with cookie: %d", res.StatusCode)
	}

	token := f.login("alice")
	if code, out := f.do("GET", "/api/v1/me", token, nil); code != 200 || out["user"].(map[string]any)["username"] != "alice" {
		t.Fatalf("me: %d %v", code, out)
	}
	if code, out := f.do("GET", "/api/v1/me", "", nil); code != 401 || errCode(out) != "unauthorized" {
		t.Fatalf("me without a token: %d %v", code, out)
	}
	if code, _ := f.do("GET", "/api/v1/me", "forged", nil); code != 401 {
		t.Fatalf("me with a forged token: %d", code)
	}
	if code, _ := f.do("POST", "/api/v1/logout", token, nil); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := f.do("GET", "/api/v1/me", token, nil); code != 401 {
		t.Fatalf("token still valid after logout: %d", code)
	}
	// The password hash never leaves the server.
	_, out := f.do("GET", "/api/v1/users/alice", f.login("alice"), nil)
	if b, _ := json.Marshal(out); bytes.Contains(b, []byte("argon2")) {
		t.Fatalf("user lookup leaks the hash: %s", b)
	}
}

func TestLockoutAfterFailures(t *testing.T) {
	f := newFixture(t, "bob")
	// Five wrong passwords lock the account (the default threshold)...
	for i := range 5 {
		code, out := f.do("POST", "/api/v1/login", "", map[string]string{"username": "bob", "password": "wrong password!"})
		want := "bad_login"
		if i == 4 {
			want = "locked"
		}
		if errCode(out) != want {
			t.Fatalf("attempt %d: %d %v, want %s", i+1, code, out, want)
		}
	}
	// ...and then even the right one is refused until the cooldown ends.
	code, out := f.do("POST", "/api/v1/login", "", map[string]string{"username": "bob", "password": testPassword})
	if code != http.StatusLocked || errCode(out) != "locked" {
		t.Fatalf("right password during lockout: %d %v", code, out)
	}
}

func TestLoginRateLimitPerAddress(t *testing.T) {
	f := newFixture(t, "carol")
	f.auth.SetLoginLimit(time.Hour, 0) // no attempt is earned back however slow the machine
	var last int
	var out map[string]any
	for range auth.DefaultLoginBurst + 1 {
		last, out = f.do("POST", "/api/v1/login", "", map[string]string{"username": "nobody", "password": "whatever it is"})
	}
	if last != http.StatusTooManyRequests || errCode(out) != "rate_limited" {
		t.Fatalf("after %d attempts: %d %v", auth.DefaultLoginBurst+1, last, out)
	}
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t, "dan")
	for name, tc := range map[string]struct {
		body, ctype string
		want        int
	}{
		"not json":      {"{", "application/json", 400},
		"unknown field": {`{"username":"dan","password":"x","admin":true}`, "application/json", 400},
		"form post":     {"username=dan", "application/x-www-form-urlencoded", 415},
		"huge":          {`{"username":"` + strings.Repeat("a", 8000) + `"}`, "application/json", 413},
	} {
		res, err := http.Post(f.srv.URL+"/api/v1/login", tc.ctype, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if res.StatusCode != tc.want || errCode(out) == "" {
			t.Errorf("%s: %d %v, want %d with an error code", name, res.StatusCode, out, tc.want)
		}
	}
}

type testDevice struct {
	enc  *ecdh.PrivateKey
	sign ed25519.PrivateKey
	id   int64
}

func newTestDevice() *testDevice {
	enc, _ := ecdh.X25519().GenerateKey(rand.Reader)
	_, sign, _ := ed25519.GenerateKey(rand.Reader)
	return &testDevice{enc: enc, sign: sign, id: protocol.DeviceID(sign.Public().(ed25519.PublicKey))}
}

func (d *testDevice) listed() protocol.ListedDevice {
	return protocol.ListedDevice{ID: d.id, Enc: d.enc.PublicKey().Bytes(), Sign: d.sign.Public().(ed25519.PublicKey)}
}

func signedList(user, version int64, signer *testDevice, devs ...protocol.ListedDevice) *protocol.DeviceList {
	l := &protocol.DeviceList{User: user, Version: version, Devices: devs, Signer: signer.id}
	for i := 1; i < len(l.Devices); i++ {
		for j := i; j > 0 && l.Devices[j].ID < l.Devices[j-1].ID; j-- {
			l.Devices[j], l.Devices[j-1] = l.Devices[j-1], l.Devices[j]
		}
	}
	l.Sig = ed25519.Sign(signer.sign, l.SignedBytes())
	return l
}

func TestDeviceRegistration(t *testing.T) {
	f := newFixture(t, "erin")
	uid := f.users["erin"].ID
	d1, d2 := newTestDevice(), newTestDevice()

	tok := f.login("erin")
	// A list signed by a key that is not the new device's is refused.
	forged := signedList(uid, 1, d1, d1.listed())
	forged.Sig[0] ^= 1
	if code, out := f.do("POST", "/api/v1/devices", tok, map[string]any{"name": "x", "list": forged}); code != 400 || errCode(out) != "bad_device_list" {
		t.Fatalf("forged list: %d %v", code, out)
	}
	if code, out := f.do("POST", "/api/v1/devices", tok, map[string]any{"name": "phone", "list": signedList(uid, 1, d1, d1.listed())}); code != 201 {
		t.Fatalf("register first device: %d %v", code, out)
	}
	// The session is now bound to the device, and cannot register another.
	if _, out := f.do("GET", "/api/v1/me", tok, nil); int64(out["device"].(float64)) != d1.id {
		t.Fatalf("session device = %v, want %d", out["device"], d1.id)
	}
	if code, _ := f.do("POST", "/api/v1/devices", tok, map[string]any{"name": "again", "list": signedList(uid, 2, d2, d1.listed(), d2.listed())}); code != 409 {
		t.Fatalf("second registration on one session: %d", code)
	}

	tok2 := f.login("erin")
	// A list that drops the existing device is refused: the server only
	// accepts lists that keep every active device.
	if code, out := f.do("POST", "/api/v1/devices", tok2, map[string]any{"name": "laptop", "list": signedList(uid, 2, d2, d2.listed())}); code != 409 || errCode(out) != "conflict" {
		t.Fatalf("list without the first device: %d %v", code, out)
	}
	// A stale version is refused too.
	if code, _ := f.do("POST", "/api/v1/devices", tok2, map[string]any{"name": "laptop", "list": signedList(uid, 1, d2, d1.listed(), d2.listed())}); code != 409 {
		t.Fatalf("stale version: %d", code)
	}
	if code, out := f.do("POST", "/api/v1/devices", tok2, map[string]any{"name": "laptop", "list": signedList(uid, 2, d2, d1.listed(), d2.listed())}); code != 201 {
		t.Fatalf("register second device: %d %v", code, out)
	}
	code, out := f.do("GET", "/api/v1/keys/"+itoa(uid), tok2, nil)
	if code != 200 {
		t.Fatalf("keys: %d %v", code, out)
	}
	active := out["active"].([]any)
	list := out["list"].(map[string]any)
	if len(active) != 2 || list["version"].(float64) != 2 || len(list["devices"].([]any)) != 2 {
		t.Fatalf("keys after two registrations: %v", out)
	}
	if code, _ := f.do("GET", "/api/v1/keys/999", tok2, nil); code != 404 {
		t.Fatalf("keys of an unknown user: %d", code)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestWebLoginKeepsTokenInCookie(t *testing.T) {
	f := newFixture(t, "web")
	code, out := f.do("POST", "/api/v1/login", "", map[string]any{"username": "web", "password": testPassword, "web": true})
	if code != 200 {
		t.Fatalf("web login: %d %v", code, out)
	}
	if _, has := out["token"]; has {
		t.Fatalf("a web login returned the token in the body: %v", out)
	}
}

func TestResumeDevice(t *testing.T) {
	f := newFixture(t, "ruth", "sam")
	uid := f.users["ruth"].ID
	d := newTestDevice()
	tok := f.login("ruth")
	if code, out := f.do("POST", "/api/v1/devices", tok, map[string]any{"name": "browser", "list": signedList(uid, 1, d, d.listed())}); code != 201 {
		t.Fatalf("register: %d %v", code, out)
	}
	code, out := f.do("GET", "/api/v1/devices/me/share", tok, nil)
	share, _ := out["share"].(string)
	if code != 200 || len(share) != 44 {
		t.Fatalf("share: %d %v", code, out)
	}
	if _, again := f.do("GET", "/api/v1/devices/me/share", tok, nil); again["share"] != share {
		t.Fatal("the share changed between two reads")
	}

	// The session expires; ruth signs in again on the same browser.
	tok2 := f.login("ruth")
	path := "/api/v1/devices/" + itoa(d.id)
	if code, _ := f.do("GET", "/api/v1/devices/me/share", tok2, nil); code != 403 {
		t.Fatalf("share for a session without a device: %d", code)
	}
	if code, _ := f.do("POST", path+"/resume", tok2, map[string]any{"sig": make([]byte, 64)}); code != 400 {
		t.Fatalf("resume without a challenge: %d", code)
	}
	_, ch := f.do("POST", path+"/challenge", tok2, nil)
	nonce := decodeB64(t, ch["nonce"].(string))
	// A signature by another key is refused, and uses up the challenge.
	other := newTestDevice()
	if code, _ := f.do("POST", path+"/resume", tok2, map[string]any{"sig": ed25519.Sign(other.sign, api.ResumeBytes(uid, d.id, nonce))}); code != 403 {
		t.Fatalf("resume with another key: %d", code)
	}
	if code, _ := f.do("POST", path+"/resume", tok2, map[string]any{"sig": ed25519.Sign(d.sign, api.ResumeBytes(uid, d.id, nonce))}); code != 400 {
		t.Fatalf("reusing a spent challenge: %d", code)
	}
	_, ch = f.do("POST", path+"/challenge", tok2, nil)
	nonce = decodeB64(t, ch["nonce"].(string))
	if code, out := f.do("POST", path+"/resume", tok2, map[string]any{"sig": ed25519.Sign(d.sign, api.ResumeBytes(uid, d.id, nonce))}); code != 200 {
		t.Fatalf("resume: %d %v", code, out)
	}
	if _, me := f.do("GET", "/api/v1/me", tok2, nil); int64(me["device"].(float64)) != d.id {
		t.Fatalf("after resume the session has device %v", me["device"])
	}
	if _, out := f.do("GET", "/api/v1/devices/me/share", tok2, nil); out["share"] != share {
		t.Fatal("the resumed device got a different share")
	}
	// Nobody else can resume ruth's device.
	if code, _ := f.do("POST", path+"/challenge", f.login("sam"), nil); code != 404 {
		t.Fatalf("another user's challenge: %d", code)
	}
	// A revoked device has no share and cannot be resumed.
	if err := f.st.RevokeDevice(context.Background(), d.id); err != nil {
		t.Fatal(err)
	}
	if code, _ := f.do("POST", path+"/challenge", f.login("ruth"), nil); code != 404 {
		t.Fatalf("challenge for a revoked device: %d", code)
	}
}

func TestConfig(t *testing.T) {
	f := newFixture(t, "cfg")
	if err := f.st.SetPolicy(context.Background(), map[string]string{"inactivity_lock": "2m", "quick_messages": "A|B"}); err != nil {
		t.Fatal(err)
	}
	code, out := f.do("GET", "/api/v1/config", f.login("cfg"), nil)
	pol, _ := out["policy"].(map[string]any)
	if code != 200 || pol["inactivity_lock_ms"].(float64) != 120000 || pol["retention_ms"].(float64) != 7*24*3600*1000 || len(out["quick_messages"].([]any)) != 2 {
		t.Fatalf("config: %d %v", code, out)
	}
	if code, _ := f.do("GET", "/api/v1/config", "", nil); code != 401 {
		t.Fatalf("config without a session: %d", code)
	}
}

func decodeB64(t *testing.T, s string) []byte {
	t.Helper()
	var b []byte
	if err := json.Unmarshal([]byte(`"`+s+`"`), &b); err != nil {
		t.Fatal(err)
	}
	return b
}
