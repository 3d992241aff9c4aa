package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/protocol"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/model"
)

// consoleFixture is a server with one user of each console level (owner,
// admin, helpdesk) and two staff members with no level: sam, who signs in,
// and tess, the target of user routes. MFA is not required, so password sessions
// reach the console; TestConsoleNeedsMFA covers the default policy.
func consoleFixture(t *testing.T) (*fixture, map[string]string) {
	t.Helper()
	f := newFixture(t, "sam", "tess")
	f.auth.SetLoginLimit(0, 1000) // these tests sign in and accept links far more than a person would
	ctx := context.Background()
	hash, _ := auth.HashPassword(testPassword)
	for _, lv := range []string{model.LevelOwner, model.LevelAdmin, model.LevelHelpdesk} {
		u := &model.User{Username: lv, Display: lv, Role: model.RoleStaff, State: model.StateActive, AdminLevel: lv, PasswordHash: hash}
		if err := f.st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		f.users[lv] = u
	}
	if err := f.st.SetPolicy(ctx, map[string]string{"mfa_required": ""}); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{"": ""}
	for _, n := range []string{"sam", model.LevelOwner, model.LevelAdmin, model.LevelHelpdesk} {
		tokens[n] = f.login(n)
	}
	return f, tokens
}

// raw sends a request with any body and returns the status and body.
func (f *fixture) raw(method, path, token, ctype, body string) (int, string) {
	f.t.Helper()
	code, b := f.send("", method, path, token, ctype, strings.NewReader(body))
	return code, string(b)
}

func (f *fixture) userLevel(name string) string { return f.users[name].AdminLevel }

// TestConsoleNeedsMFA checks the default policy: an administrator whose
// sign-in was not confirmed with a second factor gets no console route.
func TestConsoleNeedsMFA(t *testing.T) {
	f, tokens := consoleFixture(t)
	if err := f.st.SetPolicy(context.Background(), map[string]string{"mfa_required": "owner|admin|helpdesk"}); err != nil {
		t.Fatal(err)
	}
	// With no factor at all, the session may only set one up.
	own := tokens[model.LevelOwner]
	code, out := f.do("GET", "/api/v1/admin/users", own, nil)
	if code != http.StatusForbidden || errCode(out) != string(protocol.CodeEnrollRequired) {
		t.Fatalf("owner without a factor: %d %v; want 403 mfa_enrollment_required", code, out)
	}
	// Once a factor is set up in another session, this password-only
	// session is still not good enough for the console.
	f.enrollTOTP(f.login(model.LevelOwner))
	code, out = f.do("GET", "/api/v1/admin/users", own, nil)
	if code != http.StatusForbidden || errCode(out) != string(protocol.CodeMFARequired) {
		t.Fatalf("password-only owner session: %d %v; want 403 mfa_required", code, out)
	}
}

// TestConsoleNetworks checks the admin_networks policy, and that an
// administrator cannot set one that shuts themselves out.
func TestConsoleNetworks(t *testing.T) {
	f, tokens := consoleFixture(t)
	own := tokens[model.LevelOwner]
	code, out := f.do("PUT", "/api/v1/admin/policy", own, map[string]any{"values": map[string]string{"admin_networks": "10.0.0.0/8"}})
	if code != http.StatusConflict {
		t.Fatalf("a range without the caller's address: %d %v; want 409", code, out)
	}
	if code, out = f.do("PUT", "/api/v1/admin/policy", own, map[string]any{"values": map[string]string{"admin_networks": "127.0.0.0/8|10.1.2.3"}}); code != 200 {
		t.Fatalf("loopback and one host: %d %v", code, out)
	}
	if v := out["values"].(map[string]any)["admin_networks"]; v != `["127.0.0.0/8","10.1.2.3/32"]` {
		t.Fatalf("stored ranges %v", v)
	}
	f.st.SetPolicy(context.Background(), map[string]string{"admin_networks": "10.0.0.0/8"}) // as the CLI could
	code, out = f.do("GET", "/api/v1/admin/users", own, nil)
	if code != http.StatusForbidden || errCode(out) != string(protocol.CodeNetwork) {
		t.Fatalf("from outside the ranges: %d %v; want 403 forbidden_network", code, out)
	}
	// The messaging API is not the console: it still works.
	if code, _ := f.do("GET", "/api/v1/me", own, nil); code != 200 {
		t.Fatalf("/me outside the console ranges: %d", code)
	}
}
