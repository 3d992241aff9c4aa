package relay

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/curbside-health/curbside/protocol"
)

// presence tracks who is connected and their chosen status, and tells each
// change to the user's contacts: the people they have exchanged messages
// with, as far as the participation rules let them reach each other (a
// message in a shared group makes a contact, but not one that sees the
// other's presence unless the rules allow it; an assignment removed stops
// it at once). It lives in memory only; after a restart everyone is offline until
// they reconnect.
type presence struct {
	r *Relay

	mu     sync.Mutex
	online map[int64]int    // user → connected devices
	status map[int64]string // user → chosen status while online
	// dnd holds the users whose last chosen status was do-not-disturb. It
	// outlives their connections, since it is what holds back the Web
	// Push that would wake their devices, and it is kept in the store
	// (loaded at start, written when it changes), so a restart does not
	// wake them either.
	dnd      map[int64]bool
	st       Store
	contacts map[int64]map[int64]struct{}
}

func newPresence(ctx context.Context, st Store, r *Relay) (*presence, error) {
	p := &presence{r: r, st: st, online: map[int64]int{}, status: map[int64]string{}, dnd: map[int64]bool{}, contacts: map[int64]map[int64]struct{}{}}
	pairs, err := st.AllContacts(ctx)
	if err != nil {
		return nil, err
	}
	dnd, err := st.DoNotDisturbUsers(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range dnd {
		p.dnd[u] = true
	}
	for _, pr := range pairs {
		p.addLocked(pr[0], pr[1])
	}
	return p, nil
}

func (p *presence) addLocked(a, b int64) {
	for _, x := range [2][2]int64{{a, b}, {b, a}} {
		m := p.contacts[x[0]]
		if m == nil {
			m = map[int64]struct{}{}
			p.contacts[x[0]] = m
		}
		m[x[1]] = struct{}{}
	}
}

// newPairs returns the (sender, recipient) pairs not yet known as contacts.
func (p *presence) newPairs(sender int64, recipients []int64) [][2]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out [][2]int64
	for _, r := range recipients {
		if _, ok := p.contacts[sender][r]; !ok {
			a, b := min(sender, r), max(sender, r)
			out = append(out, [2]int64{a, b})
		}
	}
	return out
}

// addPairs records contact pairs once they are stored, and introduces each
// pair: both learn the other's presence now rather than at its next change.
func (p *presence) addPairs(pairs [][2]int64) {
	if len(pairs) == 0 {
		return
	}
	p.mu.Lock()
	type intro struct {
		to    int64
		frame protocol.Presence
	}
	var intros []intro
	now := time.Now().UnixMilli()
	for _, pr := range pairs {
		p.addLocked(pr[0], pr[1])
		intros = append(intros,
			intro{pr[0], protocol.Presence{Type: protocol.TPresence, User: pr[1], Status: p.statusLocked(pr[1]), TS: now}},
			intro{pr[1], protocol.Presence{Type: protocol.TPresence, User: pr[0], Status: p.statusLocked(pr[0]), TS: now}})
	}
	p.mu.Unlock()
	intros = slices.DeleteFunc(intros, func(in intro) bool { return !p.visible(in.to, in.frame.User) })
	p.r.mu.RLock()
	defer p.r.mu.RUnlock()
	for _, in := range intros {
		frame, _ := json.Marshal(in.frame)
		for _, s := range p.r.byUser[in.to] {
			s.pushEphemeral(frame)
		}
	}
}

// tell sends the presence of who to one session, if the rules let its
// user see it.
func (p *presence) tell(s *session, who int64) {
	p.mu.Lock()
	_, known := p.contacts[s.user][who]
	frame := protocol.Presence{Type: protocol.TPresence, User: who, Status: p.statusLocked(who), TS: time.Now().UnixMilli()}
	p.mu.Unlock()
	if !known || !p.visible(s.user, who) {
		return
	}
	b, _ := json.Marshal(frame)
	s.pushEphemeral(b)
}

func (p *presence) statusLocked(user int64) string {
	if p.online[user] == 0 {
		return protocol.PresenceOffline
	}
	if st := p.status[user]; st != "" {
		return st
	}
	return protocol.PresenceAvailable
}

// connected records a device connecting, returns the presence of the user's
// contacts for the new session, and tells contacts if the user came online.
func (p *presence) connected(user int64) []protocol.Presence {
	p.mu.Lock()
	p.online[user]++
	first := p.online[user] == 1
	now := time.Now().UnixMilli()
	snapshot := make([]protocol.Presence, 0, len(p.contacts[user]))
	for c := range p.contacts[user] {
		snapshot = append(snapshot, protocol.Presence{Type: protocol.TPresence, User: c, Status: p.statusLocked(c), TS: now})
	}
	st := p.statusLocked(user)
	p.mu.Unlock()
	snapshot = slices.DeleteFunc(snapshot, func(pr protocol.Presence) bool { return !p.visible(user, pr.User) })
	if first {
		p.announce(user, st)
	}
	return snapshot
}

// disconnected records a device going away.
func (p *presence) disconnected(user int64) {
	p.mu.Lock()
	p.online[user]--
	last := p.online[user] <= 0
	if last {
		delete(p.online, user)
		delete(p.status, user)
	}
	p.mu.Unlock()
	if last {
		p.announce(user, protocol.PresenceOffline)
	}
}

// set records a user's chosen status, and keeps in the store whether it
// is do-not-disturb when that changes.
func (p *presence) set(ctx context.Context, user int64, status string) {
	p.mu.Lock()
	changed := p.status[user] != status
	p.status[user] = status
	dnd := status == protocol.PresenceDND
	dndChanged := p.dnd[user] != dnd
	if dnd {
		p.dnd[user] = true
	} else {
		delete(p.dnd, user)
	}
	p.mu.Unlock()
	if dndChanged {
		if err := p.st.SetDoNotDisturb(ctx, user, dnd); err != nil {
			// Held in memory all the same; only a restart would forget it.
			p.r.log.Error("do-not-disturb not kept", "user", user, "err", err)
		}
	}
	if changed {
		p.announce(user, status)
	}
}

// doNotDisturb reports whether the user's last chosen status, online or
// since, is do-not-disturb.
func (p *presence) doNotDisturb(user int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dnd[user]
}

// announce sends a presence frame to the connected devices of the user's
// contacts and of the user's own other devices. Presence is best effort: a
// device whose buffer is full misses it.
func (p *presence) announce(user int64, status string) {
	frame, _ := json.Marshal(protocol.Presence{Type: protocol.TPresence, User: user, Status: status, TS: time.Now().UnixMilli()})
	p.mu.Lock()
	targets := make(map[int64]struct{}, len(p.contacts[user])+1)
	for c := range p.contacts[user] {
		targets[c] = struct{}{}
	}
	p.mu.Unlock()
	for c := range targets {
		if !p.visible(c, user) {
			delete(targets, c)
		}
	}
	targets[user] = struct{}{}
	p.r.mu.RLock()
	defer p.r.mu.RUnlock()
	for u := range targets {
		for _, s := range p.r.byUser[u] {
			s.pushEphemeral(frame)
		}
	}
}

// contact makes user a contact of the session's user when the rules let
// them reach each other: opening a direct conversation with a colleague
// shows their presence at once, rather than "offline" until the first
// message. A new pair is stored and both are told each other's presence,
// as after a first message; a known one has its presence told to this
// session again. Presence still goes only to contacts the rules let one
// reach. A user the rules do not let one reach, or no one has, is
// not_reachable, as for a send.
func (r *Relay) contact(ctx context.Context, s *session, user int64) error {
	if user == s.user {
		return nil
	}
	ok, err := r.reaches(ctx, s.user, user)
	if err != nil {
		return err
	}
	if !ok {
		return errNotReachable(user)
	}
	pairs := r.pres.newPairs(s.user, []int64{user})
	if len(pairs) == 0 {
		r.pres.tell(s, user)
		return nil
	}
	if err := r.store.AddContacts(ctx, pairs); err != nil {
		return err
	}
	r.pres.addPairs(pairs)
	return nil
}

// visible reports whether viewer may see the presence of who: the rules must
// let them reach each other. A failure to read the rules hides it.
func (p *presence) visible(viewer, who int64) bool {
	ok, err := p.r.reaches(p.r.ctx, viewer, who)
	return err == nil && ok
}
