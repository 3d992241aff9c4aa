package auth

import (
	"context"
	"net/http"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

var (
	errNoDevice   = protocol.Errorf(protocol.CodeForbidden, "register a device (POST /api/v1/devices) before connecting to the relay")
	errNotAdmin   = protocol.Errorf(protocol.CodeForbidden, "this needs an administrator's sign-in")
	errLowLevel   = protocol.Errorf(protocol.CodeForbidden, "your administrator level does not allow this")
	errNetwork    = protocol.Errorf(protocol.CodeNetwork, "the admin console cannot be used from this network (policy admin_networks)")
	errConsoleMFA = protocol.Errorf(protocol.CodeMFARequired, "the console needs a sign-in confirmed with a second factor: set one up under My account, then sign in again")
)

// consoleLevels maps the console's access levels to the admin levels they
// need.
var consoleLevels = map[web.Access]string{
	web.Helpdesk: model.LevelHelpdesk,
	web.Admin:    model.LevelAdmin,
	web.Owner:    model.LevelOwner,
}

type sessionKey struct{}

// SessionOf returns the session the guard admitted a request under, or nil
// on a public route.
func SessionOf(ctx context.Context) *Session {
	s, _ := ctx.Value(sessionKey{}).(*Session)
	return s
}

// Admit implements web.Guard: it is the one place where a request is
// checked against the access its route needs. Every level above Public
// needs a live session; above Enrolling, one that has no second factor
// left to set up; Device, a session bound to a registered device; the
// console levels, an admin level at least that high, an address inside
// the policy's admin_networks, and a sign-in confirmed with a second
// factor where the policy asks for one. Refusals of the console are
// audited.
func (a *Auth) Admit(r *http.Request, access web.Access) (*http.Request, error) {
	if access == web.Public {
		return r, nil
	}
	s, err := a.Authenticate(r)
	if err != nil {
		return nil, err
	}
	ctx := context.WithValue(r.Context(), sessionKey{}, s)
	ctx = web.WithCaller(ctx, web.Caller{User: s.User.ID, Device: s.Device, Session: s.TokenHash})
	r = r.WithContext(ctx)
	if access == web.Enrolling {
		return r, nil
	}
	if s.EnrollmentRequired {
		return nil, errEnrollFirst
	}
	switch access {
	case web.User:
		return r, nil
	case web.Device:
		if s.Device == 0 {
			return nil, errNoDevice
		}
		return r, nil
	}
	level, ok := consoleLevels[access]
	if !ok {
		return nil, protocol.Internal(errUnknownAccess(access))
	}
	return r, a.admitConsole(r, s, level)
}

// admitConsole checks a console request: the admin level, the network and
// the second factor.
func (a *Auth) admitConsole(r *http.Request, s *Session, level string) error {
	have := model.LevelRank(s.User.AdminLevel)
	if have < 1 {
		return errNotAdmin
	}
	pol, err := a.store.LoadPolicy(r.Context())
	if err != nil {
		return protocol.Internal(err)
	}
	if !pol.AdminAllowed(web.ClientIP(r)) {
		a.AuditRefused(r, "console.refused", "", map[string]any{"reason": "network"})
		return errNetwork
	}
	if pol.MFARequiredFor(s.User) && s.MFA == "" {
		return errConsoleMFA
	}
	if have < model.LevelRank(level) {
		a.AuditRefused(r, "console.refused", "", map[string]any{"reason": "level", "route": r.Pattern})
		return errLowLevel
	}
	return nil
}

type errUnknownAccess web.Access

func (e errUnknownAccess) Error() string {
	return "auth: route with unknown access " + web.Access(e).String()
}
