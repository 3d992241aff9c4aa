package client

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/curbside-health/curbside/protocol"
)

// Group membership, as this client sees it. The server announces each
// change of a group's members with a member event (protocol.MemberEvent),
// but the server could also add a listener and say nothing. So the client
// keeps, per group conversation, the last member set it knows, and
// compares it with every member list it is given (Groups, Group, and the
// list a group message is sealed to) and with the recipients of every
// group message it opens: a member who appears or disappears without an
// event is reported as observed. An event and an observation of the same
// change are one MemberEvent, with both Announced and Observed set.

// MaxMemberEvents is how many membership events MemberEvents keeps, the
// newest.
const MaxMemberEvents = 1000

// MemberEvent is a change of a group conversation's members: announced by
// the server, observed by this client, or both.
type MemberEvent struct {
	Conv  string // "g:<group>"
	Group int64
	Kind  string // protocol.MemberAdded or protocol.MemberRemoved
	User  int64  // who was added or removed
	Name  string // their display name, or username, if known
	// By and ByName name the administrator who made the change, when the
	// server's event names one; Via says how it was made
	// (protocol.ViaConsole, ViaSync, ViaCLI, ViaServer), "" if the server
	// did not announce it.
	By     int64
	ByName string
	Via    string
	At     time.Time // the server's time of the change, or when it was observed
	Seq    int64     // the server event's queue item (Ack it), 0 if none
	// Announced: the server sent an event for this change. Observed: this
	// client saw it itself, in a member list or a message's recipients.
	// Observed without Announced is a change the server did not tell of.
	Announced bool
	Observed  bool
}

// String says what happened in words for the people in the group.
func (e MemberEvent) String() string {
	who := e.Name
	if who == "" {
		who = fmt.Sprintf("user %d", e.User)
	}
	verb := "added"
	if e.Kind == protocol.MemberRemoved {
		verb = "removed"
	}
	if !e.Announced {
		if e.Kind == protocol.MemberRemoved {
			return who + " no longer receives this group's messages"
		}
		return who + " now receives this group's messages"
	}
	switch e.Via {
	case protocol.ViaConsole:
		if e.ByName != "" {
			return e.ByName + " " + verb + " " + who
		}
		return who + " was " + verb + " by an administrator"
	case protocol.ViaSync:
		return who + " was " + verb + " by directory sync"
	case protocol.ViaCLI:
		return who + " was " + verb + " by the administrator (command line)"
	}
	return who + " was " + verb + " by the server"
}

// WithMemberEventHandler calls f, synchronously, for each membership
// event: when it is first announced or observed, and once more, with both
// Announced and Observed set, when the other half of the same change
// arrives. The events are also kept for MemberEvents.
func WithMemberEventHandler(f func(MemberEvent)) Option {
	return func(c *Client) { c.onMember = f }
}

// MemberEvents returns the membership events of this process, oldest
// first.
func (c *Client) MemberEvents() []MemberEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]MemberEvent(nil), c.memberEvents...)
}

// KnownMembers returns the member set this client last knew of a group
// conversation, sorted, and whether it knows one.
func (c *Client) KnownMembers(conv string) ([]int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set, ok := c.members[conv]
	if !ok {
		return nil, false
	}
	out := make([]int64, 0, len(set))
	for u := range set {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, true
}

// observeGroup compares a group's member list, as the server gave it,
// with the set last known.
func (c *Client) observeGroup(g Group) {
	names := make(map[int64]string, len(g.Members))
	ids := make([]int64, len(g.Members))
	for i, m := range g.Members {
		ids[i] = m.ID
		names[m.ID] = m.Display
		if names[m.ID] == "" {
			names[m.ID] = m.Username
		}
	}
	c.observeMembers(protocol.GroupConv(g.ID), g.ID, ids, names, true)
}

// observeMembers compares users with the set last known for conv. A
// complete list (a group's member list) makes the first set known and
// shows both who appeared and who disappeared; a partial one (the
// recipients of a message, which leave out members with no device) shows
// only who appeared, and only once a set is known.
func (c *Client) observeMembers(conv string, group int64, users []int64, names map[int64]string, complete bool) {
	now := time.Now()
	var fresh []MemberEvent
	c.mu.Lock()
	for u, n := range names {
		if n != "" {
			c.memberNames[u] = n
		}
	}
	known, ok := c.members[conv]
	if !ok {
		if complete {
			set := make(map[int64]bool, len(users))
			for _, u := range users {
				set[u] = true
			}
			c.members[conv] = set
		}
		c.mu.Unlock()
		return
	}
	now = now.Truncate(time.Millisecond)
	seen := make(map[int64]bool, len(users))
	for _, u := range users {
		seen[u] = true
		if !known[u] {
			known[u] = true
			fresh = append(fresh, c.noteMember(MemberEvent{Conv: conv, Group: group, Kind: protocol.MemberAdded, User: u, Name: names[u], At: now, Observed: true}))
		}
	}
	if complete {
		gone := make([]int64, 0)
		for u := range known {
			if !seen[u] {
				gone = append(gone, u)
			}
		}
		sort.Slice(gone, func(i, j int) bool { return gone[i] < gone[j] })
		for _, u := range gone {
			delete(known, u)
			fresh = append(fresh, c.noteMember(MemberEvent{Conv: conv, Group: group, Kind: protocol.MemberRemoved, User: u, At: now, Observed: true}))
		}
	}
	c.mu.Unlock()
	c.tellMembers(fresh)
}

// observeRecipients is observeMembers for the recipients of a group
// message: a newcomer whose name the client does not know is looked up in
// the directory first, so the event can name them.
func (c *Client) observeRecipients(ctx context.Context, conv string, group int64, users []int64, names map[int64]string) {
	var unnamed []int64
	c.mu.Lock()
	if known, ok := c.members[conv]; ok {
		for _, u := range users {
			if !known[u] && names[u] == "" && c.memberNames[u] == "" {
				unnamed = append(unnamed, u)
			}
		}
	}
	c.mu.Unlock()
	for _, u := range unnamed {
		// The name only: the keys answer is not pinned here, as nothing
		// is sealed to them.
		if kr, err := c.api.keys(ctx, u); err == nil {
			names[u] = kr.User.Display
			if names[u] == "" {
				names[u] = kr.User.Username
			}
		}
	}
	c.observeMembers(conv, group, users, names, false)
}

// announced takes the server's member event: it joins an observation of
// the same change not yet announced, or is a new event, and updates the
// set last known.
func (c *Client) announced(f *protocol.ServerFrame) MemberEvent {
	ev := MemberEvent{Conv: f.Conv, Group: f.Group, Kind: f.Kind, User: f.User, Name: f.Name, By: f.By, ByName: f.ByName,
		Via: f.Via, At: time.UnixMilli(f.TS), Seq: f.Seq, Announced: true}
	c.mu.Lock()
	for i := len(c.memberEvents) - 1; i >= 0 && ev.Seq > 0; i-- {
		if c.memberEvents[i].Seq == ev.Seq && c.memberEvents[i].Announced {
			// The same queue item again (it was not acked before a
			// reconnect): nothing new.
			dup := c.memberEvents[i]
			c.mu.Unlock()
			return dup
		}
	}
	if ev.Name != "" {
		c.memberNames[ev.User] = ev.Name
	}
	if set, ok := c.members[ev.Conv]; ok {
		if ev.Kind == protocol.MemberAdded {
			set[ev.User] = true
		} else {
			delete(set, ev.User)
		}
	}
	merged := false
	for i := len(c.memberEvents) - 1; i >= 0; i-- {
		o := &c.memberEvents[i]
		if o.Conv == ev.Conv && o.User == ev.User && o.Kind == ev.Kind && o.Observed && !o.Announced {
			if o.Name != "" && ev.Name == "" {
				ev.Name = o.Name
			}
			ev.Observed = true
			*o = ev
			merged = true
			break
		}
	}
	if !merged {
		c.noteMember(ev)
	}
	c.mu.Unlock()
	c.tellMembers([]MemberEvent{ev})
	return ev
}

// noteMember keeps ev; c.mu is held.
func (c *Client) noteMember(ev MemberEvent) MemberEvent {
	if ev.Name == "" {
		if n := c.memberNames[ev.User]; n != "" {
			ev.Name = n
		} else if p := c.peers[ev.User]; p != nil {
			ev.Name = p.user.Display
			if ev.Name == "" {
				ev.Name = p.user.Username
			}
		} else if p := c.pins[ev.User]; p != nil {
			ev.Name = p.Username
		}
	}
	c.memberEvents = append(c.memberEvents, ev)
	if n := len(c.memberEvents) - MaxMemberEvents; n > 0 {
		c.memberEvents = append(c.memberEvents[:0], c.memberEvents[n:]...)
	}
	return ev
}

func (c *Client) tellMembers(evs []MemberEvent) {
	if c.onMember == nil {
		return
	}
	for _, ev := range evs {
		c.onMember(ev)
	}
}
