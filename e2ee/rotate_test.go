package e2ee

import (
	"bytes"
	"errors"
	"testing"
)

// A rotation keeps the device's id and signing key; a message sealed to the
// old key opens with the old key kept as retired, and not without it.
func TestRotateEncOpensWithRetired(t *testing.T) {
	alice, bob := newParty(t, 1), newParty(t, 2)
	before, err := Seal(header(alice, "d:1:2"), []Recipient{bob.recipient(t)}, []byte("sealed before"), alice.keys.SignKey())
	if err != nil {
		t.Fatal(err)
	}
	old := bob.keys
	rotated, err := old.RotateEnc()
	if err != nil {
		t.Fatal(err)
	}
	if rotated.ID() != old.ID() || !bytes.Equal(rotated.SignPublic(), old.SignPublic()) {
		t.Fatal("a rotation changed the device's id or signing key")
	}
	if bytes.Equal(rotated.EncPublic(), old.EncPublic()) {
		t.Fatal("a rotation kept the encryption key")
	}
	bob.keys = rotated
	after, err := Seal(header(alice, "d:1:2"), []Recipient{bob.recipient(t)}, []byte("sealed after"), alice.keys.SignKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(before, alice.keys.SignPublic(), rotated); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("the new key alone opened a message sealed to the old one: %v", err)
	}
	kept, err := rotated.WithEnc(old.EncPrivate())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env  string
		want string
	}{{"before", "sealed before"}, {"after", "sealed after"}} {
		env := before
		if c.env == "after" {
			env = after
		}
		pt, err := Open(env, alice.keys.SignPublic(), rotated, kept)
		if err != nil || string(pt) != c.want {
			t.Fatalf("%s the rotation: %q, %v", c.env, pt, err)
		}
	}
	// A key of another device is not tried as a retired key.
	other := newParty(t, 2).keys
	if _, err := Open(before, alice.keys.SignPublic(), rotated, other); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("another device's key was tried: %v", err)
	}
}
