package console

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/mail"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// maxTokenLen bounds an invitation token given back to be mailed (they
// are 43 characters of base64url).
const maxTokenLen = 100

func (a *Console) emailRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /api/v1/admin/email", Access: web.Admin, Func: a.getEmail},
		{Pattern: "PUT /api/v1/admin/email", Access: web.Admin, Func: a.putEmail},
		{Pattern: "POST /api/v1/admin/email/test", Access: web.Admin, Func: a.testEmail},
		// Whether a link can be mailed at all, for whoever may mail one: the
		// console offers "Send by email" only then.
		{Pattern: "GET /api/v1/admin/email/ready", Access: web.Helpdesk, Func: a.emailReady},
		// Helpdesk makes reset links, so it may mail them; the handler
		// checks the level for each kind of invitation.
		{Pattern: "POST /api/v1/admin/invitations/{id}/email", Access: web.Helpdesk, Func: a.emailInvitation},
	}
}

var errMailOff = protocol.CodeMailNotSetUp.Err()

// emailOut is the email settings as the console shows them: never the
// password, only where it comes from.
type emailOut struct {
	Settings mail.Settings `json:"settings"`
	Password string        `json:"password"` // "set" or "not set"
	Source   string        `json:"password_source"`
	Last     mail.Result   `json:"last"`
	Queued   int           `json:"queued"`
	Alerts   []mail.Alert  `json:"alerts"`
}

func (a *Console) writeEmail(w http.ResponseWriter, r *http.Request) error {
	if a.Mail == nil {
		return errMailOff
	}
	set, src, err := a.Mail.Settings(r.Context())
	if err != nil {
		return protocol.Internal(err)
	}
	out := emailOut{Settings: set, Password: "not set", Source: src, Last: a.Mail.Last(), Queued: a.Mail.Queued(), Alerts: a.Mail.Alerts.Active()}
	if src != mail.PasswordNone {
		out.Password = "set"
	}
	return web.WriteJSON(w, http.StatusOK, out)
}

func (a *Console) getEmail(w http.ResponseWriter, r *http.Request) error { return a.writeEmail(w, r) }

// emailReady answers whether an invitation or reset link can be mailed:
// email is set up and the server knows the address people reach it at
// (the link must name it). It says nothing of the settings themselves.
func (a *Console) emailReady(w http.ResponseWriter, r *http.Request) error {
	ready := a.Mail != nil && a.MailOrigin != "" && a.Mail.Configured(r.Context())
	return web.WriteJSON(w, http.StatusOK, map[string]bool{"ready": ready})
}

type emailIn struct {
	mail.Settings
	// Password nil keeps the stored one; "" removes it.
	Password *string `json:"password"`
}

func (a *Console) putEmail(w http.ResponseWriter, r *http.Request) error {
	if a.Mail == nil {
		return errMailOff
	}
	var in emailIn
	if err := web.DecodeJSON(w, r, maxConsoleBody, &in); err != nil {
		return err
	}
	var fe *mail.FieldError
	if err := in.Settings.Check(); errors.As(err, &fe) {
		return badRequest("%s", fe.Error())
	} else if err != nil {
		return protocol.Internal(err)
	}
	old, _, err := a.Mail.Settings(r.Context())
	if err != nil {
		return protocol.Internal(err)
	}
	// The audit entry, written with the settings, says what changed, and
	// of the password only that it was changed or removed.
	changes := map[string]any{}
	diff := func(k, from, to string) {
		if from != to {
			changes[k] = map[string]string{"from": from, "to": to}
		}
	}
	next := in.Settings
	diff("host", old.Host, next.Host)
	diff("port", strconv.Itoa(old.Port), strconv.Itoa(next.Port))
	diff("security", old.Security, next.Security)
	diff("username", old.Username, next.Username)
	diff("from", old.From, next.From)
	diff("practice", old.Practice, next.Practice)
	if in.Password != nil {
		changes["password"] = map[bool]string{true: "removed", false: "changed"}[*in.Password == ""]
	}
	switch err := a.Mail.Save(auth.Record(r, "email.settings", "email", changes), in.Settings, in.Password); {
	case errors.As(err, &fe):
		return badRequest("%s", fe.Error())
	case err != nil:
		return protocol.Internal(err)
	}
	return a.writeEmail(w, r)
}

// testEmail sends a test email now, to the address given or the caller's
// own, and answers with the outcome: the words of mail.Explain when it
// fails (a wrong password, an unreachable server).
func (a *Console) testEmail(w http.ResponseWriter, r *http.Request) error {
	if a.Mail == nil {
		return errMailOff
	}
	var in struct {
		To string `json:"to"`
	}
	if err := web.DecodeJSON(w, r, maxConsoleBody, &in); err != nil {
		return err
	}
	if in.To == "" {
		in.To = auth.SessionOf(r.Context()).User.Email
	}
	if err := checkEmail(&in.To); err != nil {
		return err
	}
	if in.To == "" {
		return protocol.Errorf(protocol.CodeBadRequest, "to: give the address to send the test to (your account has no email address)")
	}
	set, _, err := a.Mail.Settings(r.Context())
	if err != nil {
		return protocol.Internal(err)
	}
	if !set.Configured() {
		return errMailOff
	}
	err = a.Mail.Send(r.Context(), mail.Test(set.Practice, in.To))
	outcome := store.OutcomeOK
	if err != nil {
		outcome = store.OutcomeFail
	}
	a.Auth.AuditEvent(r, "email.test", "email", outcome, nil)
	if err != nil {
		// Send logged the cause; the answer says what to check.
		return protocol.Errorf(protocol.CodeMailFailed, "%s", mail.Explain(err))
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"sent": true, "to": in.To})
}

// emailInvitation mails a pending invitation's link to the person it is
// for: the email address in the directory (of the account, for a reset;
// the one the invitation names, for a new account), never one the caller
// chooses. The link names MailOrigin, never the request's Host. The
// server keeps only the token's hash, so the console gives the token
// back, which also proves the caller holds the link.
func (a *Console) emailInvitation(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	var in struct {
		Token string `json:"token"`
	}
	if err := web.DecodeJSON(w, r, maxConsoleBody, &in); err != nil {
		return err
	}
	if in.Token == "" || len(in.Token) > maxTokenLen {
		return badRequest("token: give the invitation's token, from its link")
	}
	if a.Mail == nil || !a.Mail.Configured(r.Context()) {
		return errMailOff
	}
	inv, err := a.Store.InvitationByHash(r.Context(), auth.HashToken(in.Token))
	switch {
	case errors.Is(err, model.ErrNotFound) || err == nil && inv.ID != id:
		return protocol.Errorf(protocol.CodeNotFound, "no such invitation")
	case err != nil:
		return protocol.Internal(err)
	case inv.Status != store.InvitePending:
		return protocol.Errorf(protocol.CodeConflict, "the invitation was already used, revoked or has expired; make a new one")
	}
	caller := auth.SessionOf(r.Context()).User
	to := inv.Email
	switch inv.Kind {
	case store.InviteReset:
		u, err := a.Store.UserByID(r.Context(), inv.User)
		if err != nil {
			return protocol.Internal(err)
		}
		if err := mayManage(caller, u); err != nil {
			return err
		}
		to = u.Email
	case store.InviteNew:
		if model.LevelRank(caller.AdminLevel) < model.LevelRank(model.LevelAdmin) {
			return errLowLevel
		}
	default:
		return protocol.Errorf(protocol.CodeForbidden, "the first-run link is not sent by email")
	}
	if to == "" {
		return protocol.Errorf(protocol.CodeMailNotSetUp, "%s has no email address in the directory: add one, or copy the link and give it to them yourself", inv.Username)
	}
	if a.MailOrigin == "" {
		return protocol.Errorf(protocol.CodeMailNotSetUp, "the server does not know the address people reach it at, so a mailed link could not name it: start it with --public-url, or copy the link and give it to them yourself")
	}
	practice := a.Mail.Practice(r.Context())
	msg := mail.Invitation(practice, to, auth.InvitationURL(a.MailOrigin, in.Token), time.UnixMilli(inv.ExpiresAt), inv.Kind == store.InviteReset)
	switch err := a.Mail.Enqueue(r.Context(), msg); {
	case errors.Is(err, mail.ErrNotConfigured):
		return errMailOff
	case err != nil:
		return protocol.Errorf(protocol.CodeMailFailed, "%s", mail.Explain(err))
	}
	a.Auth.AuditEvent(r, "invitation.email", auth.InvitationTarget(inv.ID), store.OutcomeOK, nil)
	return web.WriteJSON(w, http.StatusAccepted, map[string]any{"queued": true, "to": to})
}
