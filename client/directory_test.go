package client

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

func recipientDevices(p *peer) []int64 {
	var out []int64
	for _, r := range p.recips {
		out = append(out, r.Device)
	}
	slices.Sort(out)
	return out
}

func TestDirectoryTrustOnFirstUse(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 2)
	var changes []KeyChange
	c := clientFor(t, "http://127.0.0.1:1", alice, 0, WithKeyChangeHandler(func(k KeyChange) { changes = append(changes, k) }))

	p, err := c.accept(2, bob.keysResponse())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Pins()) != 1 || c.Pins()[0].List.Version != bob.list.Version || len(changes) != 0 {
		t.Fatalf("first sight: pins %+v changes %v; want one pin, no warning", c.Pins(), changes)
	}
	if got := recipientDevices(p); !slices.Equal(got, sorted(bob.activeIDs())) {
		t.Fatalf("recipients %v; want %v", got, bob.activeIDs())
	}
	// The same list again: nothing to report.
	if _, err := c.accept(2, bob.keysResponse()); err != nil || len(changes) != 0 {
		t.Fatalf("same list: %v, %d changes", err, len(changes))
	}

	// Bob adds a phone: accepted, pinned, and reported.
	phone := bob.addDevice(t)
	if _, err := c.accept(2, bob.keysResponse()); err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || !slices.Equal(changes[0].Added, []int64{phone.ID()}) || len(changes[0].Removed) != 0 ||
		changes[0].Username != "bob" || changes[0].NewVersion != bob.list.Version {
		t.Fatalf("changes = %+v; want one adding %d", changes, phone.ID())
	}
	if got := c.KeyChanges(); len(got) != 1 {
		t.Fatalf("KeyChanges() = %v", got)
	}
}

func TestDirectoryRefusesUntrustedLists(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 2)
	old := bob.keysResponse()
	bob.addDevice(t)

	intruder, _ := e2ee.GenerateDeviceKeys()
	added := *bob.list // the server slips its own device into bob's list
	added.Devices = append(slices.Clone(bob.list.Devices), intruder.Listed())
	sortListed(added.Devices)

	fork := newAccount(t, 2, "bob", 3) // other keys, the same version number as bob's

	// The server adds its own device to bob's list and signs the list
	// with that device: a well-formed list a device signed itself into.
	selfSigned := *bob.list
	selfSigned.Version++
	selfSigned.Devices = append(slices.Clone(bob.list.Devices), intruder.Listed())
	if err := e2ee.SignDeviceList(&selfSigned, intruder); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		kr   *keysResponse
	}{
		{"device added without a signature", &keysResponse{User: bob.user, List: &added, Active: append(bob.activeIDs(), intruder.ID())}},
		{"a device that signed itself in", &keysResponse{User: bob.user, List: &selfSigned, Active: append(bob.activeIDs(), intruder.ID())}},
		{"rolled back to an older version", old},
		{"another list with the pinned version", fork.keysResponse()},
		{"someone else's list", &keysResponse{User: bob.user, List: alice.list, Active: alice.activeIDs()}},
		{"an answer about another user", &keysResponse{User: alice.user, List: bob.list, Active: bob.activeIDs()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clientFor(t, "http://127.0.0.1:1", alice, 0)
			if _, err := c.accept(2, bob.keysResponse()); err != nil {
				t.Fatal(err)
			}
			_, err := c.accept(2, tc.kr)
			var ue *UntrustedKeysError
			if !errors.As(err, &ue) || !errors.Is(err, ErrUntrustedKeys) || ue.User != 2 {
				t.Fatalf("accept: %v; want *UntrustedKeysError for user 2", err)
			}
			if pins := c.Pins(); len(pins) != 1 || !sameList(pins[0].List, bob.list) {
				t.Fatal("the pin changed")
			}
		})
	}
}

func TestDirectoryEncryptsOnlyToListedActiveDevices(t *testing.T) {
	alice := newAccount(t, 1, "alice", 2)
	bob := newAccount(t, 2, "bob", 3)
	intruder, _ := e2ee.GenerateDeviceKeys()
	d := newDirectory(alice, bob)
	// The server withholds bob's second device and claims one bob never
	// listed is active: the first is its right, the second is ignored.
	d.override[2] = &keysResponse{User: bob.user, List: bob.list,
		Active: []int64{bob.devices[0].ID(), bob.devices[2].ID(), intruder.ID()}}
	srv := newDirectoryServer(t, d, nil)
	c := clientFor(t, srv.URL, alice, 0)

	rs, err := c.recipients(context.Background(), []int64{2})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, r := range rs {
		got = append(got, r.Device)
	}
	want := []int64{bob.devices[0].ID(), bob.devices[2].ID(), alice.devices[1].ID()}
	if !slices.Equal(sorted(got), sorted(want)) {
		t.Fatalf("sealed to %v; want bob's listed active devices and alice's other device %v", got, want)
	}
	for _, r := range rs {
		if r.Device == alice.devices[0].ID() {
			t.Fatal("sealed to the sending device itself")
		}
	}
}

func TestDirectoryNoDevices(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	newbie := &account{user: User{ID: 5, Username: "newbie"}}
	srv := newDirectoryServer(t, newDirectory(alice, newbie), nil)
	c := clientFor(t, srv.URL, alice, 0)
	if _, err := c.recipients(context.Background(), []int64{5}); err == nil {
		t.Fatal("sealed a message that no device can open")
	}
	if _, err := c.recipients(context.Background(), []int64{6}); ErrorCode(err) != protocol.CodeNotFound {
		t.Fatalf("unknown user: %v; want not_found", err)
	}
}

func TestSenderKeyRefetchesForANewDevice(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 1)
	d := newDirectory(alice, bob)
	srv := newDirectoryServer(t, d, nil)
	c := clientFor(t, srv.URL, alice, 0)
	ctx := context.Background()
	if _, _, err := c.senderKey(ctx, 2, bob.devices[0].ID(), 1); err != nil {
		t.Fatal(err)
	}
	phone := bob.addDevice(t)
	key, u, err := c.senderKey(ctx, 2, phone.ID(), 1)
	if err != nil || u.Username != "bob" || !slices.Equal(key, phone.SignPublic()) {
		t.Fatalf("new device's key: %v", err)
	}
	if n := d.fetched(2); n != 2 {
		t.Fatalf("fetched bob's keys %d times; want 2 (cached, then once for the new device)", n)
	}
	if _, _, err := c.senderKey(ctx, 2, 12345, 1); !errors.Is(err, errUnknownDevice) {
		t.Fatalf("unlisted device: %v", err)
	}
}

// A device the keys answer names as revoked is refused for what it signed
// after its revocation, and still believed for what it signed before (a
// message queued while it was in use), within the clock-skew bound.
func TestSenderKeyRefusesARevokedDevice(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 2)
	c := clientFor(t, "http://127.0.0.1:1", alice, 0)
	stolen := bob.devices[1].ID()
	kr := bob.keysResponse()
	kr.Active = []int64{bob.devices[0].ID()}
	kr.Revoked = append(kr.Revoked, struct {
		ID int64 `json:"id"`
		At int64 `json:"at"`
	}{stolen, 1_000_000})
	if _, err := c.accept(2, kr); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		at   int64
		want bool
	}{{1_000_000 - 1, true}, {1_000_000 + protocol.ClockSkewMs, true}, {1_000_000 + protocol.ClockSkewMs + 1, false}} {
		_, _, err := c.senderKey(ctx, 2, stolen, tc.at)
		if tc.want && err != nil || !tc.want && !errors.Is(err, ErrRevokedDevice) {
			t.Fatalf("signed at %d by a device revoked at 1000000: %v", tc.at, err)
		}
	}
	if _, _, err := c.senderKey(ctx, 2, bob.devices[0].ID(), 1<<50); err != nil {
		t.Fatalf("the active device: %v", err)
	}
}

func sorted(s []int64) []int64 {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// A device is the same device only with the same keys: a new encryption
// key under a known id is reported as a key change, not passed over.
func TestDirectoryReportsANewEncryptionKey(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 2)
	var changes []KeyChange
	c := clientFor(t, "http://127.0.0.1:1", alice, 0, WithKeyChangeHandler(func(k KeyChange) { changes = append(changes, k) }))
	if _, err := c.accept(2, bob.keysResponse()); err != nil {
		t.Fatal(err)
	}
	other, _ := e2ee.GenerateDeviceKeys()
	next := *bob.list
	next.Version++
	next.Devices = slices.Clone(bob.list.Devices)
	// The key of the device that does not sign: a device's own new key
	// in a list it signs is a rotation (TestDirectoryRotation).
	i := slices.IndexFunc(next.Devices, func(d protocol.ListedDevice) bool { return d.ID != bob.devices[0].ID() })
	next.Devices[i].Enc = other.EncPublic()
	if err := e2ee.SignDeviceList(&next, bob.devices[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.accept(2, &keysResponse{User: bob.user, List: &next, Active: bob.activeIDs()}); err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || !slices.Equal(changes[0].Rekeyed, []int64{next.Devices[i].ID}) || len(changes[0].Added) != 0 {
		t.Fatalf("changes = %+v; want one naming device %d as rekeyed", changes, next.Devices[i].ID)
	}
}

// A user who lost every device sets up a new one that no earlier device
// can approve: peers accept it as a reset, and say so, while a list that
// keeps an old device and adds a self-signed one is refused.
func TestDirectoryAcceptsAResetWithAWarning(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 2)
	var changes []KeyChange
	c := clientFor(t, "http://127.0.0.1:1", alice, 0, WithKeyChangeHandler(func(k KeyChange) { changes = append(changes, k) }))
	if _, err := c.accept(2, bob.keysResponse()); err != nil {
		t.Fatal(err)
	}
	fresh, _ := e2ee.GenerateDeviceKeys()
	next := &protocol.DeviceList{User: 2, Version: bob.list.Version + 1, Devices: []protocol.ListedDevice{fresh.Listed()}}
	if err := e2ee.SignDeviceList(next, fresh); err != nil {
		t.Fatal(err)
	}
	if _, err := c.accept(2, &keysResponse{User: bob.user, List: next, Active: []int64{fresh.ID()}}); err != nil {
		t.Fatalf("a reset: %v", err)
	}
	if len(changes) != 1 || !changes[0].Reset || len(changes[0].Removed) != 2 || changes[0].ByAdmin {
		t.Fatalf("changes = %+v; want one reset, not said to be an administrator's", changes)
	}
	if !strings.Contains(changes[0].String(), "no earlier device approved") {
		t.Fatalf("the warning: %s", changes[0])
	}
	// The next reset, approved by an administrator (PROTOCOL.md 3.2): the
	// warning says so.
	again, _ := e2ee.GenerateDeviceKeys()
	last := &protocol.DeviceList{User: 2, Version: next.Version + 1, Devices: []protocol.ListedDevice{again.Listed()}}
	if err := e2ee.SignDeviceList(last, again); err != nil {
		t.Fatal(err)
	}
	if _, err := c.accept(2, &keysResponse{User: bob.user, List: last, Active: []int64{again.ID()}, AdminApproved: true}); err != nil {
		t.Fatalf("a reset approved by an administrator: %v", err)
	}
	if len(changes) != 2 || !changes[1].Reset || !changes[1].ByAdmin || !strings.Contains(changes[1].String(), "approved by the administrator") {
		t.Fatalf("changes = %+v; want a second reset approved by the administrator", changes)
	}
}
