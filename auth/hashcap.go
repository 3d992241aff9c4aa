package auth

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/curbside-health/curbside/protocol"
)

// Each argon2id check holds 46 MiB for tens of milliseconds, so a flood of
// sign-ins must not run them all at once. At most maxHashing run together,
// checks of a password and hashes of a new one (an invitation or reset
// link accepted) alike; one more waits up to hashWait for a slot and is
// then told the server is busy, without its attempt counting against
// anyone.
const (
	hashWait      = 2 * time.Second
	hashBusyEvery = time.Minute // how often a full cap is logged
)

// DefaultMaxHashing is how many password checks may run at once: one per
// CPU, between 2 and 8 (at most 368 MiB).
func DefaultMaxHashing() int { return min(max(runtime.NumCPU(), 2), 8) }

var errHashBusy = protocol.Errorf(protocol.CodeUnavailable, "the server is busy checking other passwords; try again in a moment")

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
	release, err := a.hashSlot(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return CheckPassword(hash, password)
}

// NewPasswordHash is HashPassword inside the cap, for a password set over
// the network (an accepted invitation or reset link). Its error is
// errHashBusy, a protocol error, when no slot came free in time.
func (a *Auth) NewPasswordHash(ctx context.Context, password string) (string, error) {
	release, err := a.hashSlot(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return HashPassword(password)
}

// hashSlot takes a slot of the cap, waiting up to the gate's wait for one,
// and returns the function that gives it back.
func (a *Auth) hashSlot(ctx context.Context) (release func(), err error) {
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
			return nil, errHashBusy
		case <-ctx.Done():
			return nil, errHashBusy
		}
	}
	return func() { <-g.slots }, nil
}

// HoldHashSlots takes every slot of the cap until release is called, as
// password checks running at the cap would: tests fill the cap with it.
func (a *Auth) HoldHashSlots() (release func()) {
	n := cap(a.hashing.slots)
	for range n {
		a.hashing.slots <- struct{}{}
	}
	return func() {
		for range n {
			<-a.hashing.slots
		}
	}
}
