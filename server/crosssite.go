package server

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/protocol"
)

var errCrossSite = protocol.CodeCrossSite.Err()

// SameOrigin refuses every state-changing request (any method but GET,
// HEAD and OPTIONS) that a browser sent on behalf of another origin, before
// any route sees it: the one check against cross-site request forgery.
//
// A browser says where a request comes from: Sec-Fetch-Site, where sent,
// must be same-origin (or none, a navigation the person typed), and Origin,
// where sent, must be the server's own origin: publicURL when set,
// otherwise the request's own scheme and Host. SameSite=Strict on the
// session cookie is not enough on its own, because a page on another port
// of the same host, or on a sibling subdomain, is the same site and gets
// the cookie.
//
// A request with neither header is not from a current browser: programs
// (the Go client, the CLI, curl) send neither, and authenticate with a
// Bearer token, which a page on another site cannot attach. Such a request
// is refused only if it carries the session cookie without an
// Authorization header, since only a browser holds that cookie.
//
// Refusals are answered 403 cross_site and logged at WARN (the server's
// log handler rate limits them), with the path but never the query.
func SameOrigin(publicURL string, log *slog.Logger, next http.Handler) http.Handler {
	own := ""
	if publicURL != "" {
		if u, err := url.Parse(publicURL); err == nil {
			own = normalOrigin(u.Scheme, u.Host)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if why := crossSite(r, own); why != "" {
			log.Warn("cross-site request refused", "method", r.Method, "path", r.URL.Path, "reason", why,
				"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"), "ip", web.ClientIP(r))
			web.WriteError(log, w, r, errCrossSite)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// crossSite says why r must be refused, or returns "" to let it through.
// own is the configured origin; empty, the request's own is used.
func crossSite(r *http.Request, own string) string {
	site, hasSite := r.Header["Sec-Fetch-Site"]
	origin, hasOrigin := r.Header["Origin"]
	if hasSite {
		if v := strings.ToLower(strings.TrimSpace(site[0])); v != "same-origin" && v != "none" {
			return "sec-fetch-site"
		}
	}
	if hasOrigin {
		if own == "" {
			scheme := "http"
			if web.IsHTTPS(r) {
				scheme = "https"
			}
			own = normalOrigin(scheme, r.Host)
		}
		u, err := url.Parse(strings.TrimSpace(origin[0]))
		if err != nil || u.Host == "" || u.Path != "" || normalOrigin(u.Scheme, u.Host) != own {
			return "origin"
		}
	}
	if !hasSite && !hasOrigin && r.Header.Get("Authorization") == "" {
		if _, err := r.Cookie(auth.SessionCookie); err == nil {
			return "cookie without origin"
		}
	}
	return ""
}

// normalOrigin returns scheme://host in lower case without the scheme's
// default port, the form a browser's Origin header takes.
func normalOrigin(scheme, host string) string {
	scheme, host = strings.ToLower(scheme), strings.ToLower(host)
	switch {
	case scheme == "http":
		host = strings.TrimSuffix(host, ":80")
	case scheme == "https":
		host = strings.TrimSuffix(host, ":443")
	}
	return scheme + "://" + host
}
