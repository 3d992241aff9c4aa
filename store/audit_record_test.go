package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/curbside-health/curbside/model"
)

// groupEntry is the entry of creating a group, its target filled in from
// the id the write created.
func groupEntry(name string) *Pending {
	return &Pending{Entry: AuditEntry{Actor: 1, ActorName: "root", Action: "group.create"},
		Detail:   map[string]any{"name": name},
		Complete: func(p *Pending) { p.Entry.Target = fmt.Sprintf("group:%d", p.Result.(int64)) }}
}

// entries returns the audit log's rows of action, oldest first.
func entries(t *testing.T, s *Store, action string) []*AuditEntry {
	t.Helper()
	var out []*AuditEntry
	if err := s.EachAudit(context.Background(), AuditQuery{Action: action}, func(e *AuditEntry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// setPasswordAudited adds a user with one session, then sets their
// password with an entry (which notes the session ended).
func setPasswordAudited(t *testing.T, s *Store, name string) (int64, error) {
	t.Helper()
	u := addUser(t, s, name)
	if err := s.CreateSession(context.Background(), []byte(name), u, nowMS()+60_000); err != nil {
		t.Fatal(err)
	}
	p := &Pending{Entry: AuditEntry{Action: "user.password_set", Target: fmt.Sprintf("user:%d", u)}}
	_, err := s.SetPassword(WithAudit(context.Background(), p), u, "new")
	return u, err
}

func verified(t *testing.T, s *Store) {
	t.Helper()
	v, err := s.VerifyAudit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK {
		t.Fatalf("the chain does not verify: %+v", v)
	}
}

// An action and its entry commit in one transaction: the entry is there
// with what the write produced, and a failed write leaves no entry.
func TestAuditInActionTx(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()

	id, err := s.CreateGroupIn(WithAudit(ctx, groupEntry("ward")), "ward", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	got := entries(t, s, "group.create")
	if len(got) != 1 || got[0].Target != fmt.Sprintf("group:%d", id) || got[0].Detail != `{"name":"ward"}` || got[0].Outcome != OutcomeOK {
		t.Fatalf("entries after the create: %+v", got)
	}

	// The same name again fails in the write: nothing is recorded.
	if _, err := s.CreateGroupIn(WithAudit(ctx, groupEntry("ward")), "ward", "", 0); !errors.Is(err, model.ErrExists) {
		t.Fatalf("duplicate group: %v", err)
	}
	if got := entries(t, s, "group.create"); len(got) != 1 {
		t.Fatalf("a failed write left an entry: %d entries", len(got))
	}

	// A context's entries go with its first write only.
	rctx := WithAudit(ctx, groupEntry("a"))
	if _, err := s.CreateGroupIn(rctx, "a", "", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateGroupIn(rctx, "b", "", 0); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, s, "group.create"); len(got) != 2 || !strings.Contains(got[1].Detail, `"a"`) {
		t.Fatalf("after two writes with one context: %+v", got)
	}

	// A write's own notes reach its entry.
	if _, err := setPasswordAudited(t, s, "sam"); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, s, "user.password_set"); len(got) != 1 || got[0].Detail != `{"sessions_ended":1}` {
		t.Fatalf("password set: %+v", got)
	}

	// A write that finds nothing to do records nothing.
	if _, err := s.PruneAudit(WithAudit(ctx, &Pending{Entry: AuditEntry{ActorName: "server", Action: "audit.prune"}}), 1, 10); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, s, "audit.prune"); len(got) != 0 {
		t.Fatalf("a prune of nothing was recorded: %+v", got)
	}
	verified(t, s)
}

// When the entry cannot be appended, the action is rolled back with it.
func TestAuditRefusedRollsBackAction(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	exec := func(q string) {
		t.Helper()
		if err := s.submit(ctx, func(tx *sql.Tx) error { _, err := tx.Exec(q); return err }); err != nil {
			t.Fatal(err)
		}
	}
	exec(`CREATE TRIGGER audit_refuse BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit refused'); END`)

	_, err := s.CreateGroupIn(WithAudit(ctx, groupEntry("ward")), "ward", "", 0)
	if err == nil || !strings.Contains(err.Error(), "audit refused") {
		t.Fatalf("create with a refused entry: %v", err)
	}
	if _, err := s.GroupByName(ctx, "ward"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("the group was created although its entry was refused: %v", err)
	}
	u, err := setPasswordAudited(t, s, "sam")
	if err == nil {
		t.Fatal("password set although its entry was refused")
	}
	if n, err := s.SessionCount(ctx, u); err != nil || n != 1 {
		t.Fatalf("the password set's session ending was not rolled back: %d sessions, %v", n, err)
	}
	// A write without an entry is not affected.
	if _, err := s.CreateGroupIn(ctx, "plain", "", 0); err != nil {
		t.Fatal(err)
	}

	exec(`DROP TRIGGER audit_refuse`)
	if _, err := s.CreateGroupIn(WithAudit(ctx, groupEntry("ward")), "ward", "", 0); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, s, "group.create"); len(got) != 1 {
		t.Fatalf("entries: %+v", got)
	}
	verified(t, s)
}

// Writes that share a batch each append their own entry, and one that
// fails rolls back neither its neighbours' actions nor their entries: the
// batch is retried one write per transaction, and the chain stays whole.
func TestAuditInBatch(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	const n = 40
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("g%d", i/2) // every second one is a duplicate
			_, errs[i] = s.CreateGroupIn(WithAudit(ctx, groupEntry(name)), name, "", 0)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, model.ErrExists) {
			t.Fatal(err)
		}
	}
	got := entries(t, s, "group.create")
	if ok != n/2 || len(got) != ok {
		t.Fatalf("%d groups created, %d entries", ok, len(got))
	}
	seen := map[string]bool{}
	for _, e := range got {
		if seen[e.Target] {
			t.Fatalf("two entries for %s", e.Target)
		}
		seen[e.Target] = true
	}
	verified(t, s)
}
