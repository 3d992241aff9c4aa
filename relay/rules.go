package relay

import (
	"context"
	"time"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// reachTTL is how long the relay trusts what it read of a user's role and
// assignments. RulesChanged drops it all at once when the server changes
// assignments; the lifetime covers changes to roles and group membership
// and changes made by another process.
const reachTTL = 5 * time.Second

// reach returns a user's role and links, cached.
func (d *directory) reach(ctx context.Context, user int64) (*model.Reach, error) {
	d.mu.Lock()
	c, ok := d.reaches[user]
	d.mu.Unlock()
	if ok && c.fresh(reachTTL) {
		return c.v, nil
	}
	r, err := d.store.Reach(ctx, user)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if len(d.reaches) > 100000 {
		clear(d.reaches)
	}
	d.reaches[user] = cached[*model.Reach]{r, time.Now()}
	d.mu.Unlock()
	return r, nil
}

// forgetReach drops every cached reach.
func (d *directory) forgetReach() {
	d.mu.Lock()
	clear(d.reaches)
	d.mu.Unlock()
}

// RulesChanged drops what the relay cached of the participation rules, so
// that an assignment added or removed applies to the next message and the
// next presence change.
func (r *Relay) RulesChanged() { r.dir.forgetReach() }

// reaches reports whether user a may reach user b under the participation
// rules.
func (r *Relay) reaches(ctx context.Context, a, b int64) (bool, error) {
	ra, err := r.dir.reach(ctx, a)
	if err != nil {
		return false, err
	}
	rb, err := r.dir.reach(ctx, b)
	if err != nil {
		return false, err
	}
	return ra.Reaches(rb), nil
}

// errNotReachable is the answer to an envelope addressed to someone the
// sender may not reach. A user that does not exist gets the same answer,
// so that a send cannot tell the two apart.
func errNotReachable(user int64) error {
	return protocol.Errorf(protocol.CodeNotReachable, "user %d cannot be reached from your account; ask your practice to add them to your care team", user)
}

// checkReach refuses the envelope unless the sender reaches every user in
// to.
func (r *Relay) checkReach(ctx context.Context, sender int64, to []int64) error {
	for _, u := range to {
		ok, err := r.reaches(ctx, sender, u)
		if err != nil {
			return err
		}
		if !ok {
			return errNotReachable(u)
		}
	}
	return nil
}

// checkFlags refuses an urgent or acknowledgement-requested envelope from a
// patient unless the policy allows it.
func (r *Relay) checkFlags(ctx context.Context, sender int64, flags uint32, pol model.Policy) error {
	if flags&(protocol.FlagUrgent|protocol.FlagAckRequested) == 0 {
		return nil
	}
	me, err := r.dir.reach(ctx, sender)
	if err != nil {
		return err
	}
	if me.Role != model.RolePatient {
		return nil
	}
	if (flags&protocol.FlagUrgent != 0 && !pol.PatientUrgent) || (flags&protocol.FlagAckRequested != 0 && !pol.PatientAck) {
		// The cached policy may be up to a poll older than the one the
		// app was just given: refuse only on the stored one.
		r.dir.forgetPolicy()
		if pol, err = r.dir.loadPolicy(ctx); err != nil {
			return err
		}
	}
	if flags&protocol.FlagUrgent != 0 && !pol.PatientUrgent {
		return protocol.Errorf(protocol.CodeFlagNotAllowed, "your practice does not let patients mark messages urgent; send it as a normal message")
	}
	if flags&protocol.FlagAckRequested != 0 && !pol.PatientAck {
		return protocol.Errorf(protocol.CodeFlagNotAllowed, "your practice does not let patients ask for acknowledgement; send it without asking")
	}
	return nil
}
