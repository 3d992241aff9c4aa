package relay

import (
	"sync"
	"time"
)

// uploadRate is a token bucket of attachment bytes per user: each user may
// upload rate bytes a minute, after a burst of as much (and at least one
// attachment of the largest size allowed). It lives in memory: a restart
// gives everyone a full bucket, which bounds nothing worse than one burst.
type uploadRate struct {
	mu    sync.Mutex
	users map[int64]*bucket
}

type bucket struct {
	tokens   float64 // bytes that may be uploaded now; negative after an upload larger than what was left
	at       time.Time
	refusing bool // the last attempt was refused (the refusal is logged once)
}

func newUploadRate() *uploadRate { return &uploadRate{users: map[int64]*bucket{}} }

// allow reports whether user may start an upload of size bytes (0 if not
// known) now, under a rate of perMinute bytes and a burst of burst bytes,
// and whether this refusal is the first since the last upload allowed.
func (u *uploadRate) allow(user int64, size, perMinute, burst int64, now time.Time) (ok, first bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	b := u.refill(user, perMinute, burst, now)
	if b.tokens > 0 && float64(size) <= b.tokens {
		b.refusing = false
		return true, false
	}
	first = !b.refusing
	b.refusing = true
	return false, first
}

// spend takes n uploaded bytes from user's bucket.
func (u *uploadRate) spend(user, n, perMinute, burst int64, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.refill(user, perMinute, burst, now).tokens -= float64(n)
}

func (u *uploadRate) refill(user, perMinute, burst int64, now time.Time) *bucket {
	b := u.users[user]
	if b == nil {
		b = &bucket{tokens: float64(burst), at: now}
		u.users[user] = b
	}
	b.tokens = min(float64(burst), b.tokens+now.Sub(b.at).Minutes()*float64(perMinute))
	b.at = now
	return b
}
