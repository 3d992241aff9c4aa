package auth

import (
	"context"
	"time"
)

// Epoch returns the store's access epoch, which moves whenever a commit
// of any process may have ended a session. With Live and Touch it makes
// *Auth the relay's relay.Sessions.
func (a *Auth) Epoch(ctx context.Context) (int64, error) {
	return a.store.AccessEpoch(ctx)
}

// Live reports which of the given sessions (SHA-256 of their tokens) are
// still live by the rules Authenticate applies: stored, not past their
// absolute expiry, not idle past the policy's session_idle, and of an
// active user, each with when it ends unless used again (ms).
func (a *Auth) Live(ctx context.Context, hashes [][]byte) (map[string]int64, error) {
	pol, err := a.store.LoadPolicy(ctx)
	if err != nil {
		return nil, err
	}
	return a.store.LiveSessions(ctx, hashes, time.Now().UnixMilli(), pol.SessionIdle.Milliseconds())
}

// Touch records that the given sessions were in use at at (ms), as a
// request's use is recorded by Authenticate.
func (a *Auth) Touch(ctx context.Context, hashes [][]byte, at int64) error {
	return a.store.TouchSessions(ctx, hashes, at)
}
