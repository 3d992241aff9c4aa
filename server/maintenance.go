package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/curbside-health/curbside/mail"
	"github.com/curbside-health/curbside/store"
)

// auditEvery is how often the audit log is checked and pruned.
const auditEvery = 24 * time.Hour

// auditPruneBatch bounds the entries one prune transaction deletes, so the
// first prune after years of entries does not hold the writer for long.
const auditPruneBatch = 5000

// sessionPruneEvery is how often ended sessions' rows are deleted.
const sessionPruneEvery = 10 * time.Minute

// runMaintenance checks and prunes the audit log at start and then once a
// day, and deletes expired sessions' rows every sessionPruneEvery, until
// ctx ends.
//
// It lives here rather than in the relay's minute sweeper: the audit log
// and the sessions belong to the whole server, not to the ciphertext relay
// (whose narrow Store interface knows nothing of them); and verifying the
// chain is a long read that must not delay expiring ciphertext.
func runMaintenance(ctx context.Context, st *store.Store, log *slog.Logger, alerts *mail.Alerts) {
	audit := time.NewTicker(auditEvery)
	defer audit.Stop()
	sessions := time.NewTicker(sessionPruneEvery)
	defer sessions.Stop()
	maintainAudit(ctx, st, log, time.Now(), alerts)
	pruneSessions(ctx, st, log, time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case <-audit.C:
			maintainAudit(ctx, st, log, time.Now(), alerts)
		case <-sessions.C:
			pruneSessions(ctx, st, log, time.Now())
		}
	}
}

// pruneSessions deletes the rows of sessions that have ended, by age or by
// idleness under the policy. Such a session is refused already (and its
// row deleted when it is next presented); this removes the rows of those
// never presented again, so that the table holds live sessions only.
func pruneSessions(ctx context.Context, st *store.Store, log *slog.Logger, now time.Time) {
	pol, err := st.LoadPolicy(ctx)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("session prune: load policy", "err", err)
		}
		return
	}
	n, err := st.DeleteExpiredSessions(ctx, now.UnixMilli(), pol.SessionIdle.Milliseconds())
	if err != nil {
		if ctx.Err() == nil {
			log.Error("session prune failed", "err", err)
		}
		return
	}
	if n > 0 {
		log.Info("ended sessions deleted", "sessions", n)
	}
}

// maintainAudit verifies the audit chain and logs its head, then deletes
// entries older than the policy's audit_retention. A chain that does not
// verify is not pruned: the broken entries are the evidence, and an
// operator should see them before anything is deleted. The head logged
// each day is what an operator copies elsewhere (see docs/SECURITY.md):
// with it, even a rewrite of the whole chain shows. A chain that does not
// verify, or cannot be read, raises the alert alertAudit until a check
// passes.
func maintainAudit(ctx context.Context, st *store.Store, log *slog.Logger, now time.Time, alerts *mail.Alerts) {
	v, err := st.VerifyAudit(ctx)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("audit log check failed", "err", err)
			alerts.Raise(ctx, alertAudit, "the audit log could not be checked",
				"The daily check of the audit log could not read it. Run curbside audit verify on the server; the server's log has the cause.")
		}
		return
	}
	if !v.OK {
		log.Error("audit log does not verify; pruning skipped to keep the evidence: run curbside audit verify",
			"first_bad", v.FirstBad, "problem", v.Problem)
		alerts.Raise(ctx, alertAudit, "the audit log does not verify",
			fmt.Sprintf("The audit log's chain of hashes breaks at entry %d: an entry was changed or removed. Nothing is pruned while it fails. Keep a copy of the data directory and run curbside audit verify.", v.FirstBad))
		return
	}
	alerts.Clear(alertAudit)
	log.Info("audit log verified", "entries", v.Entries, "head_seq", v.HeadSeq, "head_hash", v.HeadHash)

	pol, err := st.LoadPolicy(ctx)
	if err != nil {
		log.Error("audit prune: load policy", "err", err)
		return
	}
	before := now.Add(-pol.AuditRetention).UnixMilli()
	var total int64
	for {
		// Each batch is on the record in its own transaction
		// (audit.prune, with the count PruneAudit notes), and only
		// when it deleted something.
		rec := &store.Pending{Entry: store.AuditEntry{ActorName: "server", Action: "audit.prune", Target: "audit"},
			Detail: map[string]any{"older_than": before, "retention": pol.AuditRetention.String()}}
		n, err := st.PruneAudit(store.WithAudit(ctx, rec), before, auditPruneBatch)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("audit prune failed", "err", err)
			}
			break
		}
		total += n
		if n < auditPruneBatch {
			break
		}
	}
	if total == 0 {
		return
	}
	log.Info("audit entries past the retention age deleted", "entries", total, "retention", pol.AuditRetention)
}
