package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/curbside-health/curbside/mail"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/relay"
	"github.com/curbside-health/curbside/store"
)

// DefaultCheckEvery is how often the server looks for unread nudges to
// send and checks its health (disk space, store writes).
const DefaultCheckEvery = time.Minute

// The alerts the server raises (mail.Alerts keys).
const (
	alertDisk   = "disk"
	alertWrites = "writes"
	alertAudit  = "audit"
)

// checkWrites is the name of the health check of the store's writes.
const checkWrites = "writes"

// runMailJobs, every `every` until ctx ends, mails unread nudges and
// raises or clears the disk and store-write alerts; it checks the alerts
// again at once whenever the store's writes start or stop failing, so an
// administrator hears of a full disk when it happens and the alert clears
// when writes succeed again. appURL is the app's address for the nudges.
func runMailJobs(ctx context.Context, every time.Duration, st *store.Store, dataDir string, m *mail.Service, rl *relay.Relay, appURL string, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		checkHealth(ctx, st, dataDir, m.Alerts, log)
		if n, err := m.Nudge(ctx, time.Now(), rl.UserConnected, appURL); err != nil && ctx.Err() == nil {
			log.Error("unread nudges not sent", "err", err)
		} else if n > 0 {
			log.Info("unread nudges queued", "users", n)
		}
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				return
			case <-st.WriteHealthChanged():
				checkHealth(ctx, st, dataDir, m.Alerts, log)
			case <-t.C:
				waiting = false
			}
		}
	}
}

// checkHealth raises an alert while free space in the data directory is
// below the policy's alert_disk_free_bytes, and while the store's writes
// fail, and clears each once it no longer holds.
func checkHealth(ctx context.Context, st *store.Store, dataDir string, alerts *mail.Alerts, log *slog.Logger) {
	pol, err := st.LoadPolicy(ctx)
	if err != nil {
		// Reading failing is not writing failing, but it is worth a line.
		if ctx.Err() == nil {
			log.Error("health check: load policy", "err", err)
		}
		pol = model.DefaultPolicy
	}
	if free, ok := diskFree(dataDir); ok && pol.AlertDiskFreeBytes > 0 && free < uint64(pol.AlertDiskFreeBytes) {
		alerts.Raise(ctx, alertDisk, "the disk is nearly full",
			fmt.Sprintf("The data directory has %s free, less than the %s the policy's alert_disk_free_bytes asks for. When it is full, messages can no longer be accepted: free space or move the data directory to a larger disk.",
				model.HumanBytes(int64(free)), model.HumanBytes(int64(pol.AlertDiskFreeBytes))))
	} else if ok {
		alerts.Clear(alertDisk)
	}
	switch h := st.WriteHealth(); {
	case h.Failing() && h.Full:
		alerts.Raise(ctx, alertWrites, "the disk is full: messages are refused",
			fmt.Sprintf("The disk that holds the data directory is full, so the server refuses new messages, receipts and attachments (%d refused since %s UTC); what it accepted before is safe, and the apps keep what they could not send. Free space on that disk or move the data directory to a larger one: the server takes writes again by itself, and the apps send what they kept.",
				h.Refused, h.Since.UTC().Format("2006-01-02 15:04")))
	case h.Failing():
		alerts.Raise(ctx, alertWrites, "the database cannot write",
			fmt.Sprintf("The server's last writes to its database failed (%d since start). Messages may not be accepted. Check the disk and the data directory's permissions; the server's log has the cause.", h.Failures))
	default:
		alerts.Clear(alertWrites)
	}
}
