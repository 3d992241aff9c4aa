package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/auth"
)

// TestSameOrigin pins down which requests the cross-site check lets
// through, against the request's own origin and against a configured
// public URL.
func TestSameOrigin(t *testing.T) {
	cookie := &http.Cookie{Name: auth.SessionCookie, Value: "x"}
	cases := []struct {
		name      string
		public    string
		method    string
		host      string
		header    map[string]string
		cookie    bool
		wantAllow bool
	}{
		{name: "same origin", method: "POST", header: map[string]string{"Origin": "http://curbside.test:8080", "Sec-Fetch-Site": "same-origin"}, cookie: true, wantAllow: true},
		{name: "same origin, host in capitals", method: "POST", host: "Curbside.TEST:8080", header: map[string]string{"Origin": "http://curbside.test:8080"}, wantAllow: true},
		{name: "another port", method: "POST", header: map[string]string{"Origin": "http://curbside.test:9090"}, cookie: true},
		{name: "sibling subdomain", method: "DELETE", header: map[string]string{"Origin": "http://evil.curbside.test:8080"}, cookie: true},
		{name: "other scheme", method: "POST", header: map[string]string{"Origin": "https://curbside.test:8080"}},
		{name: "null origin", method: "POST", header: map[string]string{"Origin": "null"}, cookie: true},
		{name: "origin with a path", method: "POST", header: map[string]string{"Origin": "http://curbside.test:8080/x"}},
		{name: "same-site fetch", method: "POST", header: map[string]string{"Sec-Fetch-Site": "same-site"}, cookie: true},
		{name: "cross-site fetch, right origin", method: "POST", header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://curbside.test:8080"}},
		{name: "typed navigation", method: "POST", header: map[string]string{"Sec-Fetch-Site": "none"}, wantAllow: true},
		{name: "a program with a Bearer token", method: "POST", header: map[string]string{"Authorization": "Bearer t"}, wantAllow: true},
		{name: "no headers, no cookie (sign-in by a program)", method: "POST", wantAllow: true},
		{name: "cookie without Origin", method: "POST", cookie: true},
		{name: "cookie and Bearer without Origin", method: "PATCH", header: map[string]string{"Authorization": "Bearer t"}, cookie: true, wantAllow: true},
		{name: "GET from another site", method: "GET", header: map[string]string{"Origin": "http://evil.test", "Sec-Fetch-Site": "cross-site"}, cookie: true, wantAllow: true},
		{name: "public URL", public: "https://chat.example.org", method: "POST", host: "127.0.0.1:8080", header: map[string]string{"Origin": "https://chat.example.org"}, wantAllow: true},
		{name: "public URL with default port and slash", public: "https://Chat.Example.org:443/", method: "POST", header: map[string]string{"Origin": "https://chat.example.org"}, wantAllow: true},
		{name: "public URL, the listening address instead", public: "https://chat.example.org", method: "POST", header: map[string]string{"Origin": "http://curbside.test:8080"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logged bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logged, nil))
			reached := false
			h := SameOrigin(c.public, log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
			r := httptest.NewRequest(c.method, "http://curbside.test:8080/api/v1/admin/users/3/offboard?q=secret", nil)
			if c.host != "" {
				r.Host = c.host
			}
			for k, v := range c.header {
				r.Header.Set(k, v)
			}
			if c.cookie {
				r.AddCookie(cookie)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if reached != c.wantAllow {
				t.Fatalf("reached the handler: %v, want %v (answer %d %s)", reached, c.wantAllow, w.Code, w.Body)
			}
			if c.wantAllow {
				return
			}
			if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), `"cross_site"`) {
				t.Fatalf("refusal: %d %s, want 403 cross_site", w.Code, w.Body)
			}
			if l := logged.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "cross-site request refused") || strings.Contains(l, "secret") {
				t.Fatalf("log: %q, want one WARN with the path and without the query", l)
			}
		})
	}
}
