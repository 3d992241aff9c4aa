package server

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/curbside-health/curbside/mail"
	"github.com/curbside-health/curbside/replica"
	"github.com/curbside-health/curbside/store"
)

// TestNextDrill: the first drill is due an hour after the replica began,
// whenever the server started; later ones a week after the last report,
// which a restart keeps.
func TestNextDrill(t *testing.T) {
	every, first := 7*24*time.Hour, time.Hour
	if got := nextDrill(nil, replica.Status{}, every, first); !got.IsZero() {
		t.Errorf("an empty replica: due %v, want not yet", got)
	}
	began := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	if got, want := nextDrill(nil, replica.Status{Created: began.UnixMilli(), LastSync: began.Add(72 * time.Hour).UnixMilli()}, every, first), began.Add(first); !got.Equal(want) {
		t.Errorf("no report yet: due %v, want %v (an hour after the replica began)", got, want)
	}
	last := &replica.DrillReport{Started: began.Add(24 * time.Hour)}
	if got, want := nextDrill(last, replica.Status{Created: began.UnixMilli()}, every, first), last.Started.Add(every); !got.Equal(want) {
		t.Errorf("after a drill: due %v, want %v", got, want)
	}
}

// TestBackupAlerts runs the schedule over a real replica with a status
// the test sets: a replica that began two hours ago and has no drill on
// record is drilled at once (a weekly schedule counted from the start
// would wait a week); a failed drill and a replica older than 48 hours
// raise their alerts; a passing drill and a fresh sync clear them; each
// drill is a report in the data directory and an audit entry.
func TestBackupAlerts(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	st, err := store.Open(ctx, dir, store.Options{Replicated: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Audit(ctx, &store.AuditEntry{ActorName: "test", Action: "user.create", Target: "alice"}); err != nil {
		t.Fatal(err)
	}
	rep, err := replica.Start(ctx, dir, replica.Options{URL: "file://" + t.TempDir(), SyncInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Close(context.Background())
	if err := rep.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	empty, err := replica.Open(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	log := slog.New(slog.DiscardHandler)
	alerts := mail.New(st, dir, mail.Options{Logger: log}).Alerts
	b := newBackup(rep, dir, st, log, DefaultDrillEvery)
	var mu sync.Mutex
	now := time.Now()
	fake := replica.Status{URL: rep.URL(), Created: now.Add(-2 * time.Hour).UnixMilli(), LastSync: now.Add(-49 * time.Hour).UnixMilli(), Stale: true}
	target := empty // nothing to restore: the drill fails
	b.status = func() replica.Status { mu.Lock(); defer mu.Unlock(); return fake }
	b.target = func() *replica.Target { mu.Lock(); defer mu.Unlock(); return target }

	runDone := make(chan struct{})
	runCtx, stopRun := context.WithCancel(ctx)
	go func() { defer close(runDone); b.run(runCtx, alerts, 20*time.Millisecond) }()
	defer func() { stopRun(); <-runDone }()

	waitAlerts := func(what string, want map[string]bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			got := map[string]bool{}
			for _, a := range alerts.Active() {
				got[a.Key] = true
			}
			same := len(got) == len(want)
			for k := range want {
				same = same && got[k]
			}
			if same {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: alerts %v, want %v", what, alerts.Active(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitAlerts("a stale replica whose first drill fails", map[string]bool{alertReplica: true, alertDrill: true})
	for _, a := range alerts.Active() {
		if a.Key == alertReplica && !strings.Contains(a.Detail, "more than 48h0m0s") {
			t.Errorf("the replica alert does not say how old is too old: %s", a.Detail)
		}
	}
	last, err := replica.LastReport(dir)
	if err != nil || last == nil || last.OK || len(last.Problems) == 0 {
		t.Fatalf("the failed drill's report: %+v %v", last, err)
	}
	entries, _, err := st.QueryAudit(ctx, store.AuditQuery{Action: "backup.drill"})
	if err != nil || len(entries) != 1 || entries[0].Outcome != store.OutcomeFail {
		t.Fatalf("the failed drill's audit entry: %+v %v", entries, err)
	}

	// A sync reaches the replica: its alert clears, the drill's stays.
	mu.Lock()
	fake.LastSync, fake.Stale = time.Now().UnixMilli(), false
	mu.Unlock()
	waitAlerts("a fresh replica", map[string]bool{alertDrill: true})

	// The operator fixes the replica and drills again: it passes and
	// the drill alert clears.
	mu.Lock()
	target = rep.Target()
	mu.Unlock()
	if d := b.Drill(ctx); d == nil || !d.OK {
		t.Fatalf("drill of the real replica: %+v", d)
	}
	waitAlerts("a passing drill", nil)
	last, err = replica.LastReport(dir)
	if err != nil || last == nil || !last.OK {
		t.Fatalf("the passing drill's report: %+v %v", last, err)
	}
	entries, _, err = st.QueryAudit(ctx, store.AuditQuery{Action: "backup.drill"})
	if err != nil || len(entries) != 2 || entries[0].Outcome != store.OutcomeOK {
		t.Fatalf("the passing drill's audit entry: %+v %v", entries, err)
	}

	// Replica old again: raised again.
	mu.Lock()
	fake.LastSync, fake.Stale = time.Now().Add(-50*time.Hour).UnixMilli(), true
	mu.Unlock()
	waitAlerts("a stale replica again", map[string]bool{alertReplica: true})
}
