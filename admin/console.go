package admin

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// Route is one endpoint of the admin console's API, with the least admin
// level that may call it. Every console route is listed in one table
// (consoleRoutes), which is both what is registered and what the route ×
// role test walks, so a route cannot be added without its check.
type Route struct {
	Pattern string // an http.ServeMux pattern, "METHOD /path"
	Level   string // model.LevelHelpdesk, LevelAdmin or LevelOwner
	handler web.HandlerFunc
}

// ConsoleRoutes lists the console's routes and the level each needs.
func (a *API) ConsoleRoutes() []Route {
	var rs []Route
	// One line per feature file; each returns its routes.
	rs = append(rs, a.userRoutes()...)
	rs = append(rs, a.groupRoutes()...)
	rs = append(rs, a.invitationRoutes()...)
	rs = append(rs, a.policyRoutes()...)
	rs = append(rs, a.importRoutes()...)
	rs = append(rs, a.auditRoutes()...)
	rs = append(rs, a.reportRoutes()...)
	rs = append(rs, a.deviceRoutes()...)
	rs = append(rs, a.mfaRoutes()...)
	return rs
}

func (a *API) registerConsole(mux *http.ServeMux) {
	a.registerInvitations(mux)
	for _, rt := range a.ConsoleRoutes() {
		mux.Handle(rt.Pattern, web.Handle(a.Log, a.authed(a.console(rt.Level, rt.handler))))
	}
}

var (
	errNotAdmin   = web.Errorf(http.StatusForbidden, protocol.CodeForbidden, "this needs an administrator's sign-in")
	errLowLevel   = web.Errorf(http.StatusForbidden, protocol.CodeForbidden, "your administrator level does not allow this")
	errNetwork    = web.Errorf(http.StatusForbidden, CodeNetwork, "the admin console cannot be used from this network (policy admin_networks)")
	errConsoleMFA = web.Errorf(http.StatusForbidden, CodeMFARequired, "the console needs a sign-in confirmed with a second factor: set one up under My account, then sign in again")
)

// Console error codes, for the tests.
const (
	CodeNetwork     = protocol.CodeNetwork
	CodeMFARequired = protocol.CodeMFARequired
)

// console checks, for an authenticated request, that the user's admin
// level is at least level, that the request comes from an allowed network,
// and that the sign-in was confirmed with a second factor when the policy
// asks for one.
func (a *API) console(level string, next web.HandlerFunc) web.HandlerFunc {
	need := model.LevelRank(level)
	if need < 1 {
		panic("admin: console route without an admin level")
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		s := SessionOf(r.Context())
		have := model.LevelRank(s.User.AdminLevel)
		if have < 1 {
			return errNotAdmin
		}
		pol, err := a.Store.LoadPolicy(r.Context())
		if err != nil {
			return web.Internal(err)
		}
		if !pol.AdminAllowed(web.ClientIP(r)) {
			a.audit(r, "console.refused", "", store.OutcomeFail, map[string]any{"reason": "network"})
			return errNetwork
		}
		if pol.MFARequiredFor(s.User) && s.MFA == "" {
			return errConsoleMFA
		}
		if have < need {
			a.audit(r, "console.refused", "", store.OutcomeFail, map[string]any{"reason": "level", "route": r.Pattern})
			return errLowLevel
		}
		return next(w, r)
	}
}

// audit records an action of the request's user (or of nobody, before
// sign-in) in the audit log. A failure to record is logged as an error:
// the action itself has already happened.
func (a *API) audit(r *http.Request, action, target, outcome string, detail map[string]any) {
	e := &store.AuditEntry{Action: action, Target: target, IP: web.ClientIP(r), Outcome: outcome}
	if s := SessionOf(r.Context()); s != nil {
		e.Actor, e.ActorName = s.User.ID, s.User.Username
	}
	a.auditEntry(r, e, detail)
}

func (a *API) auditEntry(r *http.Request, e *store.AuditEntry, detail map[string]any) {
	if len(detail) > 0 {
		b, _ := json.Marshal(detail)
		e.Detail = string(b)
	}
	if err := a.Store.Audit(r.Context(), e); err != nil {
		a.Log.Error("audit entry not recorded", "action", e.Action, "target", e.Target, "err", err)
	}
}

// userTarget is an audit target naming a user.
func userTarget(id int64) string { return "user:" + strconv.FormatInt(id, 10) }

// trimmed returns s without surrounding space, and whether it is 1..max
// characters long.
func trimmed(s string, max int) (string, bool) {
	s = strings.TrimSpace(s)
	return s, s != "" && len(s) <= max
}
