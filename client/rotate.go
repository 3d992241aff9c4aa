package client

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

// retiredKey is an encryption key this device used before a rotation,
// kept so that what was sealed to it still opens (PROTOCOL.md 3.3).
type retiredKey struct {
	keys *e2ee.DeviceKeys
	// at is when the server stored the list that replaced the key, ms; 0
	// while that list is not stored yet (the key is still the listed
	// one, and is kept whatever its age).
	at int64
	// keep is the longest retention seen since the key was retired, ms:
	// what was queued sealed to it before a retention was lowered still
	// waits by the longer one.
	keep int64
}

// defaultRetentionMS is the retention policy's default (7 days), used for a
// retired key when the server gives none: a key is never kept for good
// because a server left the setting out.
const defaultRetentionMS = 7 * 24 * 60 * 60 * 1000

// keys returns the device's current keys.
func (c *Client) keys() *e2ee.DeviceKeys { return c.dev.Load() }

// retiredKeys returns the retired keys still kept, newest first: the ones
// Open tries after the current key.
func (c *Client) retiredKeys() []*e2ee.DeviceKeys {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*e2ee.DeviceKeys, 0, len(c.retired))
	for i := len(c.retired) - 1; i >= 0; i-- {
		out = append(out, c.retired[i].keys)
	}
	return out
}

// RetiredKeys returns how many earlier encryption keys the device still
// keeps: each is deleted once the policy's retention has passed since it
// was replaced, when nothing sealed to it can still be waiting.
func (c *Client) RetiredKeys() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.retired)
}

// KeyCreated returns when the device's current encryption key was made,
// in ms since the Unix epoch.
func (c *Client) KeyCreated() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keyCreated
}

// RotateKey gives the device a new encryption key (PROTOCOL.md 3.3): it
// makes one, keeps the old one as retired, saves the state (if it was
// loaded from or saved to a file) so that a crash cannot lose the new key,
// and stores a list signed by this device that differs from the current
// one only in this key. Peers accept that list without a key-change
// warning. A rotation the server could not store yet is stored by the next
// RotateKey or Connect. Connect rotates by itself when the key is older
// than the practice's key_rotation policy.
func (c *Client) RotateKey(ctx context.Context) error {
	c.rotMu.Lock()
	defer c.rotMu.Unlock()
	if c.unannounced() {
		if err := c.announceKey(ctx); err != nil {
			return err
		}
	}
	return c.rotate(ctx)
}

func (c *Client) rotate(ctx context.Context) error {
	cur := c.keys()
	rot := cur.RotateEnc
	if c.pq {
		rot = cur.RotateEncPQ // adds the device's first X-Wing key
	}
	next, err := rot()
	if err != nil {
		return err
	}
	c.mu.Lock()
	created := c.keyCreated
	c.retired = append(c.retired, &retiredKey{keys: cur})
	c.dev.Store(next)
	c.keyCreated = nowMS()
	c.mu.Unlock()
	if err := c.autosave(); err != nil {
		c.mu.Lock()
		c.retired = c.retired[:len(c.retired)-1]
		c.dev.Store(cur)
		c.keyCreated = created
		c.mu.Unlock()
		return fmt.Errorf("making a new key: %w", err)
	}
	return c.announceKey(ctx)
}

// unannounced reports whether a retired key is still the listed one: a
// rotation made but not stored by the server yet.
func (c *Client) unannounced() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.ContainsFunc(c.retired, func(r *retiredKey) bool { return r.at == 0 })
}

// autosave saves the state where it was last loaded from or saved to.
func (c *Client) autosave() error {
	c.mu.Lock()
	path := c.statePath
	c.mu.Unlock()
	if path == "" {
		return nil
	}
	return c.Save(path)
}

// announceKey makes the user's signed list give this device its current
// encryption key, if it does not yet: a list identical to the verified one
// but for that key, at the next version, signed by this device.
func (c *Client) announceKey(ctx context.Context) error {
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var own *peer
		if own, err = c.lookup(ctx, c.user.ID, true); err != nil {
			return fmt.Errorf("storing the new key: %w", err)
		}
		keys := c.keys()
		if own.list == nil {
			return errors.New("storing the new key: you have no device list yet")
		}
		me, ok := own.list.Find(keys.ID())
		if !ok || !bytes.Equal(me.Sign, keys.SignPublic()) {
			return fmt.Errorf("storing the new key: this device %d is not in your device list", keys.ID())
		}
		if bytes.Equal(me.Enc, keys.EncPublic()) && bytes.Equal(me.PQ, keys.PQPublic()) {
			break
		}
		next := &protocol.DeviceList{User: own.list.User, Version: own.list.Version + 1, Devices: slices.Clone(own.list.Devices)}
		for i := range next.Devices {
			if next.Devices[i].ID == keys.ID() {
				next.Devices[i].Enc = keys.EncPublic()
				next.Devices[i].PQ = keys.PQPublic()
			}
		}
		if err = e2ee.SignDeviceList(next, keys); err != nil {
			return err
		}
		err = c.api.do(ctx, http.MethodPut, "/api/v1/devices/me/keys", struct {
			List *protocol.DeviceList `json:"list"`
		}{next}, nil)
		if ErrorCode(err) == protocol.CodeConflict {
			continue // the list changed meanwhile: build on the new one
		}
		if err != nil {
			return fmt.Errorf("storing the new key: %w", err)
		}
		// Pin the list this device signed, as a peer would accept it.
		if _, err = c.accept(c.user.ID, &keysResponse{User: c.user, List: next, Active: own.activeIDs()}); err != nil {
			return fmt.Errorf("storing the new key: %w", err)
		}
		break
	}
	if err != nil {
		return fmt.Errorf("storing the new key: %w", err)
	}
	now := nowMS()
	c.mu.Lock()
	for _, r := range c.retired {
		if r.at == 0 {
			r.at = now
		}
	}
	if c.pqSince == 0 && c.keys().PQPublic() != nil {
		c.pqSince = now
	}
	c.mu.Unlock()
	return c.autosave()
}

// pqListed returns when this device's list first gave it an X-Wing key,
// ms, or 0.
func (c *Client) pqListed() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pqSince
}

// activeIDs returns the ids of the peer's devices that are listed and
// active.
func (p *peer) activeIDs() []int64 {
	out := make([]int64, len(p.recips))
	for i, r := range p.recips {
		out[i] = r.Device
	}
	return out
}

// keyPolicy is the part of GET /api/v1/config the rotation follows.
type keyPolicy struct {
	Policy struct {
		KeyRotationMS int64 `json:"key_rotation_ms"`
		RetentionMS   int64 `json:"retention_ms"`
	} `json:"policy"`
}

// maintainKeys, at Connect, deletes the retired keys that nothing sealed
// to can still be waiting for (replaced longer ago than the retention
// policy), stores a rotation the server did not take before, and rotates
// when the current key is older than the key_rotation policy.
func (c *Client) maintainKeys(ctx context.Context) error {
	var cfg keyPolicy
	if err := c.api.do(ctx, http.MethodGet, "/api/v1/config", nil, &cfg); err != nil {
		return err
	}
	c.rotMu.Lock()
	defer c.rotMu.Unlock()
	if c.pruneRetired(cfg.Policy.RetentionMS) {
		if err := c.autosave(); err != nil {
			return err
		}
	}
	var err error
	switch {
	case c.unannounced():
		err = c.announceKey(ctx)
	case cfg.Policy.KeyRotationMS > 0 && nowMS()-c.KeyCreated() >= cfg.Policy.KeyRotationMS:
		err = c.rotate(ctx)
	case c.pq && c.pqListed() == 0:
		// The device's first listed X-Wing key, by a rotation: the
		// server stores a device's new keys only with a new X25519 key.
		err = c.rotate(ctx)
	}
	// A key just retired keeps at least the retention in force now.
	if c.pruneRetired(cfg.Policy.RetentionMS) {
		if serr := c.autosave(); err == nil {
			err = serr
		}
	}
	if ErrorCode(err) == protocol.CodeRateLimited {
		return nil // rotated a short while ago on the server's clock: later
	}
	return err
}

// pruneRetired deletes the retired keys replaced longer ago than the
// longest retention seen since (retentionMS now, or a longer one before):
// the server has expired everything sealed to them by then. It reports
// whether it changed any (deleted one, or lengthened what one keeps).
func (c *Client) pruneRetired(retentionMS int64) bool {
	now := nowMS()
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := false
	for _, r := range c.retired {
		if r.at > 0 && retentionMS > r.keep {
			r.keep, changed = retentionMS, true
		}
	}
	n := len(c.retired)
	c.retired = slices.DeleteFunc(c.retired, func(r *retiredKey) bool {
		return r.at > 0 && now-r.at > cmp.Or(r.keep, defaultRetentionMS)
	})
	return changed || len(c.retired) != n
}
