package console_test

import (
	"context"
	"testing"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/apitest"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/store"
)

func TestMFAResetByAdmin(t *testing.T) {
	f := apitest.NewMFA(t, "alice", "root", "help", "boss")
	ctx := context.Background()
	set := func(name, level string) {
		u := f.Users[name]
		if _, err := f.Store.UpdateUser(ctx, u.ID, store.UserUpdate{AdminLevel: &level}); err != nil {
			t.Fatal(err)
		}
	}
	set("root", model.LevelAdmin)
	set("help", model.LevelHelpdesk)
	set("boss", model.LevelOwner)
	alice := f.Users["alice"]
	aliceTok := f.Login("alice")
	f.EnrollTOTP(aliceTok)

	// An admin's console needs a confirmed sign-in: enroll first.
	rootTok := f.Login("root")
	path := "/api/v1/admin/users/" + apitest.Itoa(alice.ID) + "/mfa/reset"
	if code, out := f.Do("POST", path, rootTok, nil); code != 403 {
		t.Fatalf("unconfirmed admin: %d %v", code, out)
	}
	f.EnrollTOTP(rootTok)
	helpTok := f.Login("help")
	f.EnrollTOTP(helpTok)
	if code, out := f.Do("POST", path, helpTok, nil); code != 403 {
		t.Fatalf("helpdesk reset: %d %v", code, out)
	}
	bossTok := f.Login("boss")
	f.EnrollTOTP(bossTok)
	if code, out := f.Do("POST", "/api/v1/admin/users/"+apitest.Itoa(f.Users["boss"].ID)+"/mfa/reset", rootTok, nil); code != 403 {
		t.Fatalf("admin resets an owner: %d %v", code, out)
	}
	if code, out := f.Do("POST", "/api/v1/admin/users/999999/mfa/reset", rootTok, nil); code != 404 {
		t.Fatalf("no such user: %d %v", code, out)
	}
	code, out := f.Do("POST", path, rootTok, nil)
	if code != 200 || out["revoked_sessions"] != float64(1) {
		t.Fatalf("reset: %d %v", code, out)
	}
	if rm := out["removed"].(map[string]any); rm["totp"] != true || rm["recovery_codes"] != float64(10) {
		t.Fatalf("removed: %v", rm)
	}
	if m, _ := f.Store.MFAStatusOf(ctx, alice.ID); m.Has() || m.RecoveryLeft != 0 {
		t.Fatalf("after reset: %+v", m)
	}
	// Alice's session ended; her password alone signs her in again.
	if code, _ := f.Do("GET", "/api/v1/me", aliceTok, nil); code != 401 {
		t.Fatalf("alice's old session: %d", code)
	}
	f.Login("alice")
	// The user detail shows the factors.
	_, out = f.Do("GET", "/api/v1/admin/users/"+apitest.Itoa(f.Users["root"].ID), rootTok, nil)
	if m, _ := out["mfa"].(map[string]any); m["totp"] != true {
		t.Fatalf("user detail mfa: %v", out)
	}
	rows := apitest.MFAAuditRows(t, f.Store)
	e := apitest.FindAudit(rows, "mfa.reset", `"totp":true`)
	if e == nil || e.Target != auth.UserTarget(alice.ID) || e.Actor != f.Users["root"].ID || e.Outcome != store.OutcomeOK {
		t.Fatalf("mfa.reset entry %+v", e)
	}
	if apitest.FindAudit(rows, "mfa.reset", `"level"`) == nil {
		t.Fatal("the refused reset of an owner is not audited")
	}
	// Logging out is audited.
	f.Do("POST", "/api/v1/logout", rootTok, nil)
	if e := apitest.FindAudit(apitest.MFAAuditRows(t, f.Store), "logout", ""); e == nil || e.Actor != f.Users["root"].ID {
		t.Fatalf("logout entry %+v", e)
	}
}
