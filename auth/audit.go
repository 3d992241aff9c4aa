package auth

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/store"
)

// Audit records an action of the request's user (or of nobody, before
// sign-in) in the audit log. A failure to record is logged as an error:
// the action itself has already happened.
func (a *Auth) Audit(r *http.Request, action, target, outcome string, detail map[string]any) {
	e := &store.AuditEntry{Action: action, Target: target, IP: web.ClientIP(r), Outcome: outcome}
	if s := SessionOf(r.Context()); s != nil {
		e.Actor, e.ActorName = s.User.ID, s.User.Username
	}
	a.AuditEntry(r, e, detail)
}

// AuditEntry records e, with detail as its JSON detail, in the audit log.
func (a *Auth) AuditEntry(r *http.Request, e *store.AuditEntry, detail map[string]any) {
	if len(detail) > 0 {
		b, _ := json.Marshal(detail)
		e.Detail = string(b)
	}
	if err := a.store.Audit(r.Context(), e); err != nil {
		a.log.Error("audit entry not recorded", "action", e.Action, "target", e.Target, "err", err)
	}
}

// UserTarget is an audit target naming a user.
func UserTarget(id int64) string { return "user:" + strconv.FormatInt(id, 10) }

// DeviceTarget is an audit target naming a device.
func DeviceTarget(id int64) string { return "device:" + strconv.FormatInt(id, 10) }

// InvitationTarget is an audit target naming an invitation.
func InvitationTarget(id int64) string { return "invitation:" + strconv.FormatInt(id, 10) }
