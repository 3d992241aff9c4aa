package e2ee

import (
	"errors"
	"testing"

	"github.com/curbside-health/curbside/protocol"
)

// Suite 2 end to end in package e2ee: Suite picks it only when every
// recipient lists an X-Wing key; Seal makes 1,168-byte keys; Open opens
// them with the device's X-Wing key, and after a rotation with the retired
// one; a device without an X-Wing key cannot open it; the keys survive
// MarshalBinary; stripping the X-Wing keys from a signed list breaks its
// signature.
func TestSuite2SealOpenRotate(t *testing.T) {
	alice, err := GenerateDeviceKeysPQ()
	if err != nil {
		t.Fatal(err)
	}
	bob, err := GenerateDeviceKeysPQ()
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := GenerateDeviceKeys()
	rb, err := NewListedRecipient(2, bob.Listed())
	if err != nil {
		t.Fatal(err)
	}
	rp, _ := NewListedRecipient(3, plain.Listed())
	if Suite([]Recipient{rb}) != protocol.SuiteXWingAES256 || Suite([]Recipient{rb, rp}) != protocol.SuiteX25519AES256 {
		t.Fatal("Suite does not pick the strongest suite every recipient opens")
	}
	hdr := protocol.Envelope{Suite: protocol.SuiteXWingAES256, Conv: protocol.DirectConv(1, 2), From: protocol.Party{User: 1, Device: alice.ID()}, Created: 1}
	env, err := Seal(hdr, []Recipient{rb}, []byte("post-quantum"), alice.SignKey())
	if err != nil {
		t.Fatal(err)
	}
	if len(env.Keys[0].Sealed) != 1168 {
		t.Fatalf("a suite-2 sealed key is %d bytes", len(env.Keys[0].Sealed))
	}
	if _, err := Seal(hdr, []Recipient{rb, rp}, []byte("x"), alice.SignKey()); !errors.Is(err, ErrNoPQ) {
		t.Fatalf("suite 2 to a device without an X-Wing key: %v", err)
	}

	raw, _ := bob.MarshalBinary()
	bob2, err := UnmarshalDeviceKeys(raw)
	if err != nil || string(bob2.PQPublic()) != string(bob.PQPublic()) {
		t.Fatalf("X-Wing key through MarshalBinary: %v", err)
	}
	next, err := bob2.RotateEnc()
	if err != nil {
		t.Fatal(err)
	}
	if string(next.PQPublic()) == string(bob.PQPublic()) || next.PQPublic() == nil {
		t.Fatal("a rotation kept the X-Wing key")
	}
	if _, err := Open(env, alice.SignPublic(), next); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("the rotated key opened what was sealed to the old one: %v", err)
	}
	retired, err := next.WithEnc(bob2.EncPrivate(), bob2.PQSeed())
	if err != nil {
		t.Fatal(err)
	}
	pt, err := Open(env, alice.SignPublic(), next, retired)
	if err != nil || string(pt) != "post-quantum" {
		t.Fatalf("Open with the retired X-Wing key: %q %v", pt, err)
	}
	noPQ, _ := next.WithEnc(bob2.EncPrivate())
	if _, err := Open(env, alice.SignPublic(), noPQ); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a suite-2 envelope opened without the X-Wing key: %v", err)
	}

	list := &protocol.DeviceList{User: 2, Version: 1, Devices: []protocol.ListedDevice{bob.Listed()}}
	if err := SignDeviceList(list, bob); err != nil {
		t.Fatal(err)
	}
	if err := VerifyDeviceList(list); err != nil {
		t.Fatal(err)
	}
	list.Devices[0].PQ = nil
	if err := VerifyDeviceList(list); !errors.Is(err, ErrDeviceListSignature) {
		t.Fatalf("a signed list with its X-Wing key stripped: %v", err)
	}
}
