package server_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/internal/apitest"
)

// TestNoTokenInPath walks the whole route table: no route takes a secret
// (a session, invitation or reset token, a code) as a path value, since a
// URL's path and query end up in access logs, proxies' logs and browser
// history. Secrets travel in bodies or headers.
func TestNoTokenInPath(t *testing.T) {
	f := apitest.New(t)
	secret := regexp.MustCompile(`\{[^}]*(token|secret|code|password|key)[^}]*\}`)
	for _, rt := range f.Routes {
		if secret.MatchString(strings.ToLower(rt.Pattern)) {
			t.Errorf("%s takes a secret in its path; take it in the body", rt.Pattern)
		}
	}
}
