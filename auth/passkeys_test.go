package auth_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/apitest"
)

func TestPasskeys(t *testing.T) {
	f := apitest.NewMFA(t, "alice", "carol")
	ctx := context.Background()
	alice := f.Users["alice"]
	tok := f.Login("alice")
	host := "localhost"
	origin := "http://localhost"

	// An IP address cannot be a relying party.
	if code, out := f.Do("POST", "/api/v1/me/passkeys/begin", tok, nil); code != 400 || apitest.ErrCode(out) != "passkey_unavailable" {
		t.Fatalf("begin on an IP: %d %v", code, out)
	}
	// Finish without begin, and bad bodies.
	if code, out := f.DoHost(host, "POST", "/api/v1/me/passkeys/finish", tok, map[string]any{"name": "x", "credential": map[string]any{}}); code != 409 {
		t.Fatalf("finish without begin: %d %v", code, out)
	}
	if code, out := f.DoHost(host, "POST", "/api/v1/me/passkeys/finish", tok, map[string]any{"name": "", "credential": map[string]any{}}); code != 400 {
		t.Fatalf("no name: %d %v", code, out)
	}
	code, out := f.DoHost(host, "POST", "/api/v1/me/passkeys/begin", tok, nil)
	if code != 200 {
		t.Fatal(code, out)
	}
	if code, out := f.DoHost(host, "POST", "/api/v1/me/passkeys/finish", tok, map[string]any{"name": "Laptop", "credential": map[string]any{"id": "AAAA", "type": "public-key"}}); code != 400 || apitest.ErrCode(out) != "passkey_failed" {
		t.Fatalf("garbage credential: %d %v", code, out)
	}
	// A ceremony answered for another origin is refused.
	authr := apitest.NewSoftAuthenticator()
	_, out = f.DoHost(host, "POST", "/api/v1/me/passkeys/begin", tok, nil)
	if code, out := f.DoHost(host, "POST", "/api/v1/me/passkeys/finish", tok, map[string]any{"name": "Laptop", "credential": authr.Create(t, out["options"].(map[string]any), "http://evil.example")}); code != 400 || apitest.ErrCode(out) != "passkey_failed" {
		t.Fatalf("wrong origin: %d %v", code, out)
	}
	// A real registration.
	_, out = f.DoHost(host, "POST", "/api/v1/me/passkeys/begin", tok, nil)
	opts := out["options"].(map[string]any)
	if rp := opts["publicKey"].(map[string]any)["rp"].(map[string]any); rp["id"] != "localhost" {
		t.Fatalf("rp %v", rp)
	}
	code, out = f.DoHost(host, "POST", "/api/v1/me/passkeys/finish", tok, map[string]any{"name": "Laptop", "credential": authr.Create(t, opts, origin)})
	if code != 201 || len(out["recovery_codes"].([]any)) != 10 {
		t.Fatalf("register: %d %v", code, out)
	}
	pkID := out["passkey"].(map[string]any)["id"].(string)
	if _, out = f.Do("GET", "/api/v1/me", tok, nil); out["mfa"] != "passkey" {
		t.Fatalf("session after adding a passkey: %v", out)
	}
	if _, out = f.Do("GET", "/api/v1/me/passkeys", tok, nil); len(out["passkeys"].([]any)) != 1 {
		t.Fatalf("list: %v", out)
	}

	// A session signed in with the password alone (from before the first
	// factor) cannot add another factor.
	raw := make([]byte, 32)
	rand.Read(raw)
	bare := apitest.B64u.EncodeToString(raw)
	if err := f.Store.CreateSessionFrom(ctx, auth.HashToken(bare), alice.ID, time.Now().Add(time.Hour).UnixMilli(), "", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if code, out := f.DoHost(host, "POST", "/api/v1/me/passkeys/begin", bare, nil); code != 403 || apitest.ErrCode(out) != "mfa_required" {
		t.Fatalf("password-only session adds a passkey: %d %v", code, out)
	}
	if code, out := f.Do("POST", "/api/v1/me/mfa/totp", bare, nil); code != 403 || apitest.ErrCode(out) != "mfa_required" {
		t.Fatalf("password-only session adds totp: %d %v", code, out)
	}

	// Sign-in: the password asks for the passkey.
	ch := f.PasswordStep("alice")
	if got := ch["methods"].([]any); !slices.Equal(got, []any{"recovery", "passkey"}) {
		t.Fatalf("methods %v", got)
	}
	ptok := ch["token"].(string)
	if code, out := f.DoHost(host, "POST", "/api/v1/login/passkey/finish", "", map[string]any{"token": ptok, "credential": map[string]any{}}); code != 400 {
		t.Fatalf("finish before begin: %d %v", code, out)
	}
	if code, out := f.DoHost(host, "POST", "/api/v1/login/passkey/begin", "", map[string]any{"token": "nope"}); code != 401 || apitest.ErrCode(out) != "mfa_expired" {
		t.Fatalf("begin with a bad token: %d %v", code, out)
	}
	_, out = f.DoHost(host, "POST", "/api/v1/login/passkey/begin", "", map[string]any{"token": ptok})
	lopts := out["options"].(map[string]any)
	uh := make([]byte, 8)
	binary.BigEndian.PutUint64(uh, uint64(alice.ID))
	// Another authenticator's signature is refused, and counted.
	other := apitest.NewSoftAuthenticator()
	other.ID = authr.ID
	if code, out := f.DoHost(host, "POST", "/api/v1/login/passkey/finish", "", map[string]any{"token": ptok, "credential": other.Get(t, lopts, origin, uh)}); code != 401 || apitest.ErrCode(out) != "wrong_code" {
		t.Fatalf("forged assertion: %d %v", code, out)
	}
	if u, _ := f.Store.UserByID(ctx, alice.ID); u.FailedLogins != 1 {
		t.Fatalf("failed logins %d", u.FailedLogins)
	}
	_, out = f.DoHost(host, "POST", "/api/v1/login/passkey/begin", "", map[string]any{"token": ptok})
	lopts = out["options"].(map[string]any)
	code, out = f.DoHost(host, "POST", "/api/v1/login/passkey/finish", "", map[string]any{"token": ptok, "credential": authr.Get(t, lopts, origin, uh)})
	if code != 200 || out["mfa_confirmed"] != "passkey" || out["token"] == nil {
		t.Fatalf("passkey sign-in: %d %v", code, out)
	}
	pks, _ := f.Store.PasskeysOf(ctx, alice.ID)
	if len(pks) != 1 || pks[0].LastUsed == 0 || !strings.Contains(string(pks[0].Credential), `"signCount":3`) {
		t.Fatalf("passkey after use: %+v %s", pks, pks[0].Credential)
	}
	// Carol (no passkey) cannot begin a passkey sign-in.
	f.EnrollTOTP(f.Login("carol"))
	cch := f.PasswordStep("carol")
	if code, out := f.DoHost(host, "POST", "/api/v1/login/passkey/begin", "", map[string]any{"token": cch["token"]}); code != 409 {
		t.Fatalf("carol: %d %v", code, out)
	}
	// Carol cannot remove alice's passkey; alice can.
	carolTok := f.Login2(t, "carol")
	if code, _ := f.Do("DELETE", "/api/v1/me/passkeys/"+pkID, carolTok, nil); code != 404 {
		t.Fatalf("carol removes alice's passkey: %d", code)
	}
	if code, _ := f.Do("DELETE", "/api/v1/me/passkeys/not*base64", tok, nil); code != 400 {
		t.Fatalf("bad id: %d", code)
	}
	if code, out := f.Do("DELETE", "/api/v1/me/passkeys/"+pkID, tok, nil); code != 204 {
		t.Fatalf("remove: %d %v", code, out)
	}
	if m, _ := f.Store.MFAStatusOf(ctx, alice.ID); m.Has() || m.RecoveryLeft != 0 {
		t.Fatalf("after removing the only passkey: %+v", m)
	}
	rows := apitest.MFAAuditRows(t, f.Store)
	// The log names the passkey by the start of its credential id, never by
	// the name its owner gave it.
	for _, a := range []string{"mfa.passkey_added", "mfa.passkey_used", "mfa.passkey_removed"} {
		if e := apitest.FindAudit(rows, a, `"passkey":"`); e == nil || e.Target != auth.UserTarget(alice.ID) || strings.Contains(e.Detail, "Laptop") {
			t.Errorf("audit entry %s: %+v", a, e)
		}
	}
	if apitest.FindAudit(rows, "login.ok", `"mfa":"passkey"`) == nil || apitest.FindAudit(rows, "login.fail", `"method":"passkey"`) == nil {
		t.Error("passkey sign-in not audited")
	}
}
