package auth

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/curbside-health/curbside/protocol"
)

// Each argon2id check holds 46 MiB for tens of milliseconds, so a flood of
// sign-ins must not run them all at once. At most maxHashing run together;
// one more waits up to hashWait for a slot and is then told the server is
// busy, without its attempt counting against anyone.
const (
	hashWait      = 2 * time.Second
	hashBusyEvery = time.Minute // how often a full cap is logged
)

// DefaultMaxHashing is how many password checks may run at once: one per
// CPU, between 2 and 8 (at most 368 MiB).
func DefaultMaxHashing() int { return min(max(runtime.NumCPU(), 2), 8) }

var errHashBusy = protocol.Errorf(protocol.CodeUnavailable, "the server is busy checking other sign-ins; try again in a moment")

// hashGate is the semaphore of password checks.
type hashGate struct {
	slots  chan struct{}
	wait   time.Duration
	logged atomic.Int64 // when the full cap was last logged, Unix ns
}

func newHashGate(n int) *hashGate {
	return &hashGate{slots: make(chan struct{}, n), wait: hashWait}
}

// checkPassword is CheckPassword inside the cap. errHashBusy means no
// slot came free in time.
func (a *Auth) checkPassword(ctx context.Context, hash, password string) (bool, error) {
	g := a.hashing
	select {
	case g.slots <- struct{}{}:
	default:
		if last := g.logged.Load(); time.Since(time.Unix(0, last)) >= hashBusyEvery && g.logged.CompareAndSwap(last, time.Now().UnixNano()) {
			a.log.Warn("password checks at their cap: sign-ins are waiting", "cap", cap(g.slots))
		}
		t := time.NewTimer(g.wait)
		defer t.Stop()
		select {
		case g.slots <- struct{}{}:
		case <-t.C:
			return false, errHashBusy
		case <-ctx.Done():
			return false, errHashBusy
		}
	}
	defer func() { <-g.slots }()
	return CheckPassword(hash, password)
}
