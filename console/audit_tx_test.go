package console_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/apitest"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/store"
)

// auditOf returns the entries of action, oldest first.
func auditOf(t *testing.T, st *store.Store, action string) []*store.AuditEntry {
	t.Helper()
	var out []*store.AuditEntry
	if err := st.EachAudit(context.Background(), store.AuditQuery{Action: action}, func(e *store.AuditEntry) error {
		if e.Action == action {
			out = append(out, e)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// Console actions are recorded by the transaction that does them: the
// entry is there with what the action did, an action refused or failed
// leaves no entry saying it was done, and when the entry cannot be written
// the action is not done either.
func TestConsoleAuditInActionTx(t *testing.T) {
	f, tokens := apitest.NewConsole(t)
	adm := tokens[model.LevelAdmin]
	admin := f.Users[model.LevelAdmin]

	// A group: its entry names the id the write created.
	code, out := f.Do("POST", "/api/v1/admin/groups", adm, map[string]any{"name": "Ward 3"})
	if code != http.StatusCreated {
		t.Fatalf("create group: %d %v", code, out)
	}
	gid := int64(out["group"].(map[string]any)["id"].(float64))
	got := auditOf(t, f.Store, "group.create")
	if len(got) != 1 || got[0].Target != fmt.Sprintf("group:%d", gid) || got[0].Actor != admin.ID || got[0].Outcome != store.OutcomeOK {
		t.Fatalf("group.create entries: %+v", got)
	}
	// The same name again is refused by the write: still one entry.
	if code, out := f.Do("POST", "/api/v1/admin/groups", adm, map[string]any{"name": "Ward 3"}); code != http.StatusConflict {
		t.Fatalf("duplicate group: %d %v", code, out)
	}
	if got := auditOf(t, f.Store, "group.create"); len(got) != 1 {
		t.Fatalf("a refused create was recorded: %+v", got)
	}

	// A device lock: the entry carries the sessions the lock ended, which
	// only its transaction knew.
	sam := f.Users["sam"]
	dev := apitest.NewTestDevice()
	if code, out := f.Do("POST", "/api/v1/devices", tokens["sam"], map[string]any{"name": "phone", "list": apitest.SignedList(sam.ID, 1, dev, dev.Listed())}); code != http.StatusCreated {
		t.Fatalf("register: %d %v", code, out)
	}
	lock := fmt.Sprintf("/api/v1/admin/devices/%d/lock", dev.ID)
	if code, out := f.Do("POST", lock, adm, map[string]any{"reason": "left on the ward"}); code != http.StatusOK {
		t.Fatalf("lock: %d %v", code, out)
	}
	locks := auditOf(t, f.Store, "device.lock")
	want := fmt.Sprintf(`{"reason":"left on the ward","sessions_ended":1,"user":%d}`, sam.ID)
	if len(locks) != 1 || locks[0].Target != auth.DeviceTarget(dev.ID) || locks[0].Detail != want {
		t.Fatalf("device.lock entries: %+v (want detail %s)", locks, want)
	}
	// A wiped device cannot be locked: the refused lock leaves no entry.
	if code, out := f.Do("POST", fmt.Sprintf("/api/v1/admin/devices/%d/wipe", dev.ID), adm, nil); code != http.StatusOK {
		t.Fatalf("wipe: %d %v", code, out)
	}
	if code, _ := f.Do("POST", lock, adm, nil); code != http.StatusConflict {
		t.Fatalf("lock of a wiped device: %d", code)
	}
	if got := auditOf(t, f.Store, "device.lock"); len(got) != 1 {
		t.Fatalf("a refused lock was recorded: %+v", got)
	}

	// While the log refuses entries, actions fail whole: nothing is
	// done that the log does not hold.
	allow := apitest.RefuseAudit(t, f.Store)
	if code, out := f.Do("POST", "/api/v1/admin/groups", adm, map[string]any{"name": "Ward 4"}); code != http.StatusInternalServerError || apitest.ErrCode(out) != "internal" {
		t.Fatalf("create group with the log refusing: %d %v", code, out)
	}
	if _, err := f.Store.GroupByName(context.Background(), "Ward 4"); err == nil {
		t.Fatal("the group was created without its entry")
	}
	if code, out := f.Do("POST", fmt.Sprintf("/api/v1/admin/users/%d/state", sam.ID), adm, map[string]any{"state": model.StateLocked}); code != http.StatusInternalServerError {
		t.Fatalf("lock account with the log refusing: %d %v", code, out)
	}
	if u, err := f.Store.UserByID(context.Background(), sam.ID); err != nil || u.State != model.StateActive {
		t.Fatalf("the account changed without its entry: %v %v", u, err)
	}
	allow()

	if code, out := f.Do("POST", fmt.Sprintf("/api/v1/admin/users/%d/state", sam.ID), adm, map[string]any{"state": model.StateLocked}); code != http.StatusOK {
		t.Fatalf("lock account: %d %v", code, out)
	}
	if got := auditOf(t, f.Store, "user.state"); len(got) != 1 || got[0].Detail != `{"from":"active","to":"locked"}` {
		t.Fatalf("user.state entries: %+v", got)
	}
	v, err := f.Store.VerifyAudit(context.Background())
	if err != nil || !v.OK {
		t.Fatalf("the chain: %+v %v", v, err)
	}
}
