package console_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/curbside-health/curbside/internal/apitest"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/replica"
)

// fakeBackup is a BackupSource whose state the test sets.
type fakeBackup struct {
	mu   sync.Mutex
	st   replica.Status
	last *replica.DrillReport
}

func (f *fakeBackup) Status() (replica.Status, *replica.DrillReport) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st, f.last
}

func (f *fakeBackup) set(st replica.Status, last *replica.DrillReport) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st, f.last = st, last
}

// TestBackupPage: GET /api/v1/admin/backup says when no replica is set,
// and otherwise shows the replica's state and the last drill as the
// server has them: replicating, out of date and failing, a drill that
// failed. Admins and owners only.
func TestBackupPage(t *testing.T) {
	f, tokens := apitest.NewConsole(t)
	get := func(level string) (int, map[string]any) {
		t.Helper()
		return f.Do("GET", "/api/v1/admin/backup", tokens[level], nil)
	}
	for _, lv := range []string{model.LevelHelpdesk, "sam"} {
		if code, out := get(lv); code != http.StatusForbidden {
			t.Errorf("%s: %d %v; want 403", lv, code, out)
		}
	}
	code, out := get(model.LevelAdmin)
	if code != 200 || out["configured"] != false || out["replica"] != nil || out["max_age_ms"] != float64(replica.MaxAge.Milliseconds()) {
		t.Fatalf("no replica: %d %v", code, out)
	}

	fake := &fakeBackup{}
	f.Console.Backup = fake
	now := time.Now()
	fake.set(replica.Status{URL: "s3://backups/practice?endpoint=https%3A%2F%2Fs3.example.org", SyncInterval: 1000, LastSync: now.UnixMilli(), LagMS: 400,
		LocalTXID: "0000000000000009", RemoteTXID: "0000000000000009", InSync: true, Files: 3}, nil)
	code, out = get(model.LevelOwner)
	r, _ := out["replica"].(map[string]any)
	if code != 200 || out["configured"] != true || r == nil || r["stale"] != false || r["in_sync"] != true || r["files"] != float64(3) ||
		r["url"] != "s3://backups/practice?endpoint=https%3A%2F%2Fs3.example.org" || out["last_drill"] != nil {
		t.Fatalf("replicating, no drill yet: %d %v", code, out)
	}

	stale := now.Add(-50 * time.Hour)
	drill := &replica.DrillReport{Replica: "s3://backups/practice", Started: now.Add(-time.Hour).UTC(), Took: replica.Duration(2 * time.Second),
		Steps:    []replica.Step{{Name: "restore", OK: false, Took: replica.Duration(time.Second), Detail: "the replica holds no database"}},
		Problems: []string{"restore: the replica holds no database"}}
	fake.set(replica.Status{URL: "s3://backups/practice", LastSync: stale.UnixMilli(), LagMS: now.Sub(stale).Milliseconds(), Stale: true,
		Error: "read the replica's position: connection refused", ErrorSince: stale.Add(time.Minute).UnixMilli()}, drill)
	code, out = get(model.LevelAdmin)
	r, _ = out["replica"].(map[string]any)
	d, _ := out["last_drill"].(map[string]any)
	if code != 200 || r == nil || r["stale"] != true || r["error"] != "read the replica's position: connection refused" || r["last_sync"] != float64(stale.UnixMilli()) {
		t.Fatalf("out of date and failing: %d %v", code, out)
	}
	if d == nil || d["ok"] != false || d["took"] != "2s" {
		t.Fatalf("failed drill: %v", d)
	}
	if p, _ := d["problems"].([]any); len(p) != 1 || p[0] != "restore: the replica holds no database" {
		t.Errorf("failed drill's problems: %v", d["problems"])
	}
	if s, _ := d["steps"].([]any); len(s) != 1 || s[0].(map[string]any)["ok"] != false || s[0].(map[string]any)["detail"] != "the replica holds no database" {
		t.Errorf("failed drill's steps: %v", d["steps"])
	}
}
