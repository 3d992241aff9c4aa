package api_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/curbside-health/curbside/internal/apitest"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/store"
)

func usernames(t *testing.T, out map[string]any) []string {
	t.Helper()
	var names []string
	for _, u := range out["users"].([]any) {
		names = append(names, u.(map[string]any)["username"].(string))
	}
	slices.Sort(names)
	return names
}

// The directory follows the participation rules: each role finds whom it
// may reach, and answers carry directory entries only.
func TestDirectoryFollowsRules(t *testing.T) {
	f := apitest.New(t, "doc", "nurse")
	f.ConsoleUser("boss", model.LevelOwner)
	f.RoleUser("spec", model.RoleExternal)
	f.RoleUser("pat", model.RolePatient)
	f.RoleUser("pat2", model.RolePatient)
	ctx := context.Background()
	if err := f.Store.Assign(ctx, f.Users["pat"].ID, store.AssignUser, f.Users["doc"].ID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		who  string
		want []string
	}{
		{"pat", []string{"doc", "pat"}},
		{"pat2", []string{"pat2"}},
		{"spec", []string{"boss", "doc", "nurse", "spec"}},
		{"doc", []string{"boss", "doc", "nurse", "pat", "spec"}},
		{"nurse", []string{"boss", "doc", "nurse", "spec"}},
	} {
		code, out := f.Do("GET", "/api/v1/directory", f.Login(tc.who), nil)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %v", tc.who, code, out)
		}
		if got := usernames(t, out); !slices.Equal(got, tc.want) {
			t.Errorf("%s finds %v, want %v", tc.who, got, tc.want)
		}
		for _, u := range out["users"].([]any) {
			for k := range u.(map[string]any) {
				if !slices.Contains([]string{"id", "username", "display", "role"}, k) {
					t.Errorf("%s's directory carries %q", tc.who, k)
				}
			}
		}
	}
}

// A look-up of someone the rules hide answers exactly like a look-up of
// someone who does not exist, by name and by id.
func TestHiddenIsMissing(t *testing.T) {
	f := apitest.New(t, "doc")
	f.RoleUser("pat", model.RolePatient)
	tok := f.Login("pat")
	doc := f.Users["doc"]
	for _, pair := range [][2]string{
		{"/api/v1/users/doc", "/api/v1/users/nobody"},
		{"/api/v1/keys/" + apitest.Itoa(doc.ID), "/api/v1/keys/99999"},
	} {
		hc, hidden := f.Raw("GET", pair[0], tok, "", "")
		mc, missing := f.Raw("GET", pair[1], tok, "", "")
		if hc != http.StatusNotFound || hc != mc || hidden != missing {
			t.Errorf("hidden %s: %d %s; missing %s: %d %s", pair[0], hc, hidden, pair[1], mc, missing)
		}
	}
	f.Store.Assign(context.Background(), f.Users["pat"].ID, store.AssignUser, doc.ID)
	code, out := f.Do("GET", "/api/v1/keys/"+apitest.Itoa(doc.ID), tok, nil)
	if code != http.StatusOK {
		t.Fatalf("care team keys: %d %v", code, out)
	}
	if u := out["user"].(map[string]any); u["email"] != nil || u["state"] != nil || u["created_at"] != nil {
		t.Errorf("keys answer carries more than an entry: %v", u)
	}
}
