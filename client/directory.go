package client

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

// Pin is the device list a client trusts for one user: the first it saw
// (trust on first use) or a later version it accepted and reported as a
// KeyChange. Pins are saved in the state file.
type Pin struct {
	User     int64                `json:"user"`
	Username string               `json:"username,omitempty"`
	List     *protocol.DeviceList `json:"list"`
	Since    int64                `json:"since"` // when this list was pinned, ms
}

// KeyChange reports that a user's device set differs from the one pinned:
// a device was added or removed. It is a warning, not an error: adding a
// phone is normal, but so is how a compromised server would add its own
// device, which is why the user should compare safety numbers.
type KeyChange struct {
	User       int64
	Username   string
	OldVersion int64
	NewVersion int64
	Added      []int64 // device ids now listed that were not
	Removed    []int64 // device ids no longer listed
	Rekeyed    []int64 // device ids listed before with other keys
	// Reset is set when none of the devices seen before is left: the user
	// lost every device and set up a new one, which no earlier device
	// could approve. It is accepted, as the one way back for such a user,
	// and is exactly what a server that ended all of a user's devices and
	// invented one would send: it calls for comparing safety numbers.
	Reset bool
	// ByAdmin is set on a reset that the server says an administrator
	// approved, after a second-factor step-up (PROTOCOL.md 3.2): the
	// usual way back for a user who lost every device. It is the
	// server's word, so it still calls for comparing safety numbers.
	ByAdmin bool
	At      time.Time
	// Own is set when the devices are the signed-in user's own: another
	// device was added to (or removed from) this account.
	Own bool
}

func (k KeyChange) String() string {
	name := k.Username
	if name == "" {
		name = "user " + strconv.FormatInt(k.User, 10)
	}
	s := fmt.Sprintf("the devices of %s changed (list version %d → %d; added %v, removed %v", name, k.OldVersion, k.NewVersion, k.Added, k.Removed)
	if len(k.Rekeyed) > 0 {
		s += fmt.Sprintf(", new keys for %v", k.Rekeyed)
	}
	s += ")"
	switch {
	case k.Reset && k.ByAdmin:
		s += "; every earlier device is gone and the new one was approved by the administrator"
	case k.Reset:
		s += "; every earlier device is gone and no earlier device approved the new one"
	}
	return s
}

// ErrUntrustedKeys is matched (errors.Is) by every *UntrustedKeysError.
var ErrUntrustedKeys = errors.New("untrusted device keys")

// UntrustedKeysError means a user's device keys as the server presented
// them cannot be trusted: the list's signature does not verify, it is about
// another user, or it is older than or conflicts with the pinned list. The
// client refuses to encrypt to, or accept messages from, that user until
// this is resolved; it is what a device added by the server alone looks
// like.
type UntrustedKeysError struct {
	User     int64
	Username string
	Reason   string
	Err      error // the verification error, if any
}

func (e *UntrustedKeysError) Error() string {
	name := e.Username
	if name == "" {
		name = "user " + strconv.FormatInt(e.User, 10)
	}
	s := fmt.Sprintf("refusing the device keys the server gave for %s: %s", name, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s + " (the server or the network may be tampering with keys; tell your administrator)"
}

// Unwrap returns the verification error.
func (e *UntrustedKeysError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUntrustedKeys) true.
func (e *UntrustedKeysError) Is(target error) bool { return target == ErrUntrustedKeys }

// peer is a user's verified device list and the server's active set, as
// fetched in this process.
type peer struct {
	user    User
	list    *protocol.DeviceList // nil: the user has no devices yet
	recips  []e2ee.Recipient     // listed and active, keys parsed once
	revoked map[int64]int64      // device → when it was revoked (ms)
}

// lookup returns a user's verified devices, from this process's cache
// unless fresh is set or the user was never fetched.
func (c *Client) lookup(ctx context.Context, uid int64, fresh bool) (*peer, error) {
	if !fresh {
		c.mu.Lock()
		p := c.peers[uid]
		c.mu.Unlock()
		if p != nil {
			return p, nil
		}
	}
	kr, err := c.api.keys(ctx, uid)
	if err != nil {
		if ErrorCode(err) == protocol.CodeNotFound {
			return nil, fmt.Errorf("user %d does not exist: %w", uid, err)
		}
		return nil, fmt.Errorf("fetching the device keys of user %d: %w", uid, err)
	}
	return c.accept(uid, kr)
}

// accept checks a keys answer against the pin and caches the result.
func (c *Client) accept(uid int64, kr *keysResponse) (*peer, error) {
	untrusted := func(reason string, err error) error {
		return &UntrustedKeysError{User: uid, Username: kr.User.Username, Reason: reason, Err: err}
	}
	if kr.User.ID != 0 && kr.User.ID != uid {
		return nil, untrusted(fmt.Sprintf("the answer is about user %d", kr.User.ID), nil)
	}
	if kr.User.ID == 0 {
		kr.User.ID = uid
	}
	p := &peer{user: kr.User, revoked: make(map[int64]int64, len(kr.Revoked))}
	for _, r := range kr.Revoked {
		p.revoked[r.ID] = r.At
	}
	var change *KeyChange
	if l := kr.List; l != nil {
		if err := e2ee.VerifyDeviceList(l); err != nil {
			return nil, untrusted("the signed device list does not verify", err)
		}
		if l.User != uid {
			return nil, untrusted(fmt.Sprintf("the signed device list is user %d's", l.User), nil)
		}
		c.mu.Lock()
		pin := c.pins[uid]
		switch {
		case pin == nil || pin.List == nil:
			c.pins[uid] = &Pin{User: uid, Username: kr.User.Username, List: l, Since: time.Now().UnixMilli()}
		case l.Version < pin.List.Version:
			c.mu.Unlock()
			return nil, untrusted(fmt.Sprintf("the list is version %d but version %d was seen before (a rollback)", l.Version, pin.List.Version), nil)
		case l.Version == pin.List.Version:
			if !sameList(l, pin.List) {
				c.mu.Unlock()
				return nil, untrusted(fmt.Sprintf("two different lists both claim version %d", l.Version), nil)
			}
		default:
			added, removed, rekeyed := diffDevices(pin.List, l)
			reset := len(removed) == len(pin.List.Devices)
			if reason := unapproved(pin.List, l, added, rekeyed); reason != "" && !reset {
				c.mu.Unlock()
				return nil, untrusted(reason, nil)
			}
			// The signer's own new encryption key under its unchanged
			// signing key is a rotation (PROTOCOL.md 3.3), not a change
			// to warn of; a new key that another device signed is.
			rekeyed = slices.DeleteFunc(rekeyed, func(id int64) bool { return !reset && rotated(pin.List, l, id) })
			if len(added) > 0 || len(removed) > 0 || len(rekeyed) > 0 {
				change = &KeyChange{User: uid, Username: kr.User.Username, OldVersion: pin.List.Version, NewVersion: l.Version,
					Added: added, Removed: removed, Rekeyed: rekeyed, Reset: reset, ByAdmin: reset && kr.AdminApproved, At: time.Now(), Own: uid == c.user.ID}
				c.keyChanges = append(c.keyChanges, *change)
			}
			c.pins[uid] = &Pin{User: uid, Username: kr.User.Username, List: l, Since: time.Now().UnixMilli()}
		}
		if pin := c.pins[uid]; kr.User.Username != "" {
			pin.Username = kr.User.Username
		}
		c.mu.Unlock()
		p.list = l
		active := make(map[int64]bool, len(kr.Active))
		for _, id := range kr.Active {
			active[id] = true
		}
		// Only devices that are both signed into the list and active: the
		// server may withhold a device (revocation) but not add one.
		for _, d := range l.Devices {
			if !active[d.ID] {
				continue
			}
			r, err := e2ee.NewListedRecipient(uid, d)
			if err != nil {
				return nil, untrusted("a listed key is malformed", err)
			}
			p.recips = append(p.recips, r)
		}
	}
	c.mu.Lock()
	c.peers[uid] = p
	c.mu.Unlock()
	if change != nil && c.onKeyChange != nil {
		c.onKeyChange(*change)
	}
	return p, nil
}

// sameList reports whether two lists name the same devices with the same
// keys and the same signer.
func sameList(a, b *protocol.DeviceList) bool {
	if a.User != b.User || a.Version != b.Version || a.Signer != b.Signer || len(a.Devices) != len(b.Devices) {
		return false
	}
	for i := range a.Devices {
		x, y := a.Devices[i], b.Devices[i]
		if x.ID != y.ID || !bytes.Equal(x.Enc, y.Enc) || !bytes.Equal(x.Sign, y.Sign) || !bytes.Equal(x.PQ, y.PQ) {
			return false
		}
	}
	return true
}

// diffDevices returns the device ids added, removed and given another
// encryption key from old to new. Devices are compared by their keys, not
// their ids: ids are derived from signing keys, so a changed signing key
// shows as one removed and one added (or, were an id to collide, as
// rekeyed), and a changed encryption key is a change too.
func diffDevices(old, new *protocol.DeviceList) (added, removed, rekeyed []int64) {
	for _, d := range new.Devices {
		o, ok := old.Find(d.ID)
		switch {
		case !ok:
			added = append(added, d.ID)
		case !bytes.Equal(o.Sign, d.Sign) || !bytes.Equal(o.Enc, d.Enc) || !bytes.Equal(o.PQ, d.PQ):
			rekeyed = append(rekeyed, d.ID)
		}
	}
	for _, d := range old.Devices {
		if _, ok := new.Find(d.ID); !ok {
			removed = append(removed, d.ID)
		}
	}
	return added, removed, rekeyed
}

// rotated reports whether device id's only change from old to new is its
// encryption keys (X25519, and X-Wing if any), in a list that id itself signed: the device rotated its
// key (PROTOCOL.md 3.3). Its signing key, which the safety number covers,
// vouches for the new key.
func rotated(old, new *protocol.DeviceList, id int64) bool {
	if new.Signer != id {
		return false
	}
	o, ok1 := old.Find(id)
	n, ok2 := new.Find(id)
	return ok1 && ok2 && bytes.Equal(o.Sign, n.Sign)
}

// unapproved returns why a newer list that adds or rekeys devices cannot
// be trusted, or "" if it can: such a list must be signed by a device that
// was already in the verified list, with the same keys (PROTOCOL.md 3.1).
// A device that signs itself in is exactly what a server adding its own
// listener would send.
func unapproved(old, new *protocol.DeviceList, added, rekeyed []int64) string {
	if len(added) == 0 && len(rekeyed) == 0 {
		return ""
	}
	s, _ := new.Find(new.Signer)
	if o, ok := old.Find(new.Signer); ok && bytes.Equal(o.Sign, s.Sign) {
		return ""
	}
	return fmt.Sprintf("device %d was added to the list by a device that was not in it before (a device signed itself in, or the list was forged); it was not approved on one of the user's own devices", new.Signer)
}

// KeyChanges returns the key changes seen since the client was made, oldest
// first.
func (c *Client) KeyChanges() []KeyChange {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.keyChanges)
}

// Pins returns the pinned device lists, for display.
func (c *Client) Pins() []Pin {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Pin, 0, len(c.pins))
	for _, p := range c.pins {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Pin) int { return cmp.Compare(a.User, b.User) })
	return out
}

// Refresh drops the cached devices of the given users, so the next send or
// open fetches them again. Pins stay.
func (c *Client) Refresh(users ...int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, u := range users {
		delete(c.peers, u)
	}
}

// SafetyNumber fetches the signed device lists of the signed-in user and of
// user uid and returns their e2ee.SafetyNumber.
func (c *Client) SafetyNumber(ctx context.Context, uid int64) (string, error) {
	me, err := c.lookup(ctx, c.user.ID, true)
	if err != nil {
		return "", err
	}
	them, err := c.lookup(ctx, uid, true)
	if err != nil {
		return "", err
	}
	if me.list == nil || them.list == nil {
		return "", fmt.Errorf("user %d has no registered devices yet", uid)
	}
	return e2ee.SafetyNumber(me.list, them.list), nil
}

// senderKey returns the signing key of device dev of user uid from the
// user's verified list, for something the device signed as made at signed
// (ms), fetching the list again if the device is not in the cached one (it
// may have been added since). A device revoked more than
// protocol.ClockSkewMs before signed is refused (ErrRevokedDevice): what it
// signs after its revocation is not its user's.
func (c *Client) senderKey(ctx context.Context, uid, dev, signed int64) (ed25519.PublicKey, User, error) {
	for _, fresh := range []bool{false, true} {
		p, err := c.lookup(ctx, uid, fresh)
		if err != nil {
			return nil, User{}, err
		}
		if p.list != nil {
			if d, ok := p.list.Find(dev); ok {
				if at, gone := p.revoked[dev]; gone && signed > at+protocol.ClockSkewMs {
					return nil, User{}, fmt.Errorf("%w: device %d of user %d was removed at %s and this was signed at %s",
						ErrRevokedDevice, dev, uid, time.UnixMilli(at).UTC().Format(time.RFC3339), time.UnixMilli(signed).UTC().Format(time.RFC3339))
				}
				return ed25519.PublicKey(d.Sign), p.user, nil
			}
		}
	}
	return nil, User{}, fmt.Errorf("%w: device %d is not in user %d's signed device list", errUnknownDevice, dev, uid)
}

var errUnknownDevice = errors.New("unknown sending device")

// ErrRevokedDevice means a message or receipt was signed by a device after
// the device was revoked (wiped or removed): it is refused.
var ErrRevokedDevice = errors.New("signed by a device after it was removed")

// username returns a user's username if this process or the pins know it,
// without asking the server.
func (c *Client) username(uid int64) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if uid == c.user.ID {
		return c.user.Username
	}
	if p := c.peers[uid]; p != nil && p.user.Username != "" {
		return p.user.Username
	}
	if p := c.pins[uid]; p != nil {
		return p.Username
	}
	return ""
}

// recipients returns every device a message to users must be sealed to:
// all usable devices of each user, and this user's other devices. It fails
// if no device at all is usable, naming who has none.
func (c *Client) recipients(ctx context.Context, users []int64) ([]e2ee.Recipient, error) {
	var out []e2ee.Recipient
	var without []string
	for _, uid := range users {
		if uid == c.user.ID {
			continue
		}
		p, err := c.lookup(ctx, uid, false)
		if err != nil {
			return nil, err
		}
		if len(p.recips) == 0 {
			name := p.user.Username
			if name == "" {
				name = "user " + strconv.FormatInt(uid, 10)
			}
			without = append(without, name)
		}
		out = append(out, p.recips...)
	}
	me, err := c.lookup(ctx, c.user.ID, false)
	if err != nil {
		return nil, err
	}
	for _, r := range me.recips {
		if r.Device != c.keys().ID() {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no recipient has an active device yet (%v): each must sign in once, in the web app or with `curbside client login`", without)
	}
	return out, nil
}
