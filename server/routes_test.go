package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/apitest"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
)

// accessLevel is the admin level a console access needs, for comparing
// with a caller's.
var accessLevel = map[web.Access]string{web.Helpdesk: model.LevelHelpdesk, web.Admin: model.LevelAdmin, web.Owner: model.LevelOwner}

// TestRoutesByAccess walks the whole HTTP surface, every route of the one
// table Run mounts, as nobody, as a user who must still set up a second
// factor, as a staff member without a device, and as each console level,
// and checks that the guard lets in exactly those the route's access
// allows. A route added without the right access fails here.
func TestRoutesByAccess(t *testing.T) {
	f, tokens := apitest.NewConsole(t)
	ctx := context.Background()
	// pat must set up a second factor before anything else.
	hash, _ := auth.HashPassword(apitest.TestPassword)
	pat := &model.User{Username: "pat", Display: "Pat", Role: model.RolePatient, State: model.StateActive, PasswordHash: hash}
	if err := f.Store.CreateUser(ctx, pat); err != nil {
		t.Fatal(err)
	}
	if err := f.Store.SetPolicy(ctx, map[string]string{"mfa_required": "patient"}); err != nil {
		t.Fatal(err)
	}
	tokens["pat"] = f.Login("pat")
	f.Users["pat"] = pat
	gid, err := f.Store.CreateGroup(ctx, "Front desk")
	if err != nil {
		t.Fatal(err)
	}

	if len(f.Routes) < 60 {
		t.Fatalf("only %d routes in the table", len(f.Routes))
	}
	seen := map[string]bool{}
	who := []string{"", "pat", "sam", model.LevelHelpdesk, model.LevelAdmin, model.LevelOwner}
	for _, rt := range f.Routes {
		if seen[rt.Pattern] {
			t.Errorf("%s is in the table twice", rt.Pattern)
		}
		seen[rt.Pattern] = true
		method, path, ok := strings.Cut(rt.Pattern, " ")
		if !ok {
			method, path = "GET", rt.Pattern+"no-such-endpoint"
		}
		if rt.Access >= web.Helpdesk && !strings.HasPrefix(path, "/api/v1/admin/") {
			t.Errorf("%s: console routes live under /api/v1/admin/", rt.Pattern)
		}
		if strings.HasPrefix(path, "/api/v1/admin/") && rt.Access < web.Helpdesk {
			t.Errorf("%s: under /api/v1/admin/ with access %s", rt.Pattern, rt.Access)
		}
		if strings.Contains(path, "/groups/{id}") {
			path = strings.ReplaceAll(path, "{id}", apitest.Itoa(gid))
		}
		r := strings.NewReplacer("{id}", apitest.Itoa(f.Users["tess"].ID), "{username}", "tess", "{$}", "")
		path = r.Replace(path)
		for _, w := range who {
			if method == "DELETE" && w == model.LevelOwner {
				continue // keep the group and others for the rest of the walk; owners pass the check as admins do
			}
			if rt.Pattern == "POST /api/v1/logout" && w != "" {
				continue // would end the session the rest of the walk uses
			}
			code, body := f.Raw(method, path, tokens[w], "application/json", "{}")
			var out map[string]any
			json.Unmarshal([]byte(body), &out)
			checkAdmission(t, f, rt, w, code, apitest.ErrCode(out), body)
		}
	}
}

// checkAdmission checks one answer of the walk: whether the guard let the
// caller w through to route rt.
func checkAdmission(t *testing.T, f *apitest.Fixture, rt web.Route, w string, code int, ecode, body string) {
	t.Helper()
	refusedSession := code == http.StatusUnauthorized && ecode == "unauthorized"
	refusedEnrol := ecode == "mfa_enrollment_required"
	refusedLevel := code == http.StatusForbidden && (strings.Contains(body, "administrator") || ecode == "mfa_required" || ecode == "forbidden_network")
	refusedDevice := code == http.StatusForbidden && strings.Contains(body, "register a device")
	if code >= 500 {
		t.Errorf("%s as %q: %d %s", rt.Pattern, w, code, body)
		return
	}
	switch {
	case rt.Access == web.Public:
		if refusedSession || refusedEnrol || refusedLevel || refusedDevice {
			t.Errorf("%s is public, yet %q was refused: %d %s", rt.Pattern, w, code, body)
		}
	case w == "":
		if !refusedSession {
			t.Errorf("%s with no session: %d %s; want 401 unauthorized", rt.Pattern, code, body)
		}
	case w == "pat":
		if want := rt.Access > web.Enrolling; want != refusedEnrol {
			t.Errorf("%s (%s) for a session that must set up a second factor: %d %s", rt.Pattern, rt.Access, code, body)
		}
	case rt.Access == web.Device:
		if !refusedDevice {
			t.Errorf("%s for a session without a device: %d %s; want 403", rt.Pattern, code, body)
		}
	case rt.Access >= web.Helpdesk:
		low := model.LevelRank(f.UserLevel(w)) < model.LevelRank(accessLevel[rt.Access])
		if low != refusedLevel {
			t.Errorf("%s (%s) as %s: %d %s; refused: %v, want %v", rt.Pattern, rt.Access, w, code, body, refusedLevel, low)
		}
	default:
		if refusedSession || refusedEnrol || refusedLevel || refusedDevice {
			t.Errorf("%s (%s) as %s was refused: %d %s", rt.Pattern, rt.Access, w, code, body)
		}
	}
}
