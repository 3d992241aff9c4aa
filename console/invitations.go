package console

import (
	"errors"
	"net/http"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

func (a *Console) invitationRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /api/v1/admin/invitations", Access: web.Admin, Func: a.listInvitations},
		{Pattern: "POST /api/v1/admin/invitations", Access: web.Admin, Func: a.createInvitation},
		{Pattern: "DELETE /api/v1/admin/invitations/{id}", Access: web.Admin, Func: a.revokeInvitation},
	}
}

func (a *Console) listInvitations(w http.ResponseWriter, r *http.Request) error {
	invs, err := a.Store.ListInvitations(r.Context(), 500)
	if err != nil {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"invitations": invs})
}

func (a *Console) createInvitation(w http.ResponseWriter, r *http.Request) error {
	var p userProfile
	if err := web.DecodeJSON(w, r, maxConsoleBody, &p); err != nil {
		return err
	}
	// The username may be left to the person; the rest is checked as for
	// a new account.
	if err := p.checkWith(true); err != nil {
		return err
	}
	if err := mayGrant(auth.SessionOf(r.Context()).User, p.AdminLevel); err != nil {
		return err
	}
	rec := auth.Entry(r, "invitation.create", "", map[string]any{"kind": store.InviteNew,
		"role": p.Role, "admin_level": p.AdminLevel, "groups": p.Groups})
	inv := &store.Invitation{Username: p.Username, Display: p.Display, Email: p.Email, Role: p.Role, AdminLevel: p.AdminLevel, Groups: p.Groups}
	rec.Complete = func(p *store.Pending) { p.Entry.Target = auth.InvitationTarget(inv.ID) }
	out, err := a.invite(r, rec, inv)
	switch {
	case errors.Is(err, model.ErrExists):
		return protocol.Errorf(protocol.CodeConflict, "the username %q is taken or already invited", p.Username)
	case errors.Is(err, model.ErrNotFound):
		return protocol.Errorf(protocol.CodeNotFound, "one of the groups does not exist")
	case err != nil:
		return err
	}
	return web.WriteJSON(w, http.StatusCreated, map[string]any{"invitation": out})
}

func (a *Console) revokeInvitation(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	switch err := a.Store.RevokeInvitation(auth.Record(r, "invitation.revoke", auth.InvitationTarget(id), nil), id); {
	case errors.Is(err, model.ErrNotFound):
		return protocol.Errorf(protocol.CodeNotFound, "no such invitation")
	case errors.Is(err, model.ErrGone):
		return protocol.Errorf(protocol.CodeConflict, "the invitation was already used or revoked")
	case err != nil:
		return protocol.Internal(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
