package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/curbside-health/curbside/mail"
	"github.com/curbside-health/curbside/replica"
	"github.com/curbside-health/curbside/store"
)

// DefaultDrillEvery is how often the server runs a restore drill of its
// replica: weekly.
const DefaultDrillEvery = 7 * 24 * time.Hour

// FirstDrillAfter is when the first restore drill runs on a server that
// has none on record: this long after the replica began (its oldest
// history, or its first sync), so at once on a replica older than that.
// Measured from the replica, not from the start, so restarts do not put
// it off.
const FirstDrillAfter = time.Hour

// DefaultReplicaMaxLag is how far behind the replica may fall before
// /healthz fails ("replication"). Syncs run every second; a lag of
// minutes means they are failing.
const DefaultReplicaMaxLag = 5 * time.Minute

// Alert keys of the backup.
const (
	alertReplica = "replica" // the replica is older than replica.MaxAge
	alertDrill   = "drill"   // the last restore drill failed
)

// Backup is the replication the server runs, and its drills; nil when no
// replica is configured.
type Backup struct {
	Rep     *replica.Replicator
	dataDir string
	st      *store.Store
	alerts  *mail.Alerts
	log     *slog.Logger
	every   time.Duration
	first   time.Duration // FirstDrillAfter

	// status and target are Rep's (tests give others).
	status func() replica.Status
	target func() *replica.Target
}

func newBackup(rep *replica.Replicator, dataDir string, st *store.Store, log *slog.Logger, every time.Duration) *Backup {
	return &Backup{Rep: rep, dataDir: dataDir, st: st, log: log, every: every, first: FirstDrillAfter, status: rep.Status, target: rep.Target}
}

// startBackup starts replicating to cfg.Replica, or returns nil (and says
// so) when none is set.
func startBackup(ctx context.Context, cfg Config, st *store.Store, log *slog.Logger) (*Backup, error) {
	if cfg.Replica == "" {
		log.Warn("backup off: no replica (--replica file:///path or s3://bucket/path; see docs/OPERATIONS.md)")
		return nil, nil
	}
	// The replica is asked for its own position at least twice within
	// the lag /healthz allows, so an unreachable replica fails it in time
	// even when nothing is written (and so nothing sent).
	rep, err := replica.Start(ctx, cfg.DataDir, replica.Options{URL: cfg.Replica, SyncInterval: cfg.ReplicaSyncInterval,
		VerifyEvery: min(replica.DefaultVerifyEvery, cfg.replicaMaxLag()/2), Logger: log})
	if err != nil {
		return nil, fmt.Errorf("--replica: %w", err)
	}
	every := cfg.DrillEvery
	if every == 0 {
		every = DefaultDrillEvery
	}
	log.Info("backup on: replicating", "replica", rep.URL(), "sync_interval", rep.Status().SyncInterval, "drill_every", every)
	return newBackup(rep, cfg.DataDir, st, log, every), nil
}

// replicaMaxLag is ReplicaMaxLag or its default.
func (c Config) replicaMaxLag() time.Duration {
	if c.ReplicaMaxLag > 0 {
		return c.ReplicaMaxLag
	}
	return DefaultReplicaMaxLag
}

// replicationCheck is /healthz's "replication" check: failing while the
// replica (as status says) is more than maxLag behind, which it is when
// its syncs fail.
func replicationCheck(status func() replica.Status, maxLag time.Duration) HealthCheck {
	return func(context.Context) error {
		st := status()
		if lag := time.Duration(st.LagMS) * time.Millisecond; lag > maxLag {
			return fmt.Errorf("the backup replica is %s behind (more than %s): check the server's log", lag.Round(time.Second), maxLag)
		}
		return nil
	}
}

// Status is the replica's state and the last drill, for the console.
func (b *Backup) Status() (replica.Status, *replica.DrillReport) {
	last, err := replica.LastReport(b.dataDir)
	if err != nil {
		b.log.Error("last drill report unreadable", "err", err)
	}
	return b.status(), last
}

// nextDrill is when the next restore drill is due: every after the last
// one on record (its report, which a restart keeps); with none, first
// after the replica began; zero while the replica holds nothing.
func nextDrill(last *replica.DrillReport, st replica.Status, every, first time.Duration) time.Time {
	if last != nil {
		return last.Started.Add(every)
	}
	if st.Created > 0 {
		return time.UnixMilli(st.Created).Add(first)
	}
	return time.Time{}
}

// run raises the replica alert while the replica is older than
// replica.MaxAge, and runs a drill when nextDrill says, until ctx ends.
func (b *Backup) run(ctx context.Context, alerts *mail.Alerts, check time.Duration) {
	b.alerts = alerts
	last, err := replica.LastReport(b.dataDir)
	if err != nil {
		b.log.Error("last drill report unreadable", "err", err)
	}
	if last != nil {
		b.drillAlert(ctx, last)
	}
	t := time.NewTicker(min(check, b.every, b.first))
	defer t.Stop()
	for {
		st := b.status()
		b.checkAge(ctx, st)
		if next := nextDrill(last, st, b.every, b.first); !next.IsZero() && !time.Now().Before(next) {
			// A drill run by hand (curbside drill) since counts too.
			if newer, _ := replica.LastReport(b.dataDir); newer != nil && (last == nil || newer.Started.After(last.Started)) {
				last = newer
				b.drillAlert(ctx, last)
				continue
			}
			if rep := b.Drill(ctx); rep != nil {
				last = rep
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (b *Backup) checkAge(ctx context.Context, s replica.Status) {
	if !s.Stale {
		b.alerts.Clear(alertReplica)
		return
	}
	since := "since the server started"
	if s.LastSync > 0 {
		since = "since " + time.UnixMilli(s.LastSync).UTC().Format(time.RFC1123)
	}
	detail := fmt.Sprintf("Nothing has reached the backup replica %s %s (more than %s). If this machine's disk failed now, what was written since would be lost.", s.URL, since, replica.MaxAge)
	if s.Error != "" {
		detail += " The last attempt failed: " + s.Error + "."
	}
	b.alerts.Raise(ctx, alertReplica, "the backup replica is out of date", detail+" Check the replica's storage and credentials; the server's log has each failure.")
}

// Drill runs a restore drill now, writes its report into the data
// directory, records it in the audit log and raises or clears the drill
// alert. It returns nil when ctx ended first (a drill stopped, not one
// that failed).
func (b *Backup) Drill(ctx context.Context) *replica.DrillReport {
	target := b.target()
	b.log.Info("restore drill starting", "replica", target.URL)
	rep := replica.Drill(ctx, replica.DrillOptions{Target: target, Live: b.st, Logger: b.log})
	if ctx.Err() != nil {
		return nil // stopped, not failed
	}
	path, err := replica.WriteReport(b.dataDir, rep)
	if err != nil {
		b.log.Error("drill report not written", "err", err)
	}
	if err := b.st.Audit(ctx, rep.AuditEntry("server")); err != nil {
		b.log.Error("drill not recorded in the audit log", "err", err)
	}
	if rep.OK {
		b.log.Info("restore drill passed", "took", time.Duration(rep.Took).Round(time.Millisecond), "report", path)
	} else {
		b.log.Error("restore drill failed", "problems", rep.Problems, "report", path)
	}
	b.drillAlert(ctx, rep)
	return rep
}

func (b *Backup) drillAlert(ctx context.Context, rep *replica.DrillReport) {
	if b.alerts == nil {
		return
	}
	if rep.OK {
		b.alerts.Clear(alertDrill)
		return
	}
	b.alerts.Raise(ctx, alertDrill, "the restore drill failed",
		fmt.Sprintf("The restore drill of %s on %s failed: %v. The backup may not restore. The report is in the data directory's drills folder; run curbside drill to try again.",
			rep.Replica, rep.Started.Format(time.RFC1123), rep.Problems))
}

// close stops replicating after a last sync.
func (b *Backup) close() {
	if b == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Rep.Close(ctx); err != nil {
		b.log.Error("replica: last sync at shutdown failed", "err", err)
	}
}
