package admin

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

func (a *API) invitationRoutes() []Route {
	return []Route{
		{"GET /api/v1/admin/invitations", model.LevelAdmin, a.listInvitations},
		{"POST /api/v1/admin/invitations", model.LevelAdmin, a.createInvitation},
		{"DELETE /api/v1/admin/invitations/{id}", model.LevelAdmin, a.revokeInvitation},
	}
}

// registerInvitations adds the public routes through which a person with a
// link looks at and accepts an invitation.
func (a *API) registerInvitations(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/invitations/{token}", web.Handle(a.Log, a.showInvitation))
	mux.Handle("POST /api/v1/invitations/accept", web.Handle(a.Log, a.acceptInvitation))
}

func invitationTarget(id int64) string { return "invitation:" + strconv.FormatInt(id, 10) }

func (a *API) listInvitations(w http.ResponseWriter, r *http.Request) error {
	invs, err := a.Store.ListInvitations(r.Context(), 500)
	if err != nil {
		return web.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"invitations": invs})
}

func (a *API) createInvitation(w http.ResponseWriter, r *http.Request) error {
	var p userProfile
	if err := web.DecodeJSON(w, r, maxConsoleBody, &p); err != nil {
		return err
	}
	// The username may be left to the person; the rest is checked as for
	// a new account.
	if err := p.checkWith(true); err != nil {
		return err
	}
	if err := mayGrant(SessionOf(r.Context()).User, p.AdminLevel); err != nil {
		return err
	}
	inv, err := a.invite(r, &store.Invitation{Username: p.Username, Display: p.Display, Email: p.Email, Role: p.Role, AdminLevel: p.AdminLevel, Groups: p.Groups})
	switch {
	case errors.Is(err, model.ErrExists):
		return web.Errorf(http.StatusConflict, protocol.CodeConflict, "the username %q is taken or already invited", p.Username)
	case errors.Is(err, model.ErrNotFound):
		return web.Errorf(http.StatusNotFound, protocol.CodeNotFound, "one of the groups does not exist")
	case err != nil:
		return err
	}
	a.audit(r, "invitation.create", invitationTarget(inv.ID), store.OutcomeOK, map[string]any{"kind": store.InviteNew,
		"role": p.Role, "admin_level": p.AdminLevel, "groups": p.Groups, "expires_at": inv.ExpiresAt})
	return web.WriteJSON(w, http.StatusCreated, map[string]any{"invitation": inv})
}

func (a *API) revokeInvitation(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	switch err := a.Store.RevokeInvitation(r.Context(), id); {
	case errors.Is(err, model.ErrNotFound):
		return web.Errorf(http.StatusNotFound, protocol.CodeNotFound, "no such invitation")
	case errors.Is(err, model.ErrGone):
		return web.Errorf(http.StatusConflict, protocol.CodeConflict, "the invitation was already used or revoked")
	case err != nil:
		return web.Internal(err)
	}
	a.audit(r, "invitation.revoke", invitationTarget(id), store.OutcomeOK, nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

var errBadInvitation = web.Errorf(http.StatusNotFound, CodeInvitation, "this link is not valid: ask your administrator for a new one")

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
	inv, err := a.Store.InvitationByHash(r.Context(), HashToken(token))
	if errors.Is(err, model.ErrNotFound) {
		return nil, errBadInvitation
	}
	if err != nil {
		return nil, web.Internal(err)
	}
	switch inv.Status {
	case store.InviteUsed:
		return nil, web.Errorf(http.StatusGone, CodeInvitation, "this link was already used; sign in, or ask your administrator for a new one")
	case store.InviteExpired:
		return nil, web.Errorf(http.StatusGone, CodeInvitation, "this link has expired; ask your administrator for a new one")
	case store.InviteRevoked:
		return nil, web.Errorf(http.StatusGone, CodeInvitation, "this link was withdrawn; ask your administrator for a new one")
	}
	return inv, nil
}

func (a *API) showInvitation(w http.ResponseWriter, r *http.Request) error {
	inv, err := a.pendingInvitation(r, r.PathValue("token"))
	if err != nil {
		return err
	}
	pol, err := a.Store.LoadPolicy(r.Context())
	if err != nil {
		return web.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{
		"invitation": map[string]any{"kind": inv.Kind, "username": inv.Username, "display": inv.Display, "role": inv.Role,
			"admin_level": inv.AdminLevel, "expires_at": inv.ExpiresAt},
		"password_policy": map[string]any{"min_length": pol.PasswordMinLength, "classes": pol.PasswordClasses},
	})
}

type acceptRequest struct {
	Token    string `json:"token"`
	Username string `json:"username"`
	Display  string `json:"display"`
	Password string `json:"password"`
}

func (a *API) acceptInvitation(w http.ResponseWriter, r *http.Request) error {
	var req acceptRequest
	if err := web.DecodeJSON(w, r, maxLoginBody, &req); err != nil {
		return err
	}
	ip := web.ClientIP(r)
	if !a.Auth.allowLogin(ip) { // hashing a password costs; bound it like sign-in
		return web.Errorf(http.StatusTooManyRequests, protocol.CodeRateLimited, "too many attempts from this address; wait a minute and try again")
	}
	inv, err := a.pendingInvitation(r, req.Token)
	if err != nil {
		return err
	}
	username := strings.TrimSpace(req.Username)
	if inv.Kind != store.InviteReset && inv.Username == "" && !ValidUsername(username) {
		return badRequest("username: 1-64 characters of letters, digits, '.', '_', '-' or '@'")
	}
	display, ok := trimmed(req.Display, 100)
	if inv.Kind != store.InviteReset && inv.Display == "" && !ok {
		return badRequest("display: your full name as others will see it, 1-100 characters")
	}
	pol, err := a.Store.LoadPolicy(r.Context())
	if err != nil {
		return web.Internal(err)
	}
	if err := CheckNewPassword(req.Password, &pol); err != nil {
		return web.Errorf(http.StatusBadRequest, CodeWeakPassword, "%v", err)
	}
	hash, err := HashPassword(req.Password)
	if err != nil {
		return web.Internal(err)
	}
	u, inv, err := a.Store.AcceptInvitation(r.Context(), HashToken(req.Token), username, display, hash)
	switch {
	case errors.Is(err, model.ErrExists):
		return web.Errorf(http.StatusConflict, protocol.CodeConflict, "the username %q is taken; choose another", username)
	case errors.Is(err, model.ErrGone):
		return web.Errorf(http.StatusGone, CodeInvitation, "this link can no longer be used; ask your administrator for a new one")
	case err != nil:
		return web.Internal(err)
	}
	action := "invitation.accept"
	if inv.Kind == store.InviteSetup {
		action = "setup.owner"
	}
	a.auditEntry(r, &store.AuditEntry{Actor: u.ID, ActorName: u.Username, Action: action, Target: userTarget(u.ID), IP: ip},
		map[string]any{"invitation": inv.ID, "kind": inv.Kind, "role": u.Role, "admin_level": u.AdminLevel})
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
	token, hash := newToken()
	exp := time.Now().Add(setupTTL)
	inv := &store.Invitation{Role: model.RoleStaff, AdminLevel: model.LevelOwner, ExpiresAt: exp.UnixMilli()}
	if err := a.Store.CreateInvitation(ctx, inv, hash); err != nil {
		return "", time.Time{}, err
	}
	if err := a.Store.Audit(ctx, &store.AuditEntry{Action: "setup.link", Target: invitationTarget(inv.ID), Detail: `{"expires_at":` + strconv.FormatInt(inv.ExpiresAt, 10) + `}`}); err != nil {
		return "", time.Time{}, err
	}
	return InvitationURL(strings.TrimSuffix(origin, "/"), token), exp, nil
}
