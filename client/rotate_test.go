package client

import (
	"errors"
	"slices"
	"testing"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

// rekeyedList returns bob's list at the next version with device i's
// encryption key replaced by a new one, signed by signer.
func rekeyedList(t *testing.T, bob *account, i int, signer *e2ee.DeviceKeys) (*protocol.DeviceList, *e2ee.DeviceKeys) {
	t.Helper()
	next, err := bob.devices[i].RotateEnc()
	if err != nil {
		t.Fatal(err)
	}
	l := &protocol.DeviceList{User: bob.user.ID, Version: bob.list.Version + 1, Devices: slices.Clone(bob.list.Devices)}
	for j := range l.Devices {
		if l.Devices[j].ID == next.ID() {
			l.Devices[j].Enc = next.EncPublic()
		}
	}
	if signer == bob.devices[i] {
		signer = next // the same signing key
	}
	if err := e2ee.SignDeviceList(l, signer); err != nil {
		t.Fatal(err)
	}
	return l, next
}

// A device's new encryption key in a list it signed itself is a rotation:
// no key-change warning (the safety number, over both keys, moves). The same new key in
// a list another of the user's devices signed is a key change, reported.
func TestDirectoryRotation(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 2)
	var changes []KeyChange
	c := clientFor(t, "http://127.0.0.1:1", alice, 0, WithKeyChangeHandler(func(k KeyChange) { changes = append(changes, k) }))
	if _, err := c.accept(2, bob.keysResponse()); err != nil {
		t.Fatal(err)
	}
	before := e2ee.SafetyNumber(alice.list, bob.list)

	l, next := rekeyedList(t, bob, 0, bob.devices[0])
	bob.list, bob.devices[0] = l, next
	p, err := c.accept(2, bob.keysResponse())
	if err != nil {
		t.Fatalf("a rotation signed by the device itself was refused: %v", err)
	}
	if len(changes) != 0 {
		t.Fatalf("a rotation was reported as a key change: %v", changes)
	}
	if i := slices.IndexFunc(p.recips, func(r e2ee.Recipient) bool { return r.Device == next.ID() }); i < 0 || string(p.recips[i].Enc) != string(next.EncPublic()) {
		t.Fatal("the new key is not the one sealed to")
	}
	// The safety number covers both keys, so it moves with the rotation.
	if e2ee.SafetyNumber(alice.list, bob.list) == before {
		t.Fatal("a rotation left the safety number as it was")
	}

	// Device 1 signs a list giving device 0 a new key: another device's
	// word for device 0's key is a key change.
	l, _ = rekeyedList(t, bob, 0, bob.devices[1])
	bob.list = l
	if _, err := c.accept(2, bob.keysResponse()); err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || !slices.Equal(changes[0].Rekeyed, []int64{bob.devices[0].ID()}) {
		t.Fatalf("a rekey signed by another device: changes %+v; want one rekeying %d", changes, bob.devices[0].ID())
	}

	// A "rotation" the server made (a new key under the old signature) does
	// not verify and is refused.
	forged := *bob.list
	forged.Version++
	forged.Devices = slices.Clone(bob.list.Devices)
	forged.Devices[1].Enc = alice.devices[0].EncPublic()
	if _, err := c.accept(2, &keysResponse{User: bob.user, List: &forged, Active: bob.activeIDs()}); !errors.Is(err, ErrUntrustedKeys) {
		t.Fatalf("a list re-keyed by the server was accepted: %v", err)
	}
}

// A retired key is kept for the longest retention seen since it was
// retired: a retention lowered later does not delete it while what was
// queued sealed to it under the longer one may still arrive; with no
// retention given at all, the policy's default applies, not "for good".
func TestRetiredKeyKeepsTheLongestRetention(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	c := clientFor(t, "http://127.0.0.1:1", alice, 0)
	old, _ := e2ee.GenerateDeviceKeys()
	const day = int64(24 * 60 * 60 * 1000)
	c.retired = []*retiredKey{{keys: old, at: nowMS() - 2*day}}
	if !c.pruneRetired(7*day) || len(c.retired) != 1 || c.retired[0].keep != 7*day {
		t.Fatalf("a key retired 2 days ago under a 7-day retention: %+v", c.retired)
	}
	// The retention is lowered to a day: the key stays for its 7 days.
	if c.pruneRetired(day); len(c.retired) != 1 {
		t.Fatal("a lowered retention deleted a key still needed")
	}
	// Past the 7 days it goes, whatever the server says now.
	c.retired[0].at = nowMS() - 8*day
	if !c.pruneRetired(0) || len(c.retired) != 0 {
		t.Fatalf("a key retired 8 days ago under a 7-day retention is kept: %+v", c.retired)
	}
	// A server that never gives a retention: the default, not for ever.
	c.retired = []*retiredKey{{keys: old, at: nowMS() - 8*day}}
	if c.pruneRetired(0); len(c.retired) != 0 {
		t.Fatal("with no retention given, a retired key is kept past the default")
	}
}
