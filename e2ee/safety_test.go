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

	// A device with another encryption key is another device to the
	// people who seal to it: the number changes.
	rekeyed := cloneList(alice)
	rekeyed.Devices[0].Enc = newParty(t, 1).keys.EncPublic()
	if SafetyNumber(rekeyed, bob) == n {
		t.Fatal("a new encryption key did not change the number")
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
