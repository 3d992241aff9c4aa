package auth

import (
	"context"
	"net/http"
	"strconv"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/store"
)

// Audit entries are written in the transaction of the action they record
// (store.WithAudit): a handler builds the entry before its write with
// Record, or with Entry when the write must complete it, and passes the
// returned context to the store. Only entries that record no change of
// state, so have no transaction of their own to go in, are written alone:
// AuditRefused (an attempt refused before anything changed), AuditEvent (a
// read of the log or of a report, an email sent), and failed sign-ins
// (failaudit.go).

// Entry builds the audit entry of an action of the request's user (or of
// nobody, before sign-in), from the request's address, with outcome ok.
// Detail is metadata only; it is marshalled when the entry is appended, so
// the write may still add to it.
func Entry(r *http.Request, action, target string, detail map[string]any) *store.Pending {
	p := &store.Pending{Entry: store.AuditEntry{Action: action, Target: target, IP: web.ClientIP(r), Outcome: store.OutcomeOK}, Detail: detail}
	if s := SessionOf(r.Context()); s != nil {
		p.Entry.Actor, p.Entry.ActorName = s.User.ID, s.User.Username
	}
	return p
}

// Record returns the request's context carrying the entry of the action
// the handler is about to write: the store write made with it appends the
// entry in the same transaction, after the write succeeded, or not at all.
func Record(r *http.Request, action, target string, detail map[string]any) context.Context {
	return store.WithAudit(r.Context(), Entry(r, action, target, detail))
}

// AuditRefused records, in a transaction of its own, an attempt that was
// refused before it changed anything (outcome fail).
func (a *Auth) AuditRefused(r *http.Request, action, target string, detail map[string]any) {
	p := Entry(r, action, target, detail)
	p.Entry.Outcome = store.OutcomeFail
	a.auditAlone(r.Context(), p)
}

// AuditEvent records, in a transaction of its own, an event that changes
// nothing the server stores (a read of the audit log or a report, an email
// sent), so no write carries it.
func (a *Auth) AuditEvent(r *http.Request, action, target, outcome string, detail map[string]any) {
	p := Entry(r, action, target, detail)
	p.Entry.Outcome = outcome
	a.auditAlone(r.Context(), p)
}

// auditAlone appends p in a transaction of its own. A failure to record is
// logged as an error: what it records has already happened.
func (a *Auth) auditAlone(ctx context.Context, p *store.Pending) {
	if err := a.store.Barrier(store.WithAudit(ctx, p)); err != nil {
		a.log.Error("audit entry not recorded", "action", p.Entry.Action, "target", p.Entry.Target, "err", err)
	}
}

// signInEntry is the entry of a sign-in event. The user, when known, is
// the target; a successful sign-in or sign-out is also the user's own act.
// Detail carries reasons and counts only, never a password, code or token.
func signInEntry(ip, action string, u *model.User, outcome string, detail map[string]any) *store.Pending {
	p := &store.Pending{Entry: store.AuditEntry{Action: action, IP: ip, Outcome: outcome}}
	if len(detail) > 0 {
		p.Detail = detail
	}
	if u != nil {
		p.Entry.Target = UserTarget(u.ID)
		if outcome == store.OutcomeOK {
			p.Entry.Actor, p.Entry.ActorName = u.ID, u.Username
		}
	}
	return p
}

// UserTarget is an audit target naming a user.
func UserTarget(id int64) string { return "user:" + strconv.FormatInt(id, 10) }

// DeviceTarget is an audit target naming a device.
func DeviceTarget(id int64) string { return "device:" + strconv.FormatInt(id, 10) }

// InvitationTarget is an audit target naming an invitation.
func InvitationTarget(id int64) string { return "invitation:" + strconv.FormatInt(id, 10) }
