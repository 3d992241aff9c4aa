// Package apitest is the HTTP surface the server mounts, over a fresh store
// on a loopback test server, with the helpers the API tests of packages
// auth, api, console and server share: requests, sign-ins, console users,
// TOTP codes at the server's clock, signed device lists and a software
// passkey authenticator. Only tests import it.
package apitest

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curbside-health/curbside/api"
	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/console"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/server"
	"github.com/curbside-health/curbside/store"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/pquerna/otp/totp"
)

// TestPassword is every fixture user's password.
const TestPassword = "correct horse battery"

// Fixture is the HTTP surface that Run mounts (auth, the apps' API, the
// console, the relay and the assets, behind the one guard) over a fresh
// store, with users made straight in the store.
type Fixture struct {
	T    *testing.T
	Auth *auth.Auth
	API  *api.API
	// Console is the console's handlers; a test may set its parts the
	// server sets only when configured (Backup) before it sends requests.
	Console *console.Console
	Store   *store.Store
	Log     *slog.Logger
	Srv     *httptest.Server
	Routes  []web.Route
	Users   map[string]*model.User
}

// New returns the server's HTTP surface over a fresh store, with a staff
// user of each of names.
func New(t *testing.T, names ...string) *Fixture {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	p, err := server.NewParts(st, server.Config{}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Relay.Close)
	t.Cleanup(p.Close)
	var ready atomic.Bool
	ready.Store(true)
	mux := http.NewServeMux()
	routes := p.Routes(&ready)
	web.Mount(mux, log, p.Auth, routes)
	srv := httptest.NewServer(server.SameOrigin("", log, mux))
	t.Cleanup(srv.Close)
	f := &Fixture{T: t, Auth: p.Auth, API: p.Apps, Console: p.Console, Store: st, Log: log, Srv: srv, Routes: routes, Users: map[string]*model.User{}}
	hash, _ := auth.HashPassword(TestPassword)
	for _, n := range names {
		u := &model.User{Username: n, Display: strings.ToUpper(n), Role: model.RoleStaff, State: model.StateActive, PasswordHash: hash}
		if err := st.CreateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		f.Users[n] = u
	}
	return f
}

// do sends a request with a JSON body (nil: none) and decodes the JSON
// answer.
func (f *Fixture) Do(method, path, token string, body any) (int, map[string]any) {
	f.T.Helper()
	return f.DoHost("", method, path, token, body)
}

// doHost is do with a Host header (empty: the server's address); passkeys
// need a name, not 127.0.0.1.
func (f *Fixture) DoHost(host, method, path, token string, body any) (int, map[string]any) {
	f.T.Helper()
	var rd io.Reader
	ctype := ""
	if body != nil {
		b, _ := json.Marshal(body)
		rd, ctype = bytes.NewReader(b), "application/json"
	}
	code, b := f.Send(host, method, path, token, ctype, rd)
	var out map[string]any
	json.Unmarshal(b, &out)
	return code, out
}

// send sends one request and returns the status and body.
func (f *Fixture) Send(host, method, path, token, ctype string, body io.Reader) (int, []byte) {
	f.T.Helper()
	req, _ := http.NewRequest(method, f.Srv.URL+path, body)
	if host != "" {
		req.Host = host
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := f.Srv.Client().Do(req)
	if err != nil {
		f.T.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// Login signs name in with TestPassword and returns the session token.
func (f *Fixture) Login(name string) string {
	f.T.Helper()
	code, out := f.Do("POST", "/api/v1/login", "", map[string]string{"username": name, "password": TestPassword})
	if code != 200 {
		f.T.Fatalf("login %s: %d %v", name, code, out)
	}
	return out["token"].(string)
}

// ErrCode returns the error code of a decoded error answer.
func ErrCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// ErrMessage returns the message of a decoded error answer.
func ErrMessage(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

// TestDevice is a device's key pairs, made in the test.
type TestDevice struct {
	Enc  *ecdh.PrivateKey
	Sign ed25519.PrivateKey
	ID   int64
}

// NewTestDevice returns a device with fresh keys.
func NewTestDevice() *TestDevice {
	enc, _ := ecdh.X25519().GenerateKey(rand.Reader)
	_, sign, _ := ed25519.GenerateKey(rand.Reader)
	return &TestDevice{Enc: enc, Sign: sign, ID: protocol.DeviceID(sign.Public().(ed25519.PublicKey))}
}

// Listed returns the device as a device list names it.
func (d *TestDevice) Listed() protocol.ListedDevice {
	return protocol.ListedDevice{ID: d.ID, Enc: d.Enc.PublicKey().Bytes(), Sign: d.Sign.Public().(ed25519.PublicKey)}
}

// SignedList returns user's device list of the given version with devs,
// sorted by id and signed by signer.
func SignedList(user, version int64, signer *TestDevice, devs ...protocol.ListedDevice) *protocol.DeviceList {
	l := &protocol.DeviceList{User: user, Version: version, Devices: devs, Signer: signer.ID}
	for i := 1; i < len(l.Devices); i++ {
		for j := i; j > 0 && l.Devices[j].ID < l.Devices[j-1].ID; j-- {
			l.Devices[j], l.Devices[j-1] = l.Devices[j-1], l.Devices[j]
		}
	}
	l.Sig = ed25519.Sign(signer.Sign, l.SignedBytes())
	return l
}

// Itoa formats an id for a path.
func Itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// DecodeB64 decodes standard base64, failing the test on bad input.
func DecodeB64(t *testing.T, s string) []byte {
	t.Helper()
	var b []byte
	if err := json.Unmarshal([]byte(`"`+s+`"`), &b); err != nil {
		t.Fatal(err)
	}
	return b
}

// consoleToken makes a user of the given admin level and a session for it
// confirmed with a second factor, as the console requires by default.
func (f *Fixture) ConsoleToken(name, level string) string {
	f.T.Helper()
	u := &model.User{Username: name, Display: strings.ToUpper(name), Role: model.RoleStaff, State: model.StateActive,
		AdminLevel: level, PasswordHash: "x"}
	if err := f.Store.CreateUser(context.Background(), u); err != nil {
		f.T.Fatal(err)
	}
	f.Users[name] = u
	raw := make([]byte, 32)
	rand.Read(raw)
	tok := base64.RawURLEncoding.EncodeToString(raw)
	if err := f.Store.CreateSessionFrom(context.Background(), auth.HashToken(tok), u.ID, time.Now().Add(time.Hour).UnixMilli(), "totp", "127.0.0.1"); err != nil {
		f.T.Fatal(err)
	}
	return tok
}

// MFASession makes a new session for the existing user name, confirmed
// with a second factor, as a sign-in through the second step would.
func (f *Fixture) MFASession(name string) string {
	f.T.Helper()
	raw := make([]byte, 32)
	rand.Read(raw)
	tok := base64.RawURLEncoding.EncodeToString(raw)
	if err := f.Store.CreateSessionFrom(context.Background(), auth.HashToken(tok), f.Users[name].ID, time.Now().Add(time.Hour).UnixMilli(), "totp", "127.0.0.1"); err != nil {
		f.T.Fatal(err)
	}
	return tok
}

// get sends a GET and returns the raw response.
func (f *Fixture) Get(path, token string) (*http.Response, []byte) {
	f.T.Helper()
	req, _ := http.NewRequest("GET", f.Srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := f.Srv.Client().Do(req)
	if err != nil {
		f.T.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// SeqsOf returns the seqs of the entries of an audit answer.
func SeqsOf(out map[string]any) []int64 {
	var s []int64
	for _, e := range out["entries"].([]any) {
		s = append(s, int64(e.(map[string]any)["seq"].(float64)))
	}
	return s
}

// consoleUser adds a user with an admin level to the Fixture.
func (f *Fixture) ConsoleUser(name, level string) {
	f.T.Helper()
	hash, _ := auth.HashPassword(TestPassword)
	u := &model.User{Username: name, Display: name, Role: model.RoleStaff, State: model.StateActive, AdminLevel: level, PasswordHash: hash}
	if err := f.Store.CreateUser(context.Background(), u); err != nil {
		f.T.Fatal(err)
	}
	f.Users[name] = u
}

// RoleUser adds a user with a role and no admin level to the Fixture.
func (f *Fixture) RoleUser(name, role string) {
	f.T.Helper()
	hash, _ := auth.HashPassword(TestPassword)
	u := &model.User{Username: name, Display: strings.ToUpper(name), Role: role, State: model.StateActive, PasswordHash: hash}
	if err := f.Store.CreateUser(context.Background(), u); err != nil {
		f.T.Fatal(err)
	}
	f.Users[name] = u
}

// AuditRows returns the audit log's (action, target, actor name, outcome)
// rows, read straight from the database file.
func AuditRows(t *testing.T, st *store.Store) [][4]string {
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

// RefuseAudit makes the audit table refuse every insert, through a
// connection of its own, until the returned function is called: every
// action that records itself then fails whole.
func RefuseAudit(t *testing.T, st *store.Store) (allow func()) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+st.Path()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TRIGGER audit_refuse BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit refused'); END`); err != nil {
		t.Fatal(err)
	}
	return func() {
		defer db.Close()
		if _, err := db.Exec(`DROP TRIGGER audit_refuse`); err != nil {
			t.Fatal(err)
		}
	}
}

// HasAudit reports whether rows has want.
func HasAudit(rows [][4]string, want [4]string) bool {
	for _, r := range rows {
		if r == want {
			return true
		}
	}
	return false
}

// NewConsole is a server with one user of each console level (owner,
// admin, helpdesk) and two staff members with no level: sam, who signs in,
// and tess, the target of user routes. MFA is not required, so password sessions
// reach the console; TestConsoleNeedsMFA covers the default policy.
func NewConsole(t *testing.T) (*Fixture, map[string]string) {
	t.Helper()
	f := New(t, "sam", "tess")
	f.Auth.SetLoginLimit(0, 1000) // these tests sign in and accept links far more than a person would
	ctx := context.Background()
	hash, _ := auth.HashPassword(TestPassword)
	for _, lv := range []string{model.LevelOwner, model.LevelAdmin, model.LevelHelpdesk} {
		u := &model.User{Username: lv, Display: lv, Role: model.RoleStaff, State: model.StateActive, AdminLevel: lv, PasswordHash: hash}
		if err := f.Store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		f.Users[lv] = u
	}
	if err := f.Store.SetPolicy(ctx, map[string]string{"mfa_required": ""}); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{"": ""}
	for _, n := range []string{"sam", model.LevelOwner, model.LevelAdmin, model.LevelHelpdesk} {
		tokens[n] = f.Login(n)
	}
	return f, tokens
}

// raw sends a request with any body and returns the status and body.
func (f *Fixture) Raw(method, path, token, ctype, body string) (int, string) {
	f.T.Helper()
	code, b := f.Send("", method, path, token, ctype, strings.NewReader(body))
	return code, string(b)
}

// UserLevel returns the admin level of the fixture user name.
func (f *Fixture) UserLevel(name string) string { return f.Users[name].AdminLevel }

// TokenOf returns the token in an invitation link's fragment.
func TokenOf(t *testing.T, url string) string {
	t.Helper()
	_, tok, ok := strings.Cut(url, "/welcome#invite=")
	if !ok || len(tok) < 40 {
		t.Fatalf("invitation url %q", url)
	}
	return tok
}

// NewMFA is a Fixture whose per-address sign-in limiter does not get in
// the way of a test that signs in many times from one address.
func NewMFA(t *testing.T, names ...string) *Fixture {
	f := New(t, names...)
	f.Auth.SetLoginLimit(0, 10000)
	// Start the server's TOTP clock one second into a step, so that a test
	// (which steps the clock itself with tick) never sees the real clock
	// cross into the next step between making a code and sending it.
	now := time.Now()
	next := time.Unix((now.Unix()/auth.TOTPPeriod+1)*auth.TOTPPeriod+1, 0)
	f.Auth.ShiftClock(next.Sub(now))
	return f
}

// tick moves the server's TOTP clock to the next step, so that a fresh
// code exists without waiting.
func (f *Fixture) Tick() { f.Auth.ShiftClock(auth.TOTPPeriod * time.Second) }

// code is the TOTP code for secret at the server's clock.
func (f *Fixture) Code(secret string) string { return TOTPAt(f.T, secret, f.Auth.Now()) }

// enrollTOTP sets up TOTP for the session's user and returns the secret
// and the recovery codes.
func (f *Fixture) EnrollTOTP(token string) (string, []string) {
	f.T.Helper()
	code, out := f.Do("POST", "/api/v1/me/mfa/totp", token, nil)
	if code != 200 {
		f.T.Fatalf("begin totp: %d %v", code, out)
	}
	secret := out["secret"].(string)
	if uri := out["uri"].(string); !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "secret="+secret) {
		f.T.Fatalf("uri %q", uri)
	}
	code, out = f.Do("POST", "/api/v1/me/mfa/totp/confirm", token, map[string]string{"code": f.Code(secret)})
	if code != 200 {
		f.T.Fatalf("confirm totp: %d %v", code, out)
	}
	f.Tick() // the step just used is spent
	var rc []string
	for _, c := range out["recovery_codes"].([]any) {
		rc = append(rc, c.(string))
	}
	return secret, rc
}

// TOTPAt returns the TOTP code for secret at the time at.
func TOTPAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, auth.TOTPOpts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongTOTP is a 6-digit code that no step near the server's clock has.
func (f *Fixture) WrongTOTP(secret string) string {
	t := f.T
	now := f.Auth.Now()
	near := map[string]bool{}
	for d := -2; d <= 2; d++ {
		near[TOTPAt(t, secret, now.Add(time.Duration(d*auth.TOTPPeriod)*time.Second))] = true
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
func (f *Fixture) PasswordStep(name string) map[string]any {
	f.T.Helper()
	code, out := f.Do("POST", "/api/v1/login", "", map[string]string{"username": name, "password": TestPassword})
	if code != 200 || out["mfa"] == nil {
		f.T.Fatalf("login %s: want the second step, got %d %v", name, code, out)
	}
	if _, has := out["token"]; has {
		f.T.Fatalf("a session token before the second step: %v", out)
	}
	if _, has := out["user"]; has {
		f.T.Fatalf("user details before the second step: %v", out)
	}
	return out["mfa"].(map[string]any)
}

// MFAAuditRows reads the audit log's rows straight from the database.
func MFAAuditRows(t *testing.T, st *store.Store) []store.AuditEntry {
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

// FindAudit returns the first entry of rows with action whose detail
// contains detailPart, or nil.
func FindAudit(rows []store.AuditEntry, action, detailPart string) *store.AuditEntry {
	for i := range rows {
		if rows[i].Action == action && strings.Contains(rows[i].Detail, detailPart) {
			return &rows[i]
		}
	}
	return nil
}

// SoftAuthenticator is a minimal WebAuthn authenticator (ES256, "none"
// attestation), enough to run real ceremonies against the server.
type SoftAuthenticator struct {
	ID    []byte // the credential id
	key   *ecdsa.PrivateKey
	count uint32
}

// NewSoftAuthenticator returns a passkey authenticator with a fresh P-256
// key, answering as a browser would.
func NewSoftAuthenticator() *SoftAuthenticator {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	id := make([]byte, 16)
	rand.Read(id)
	return &SoftAuthenticator{ID: id, key: k}
}

// B64u is the unpadded base64url WebAuthn uses.
var B64u = base64.RawURLEncoding

// ClientData returns the client data JSON a browser signs for a WebAuthn
// ceremony of type typ.
func ClientData(t *testing.T, typ string, opts map[string]any, origin string) []byte {
	pk := opts["publicKey"].(map[string]any)
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": pk["challenge"], "origin": origin, "crossOrigin": false})
	return b
}

// AuthData returns authenticator data for rpID with flags and the attested
// credential data (nil for an assertion).
func (s *SoftAuthenticator) AuthData(rpID string, flags byte, attested []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	s.count++
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, s.count)
	return append(out, attested...)
}

// Create answers a registration's options as the browser would.
func (s *SoftAuthenticator) Create(t *testing.T, opts map[string]any, origin string) map[string]any {
	t.Helper()
	rpID := opts["publicKey"].(map[string]any)["rp"].(map[string]any)["id"].(string)
	x, y := s.key.X.FillBytes(make([]byte, 32)), s.key.Y.FillBytes(make([]byte, 32))
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	if err != nil {
		t.Fatal(err)
	}
	att := make([]byte, 16) // zero AAGUID
	att = binary.BigEndian.AppendUint16(att, uint16(len(s.ID)))
	att = append(append(att, s.ID...), cose...)
	ad := s.AuthData(rpID, 0x45, att) // UP, UV, AT
	obj, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"id": B64u.EncodeToString(s.ID), "rawId": B64u.EncodeToString(s.ID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": B64u.EncodeToString(ClientData(t, "webauthn.create", opts, origin)), "attestationObject": B64u.EncodeToString(obj)}}
}

// Get answers a sign-in's options as the browser would.
func (s *SoftAuthenticator) Get(t *testing.T, opts map[string]any, origin string, userHandle []byte) map[string]any {
	t.Helper()
	rpID := opts["publicKey"].(map[string]any)["rpId"].(string)
	cd := ClientData(t, "webauthn.get", opts, origin)
	ad := s.AuthData(rpID, 0x05, nil) // UP, UV
	ch := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), ch[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"id": B64u.EncodeToString(s.ID), "rawId": B64u.EncodeToString(s.ID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": B64u.EncodeToString(cd), "authenticatorData": B64u.EncodeToString(ad),
			"signature": B64u.EncodeToString(sig), "userHandle": B64u.EncodeToString(userHandle)}}
}

// login2 signs in a user who has TOTP, answering the second step with a
// code from the stored secret.
func (f *Fixture) Login2(t *testing.T, name string) string {
	t.Helper()
	ch := f.PasswordStep(name)
	tot, err := f.Store.TOTPOf(context.Background(), f.Users[name].ID)
	if err != nil {
		t.Fatal(err)
	}
	f.Tick()
	code, out := f.Do("POST", "/api/v1/login/mfa", "", map[string]string{"token": ch["token"].(string), "code": f.Code(tot.Secret)})
	if code != 200 {
		t.Fatalf("login2 %s: %d %v", name, code, out)
	}
	return out["token"].(string)
}

// WipeCheck asks for device id's wipe command as that device does, with no
// session: it takes a nonce and signs it with signer's key (the device's
// own, or another to play a stranger). It returns the status and body.
func (f *Fixture) WipeCheck(id int64, signer ed25519.PrivateKey) (int, []byte) {
	f.T.Helper()
	path := "/api/v1/devices/" + Itoa(id) + "/wipe"
	code, ch := f.Do("POST", path+"/challenge", "", map[string]any{})
	if code != http.StatusOK {
		f.T.Fatalf("wipe challenge of device %d: %d %v", id, code, ch)
	}
	nonce := DecodeB64(f.T, ch["nonce"].(string))
	b, _ := json.Marshal(map[string]any{"nonce": nonce, "sig": ed25519.Sign(signer, protocol.WipeCheckBytes(id, nonce))})
	return f.Send("", "POST", path, "", "application/json", bytes.NewReader(b))
}

// AddDevice registers dev for user on session newTok, when user has active
// devices already: the request, the approval exchange run by approver
// (the device bound to session approverTok) and approver's counter-signed
// list of version, naming devs (which include dev). It returns the status
// and body of the approval.
func (f *Fixture) AddDevice(user int64, newTok string, dev *TestDevice, approverTok string, approver *TestDevice, version int64, devs ...protocol.ListedDevice) (int, map[string]any) {
	f.T.Helper()
	nonceN, nonceE := make([]byte, protocol.ApprovalNonceSize), make([]byte, protocol.ApprovalNonceSize)
	rand.Read(nonceN)
	rand.Read(nonceE)
	self := SignedList(user, version, dev, devs...)
	if code, out := f.Do("POST", "/api/v1/devices", newTok, map[string]any{"name": "device " + Itoa(dev.ID), "list": self, "commit": protocol.ApprovalCommit(nonceN)}); code != http.StatusAccepted {
		f.T.Fatalf("request device %d: %d %v", dev.ID, code, out)
	}
	path := "/api/v1/devices/requests/" + Itoa(dev.ID)
	if code, out := f.Do("POST", path+"/answer", approverTok, map[string]any{"nonce": nonceE}); code != http.StatusOK {
		f.T.Fatalf("answer device %d: %d %v", dev.ID, code, out)
	}
	if code, out := f.Do("POST", "/api/v1/devices/me/request/reveal", newTok, map[string]any{"nonce": nonceN}); code != http.StatusOK {
		f.T.Fatalf("reveal device %d: %d %v", dev.ID, code, out)
	}
	return f.Do("POST", path+"/approve", approverTok, map[string]any{"list": SignedList(user, version, approver, devs...)})
}
