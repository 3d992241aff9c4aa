package console_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/console"
	"github.com/curbside-health/curbside/internal/apitest"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

func TestConsoleAudit(t *testing.T) {
	f := apitest.New(t, "alice")
	ctx := context.Background()
	root := f.ConsoleToken("root", model.LevelAdmin)
	help := f.ConsoleToken("help", model.LevelHelpdesk)
	// A session made directly: a password sign-in would itself add a
	// login.ok entry ahead of the ones below.
	staff := f.ConsoleToken("staffer", model.LevelNone)
	day := time.Date(2026, 2, 10, 12, 0, 0, 0, time.UTC)
	entries := []store.AuditEntry{
		{At: day.UnixMilli(), Actor: f.Users["root"].ID, ActorName: "root", Action: "user.create", Target: "user:5", Detail: `{"username":"bob"}`},
		{At: day.Add(time.Hour).UnixMilli(), ActorName: "=HYPERLINK(\"http://x\")", Action: "login.fail", Outcome: store.OutcomeFail, Target: "+1", IP: "-2", Detail: `{"reason":"password"}`},
		{At: day.Add(24 * time.Hour).UnixMilli(), ActorName: "@SUM(A1)", Action: "login.ok", Target: "user:7", Emergency: true},
		{At: day.Add(48 * time.Hour).UnixMilli(), Actor: f.Users["root"].ID, ActorName: "root", Action: "policy.update", Target: "policy", Detail: `{"keys":["retention"]}`},
	}
	for i := range entries {
		if err := f.Store.Audit(ctx, &entries[i]); err != nil {
			t.Fatal(err)
		}
	}

	// Levels: only admin and above.
	for _, tok := range []string{help, staff} {
		if code, out := f.Do("GET", "/api/v1/admin/audit", tok, nil); code != 403 || apitest.ErrCode(out) != string(protocol.CodeForbidden) {
			t.Fatalf("non-admin listed the audit log: %d %v", code, out)
		}
		if res, _ := f.Get("/api/v1/admin/audit/export", tok); res.StatusCode != 403 {
			t.Fatalf("non-admin exported: %d", res.StatusCode)
		}
		if code, _ := f.Do("GET", "/api/v1/admin/audit/verify", tok, nil); code != 403 {
			t.Fatalf("non-admin verified: %d", code)
		}
	}

	code, out := f.Do("GET", "/api/v1/admin/audit", root, nil)
	if code != 200 {
		t.Fatalf("list: %d %v", code, out)
	}
	// The helpdesk's refusals are on the record before it.
	all := apitest.SeqsOf(out)
	first := out["entries"].([]any)[len(all)-1].(map[string]any)
	if all[0] < 4 || all[len(all)-1] != 1 || first["action"] != "user.create" || first["detail"].(map[string]any)["username"] != "bob" || len(first["hash"].(string)) != 64 {
		t.Fatalf("list: %v, oldest %v", all, first)
	}

	// Pagination by seq.
	code, out = f.Do("GET", "/api/v1/admin/audit?limit=2&action=login.", root, nil)
	if code != 200 || fmt.Sprint(apitest.SeqsOf(out)) != "[3 2]" || out["next_before"].(float64) != 0 {
		t.Fatalf("login page: %d %v", code, out)
	}
	code, out = f.Do("GET", "/api/v1/admin/audit?limit=1&action=login.", root, nil)
	if code != 200 || fmt.Sprint(apitest.SeqsOf(out)) != "[3]" || out["next_before"].(float64) != 3 {
		t.Fatalf("login page 1: %d %v", code, out)
	}
	code, out = f.Do("GET", "/api/v1/admin/audit?limit=1&action=login.&before=3", root, nil)
	if code != 200 || fmt.Sprint(apitest.SeqsOf(out)) != "[2]" {
		t.Fatalf("login page 2: %d %v", code, out)
	}

	for _, c := range []struct{ query, want string }{
		{"outcome=fail&action=login.", "[2]"},
		{fmt.Sprintf("actor=%d&action=p", f.Users["root"].ID), "[4]"},
		{"q=BOB", "[1]"},
		{"emergency=true", "[3]"},
		{"from=2026-02-11&to=2026-02-11", "[3]"},
		{fmt.Sprintf("from=%d&to=%d", day.UnixMilli(), day.Add(time.Hour).UnixMilli()), "[1]"},
		{"from=2026-02-10&to=2026-02-12&action=l", "[3 2]"},
	} {
		code, out := f.Do("GET", "/api/v1/admin/audit?"+c.query, root, nil)
		if code != 200 || fmt.Sprint(apitest.SeqsOf(out)) != c.want {
			t.Errorf("%s: %d %v, want %s", c.query, code, out["entries"], c.want)
		}
	}
	for _, q := range []string{"limit=0", "limit=501", "limit=x", "outcome=maybe", "action=DROP%20TABLE", "before=-1",
		"from=yesterday", "to=2026-13-01", "emergency=maybe", "actor=0", "from=2026-02-12&to=2026-02-10", "q=" + strings.Repeat("a", 201)} {
		if code, out := f.Do("GET", "/api/v1/admin/audit?"+q, root, nil); code != 400 || apitest.ErrCode(out) != string(protocol.CodeBadRequest) {
			t.Errorf("%s: %d %v", q, code, out)
		}
	}

	// Export: CSV with a header row, every cell a spreadsheet could run
	// defused.
	res, body := f.Get("/api/v1/admin/audit/export?to=2026-02-12", root)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), `attachment; filename="curbside-audit-`) {
		t.Fatalf("export: %d %v %s", res.StatusCode, res.Header, body)
	}
	recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != strings.Join(console.AuditCSVHeader, ",") || len(recs) != 5 {
		t.Fatalf("export rows: %q", recs)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	if recs[1][col["seq"]] != "1" || recs[1][col["action"]] != "user.create" || recs[1][col["time_utc"]] != "2026-02-10T12:00:00Z" {
		t.Fatalf("row 1: %q", recs[1])
	}
	if recs[2][col["actor_name"]] != `'=HYPERLINK("http://x")` || recs[2][col["target"]] != "'+1" || recs[2][col["ip"]] != "'-2" || recs[3][col["actor_name"]] != "'@SUM(A1)" {
		t.Fatalf("formula cells not defused: %q %q", recs[2], recs[3])
	}
	if len(recs[1][col["hash"]]) != 64 || recs[2][col["prev"]] != recs[1][col["hash"]] {
		t.Fatalf("hashes: %q", recs[1:3])
	}
	if res, _ := f.Get("/api/v1/admin/audit/export?limit=5", root); res.StatusCode != 400 {
		t.Fatalf("export with a limit: %d", res.StatusCode)
	}
	code, out = f.Do("GET", "/api/v1/admin/audit?action=audit.&limit=10", root, nil)
	var actions []string
	for _, e := range out["entries"].([]any) {
		m := e.(map[string]any)
		actions = append(actions, m["action"].(string))
		if m["action"] == "audit.export" && m["outcome"] == "ok" && m["detail"].(map[string]any)["entries"].(float64) != 4 {
			t.Fatalf("export entry: %v", m)
		}
	}
	if code != 200 || !strings.Contains(strings.Join(actions, " "), "audit.export") || !strings.Contains(strings.Join(actions, " "), "audit.view") {
		t.Fatalf("export and view not audited: %v", actions)
	}

	// Verify, then tamper as someone with the database file would.
	code, out = f.Do("GET", "/api/v1/admin/audit/verify", root, nil)
	if code != 200 || out["ok"] != true || out["head_seq"].(float64) < 4 || len(out["head_hash"].(string)) != 64 {
		t.Fatalf("verify: %d %v", code, out)
	}
	db, err := sql.Open("sqlite", "file:"+f.Store.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER audit_no_update`, `UPDATE audit SET detail = '{"username":"eve"}' WHERE seq = 1`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	code, out = f.Do("GET", "/api/v1/admin/audit/verify", root, nil)
	if code != 200 || out["ok"] != false || out["first_bad"].(float64) != 1 || !strings.Contains(out["problem"].(string), "edited") {
		t.Fatalf("verify after tamper: %d %v", code, out)
	}
}

func TestConsoleReports(t *testing.T) {
	f := apitest.New(t, "alice", "bob")
	ctx := context.Background()
	root := f.ConsoleToken("root", model.LevelAdmin)
	help := f.ConsoleToken("help", model.LevelHelpdesk)
	alice, bob := f.Users["alice"].ID, f.Users["bob"].ID
	for i := range 3 {
		id := fmt.Sprintf("R%019d", i)
		raw := []byte(fmt.Sprintf(`{"id":%q}`, id))
		sum := sha256.Sum256(raw)
		env := &protocol.Envelope{V: 1, Suite: 1, ID: id, Conv: protocol.DirectConv(alice, bob), From: protocol.Party{User: alice, Device: 11}, Created: 1}
		if _, err := f.Store.Accept(ctx, &model.NewMessage{Env: env, Raw: raw, Digest: sum[:], Recipients: []int64{bob},
			Deliver: []int64{21}, ExpiresAt: time.Now().Add(-time.Millisecond).UnixMilli()}); err != nil {
			t.Fatal(err)
		}
	}
	// Expired and swept before any report: the counts survive the rows.
	if _, msgs, err := f.Store.Sweep(ctx, time.Now().UnixMilli(), 100); err != nil || msgs != 3 {
		t.Fatalf("sweep %d %v", msgs, err)
	}
	// A failed sign-in as the sign-in path records it.
	if err := f.Store.Audit(ctx, &store.AuditEntry{Action: "login.fail", Outcome: store.OutcomeFail, Actor: bob, ActorName: "bob", Target: auth.UserTarget(bob)}); err != nil {
		t.Fatal(err)
	}

	if code, _ := f.Do("GET", "/api/v1/admin/reports/activity", help, nil); code != 403 {
		t.Fatalf("helpdesk read a report: %d", code)
	}
	if code, _ := f.Do("GET", "/api/v1/admin/reports/inventory", help, nil); code != 403 {
		t.Fatalf("helpdesk read the inventory: %d", code)
	}
	code, out := f.Do("GET", "/api/v1/admin/reports/activity", root, nil)
	if code != 200 {
		t.Fatalf("activity: %d %v", code, out)
	}
	today := time.Now().UTC().Format(store.DayLayout)
	days := out["days"].([]any)
	msgs := out["messages"].([]any)
	if len(days) != 30 || days[29] != today || len(msgs) != 1 {
		t.Fatalf("activity: %v", out)
	}
	m := msgs[0].(map[string]any)
	if m["username"] != "alice" || m["sent"].(float64) != 3 || m["day"] != today || m["display"] != "ALICE" {
		t.Fatalf("messages: %v", m)
	}
	fl := out["failed_logins"].([]any)
	if fl[29].(map[string]any)["count"].(float64) != 1 || out["totals"].(map[string]any)["failed_logins"].(float64) != 1 {
		t.Fatalf("failed logins: %v %v", fl[29], out["totals"])
	}

	if code, out := f.Do("GET", "/api/v1/admin/reports/activity?from=2025-01-01&to=2025-01-01", root, nil); code != 200 || len(out["messages"].([]any)) != 0 || len(out["days"].([]any)) != 1 {
		t.Fatalf("old day: %d %v", code, out)
	}
	for _, q := range []string{"from=2024-01-01&to=2025-01-02", "from=2025-02-01&to=2025-01-01", "from=01/02/2025", "to=x"} {
		if code, out := f.Do("GET", "/api/v1/admin/reports/activity?"+q, root, nil); code != 400 || apitest.ErrCode(out) != string(protocol.CodeBadRequest) {
			t.Errorf("%s: %d %v", q, code, out)
		}
	}
	if code, _ := f.Do("GET", "/api/v1/admin/reports/activity?from=2024-01-01&to=2024-12-31", root, nil); code != 200 {
		t.Fatalf("366 days refused: %d", code)
	}

	code, out = f.Do("GET", "/api/v1/admin/reports/inventory", root, nil)
	if code != 200 {
		t.Fatalf("inventory: %d %v", code, out)
	}
	if ints, ok := out["integrations"].([]any); !ok || len(ints) != 0 || out["integrations_note"] == "" || len(out["ephi_flows"].([]any)) == 0 {
		t.Fatalf("inventory: %v", out)
	}
	users := out["directory"].(map[string]any)["users"].([]any)
	if len(users) != 1 || users[0].(map[string]any)["count"].(float64) != 4 {
		t.Fatalf("inventory users: %v", users)
	}
	entries, _, _ := f.Store.QueryAudit(ctx, store.AuditQuery{Action: "report.view"})
	if len(entries) < 2 || entries[0].Target != "report:inventory" || entries[0].ActorName != "root" {
		t.Fatalf("reports not audited: %+v", entries)
	}
}
