package server

import (
	"net/http"
	"sync/atomic"

	"github.com/curbside-health/curbside/api"
	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/console"
	curbsideembed "github.com/curbside-health/curbside/embed"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/relay"
)

// Routes is the whole HTTP surface, in one table: every endpoint with who
// may call it. web.Mount registers it behind the guard (auth.Auth.Admit);
// TestRoutesByAccess walks it.
func Routes(a *auth.Auth, apps *api.API, cons *console.Console, rl *relay.Relay, assets *curbsideembed.Handler, health *Health, ready *atomic.Bool) []web.Route {
	var rs []web.Route
	rs = append(rs, a.Routes()...)
	rs = append(rs, apps.Routes()...)
	rs = append(rs, cons.Routes()...)
	rs = append(rs, rl.Routes()...)
	rs = append(rs, assets.Routes()...)
	rs = append(rs,
		web.Route{Pattern: "GET /healthz", Access: web.Public, Func: healthz(ready, health)},
		web.Route{Pattern: "/api/", Access: web.Public, Func: noEndpoint},
	)
	return rs
}

func noEndpoint(w http.ResponseWriter, r *http.Request) error {
	return protocol.Errorf(protocol.CodeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path)
}
