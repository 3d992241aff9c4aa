package cli

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/console"
	"github.com/curbside-health/curbside/devicecmd"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/store"
)

// auditedDataDir makes a data directory whose audit log holds entries the
// console wrote for real requests: an admin looking at the audit log and
// the activity report, and a helpdesk user refused both. It returns the
// directory, the number of entries and the store, still open as a running
// server would hold it.
func auditedDataDir(t *testing.T) (string, int, *store.Store) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	a := auth.New(st, auth.Options{Logger: log})
	cons := &console.Console{Auth: a, Store: st, Log: log, Commands: devicecmd.New(st)}
	mux := http.NewServeMux()
	web.Mount(mux, log, a, cons.Routes())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	token := func(name, level string) string {
		u := &model.User{Username: name, Display: name, Role: model.RoleStaff, State: model.StateActive, AdminLevel: level, PasswordHash: "x"}
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		raw := make([]byte, 32)
		rand.Read(raw)
		tok := base64.RawURLEncoding.EncodeToString(raw)
		if err := st.CreateSessionFrom(ctx, auth.HashToken(tok), u.ID, time.Now().Add(time.Hour).UnixMilli(), "totp", "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	root, help := token("root", model.LevelAdmin), token("help", model.LevelHelpdesk)
	calls := []struct{ tok, path string }{
		{root, "/api/v1/admin/audit"}, {help, "/api/v1/admin/audit"}, {root, "/api/v1/admin/reports/activity"},
		{help, "/api/v1/admin/reports/activity"}, {root, "/api/v1/admin/audit?action=console."}, {root, "/api/v1/admin/reports/inventory"},
	}
	for _, c := range calls {
		req, _ := http.NewRequest("GET", srv.URL+c.path, nil)
		req.Header.Set("Authorization", "Bearer "+c.tok)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	entries, _, err := st.QueryAudit(ctx, store.AuditQuery{})
	if err != nil || len(entries) != len(calls) {
		t.Fatalf("%d audit entries, want %d (%v)", len(entries), len(calls), err)
	}
	return dir, len(entries), st
}

// attack changes the database the way someone with the file would: a
// connection of their own, the append-only triggers dropped.
func attack(t *testing.T, dir string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+dir+"/"+store.DBFile)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range append([]string{`DROP TRIGGER audit_no_update`, `DROP TRIGGER audit_no_delete`}, stmts...) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

var verifiedLine = regexp.MustCompile(`^audit log verified: (\d+) entries, head (\d+) ([0-9a-f]{64})\n`)

func TestAuditVerifyTamper(t *testing.T) {
	dir, n, _ := auditedDataDir(t)
	// While the "server" still has the store open.
	out, _, err := runCLI(t, "", "audit", "verify", "--data", dir)
	m := verifiedLine.FindStringSubmatch(out)
	if err != nil || m == nil || m[1] != fmt.Sprint(n) || m[2] != fmt.Sprint(n) {
		t.Fatalf("untouched log: %q %v", out, err)
	}

	cases := []struct {
		name string
		sql  []string
		want string
	}{
		{"detail edited", []string{`UPDATE audit SET detail = '{}' WHERE seq = 2`}, "entry 2: edited (hash does not match)"},
		{"actor edited", []string{`UPDATE audit SET actor = 1, actor_name = 'root' WHERE seq = 4`}, "entry 4: edited (hash does not match)"},
		{"middle entry deleted", []string{`DELETE FROM audit WHERE seq = 3`}, "entry 3: missing"},
		{"last entry deleted, head left", []string{fmt.Sprintf(`DELETE FROM audit WHERE seq = %d`, n)}, fmt.Sprintf("entry %d: missing: the log ends at %d", n, n-1)},
		{"last entry deleted, head rewound", []string{fmt.Sprintf(`DELETE FROM audit WHERE seq = %d`, n), fmt.Sprintf(`UPDATE audit_head SET seq = %d`, n-1)},
			fmt.Sprintf("entry %d: does not match the head's hash", n-1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, _, st := auditedDataDir(t)
			st.Close()
			attack(t, dir, c.sql...)
			out, _, err := runCLI(t, "", "audit", "verify", "--data", dir)
			if err == nil || ExitCode(err) != 1 || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("got %v (exit %d), want %q; stdout %q", err, ExitCode(err), c.want, out)
			}
			if !strings.Contains(out, "does NOT verify") {
				t.Fatalf("stdout %q", out)
			}
		})
	}
}

func TestAuditPruneStillVerifies(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().AddDate(-7, 0, 0)
	for i := range 5 {
		if err := st.Audit(ctx, &store.AuditEntry{At: old.Add(time.Duration(i) * time.Hour).UnixMilli(), Action: "login.ok", ActorName: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := st.Audit(ctx, &store.AuditEntry{Action: "user.create", ActorName: "root"}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.PruneAudit(ctx, time.Now().AddDate(-6, 0, 0).UnixMilli(), 100); err != nil || n != 5 {
		t.Fatalf("prune: %d %v", n, err)
	}
	st.Close()
	out, _, err := runCLI(t, "", "audit", "verify", "--data", dir)
	if m := verifiedLine.FindStringSubmatch(out); err != nil || m == nil || m[1] != "2" || m[2] != "7" || !strings.Contains(out, "up to 5 were deleted") {
		t.Fatalf("after prune: %q %v", out, err)
	}
	attack(t, dir, `UPDATE audit SET target = 'user:1' WHERE seq = 6`)
	if _, _, err := runCLI(t, "", "audit", "verify", "--data", dir); err == nil || !strings.HasPrefix(err.Error(), "entry 6: edited") {
		t.Fatalf("tamper after prune: %v", err)
	}
}

func TestAuditExportAndList(t *testing.T) {
	dir, n, _ := auditedDataDir(t)
	out, stderr, err := runCLI(t, "", "audit", "export", "--data", dir)
	if err != nil {
		t.Fatal(err, stderr)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != n+1 || strings.Join(recs[0], ",") != strings.Join(console.AuditCSVHeader, ",") {
		t.Fatalf("export: %v %q", err, out)
	}
	if !strings.Contains(stderr, fmt.Sprintf("exported %d audit entries", n)) {
		t.Fatalf("stderr %q", stderr)
	}
	today := time.Now().UTC().Format(store.DayLayout)
	if out, _, err := runCLI(t, "", "audit", "export", "--data", dir, "--from", today, "--to", today, "--action", "console."); err != nil || strings.Count(out, "\n") != 3 {
		t.Fatalf("filtered export: %v %q", err, out)
	}
	if out, _, err := runCLI(t, "", "audit", "export", "--data", dir, "--to", "2020-01-01"); err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("empty export: %v %q", err, out)
	}

	out, _, err = runCLI(t, "", "audit", "list", "--data", dir, "--limit", "2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 3 || !strings.HasPrefix(lines[0], "SEQ") || !strings.HasPrefix(lines[2], fmt.Sprint(n)) || !strings.Contains(lines[2], "report.view") {
		t.Fatalf("list: %v %q", err, out)
	}

	for _, args := range [][]string{
		{"audit"}, {"audit", "frob"}, {"audit", "export", "--data", dir, "--from", "03/01/2026"},
		{"audit", "list", "--data", dir, "--limit", "0"}, {"audit", "export", "--data", dir, "--from", "2026-03-02", "--to", "2026-03-01"},
	} {
		if _, _, err := runCLI(t, "", args...); err == nil || ExitCode(err) != 2 {
			t.Errorf("%v: %v", args, err)
		}
	}
	empty := t.TempDir()
	if _, _, err := runCLI(t, "", "audit", "verify", "--data", empty); err == nil || !strings.Contains(err.Error(), "no database") {
		t.Fatalf("no database: %v", err)
	}
}
