package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/curbside-health/curbside/internal/apitest"
	"github.com/curbside-health/curbside/model"
)

// TestSetupLink: with no administrator the server makes a single-use link
// that creates the owner; once one exists there is no link.
func TestSetupLink(t *testing.T) {
	f := apitest.New(t)
	ctx := context.Background()
	link, _, err := f.API.SetupLink(ctx, f.Srv.URL)
	if err != nil || link == "" {
		t.Fatalf("link %q, %v", link, err)
	}
	again, _, _ := f.API.SetupLink(ctx, f.Srv.URL) // a restart prints a new link; the old one stops working
	if code, _ := f.Do("POST", "/api/v1/invitations/accept", "", map[string]string{"token": apitest.TokenOf(t, link), "username": "olga", "display": "Olga Owner", "password": apitest.TestPassword}); code != http.StatusGone {
		t.Fatalf("an older set-up link: %d", code)
	}
	code, out := f.Do("POST", "/api/v1/invitations/show", "", map[string]string{"token": apitest.TokenOf(t, again)})
	if code != 200 || out["invitation"].(map[string]any)["kind"] != "setup" || out["practice"] != nil {
		t.Fatalf("show: %d %v", code, out)
	}
	// With a practice name, the link's page names the practice.
	if err := f.Store.SetPolicy(ctx, map[string]string{"practice_name": "Northside Health Centre"}); err != nil {
		t.Fatal(err)
	}
	if code, out = f.Do("POST", "/api/v1/invitations/show", "", map[string]string{"token": apitest.TokenOf(t, again)}); code != 200 || out["practice"] != "Northside Health Centre" {
		t.Fatalf("show with a practice name: %d %v", code, out)
	}
	if code, out = f.Do("POST", "/api/v1/invitations/accept", "", map[string]string{"token": apitest.TokenOf(t, again), "username": "olga", "display": "Olga Owner", "password": apitest.TestPassword}); code != 200 {
		t.Fatalf("accept: %d %v", code, out)
	}
	u, _ := f.Store.UserByName(ctx, "olga")
	if u.AdminLevel != model.LevelOwner {
		t.Fatalf("olga's level %q", u.AdminLevel)
	}
	if link, _, _ := f.API.SetupLink(ctx, f.Srv.URL); link != "" {
		t.Fatalf("a set-up link while an owner exists: %q", link)
	}
	var n int
	f.Store.ReadDB().QueryRow(`SELECT count(*) FROM audit WHERE action = 'setup.owner'`).Scan(&n)
	if n != 1 {
		t.Fatalf("%d setup.owner audit entries", n)
	}
}

// TestAcceptHashesInsideTheCap: accepting a link hashes the new password
// with argon2id (46 MiB), so it takes a slot of the cap that sign-ins'
// checks share. With every slot taken the answer is unavailable and the
// link still works; once a slot is free, it is accepted.
func TestAcceptHashesInsideTheCap(t *testing.T) {
	f := apitest.New(t)
	link, _, err := f.API.SetupLink(context.Background(), f.Srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]string{"token": apitest.TokenOf(t, link), "username": "olga", "display": "Olga Owner", "password": apitest.TestPassword}
	release := f.Auth.HoldHashSlots()
	code, out := f.Do("POST", "/api/v1/invitations/accept", "", body)
	release()
	if code != http.StatusServiceUnavailable || apitest.ErrCode(out) != "unavailable" {
		t.Fatalf("accept with every hashing slot taken: %d %v", code, out)
	}
	if code, out := f.Do("POST", "/api/v1/invitations/accept", "", body); code != 200 {
		t.Fatalf("accept with a slot free: %d %v", code, out)
	}
}
