package console_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/curbside-health/curbside/internal/apitest"
	"github.com/curbside-health/curbside/model"
)

// An administrator assigns a care team by name, lists and removes it;
// each change is audited, and helpdesk may not touch it.
func TestAssignments(t *testing.T) {
	f, tokens := apitest.NewConsole(t)
	adm := tokens[model.LevelAdmin]
	f.RoleUser("pat", model.RolePatient)
	gid, _ := f.Store.CreateGroup(context.Background(), "Nurses")
	path := "/api/v1/admin/users/" + apitest.Itoa(f.Users["pat"].ID) + "/assignments"

	if code, out := f.Do("POST", path, tokens[model.LevelHelpdesk], map[string]any{"kind": "user", "name": "tess"}); code != http.StatusForbidden {
		t.Fatalf("helpdesk assigned: %d %v", code, out)
	}
	code, out := f.Do("POST", path, adm, map[string]any{"kind": "user", "name": "tess"})
	if code != http.StatusOK {
		t.Fatalf("assign user: %d %v", code, out)
	}
	code, out = f.Do("POST", path, adm, map[string]any{"kind": "group", "id": gid})
	if code != http.StatusOK || len(out["assignments"].([]any)) != 2 {
		t.Fatalf("assign group: %d %v", code, out)
	}
	for _, bad := range []map[string]any{{"kind": "user", "name": "nobody"}, {"kind": "team", "id": 1}, {"kind": "user", "name": "pat"}} {
		if code, out := f.Do("POST", path, adm, bad); code < 400 {
			t.Errorf("%v accepted: %d %v", bad, code, out)
		}
	}
	code, out = f.Do("DELETE", path+"/group/"+apitest.Itoa(gid), adm, nil)
	if code != http.StatusOK || len(out["assignments"].([]any)) != 1 {
		t.Fatalf("remove: %d %v", code, out)
	}
	if code, _ := f.Do("DELETE", path+"/group/"+apitest.Itoa(gid), adm, nil); code != http.StatusNotFound {
		t.Fatalf("removing twice: %d", code)
	}
	rows := apitest.AuditRows(t, f.Store)
	target := "user:" + apitest.Itoa(f.Users["pat"].ID)
	for _, want := range [][4]string{{"user.assign", target, model.LevelAdmin, "ok"}, {"user.unassign", target, model.LevelAdmin, "ok"}} {
		if !apitest.HasAudit(rows, want) {
			t.Errorf("no audit row %v in %v", want, rows)
		}
	}
}
