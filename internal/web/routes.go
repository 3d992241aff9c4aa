package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
)

// Access says who may call a route. Each level admits a subset of the one
// before it, except Public, which admits everybody.
type Access int

// The levels of access, from least to most.
const (
	Public    Access = iota // anybody, signed in or not
	Enrolling               // any live session, including one that must first set up a second factor (policy mfa_required)
	User                    // a live session that may use the app
	Device                  // a User session that has registered a device
	Helpdesk                // a User session of an administrator of level helpdesk or above, from an allowed network, confirmed with a second factor where the policy asks
	Admin                   // likewise, level admin or above
	Owner                   // likewise, level owner
)

var accessNames = [...]string{"public", "enrolling", "user", "device", "helpdesk", "admin", "owner"}

func (a Access) String() string {
	if a >= 0 && int(a) < len(accessNames) {
		return accessNames[a]
	}
	return fmt.Sprintf("Access(%d)", int(a))
}

// Route is one endpoint of the HTTP surface: its pattern, who may call it,
// and what serves it. Every endpoint is a Route, so what is registered and
// what the route test walks are the same list.
type Route struct {
	Pattern string // an http.ServeMux pattern, "METHOD /path"
	Access  Access
	// Func serves the route and returns its error for WriteError; Handler
	// is for the few that write their own answers (the WebSocket relay,
	// static files). Exactly one is set.
	Func    HandlerFunc
	Handler http.Handler
}

// Guard admits a request to a route of the given access, or says why not.
// On admission it returns the request with the caller's identity in its
// context (WithCaller, and whatever else the guard keeps there).
type Guard interface {
	Admit(r *http.Request, access Access) (*http.Request, error)
}

// Mount registers every route on mux behind guard: the one place where
// access is enforced. It panics on a route that is malformed, which is a
// programming error caught by any test that builds the server.
func Mount(mux *http.ServeMux, log *slog.Logger, guard Guard, routes []Route) {
	for _, rt := range routes {
		h := rt.Handler
		switch {
		case (rt.Func == nil) == (rt.Handler == nil):
			panic("web: route " + rt.Pattern + " needs exactly one of Func and Handler")
		case rt.Func != nil:
			h = Handle(log, rt.Func)
		}
		if rt.Access != Public {
			h = admit(log, guard, rt.Access, h)
		}
		mux.Handle(rt.Pattern, h)
	}
}

func admit(log *slog.Logger, guard Guard, access Access, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2, err := guard.Admit(r, access)
		if err != nil {
			WriteError(log, w, r, err)
			return
		}
		next.ServeHTTP(w, r2)
	})
}

// Caller is who a request speaks for: the user and, once registered, the
// device.
type Caller struct {
	User   int64
	Device int64 // 0 before the session has registered a device
	// Session names the sign-in session the request was admitted under
	// (the SHA-256 of its token, which cannot be used as a token), so that
	// what outlives the request, a relay connection, can end with it.
	Session []byte
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerOf returns the caller a guard admitted, if any.
func CallerOf(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}
