package relay

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/curbside-health/curbside/model"
)

// Cache lifetimes. Everything cached is dropped within a poll when the
// access epoch moves (relay/sessions.go), which every commit that changes
// it does, by this process or another (the operator CLI); device sets are
// also dropped at once when the server changes them. The lifetimes are a
// second line, for a store whose epoch cannot be read.
const (
	devicesTTL = 30 * time.Second
	groupTTL   = 5 * time.Second
	policyTTL  = 5 * time.Second
)

// directory is the relay's cache of what authorising a message needs.
type directory struct {
	store Store

	mu      sync.Mutex
	devices map[int64]cached[[]int64] // user → active device ids, ascending
	states  map[int64]cached[string]  // user → state ("" for no such user)
	groups  map[int64]cached[[]int64] // group → member ids (nil: no such group)
	policy  cached[model.Policy]
	reaches map[int64]cached[*model.Reach] // user → role and links
}

type cached[T any] struct {
	v  T
	at time.Time
}

func (c cached[T]) fresh(ttl time.Duration) bool { return !c.at.IsZero() && time.Since(c.at) < ttl }

func newDirectory(st Store) *directory {
	return &directory{store: st, devices: map[int64]cached[[]int64]{}, states: map[int64]cached[string]{}, groups: map[int64]cached[[]int64]{},
		reaches: map[int64]cached[*model.Reach]{}}
}

func (d *directory) forgetUser(user int64) {
	d.mu.Lock()
	delete(d.devices, user)
	delete(d.states, user)
	d.mu.Unlock()
}

// forgetAll drops everything cached, when a commit of this process or
// another may have changed any of it (the access epoch moved).
func (d *directory) forgetAll() {
	d.mu.Lock()
	clear(d.devices)
	clear(d.states)
	clear(d.groups)
	clear(d.reaches)
	d.policy = cached[model.Policy]{}
	d.mu.Unlock()
}

// userState returns a user's state (model.StateActive and the others), or
// model.ErrNotFound. It is kept as long as a device set, and dropped with
// it.
func (d *directory) userState(ctx context.Context, user int64) (string, error) {
	d.mu.Lock()
	c, ok := d.states[user]
	d.mu.Unlock()
	if !ok || !c.fresh(devicesTTL) {
		u, err := d.store.UserByID(ctx, user)
		switch {
		case errors.Is(err, model.ErrNotFound):
			c.v = ""
		case err != nil:
			return "", err
		default:
			c.v = u.State
		}
		d.mu.Lock()
		if len(d.states) > 100000 {
			clear(d.states)
		}
		d.states[user] = cached[string]{c.v, time.Now()}
		d.mu.Unlock()
	}
	if c.v == "" {
		return "", model.ErrNotFound
	}
	return c.v, nil
}

// activeDevices returns a user's active device ids, ascending; a user who
// is not in the active state (disabled, locked) has none to address. The
// slice must not be modified.
func (d *directory) activeDevices(ctx context.Context, user int64) ([]int64, error) {
	if st, err := d.userState(ctx, user); err == nil && st != model.StateActive {
		return nil, nil
	} else if err != nil && !errors.Is(err, model.ErrNotFound) {
		return nil, err
	}
	d.mu.Lock()
	c, ok := d.devices[user]
	d.mu.Unlock()
	if ok && c.fresh(devicesTTL) {
		return c.v, nil
	}
	ids, err := d.store.ActiveDevices(ctx, user)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if len(d.devices) > 100000 {
		clear(d.devices)
	}
	d.devices[user] = cached[[]int64]{ids, time.Now()}
	d.mu.Unlock()
	return ids, nil
}

// groupMembers returns a group's member ids, or model.ErrNotFound.
func (d *directory) groupMembers(ctx context.Context, group int64) ([]int64, error) {
	d.mu.Lock()
	c, ok := d.groups[group]
	d.mu.Unlock()
	if ok && c.fresh(groupTTL) {
		if c.v == nil {
			return nil, model.ErrNotFound
		}
		return c.v, nil
	}
	ids, err := d.store.GroupMemberIDs(ctx, group)
	if err != nil && err != model.ErrNotFound {
		return nil, err
	}
	if ids == nil && err == nil {
		ids = []int64{}
	}
	slices.Sort(ids)
	d.mu.Lock()
	if len(d.groups) > 10000 {
		clear(d.groups)
	}
	d.groups[group] = cached[[]int64]{ids, time.Now()}
	d.mu.Unlock()
	return ids, err
}

// forgetPolicy drops the cached policy, so the next loadPolicy reads the
// stored one.
func (d *directory) forgetPolicy() {
	d.mu.Lock()
	d.policy = cached[model.Policy]{}
	d.mu.Unlock()
}

func (d *directory) loadPolicy(ctx context.Context) (model.Policy, error) {
	d.mu.Lock()
	c := d.policy
	d.mu.Unlock()
	if c.fresh(policyTTL) {
		return c.v, nil
	}
	p, err := d.store.LoadPolicy(ctx)
	if err != nil {
		return p, err
	}
	d.mu.Lock()
	d.policy = cached[model.Policy]{p, time.Now()}
	d.mu.Unlock()
	return p, nil
}
