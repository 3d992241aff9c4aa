package relay

import (
	"context"
	"sync/atomic"
	"time"
)

// Defaults for how the relay keeps its connections in step with their
// sign-in sessions.
const (
	// DefaultSessionPoll is how often the relay reads the access epoch, so
	// that a change another process commits (the operator CLI) takes effect
	// within about this long. The read is of one row.
	DefaultSessionPoll = time.Second
	// sessionRecheck is how often every connection's session is checked
	// even when the epoch has not moved and no session is due to end. The
	// endings that are a matter of time (absolute expiry, idleness) are
	// checked when the first of them falls due, within a poll of it.
	sessionRecheck = 30 * time.Second
	// sessionTouchEvery is how often the use of a connection is recorded
	// on its sign-in session, as an HTTP request's use is at most once a
	// minute.
	sessionTouchEvery = time.Minute
)

// Sessions is what the relay needs to end a connection when the sign-in
// session it was opened under ends: by sign-out, by expiry or idleness, or
// because the user was disabled or locked, their password changed or their
// second factors reset. auth.Auth implements it over the store; a nil
// Config.Sessions leaves connections to end only by EndDevice and
// DevicesChanged.
type Sessions interface {
	// Epoch returns a number that changes whenever a commit, by this
	// process or another on the same database, may have ended a session or
	// changed a user's state or a device's. Only a change means anything.
	Epoch(ctx context.Context) (int64, error)
	// Live reports which of the given sessions (SHA-256 of their tokens)
	// are still live, keyed by the hash as a string, each with when it ends
	// unless it is used again or ended sooner (ms since the Unix epoch).
	Live(ctx context.Context, hashes [][]byte) (map[string]int64, error)
	// Touch records that the given sessions were in use at at (ms).
	Touch(ctx context.Context, hashes [][]byte, at int64) error
}

// watchSessions runs while the relay does. Every poll it reads the epoch;
// when the epoch moved, it drops the directory's cached user states and
// device sets (a change of another process has no other way in) and checks
// every connection's session; it checks them all again when the first
// live session is due to end, and every sessionRecheck anyway. A connection whose session is no longer live is closed with
// CloseSessionEnded. The hot path is untouched: no frame waits for any of
// this, and no message costs a read.
func (r *Relay) watchSessions() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.SessionPoll)
	defer t.Stop()
	last, touched := int64(-1), time.Now()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		case <-r.recheck:
		}
		epoch, err := r.cfg.Sessions.Epoch(r.ctx)
		if err != nil {
			if r.ctx.Err() == nil {
				r.log.Warn("relay: read the access epoch", "err", err)
			}
			continue
		}
		if epoch != last {
			r.dir.forgetAll()
		}
		if now := time.Now(); now.Sub(touched) >= sessionTouchEvery {
			r.touchSessions()
			touched = now
		}
		if epoch == last && time.Now().UnixMilli() < r.sessionDue.Load() {
			continue
		}
		was := r.sessionDue.Load()
		if next, ok := r.checkSessions(); ok {
			last = epoch
			// A connection that started meanwhile may have brought the
			// check forward (checkSession); keep the sooner of the two.
			if !r.sessionDue.CompareAndSwap(was, next.UnixMilli()) {
				lowerDue(&r.sessionDue, next.UnixMilli())
			}
		}
	}
}

// sessionsChanged asks watchSessions to check the connections' sessions
// now rather than at the next poll, after a change the server made itself.
func (r *Relay) sessionsChanged() {
	select {
	case r.recheck <- struct{}{}:
	default:
	}
}

// checkSessions closes every connection whose sign-in session is no longer
// live, and returns when to check again: when the first session still live
// is due to end, or sessionRecheck from now if that is sooner. ok is false
// when it could not tell.
func (r *Relay) checkSessions() (next time.Time, ok bool) {
	next = time.Now().Add(sessionRecheck)
	r.mu.RLock()
	all := make([]*session, 0, len(r.sessions))
	hashes := make([][]byte, 0, len(r.sessions))
	for _, s := range r.sessions {
		if s.token != nil {
			all = append(all, s)
			hashes = append(hashes, s.token)
		}
	}
	r.mu.RUnlock()
	if len(all) == 0 {
		return next, true
	}
	live, err := r.cfg.Sessions.Live(r.ctx, hashes)
	if err != nil {
		if r.ctx.Err() == nil {
			r.log.Warn("relay: check sessions", "err", err)
		}
		return next, false
	}
	for _, s := range all {
		end, ok := live[string(s.token)]
		if !ok {
			r.log.Info("relay: session ended; closing its connection", "user", s.user, "device", s.device)
			s.kill(closeSessionEnded, "your session ended; sign in again")
			continue
		}
		if t := time.UnixMilli(end); t.Before(next) {
			next = t
		}
	}
	return next, true
}

// checkSession closes s at once if its session is not live. It runs once
// as a connection starts, to close the gap between the guard admitting the
// request and the connection being registered, in which a sign-out would
// be missed by a check of all connections; and it brings the next full
// check forward to when this session is due to end, if that is sooner.
func (r *Relay) checkSession(s *session) {
	if r.cfg.Sessions == nil || s.token == nil {
		return
	}
	live, err := r.cfg.Sessions.Live(r.ctx, [][]byte{s.token})
	if err != nil {
		return
	}
	end, ok := live[string(s.token)]
	if !ok {
		s.kill(closeSessionEnded, "your session ended; sign in again")
		return
	}
	lowerDue(&r.sessionDue, end)
}

// lowerDue moves *due back to end if end is sooner.
func lowerDue(due *atomic.Int64, end int64) {
	for {
		cur := due.Load()
		if cur <= end || due.CompareAndSwap(cur, end) {
			return
		}
	}
}

// touchSessions records on their sign-in sessions the use of the
// connections that sent a frame since the last time, so that a device
// in use over the relay alone is not signed out as idle.
func (r *Relay) touchSessions() {
	r.mu.RLock()
	var hashes [][]byte
	for _, s := range r.sessions {
		if s.token != nil && s.used.Swap(false) {
			hashes = append(hashes, s.token)
		}
	}
	r.mu.RUnlock()
	if len(hashes) == 0 {
		return
	}
	if err := r.cfg.Sessions.Touch(r.ctx, hashes, time.Now().UnixMilli()); err != nil && r.ctx.Err() == nil {
		r.log.Warn("relay: record session use", "err", err)
	}
}
