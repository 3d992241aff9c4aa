package auth

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// Per-account backoff. A username's first lockout_threshold failed sign-ins
// cost nothing; each failure after that makes the next attempt wait,
// firstWait at first and twice as long after every further failure, up to
// the policy's lockout_cooldown. An attempt made during the wait is not
// checked and not counted, so a script cannot push the wait out further or
// lock anyone out: it only gets one guess per wait. The real user passes
// the wait by proving a device key it already holds (deviceproof.go).
// Failures made with such a proof count for the username as well as for
// the device, which follows the same schedule of its own in memory: a copy
// of a device's keys (a copied browser profile holds its wipe-check key)
// buys its holder no faster guessing than anyone else.
//
// Unknown usernames follow the same schedule in memory, so the answers, and
// when they come, are the same whether or not an account exists.
const (
	// firstWait is the pause after the threshold-th failure.
	firstWait = 30 * time.Second
	// forgetFailures is how long after its last wait a username's failures
	// are forgotten.
	forgetFailures = 24 * time.Hour
	// maxGhosts bounds the unknown usernames whose failures are kept.
	maxGhosts = 20000
)

// loginWait is the pause that follows the nth consecutive failure under
// pol: none below the threshold, then firstWait doubling up to the
// policy's cap (lockout_cooldown).
func loginWait(pol model.Policy, n int) time.Duration {
	over := n - pol.LockoutThreshold
	if over < 0 {
		return 0
	}
	limit := pol.LockoutCooldown
	w := min(firstWait, limit)
	for ; over > 0 && w < limit; over-- {
		w *= 2
	}
	return min(w, limit)
}

// ghost is the failure state of a username no account has.
type ghost struct {
	fails  int
	nextAt int64 // Unix ms before which the next attempt is not checked
}

// ghosts holds the failure state of unknown usernames, bounded.
type ghosts struct {
	mu sync.Mutex
	m  map[string]*ghost
}

// waiting returns the end of name's wait, or 0 when it may be tried now.
func (g *ghosts) waiting(name string, now int64) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if e := g.m[strings.ToLower(name)]; e != nil && e.nextAt > now {
		return e.nextAt
	}
	return 0
}

// fail counts a failure for name as LoginFailed does for an account and
// returns the end of the wait it starts.
func (g *ghosts) fail(name string, pol model.Policy, now int64) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]*ghost{}
	}
	key := strings.ToLower(name)
	e := g.m[key]
	if e == nil {
		if len(g.m) >= maxGhosts {
			for k, v := range g.m {
				if now-v.nextAt > forgetFailures.Milliseconds() || v.fails < pol.LockoutThreshold {
					delete(g.m, k)
				}
			}
			for k := range g.m { // still full: forget an arbitrary one
				if len(g.m) < maxGhosts {
					break
				}
				delete(g.m, k)
			}
		}
		e = &ghost{}
		g.m[key] = e
	}
	if now-e.nextAt > forgetFailures.Milliseconds() {
		e.fails = 0
	}
	e.fails++
	e.nextAt = now + loginWait(pol, e.fails).Milliseconds()
	return e.nextAt
}

// forget drops name's failures (a sign-in that succeeded).
func (g *ghosts) forget(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.m, strings.ToLower(name))
}

// deviceKey is the key of a known device's own failures in Auth.proven.
func deviceKey(id int64) string { return strconv.FormatInt(id, 10) }

// accountWaiting returns the end of the wait the user's failures set, or 0.
func accountWaiting(u *model.User, now int64) int64 {
	if u.LockedUntil > now {
		return u.LockedUntil
	}
	return 0
}

// countFailure counts a failed sign-in step of u toward its backoff. The
// answer stays fallback: the wait shows on the next attempt, the same way
// for every username.
func (a *Auth) countFailure(ctx context.Context, ip string, u *model.User, pol model.Policy, fallback error) error {
	now := a.Now().UnixMilli()
	fails, next, err := a.store.LoginFailed(ctx, u.ID, now, func(n int) int64 { return loginWait(pol, n).Milliseconds() }, forgetFailures.Milliseconds())
	if err != nil {
		return protocol.Internal(err)
	}
	if fails >= pol.LockoutThreshold {
		a.log.Info("sign-in backoff", "user", u.ID, "ip", ip, "failures", fails, "wait_ms", next-now)
	}
	return fallback
}

// errWait is the answer to an attempt during a username's wait. It names
// the time left and nothing about the account, so it reads the same for
// every username.
func errWait(until, now int64) error {
	secs := (until - now + 999) / 1000
	wait := "1 second"
	switch s := max(secs, 1); {
	case s >= 120:
		wait = strconv.FormatInt((s+59)/60, 10) + " minutes"
	case s > 1:
		wait = strconv.FormatInt(s, 10) + " seconds"
	}
	return protocol.Errorf(protocol.CodeRateLimited,
		"too many failed sign-ins with this username: wait %s and try again, or sign in on a device you have used before", wait).
		After(time.Duration(max(secs, 1)) * time.Second)
}
