package console_test

import (
	"strings"
	"testing"

	"github.com/curbside-health/curbside/internal/apitest"
	"github.com/curbside-health/curbside/model"
)

// graceNote returns the note the policy page shows under offline_grace.
func graceNote(t *testing.T, f *apitest.Fixture, tok string) (value, note string) {
	t.Helper()
	code, out := f.Do("GET", "/api/v1/admin/policy", tok, nil)
	if code != 200 {
		t.Fatalf("policy: %d %v", code, out)
	}
	for _, x := range out["fields"].([]any) {
		if fl := x.(map[string]any); fl["key"] == "offline_grace" {
			n, _ := fl["note"].(string)
			return fl["value"].(string), n
		}
	}
	t.Fatal("no offline_grace field")
	return "", ""
}

// TestPolicyGraceNote: offline unlock is off by default, and once a
// practice turns it on the policy page says for how long and what an
// offline PIN search of a copied profile costs.
func TestPolicyGraceNote(t *testing.T) {
	f, tokens := apitest.NewConsole(t)
	own := tokens[model.LevelOwner]
	v, note := graceNote(t, f, own)
	if v != "0s" || !strings.HasPrefix(note, "Offline unlock is off") {
		t.Fatalf("by default: %q, %q", v, note)
	}
	if code, out := f.Do("PUT", "/api/v1/admin/policy", own, map[string]any{"values": map[string]string{"offline_grace": "48h"}}); code != 200 {
		t.Fatalf("turn it on: %d %v", code, out)
	}
	_, note = graceNote(t, f, own)
	for _, want := range []string{"on for 2 days", "a copied browser profile could be searched for the PIN offline", "at least 80 guesses per second on a laptop", "all 6-digit PINs in at most about 3 hours"} {
		if !strings.Contains(note, want) {
			t.Errorf("%q lacks %q", note, want)
		}
	}
}
