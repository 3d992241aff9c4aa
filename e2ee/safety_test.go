package e2ee

import (
	"regexp"
	"testing"

	"github.com/curbside-health/curbside/protocol"
)

func TestSafetyNumber(t *testing.T) {
	a1, a2 := newParty(t, 1).keys, newParty(t, 1).keys
	b1 := newParty(t, 2).keys
	alice := signedList(t, 1, a1, a2)
	bob := signedList(t, 2, b1)

	n := SafetyNumber(alice, bob)
	if !regexp.MustCompile(`^\d{5}( \d{5}){11}$`).MatchString(n) {
		t.Fatalf("safety number %q is not 12 groups of 5 digits", n)
	}
	if SafetyNumber(bob, alice) != n {
		t.Fatal("the two sides see different numbers")
	}

	reordered := cloneList(alice)
	reordered.Devices[0], reordered.Devices[1] = reordered.Devices[1], reordered.Devices[0]
	reordered.Version = 9
	if SafetyNumber(reordered, bob) != n {
		t.Fatal("device order or list version changed the number")
	}

	// A rotated encryption key is bound to the signing key by the list's
	// signature, which peers check against the pinned signing keys: the
	// number stays, so a check made once survives every rotation.
	rotated := cloneList(alice)
	rotated.Devices[0].Enc = newParty(t, 1).keys.EncPublic()
	if SafetyNumber(rotated, bob) != n {
		t.Fatal("a rotated encryption key changed the number")
	}
	// A device with another signing key is another device: it changes.
	resigned := cloneList(alice)
	resigned.Devices[0].Sign = newParty(t, 1).keys.SignPublic()
	if SafetyNumber(resigned, bob) == n {
		t.Fatal("a new signing key did not change the number")
	}

	added := signedList(t, 1, a1, a2, newParty(t, 1).keys)
	if SafetyNumber(added, bob) == n {
		t.Fatal("a new device did not change the number")
	}
	otherUser := cloneList(bob)
	otherUser.User = 3
	if SafetyNumber(alice, otherUser) == n {
		t.Fatal("the user id does not count")
	}
	if Fingerprint(alice) == Fingerprint(&protocol.DeviceList{User: 1, Devices: alice.Devices[:1]}) {
		t.Fatal("dropping a device did not change the fingerprint")
	}
}
