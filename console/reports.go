package console

import (
	"net/http"
	"time"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// Report range limits, in days.
const (
	defaultReportDays = 30
	maxReportDays     = 366
)

func (a *Console) reportRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /api/v1/admin/reports/activity", Access: web.Admin, Func: a.activityReport},
		{Pattern: "GET /api/v1/admin/reports/inventory", Access: web.Admin, Func: a.inventoryReport},
	}
}

// reportRange reads from and to (YYYY-MM-DD, UTC, both inclusive); the
// default is the last 30 days up to today.
func reportRange(r *http.Request, now time.Time) (from, to time.Time, err error) {
	p := r.URL.Query()
	to = now.UTC().Truncate(24 * time.Hour)
	if s := p.Get("to"); s != "" {
		if to, err = ParseDay(s); err != nil {
			return from, to, badParam("to", "%v", err)
		}
	}
	from = to.AddDate(0, 0, -(defaultReportDays - 1))
	if s := p.Get("from"); s != "" {
		if from, err = ParseDay(s); err != nil {
			return from, to, badParam("from", "%v", err)
		}
	}
	if to.Before(from) {
		return from, to, badParam("to", "must not be before from")
	}
	if days := int(to.Sub(from).Hours()/24) + 1; days > maxReportDays {
		return from, to, badParam("from", "a report covers at most %d days (this range has %d)", maxReportDays, days)
	}
	return from, to, nil
}

func (a *Console) activityReport(w http.ResponseWriter, r *http.Request) error {
	from, to, err := reportRange(r, time.Now())
	if err != nil {
		return err
	}
	rep, err := a.Store.ActivityReport(r.Context(), from, to)
	if err != nil {
		return protocol.Internal(err)
	}
	a.Auth.AuditEvent(r, "report.view", "report:activity", store.OutcomeOK, map[string]any{"from": rep.From, "to": rep.To})
	return web.WriteJSON(w, http.StatusOK, rep)
}

// Integration is a connection to another system that ePHI or directory
// data crosses. Curbside has none yet; the list is empty until one is built.
type Integration struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Direction string `json:"direction"`
	Data      string `json:"data"`
}

// Flow is one place ePHI or metadata about it goes, as built.
type Flow struct {
	What    string `json:"what"`
	Where   string `json:"where"`
	Form    string `json:"form"`
	Kept    string `json:"kept"`
	Control string `json:"control"`
}

// ephiFlows describes where ePHI travels and rests in this version. It is
// written from the code and docs/SECURITY.md, not measured: keep it true
// when a flow is added (push, archive, integrations).
var ephiFlows = []Flow{
	{What: "Message text and attachments", Where: "sender's device → server → recipients' devices",
		Form:    "end-to-end encrypted (HPKE + AES-256-GCM, signed with Ed25519); the server holds only ciphertext",
		Kept:    "on the server until every recipient device acknowledges, or the retention policy expires it",
		Control: "only the recipient devices' private keys open it; TLS in transit (a proxy until built-in TLS)"},
	{What: "Attachment ciphertext", Where: "blobs/ in the server's data directory",
		Form: "encrypted in 64 KiB chunks under a per-file key that travels only inside the encrypted message",
		Kept: "until the retention policy expires it", Control: "random 128-bit ids; useless without the message"},
	{What: "Local message history", Where: "each browser's IndexedDB",
		Form: "encrypted under a data key wrapped by the PIN and a server-held per-device share",
		Kept: "until the user removes it or the device is wiped", Control: "remote wipe deletes the share; inactivity lock"},
	{What: "Metadata: who messaged whom and when, receipts", Where: "the server's database (curbside.db and its WAL)",
		Form:    "in the clear (needed to route and expire); no message content",
		Kept:    "message rows until the retention policy; daily counts per user in activity_daily",
		Control: "file permissions of the data directory; backups inherit the same content"},
	{What: "Directory and audit log", Where: "the server's database",
		Form:    "names, roles, e-mail addresses, device public keys; the hash-chained audit log (metadata only)",
		Kept:    "directory while accounts exist; audit entries for audit_retention (default 6 years)",
		Control: "admin console behind admin levels, MFA and admin_networks; audit chain verification"},
	{What: "Backups", Where: "wherever the operator copies the data directory",
		Form: "the same as the database: ciphertext plus clear metadata",
		Kept: "as the operator decides", Control: "the operator's storage; no built-in replication yet"},
}

func (a *Console) inventoryReport(w http.ResponseWriter, r *http.Request) error {
	inv, err := a.Store.Inventory(r.Context())
	if err != nil {
		return protocol.Internal(err)
	}
	a.Auth.AuditEvent(r, "report.view", "report:inventory", store.OutcomeOK, nil)
	return web.WriteJSON(w, http.StatusOK, map[string]any{
		"generated_at": time.Now().UnixMilli(),
		"version":      a.Version,
		"directory":    inv,
		"integrations": []Integration{},
		"integrations_note": "This version of Curbside has no integrations: no EHR or HL7 feed, no directory sync, " +
			"no e-mail or SMS, no Web Push service. Nothing leaves the server except to signed-in Curbside clients.",
		"ephi_flows": ephiFlows,
	})
}
