package console

import (
	"errors"
	"net/http"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// mfaRoutes are the console's second-factor routes.
func (a *Console) mfaRoutes() []web.Route {
	return []web.Route{
		{Pattern: "POST /api/v1/admin/users/{id}/mfa/reset", Access: web.Admin, Func: a.mfaReset},
	}
}

func (a *Console) mfaReset(w http.ResponseWriter, r *http.Request) error {
	s := auth.SessionOf(r.Context())
	ctx := r.Context()
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	u, err := a.Store.UserByID(ctx, id)
	if errors.Is(err, model.ErrNotFound) {
		return errNoUser
	}
	if err != nil {
		return protocol.Internal(err)
	}
	if model.LevelRank(u.AdminLevel) > model.LevelRank(s.User.AdminLevel) {
		a.Auth.AuditRefused(r, "mfa.reset", auth.UserTarget(u.ID), map[string]any{"reason": "level"})
		return errLowLevel
	}
	// ResetMFA notes what it removed and the sessions it ended.
	before, ended, err := a.Store.ResetMFA(auth.Record(r, "mfa.reset", auth.UserTarget(u.ID), nil), u.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{
		"user":             u,
		"removed":          map[string]any{"totp": before.TOTP, "passkeys": before.Passkeys, "recovery_codes": before.RecoveryLeft},
		"revoked_sessions": ended,
	})
}
