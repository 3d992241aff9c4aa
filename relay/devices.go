package relay

import (
	"encoding/json"
	"time"

	"github.com/curbside-health/curbside/protocol"
)

// announceDevices tells the connected devices that may need to know that
// user's active devices changed, with an ephemeral devices frame
// (PROTOCOL.md 4.2), so that an open app fetches that user's keys again
// now instead of sealing to a set it fetched before: a colleague who set up
// a new device after a wipe is reached by the next message, and one whose
// last device was revoked is shown as unreachable before anyone writes.
//
// The frame goes to the user's own devices, to the user's contacts (who
// have exchanged messages with them, in any conversation) and to every
// connected user the participation rules let reach them: exactly those who
// may fetch the user's keys and would seal to them. It names no device and
// carries no key; the client verifies whatever it fetches as always.
// Group members who are neither learn of the change from the devices_changed
// answer to their next message, as before.
//
// It runs on its own goroutine: the reach checks read the store, and the
// HTTP request that changed the devices must not wait for them.
func (r *Relay) announceDevices(user int64) {
	r.mu.RLock()
	if r.closing {
		r.mu.RUnlock()
		return
	}
	r.wg.Add(1)
	r.mu.RUnlock()
	go func() {
		defer r.wg.Done()
		frame, _ := json.Marshal(protocol.DevicesFrame{Type: protocol.TDevices, User: user, TS: time.Now().UnixMilli()})
		targets := map[int64]bool{user: true}
		r.pres.mu.Lock()
		for c := range r.pres.contacts[user] {
			targets[c] = true
		}
		r.pres.mu.Unlock()
		r.mu.RLock()
		connected := make([]int64, 0, len(r.byUser))
		for u := range r.byUser {
			if !targets[u] {
				connected = append(connected, u)
			}
		}
		r.mu.RUnlock()
		for _, u := range connected {
			if ok, err := r.reaches(r.ctx, u, user); err == nil && ok {
				targets[u] = true
			}
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		for u := range targets {
			for _, s := range r.byUser[u] {
				s.pushEphemeral(frame)
			}
		}
	}()
}

// DeviceRequested tells user's own connected devices that the set of their
// devices waiting for approval changed (one was requested, denied or
// approved): a devices frame carrying requests, the number now waiting
// (PROTOCOL.md 3.1). Nobody else is told: a request is not a device, and
// peers have nothing to fetch until one is approved.
func (r *Relay) DeviceRequested(user int64, requests int) {
	frame, _ := json.Marshal(protocol.DevicesFrame{Type: protocol.TDevices, User: user, TS: time.Now().UnixMilli(), Requests: requests})
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closing {
		return
	}
	for _, s := range r.byUser[user] {
		s.pushEphemeral(frame)
	}
}
