package relay

import (
	"context"
	"time"
)

// MemberEvents is where the relay takes group membership events from:
// the store records each change of a group's members in the transaction
// that makes it, by whichever process (the console, the directory import,
// the operator CLI), and the relay has them queued for the members'
// devices. *store.Store implements it.
type MemberEvents interface {
	// FanOutMemberEvents queues the recorded events for their recipients'
	// devices (the items reach the relay's notifier) and reports how many
	// it queued; with none waiting it is one read.
	FanOutMemberEvents(ctx context.Context) (int, error)
}

// watchMemberEvents fans out membership events as they are recorded: at
// start (what was recorded while the server was down), and then every
// Config.SessionPoll, so a change another process makes reaches connected
// devices within about that long. A batch that was full is followed by
// another at once.
func (r *Relay) watchMemberEvents() {
	defer r.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.memberWake:
		case <-t.C:
		}
		n, err := r.cfg.MemberEvents.FanOutMemberEvents(r.ctx)
		if err != nil && r.ctx.Err() == nil {
			r.log.Error("relay: queue group membership events", "err", err)
		}
		if n > 0 {
			r.log.Debug("group membership events queued", "events", n)
			r.MembersChanged() // there may be more
		}
		t.Reset(r.cfg.SessionPoll)
	}
}

// MembersChanged asks the relay to queue recorded membership events now,
// rather than at its next poll: the console calls it after a change.
func (r *Relay) MembersChanged() {
	if r.cfg.MemberEvents == nil {
		return
	}
	select {
	case r.memberWake <- struct{}{}:
	default:
	}
}
