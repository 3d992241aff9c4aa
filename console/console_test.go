package console_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/curbside-health/curbside/internal/apitest"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// TestConsoleNeedsMFA checks the default policy: an administrator whose
// sign-in was not confirmed with a second factor gets no console route.
func TestConsoleNeedsMFA(t *testing.T) {
	f, tokens := apitest.NewConsole(t)
	if err := f.Store.SetPolicy(context.Background(), map[string]string{"mfa_required": "owner|admin|helpdesk"}); err != nil {
		t.Fatal(err)
	}
	// With no factor at all, the session may only set one up.
	own := tokens[model.LevelOwner]
	code, out := f.Do("GET", "/api/v1/admin/users", own, nil)
	if code != http.StatusForbidden || apitest.ErrCode(out) != string(protocol.CodeEnrollRequired) {
		t.Fatalf("owner without a factor: %d %v; want 403 mfa_enrollment_required", code, out)
	}
	// Once a factor is set up in another session, this password-only
	// session is still not good enough for the console.
	f.EnrollTOTP(f.Login(model.LevelOwner))
	code, out = f.Do("GET", "/api/v1/admin/users", own, nil)
	if code != http.StatusForbidden || apitest.ErrCode(out) != string(protocol.CodeMFARequired) {
		t.Fatalf("password-only owner session: %d %v; want 403 mfa_required", code, out)
	}
}

// TestConsoleNetworks checks the admin_networks policy, and that an
// administrator cannot set one that shuts themselves out.
func TestConsoleNetworks(t *testing.T) {
	f, tokens := apitest.NewConsole(t)
	own := tokens[model.LevelOwner]
	code, out := f.Do("PUT", "/api/v1/admin/policy", own, map[string]any{"values": map[string]string{"admin_networks": "10.0.0.0/8"}})
	if code != http.StatusConflict {
		t.Fatalf("a range without the caller's address: %d %v; want 409", code, out)
	}
	if code, out = f.Do("PUT", "/api/v1/admin/policy", own, map[string]any{"values": map[string]string{"admin_networks": "127.0.0.0/8|10.1.2.3"}}); code != 200 {
		t.Fatalf("loopback and one host: %d %v", code, out)
	}
	if v := out["values"].(map[string]any)["admin_networks"]; v != `["127.0.0.0/8","10.1.2.3/32"]` {
		t.Fatalf("stored ranges %v", v)
	}
	f.Store.SetPolicy(context.Background(), map[string]string{"admin_networks": "10.0.0.0/8"}) // as the CLI could
	code, out = f.Do("GET", "/api/v1/admin/users", own, nil)
	if code != http.StatusForbidden || apitest.ErrCode(out) != string(protocol.CodeNetwork) {
		t.Fatalf("from outside the ranges: %d %v; want 403 forbidden_network", code, out)
	}
	// The messaging API is not the console: it still works.
	if code, _ := f.Do("GET", "/api/v1/me", own, nil); code != 200 {
		t.Fatalf("/me outside the console ranges: %d", code)
	}
}
