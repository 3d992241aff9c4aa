package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// maxAcceptBody bounds an invitation's acceptance, which carries a
// password.
const maxAcceptBody = 4 << 10

var errBadInvitation = protocol.Errorf(protocol.CodeInvitation, "this link is not valid: ask your administrator for a new one")

// Invitation error codes.
const (
	CodeInvitation   = protocol.CodeInvitation
	CodeWeakPassword = protocol.CodeWeakPassword
)

// pendingInvitation looks up a token and refuses any invitation that can no
// longer be used, saying why.
func (a *API) pendingInvitation(r *http.Request, token string) (*store.Invitation, error) {
	if token == "" || len(token) > 128 {
		return nil, errBadInvitation
	}
	inv, err := a.Store.InvitationByHash(r.Context(), auth.HashToken(token))
	if errors.Is(err, model.ErrNotFound) {
		return nil, errBadInvitation
	}
	if err != nil {
		return nil, protocol.Internal(err)
	}
	switch inv.Status {
	case store.InviteUsed:
		return nil, protocol.Errorf(protocol.CodeInvitationGone, "this link was already used; sign in, or ask your administrator for a new one")
	case store.InviteExpired:
		return nil, protocol.Errorf(protocol.CodeInvitationGone, "this link has expired; ask your administrator for a new one")
	case store.InviteRevoked:
		return nil, protocol.Errorf(protocol.CodeInvitationGone, "this link was withdrawn; ask your administrator for a new one")
	}
	return inv, nil
}

// maxShowBody bounds the request that shows an invitation, which carries
// only its token.
const maxShowBody = 1 << 10

type showRequest struct {
	Token string `json:"token"`
}

// showInvitation tells the welcome page whom a link is for. The token
// comes in the body, never in the path or query, so that it stays out of
// access logs, proxies' logs and browser history.
func (a *API) showInvitation(w http.ResponseWriter, r *http.Request) error {
	var req showRequest
	if err := web.DecodeJSON(w, r, maxShowBody, &req); err != nil {
		return err
	}
	inv, err := a.pendingInvitation(r, req.Token)
	if err != nil {
		return err
	}
	pol, err := a.Store.LoadPolicy(r.Context())
	if err != nil {
		return protocol.Internal(err)
	}
	// A "reset" link also sets the first password of someone added in the
	// console or imported, who has never signed in: the welcome page greets
	// them as a new colleague, not as someone replacing a password.
	newAccount := false
	if inv.Kind == store.InviteReset && inv.User != 0 {
		u, err := a.Store.UserByID(r.Context(), inv.User)
		if err != nil {
			return protocol.Internal(err)
		}
		newAccount = u.SignedInAt == 0
	}
	out := map[string]any{
		"invitation": map[string]any{"kind": inv.Kind, "username": inv.Username, "display": inv.Display, "role": inv.Role,
			"admin_level": inv.AdminLevel, "expires_at": inv.ExpiresAt, "new_account": newAccount},
		"password_policy": map[string]any{"min_length": pol.PasswordMinLength, "classes": pol.PasswordClasses},
	}
	// The practice that invites them, so that they know whose link it is.
	if name := a.practiceName(r.Context(), pol); name != "" {
		out["practice"] = name
	}
	return web.WriteJSON(w, http.StatusOK, out)
}

type acceptRequest struct {
	Token    string `json:"token"`
	Username string `json:"username"`
	Display  string `json:"display"`
	Password string `json:"password"`
}

func (a *API) acceptInvitation(w http.ResponseWriter, r *http.Request) error {
	var req acceptRequest
	if err := web.DecodeJSON(w, r, maxAcceptBody, &req); err != nil {
		return err
	}
	ip := web.ClientIP(r)
	if !a.Auth.AllowAttempt(ip) { // hashing a password costs; bound it like sign-in
		return protocol.Errorf(protocol.CodeRateLimited, "too many attempts from this address; wait a minute and try again")
	}
	inv, err := a.pendingInvitation(r, req.Token)
	if err != nil {
		return err
	}
	username := strings.TrimSpace(req.Username)
	if inv.Kind != store.InviteReset && inv.Username == "" && !model.ValidUsername(username) {
		return protocol.Errorf(protocol.CodeBadRequest, "username: 1-64 characters of letters, digits, '.', '_', '-' or '@'")
	}
	display, ok := web.Trimmed(req.Display, 100)
	if inv.Kind != store.InviteReset && inv.Display == "" && !ok {
		return protocol.Errorf(protocol.CodeBadRequest, "display: your full name as others will see it, 1-100 characters")
	}
	pol, err := a.Store.LoadPolicy(r.Context())
	if err != nil {
		return protocol.Internal(err)
	}
	if err := auth.CheckNewPassword(req.Password, &pol); err != nil {
		return protocol.Errorf(protocol.CodeWeakPassword, "%v", err)
	}
	// Inside the cap on argon2id hashes at once, with the sign-ins' checks.
	hash, err := a.Auth.NewPasswordHash(r.Context(), req.Password)
	var busy *protocol.Error
	if errors.As(err, &busy) {
		return err
	}
	if err != nil {
		return protocol.Internal(err)
	}
	// The entry is completed with the account the write created or set
	// the password of: the person accepting is its actor.
	action := "invitation.accept"
	if inv.Kind == store.InviteSetup {
		action = "setup.owner"
	}
	rec := &store.Pending{Entry: store.AuditEntry{Action: action, IP: ip}, Detail: map[string]any{"invitation": inv.ID, "kind": inv.Kind}}
	rec.Complete = func(p *store.Pending) {
		u := p.Result.(*model.User)
		p.Entry.Actor, p.Entry.ActorName, p.Entry.Target = u.ID, u.Username, auth.UserTarget(u.ID)
		p.Detail["role"], p.Detail["admin_level"] = u.Role, u.AdminLevel
	}
	u, inv, err := a.Store.AcceptInvitation(store.WithAudit(r.Context(), rec), auth.HashToken(req.Token), username, display, hash)
	switch {
	case errors.Is(err, model.ErrExists):
		return protocol.Errorf(protocol.CodeConflict, "the username %q is taken; choose another", username)
	case errors.Is(err, model.ErrGone):
		return protocol.Errorf(protocol.CodeInvitationGone, "this link can no longer be used; ask your administrator for a new one")
	case err != nil:
		return protocol.Internal(err)
	}
	a.Log.Info("invitation accepted", "user", u.ID, "kind", inv.Kind)
	return web.WriteJSON(w, http.StatusOK, map[string]any{"user": u})
}

// setupTTL is how long the first-run set-up link works.
const setupTTL = 24 * time.Hour

// SetupLink makes the first-run link that creates the organisation's owner,
// when no administrator exists yet, and returns it with its expiry ("" when
// there is an administrator). Each call voids the links made before it, so
// only the newest printed link works.
func (a *API) SetupLink(ctx context.Context, origin string) (string, time.Time, error) {
	n, err := a.Store.AdminCount(ctx)
	if err != nil || n > 0 {
		return "", time.Time{}, err
	}
	if err := a.Store.RevokeSetupInvitations(ctx); err != nil {
		return "", time.Time{}, err
	}
	token, hash := auth.NewToken()
	exp := time.Now().Add(setupTTL)
	inv := &store.Invitation{Role: model.RoleStaff, AdminLevel: model.LevelOwner, ExpiresAt: exp.UnixMilli()}
	rec := &store.Pending{Entry: store.AuditEntry{Action: "setup.link"}, Detail: map[string]any{"expires_at": inv.ExpiresAt},
		Complete: func(p *store.Pending) { p.Entry.Target = auth.InvitationTarget(inv.ID) }}
	if err := a.Store.CreateInvitation(store.WithAudit(ctx, rec), inv, hash); err != nil {
		return "", time.Time{}, err
	}
	return auth.InvitationURL(strings.TrimSuffix(origin, "/"), token), exp, nil
}
