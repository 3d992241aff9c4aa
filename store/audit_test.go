package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"
)

// auditN appends n entries, the i-th at base+i minutes, alternating
// actions and actors so filters have something to tell apart.
func auditN(t *testing.T, s *Store, n int, base time.Time) {
	t.Helper()
	for i := 1; i <= n; i++ {
		e := &AuditEntry{At: base.Add(time.Duration(i) * time.Minute).UnixMilli(), Actor: int64(1 + i%2),
			ActorName: []string{"bob", "alice"}[i%2], Action: []string{"login.ok", "user.create", "login.fail"}[i%3],
			Target: fmt.Sprintf("user:%d", i), IP: "127.0.0.1", Detail: fmt.Sprintf(`{"n":%d}`, i)}
		if i%3 == 2 {
			e.Outcome = OutcomeFail
		}
		if err := s.Audit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
}

// tamper runs SQL on the database as an attacker with file access would:
// a separate connection, the append-only triggers dropped first.
func tamper(t *testing.T, s *Store, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range append([]string{`DROP TRIGGER IF EXISTS audit_no_update`, `DROP TRIGGER IF EXISTS audit_no_delete`}, stmts...) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestAuditQuery(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	auditN(t, s, 30, base)

	all, next, err := s.QueryAudit(ctx, AuditQuery{})
	if err != nil || len(all) != 30 || next != 0 || all[0].Seq != 30 || all[29].Seq != 1 {
		t.Fatalf("all: %d entries, next %d, %v", len(all), next, err)
	}
	// Keyset pages cover everything once, newest first.
	var seen []int64
	before := int64(0)
	for {
		page, next, err := s.QueryAudit(ctx, AuditQuery{Limit: 7, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			seen = append(seen, e.Seq)
		}
		if next == 0 {
			break
		}
		if next != page[len(page)-1].Seq {
			t.Fatalf("next_before %d is not the page's last seq %d", next, page[len(page)-1].Seq)
		}
		before = next
	}
	if len(seen) != 30 || seen[0] != 30 || seen[29] != 1 {
		t.Fatalf("pages saw %v", seen)
	}

	cases := []struct {
		name string
		q    AuditQuery
		want func(e *AuditEntry) bool
		n    int
	}{
		{"action prefix", AuditQuery{Action: "login."}, func(e *AuditEntry) bool { return strings.HasPrefix(e.Action, "login.") }, 20},
		{"exact action", AuditQuery{Action: "login.fail"}, func(e *AuditEntry) bool { return e.Action == "login.fail" }, 10},
		{"actor", AuditQuery{Actor: 2}, func(e *AuditEntry) bool { return e.Actor == 2 }, 15},
		{"outcome", AuditQuery{Outcome: OutcomeFail}, func(e *AuditEntry) bool { return e.Outcome == OutcomeFail }, 10},
		{"text in target", AuditQuery{Text: "user:17"}, func(e *AuditEntry) bool { return e.Target == "user:17" }, 1},
		{"text in detail", AuditQuery{Text: `"n":2`}, func(e *AuditEntry) bool { return strings.Contains(e.Detail, `"n":2`) }, 11},
		{"text in name, any case", AuditQuery{Text: "ALICE"}, func(e *AuditEntry) bool { return e.ActorName == "alice" }, 15},
		{"like wildcards are literal", AuditQuery{Text: "%"}, nil, 0},
		{"time range", AuditQuery{From: base.Add(10 * time.Minute).UnixMilli(), To: base.Add(15 * time.Minute).UnixMilli()},
			func(e *AuditEntry) bool { return e.Seq >= 10 && e.Seq < 15 }, 5},
		{"combined", AuditQuery{Action: "login", Actor: 1, Outcome: OutcomeOK}, func(e *AuditEntry) bool {
			return strings.HasPrefix(e.Action, "login") && e.Actor == 1 && e.Outcome == OutcomeOK
		}, 5},
	}
	for _, c := range cases {
		got, _, err := s.QueryAudit(ctx, c.q)
		if err != nil {
			t.Fatal(c.name, err)
		}
		if len(got) != c.n {
			t.Errorf("%s: %d entries, want %d", c.name, len(got), c.n)
		}
		for _, e := range got {
			if c.want != nil && !c.want(e) {
				t.Errorf("%s: entry %d does not match: %+v", c.name, e.Seq, e)
			}
		}
	}

	var asc []int64
	if err := s.EachAudit(ctx, AuditQuery{Action: "user."}, func(e *AuditEntry) error { asc = append(asc, e.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(asc) != 10 || asc[0] != 1 || asc[9] != 28 {
		t.Fatalf("EachAudit: %v", asc)
	}
}

func TestAuditVerify(t *testing.T) {
	ctx := context.Background()
	fresh := func(t *testing.T) *Store {
		s, _ := openTest(t)
		auditN(t, s, 20, time.Now().Add(-time.Hour))
		v, err := s.VerifyAudit(ctx)
		if err != nil || !v.OK || v.Entries != 20 || v.HeadSeq != 20 || len(v.HeadHash) != 64 {
			t.Fatalf("untouched log: %+v %v", v, err)
		}
		return s
	}
	if v, err := func() (*AuditVerify, error) { s, _ := openTest(t); return s.VerifyAudit(ctx) }(); err != nil || !v.OK || v.Entries != 0 {
		t.Fatalf("empty log: %+v %v", v, err)
	}
	cases := []struct {
		name  string
		sql   []string
		first int64
		kind  string
	}{
		{"detail edited", []string{`UPDATE audit SET detail = '{"n":0}' WHERE seq = 7`}, 7, AuditEdited},
		{"actor edited", []string{`UPDATE audit SET actor_name = 'mallory', actor = 99 WHERE seq = 12`}, 12, AuditEdited},
		{"outcome edited", []string{`UPDATE audit SET outcome = 'ok' WHERE seq = 5`}, 5, AuditEdited},
		{"middle row deleted", []string{`DELETE FROM audit WHERE seq = 9`}, 9, AuditMissing},
		{"middle rows deleted", []string{`DELETE FROM audit WHERE seq IN (9, 10, 11)`}, 9, AuditMissing},
		{"first row deleted", []string{`DELETE FROM audit WHERE seq = 1`}, 1, AuditMissing},
		{"last row deleted, head left", []string{`DELETE FROM audit WHERE seq = 20`}, 20, AuditTruncated},
		{"last rows deleted, head moved back", []string{`DELETE FROM audit WHERE seq > 15`, `UPDATE audit_head SET seq = 15`}, 15, AuditHeadBad},
		{"head rolled back", []string{`UPDATE audit_head SET seq = 18`}, 19, AuditHeadBad},
		{"head deleted", []string{`DELETE FROM audit_head`}, 1, AuditHeadBad},
		// An entry rewritten with a recomputed hash still breaks the next
		// entry's link.
		{"row swapped for another row's", []string{`UPDATE audit SET hash = (SELECT hash FROM audit WHERE seq = 3), prev = (SELECT prev FROM audit WHERE seq = 3),
			action = (SELECT action FROM audit WHERE seq = 3), at = (SELECT at FROM audit WHERE seq = 3), actor = (SELECT actor FROM audit WHERE seq = 3),
			actor_name = (SELECT actor_name FROM audit WHERE seq = 3), target = (SELECT target FROM audit WHERE seq = 3),
			outcome = (SELECT outcome FROM audit WHERE seq = 3), detail = (SELECT detail FROM audit WHERE seq = 3) WHERE seq = 4`}, 4, AuditLink},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := fresh(t)
			tamper(t, s, c.sql...)
			v, err := s.VerifyAudit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if v.OK || v.FirstBad != c.first || v.Kind != c.kind || v.Problem == "" {
				t.Fatalf("got %+v, want first bad %d (%s)", v, c.first, c.kind)
			}
		})
	}

	t.Run("rehashed edit breaks the next link", func(t *testing.T) {
		s := fresh(t)
		e, err := scanAudit(s.read.QueryRow(`SELECT ` + auditColumns + ` FROM audit WHERE seq = 6`))
		if err != nil {
			t.Fatal(err)
		}
		e.Detail = `{"forged":true}`
		h := AuditHash(e.Prev, e)
		tamper(t, s, fmt.Sprintf(`UPDATE audit SET detail = '{"forged":true}', hash = x'%x' WHERE seq = 6`, h))
		v, _ := s.VerifyAudit(ctx)
		if v.OK || v.FirstBad != 7 || v.Kind != AuditLink {
			t.Fatalf("got %+v", v)
		}
	})
}

func TestAuditPrune(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	old := time.Now().Add(-3 * 365 * 24 * time.Hour)
	auditN(t, s, 10, old) // entries 1-10, three years old
	auditN(t, s, 5, time.Now().Add(-time.Hour))
	cutoff := time.Now().Add(-365 * 24 * time.Hour).UnixMilli()

	// The triggers still refuse deleting what is above the base.
	if err := s.submit(ctx, func(tx *sql.Tx) error { _, err := tx.Exec(`DELETE FROM audit WHERE seq = 1`); return err }); err == nil {
		t.Fatal("deleting an entry above the base was allowed")
	}
	// In small batches, to show each one leaves a verifiable chain.
	total := int64(0)
	for {
		n, err := s.PruneAudit(ctx, cutoff, 4)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		total += n
		if v, err := s.VerifyAudit(ctx); err != nil || !v.OK {
			t.Fatalf("after pruning %d: %+v %v", total, v, err)
		}
	}
	if total != 10 {
		t.Fatalf("pruned %d, want 10", total)
	}
	v, err := s.VerifyAudit(ctx)
	if err != nil || !v.OK || v.Entries != 5 || v.BaseSeq != 10 || v.HeadSeq != 15 {
		t.Fatalf("after pruning: %+v %v", v, err)
	}
	// Appending goes on from the head.
	if err := s.Audit(ctx, &AuditEntry{Action: "policy.update"}); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.VerifyAudit(ctx); !v.OK || v.HeadSeq != 16 || v.Entries != 6 {
		t.Fatalf("after append: %+v", v)
	}
	// Tampering with the first entry after the base still shows.
	tamper(t, s, `UPDATE audit SET detail = 'x' WHERE seq = 11`)
	if v, _ := s.VerifyAudit(ctx); v.OK || v.FirstBad != 11 || v.Kind != AuditEdited {
		t.Fatalf("tamper after prune: %+v", v)
	}

	// Everything old: the base reaches the head and the empty chain checks.
	s2, _ := openTest(t)
	auditN(t, s2, 3, old)
	if n, err := s2.PruneAudit(ctx, cutoff, 100); err != nil || n != 3 {
		t.Fatalf("prune all: %d %v", n, err)
	}
	if v, _ := s2.VerifyAudit(ctx); !v.OK || v.Entries != 0 || v.BaseSeq != 3 || v.HeadSeq != 3 {
		t.Fatalf("all pruned: %+v", v)
	}
}
