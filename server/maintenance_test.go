package server

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/curbside-health/curbside/store"
)

func TestAuditMaintenance(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetPolicy(ctx, map[string]string{"audit_retention": "8760h"}); err != nil { // one year
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * 365 * 24 * time.Hour)
	for i := range 4 {
		if err := st.Audit(ctx, &store.AuditEntry{At: old.Add(time.Duration(i) * time.Minute).UnixMilli(), Action: "login.ok"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Audit(ctx, &store.AuditEntry{Action: "user.create"}); err != nil {
		t.Fatal(err)
	}

	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	maintainAudit(ctx, st, log, time.Now(), nil)
	v, err := st.VerifyAudit(ctx)
	if err != nil || !v.OK || v.BaseSeq != 4 || v.Entries != 2 {
		t.Fatalf("after maintenance: %+v %v (log %s)", v, err, buf.String())
	}
	last, _, _ := st.QueryAudit(ctx, store.AuditQuery{Limit: 1})
	if last[0].Action != "audit.prune" || !strings.Contains(last[0].Detail, `"deleted":4`) {
		t.Fatalf("prune not on the record: %+v", last[0])
	}
	if !strings.Contains(buf.String(), "audit log verified") || !strings.Contains(buf.String(), "head_hash=") {
		t.Fatalf("head not logged: %s", buf.String())
	}

	// A broken chain is left alone and reported.
	if err := st.Audit(ctx, &store.AuditEntry{At: old.UnixMilli() + 1, Action: "login.ok"}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+st.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER audit_no_update`, `UPDATE audit SET detail = 'x' WHERE seq = 5`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	buf.Reset()
	maintainAudit(ctx, st, log, time.Now().Add(10*365*24*time.Hour), nil)
	v, _ = st.VerifyAudit(ctx)
	if v.OK || v.FirstBad != 5 || v.BaseSeq != 4 {
		t.Fatalf("broken chain was pruned: %+v", v)
	}
	if !strings.Contains(buf.String(), "does not verify") || !strings.Contains(buf.String(), "first_bad=5") {
		t.Fatalf("not reported: %s", buf.String())
	}
}
