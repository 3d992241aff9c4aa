package e2ee

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/curbside-health/curbside/internal/salamander"
	"github.com/curbside-health/curbside/protocol"
)

// twoKeyEnvelope is what a dishonest sender (or whoever seals the keys)
// builds to show two recipients two different messages under one
// signature: content key k1 sealed to b, k2 to c, a body that AES-GCM
// opens under both keys, and a commitment to k1.
func twoKeyEnvelope(t *testing.T, a, b, c party) (env *protocol.Envelope, k1, k2 []byte) {
	t.Helper()
	e := header(a, protocol.GroupConv(4))
	e.V, e.Suite, e.ID = protocol.EnvelopeVersion, protocol.SuiteX25519AES256, NewID()
	k1, k2 = make([]byte, 32), make([]byte, 32)
	rand.Read(k1)
	rand.Read(k2)
	e.Commit = Commitment(k1, e.ID)
	for _, r := range []struct {
		p   party
		key []byte
	}{{b, k1}, {c, k2}} {
		pub, err := hpke.DHKEM(ecdh.X25519()).NewPublicKey(r.p.keys.EncPublic())
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := hpke.Seal(pub, hpke.HKDFSHA256(), hpke.AES256GCM(), protocol.KeyInfo(e.ID, r.p.keys.ID()), r.key)
		if err != nil {
			t.Fatal(err)
		}
		e.Keys = append(e.Keys, protocol.SealedKey{User: r.p.user, Device: r.p.keys.ID(), Sealed: sealed})
	}
	e.Nonce = make([]byte, 12)
	rand.Read(e.Nonce)
	body, err := salamander.Ciphertext(k1, k2, e.Nonce, e.HeaderBytes(), 4)
	if err != nil {
		t.Fatal(err)
	}
	e.Body = body
	e.Sig = ed25519.Sign(a.keys.SignKey(), e.SignedBytes())
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	return &e, k1, k2
}

// TestOpenRefusesAKeyTheHeaderDoesNotCommitTo plays a sender that seals
// different content keys to different recipients under one signature,
// with a body that opens under each: without the commitment both would
// read a message, and different ones.
func TestOpenRefusesAKeyTheHeaderDoesNotCommitTo(t *testing.T) {
	a, b, c := newParty(t, 1), newParty(t, 2), newParty(t, 3)
	env, k1, k2 := twoKeyEnvelope(t, a, b, c)
	// The body really is a salamander: AES-GCM opens it under both keys.
	for _, k := range [][]byte{k1, k2} {
		blk, _ := aes.NewCipher(k)
		g, _ := cipher.NewGCM(blk)
		if _, err := g.Open(nil, env.Nonce, env.Body, env.HeaderBytes()); err != nil {
			t.Fatalf("the crafted body does not open under both keys: %v", err)
		}
	}
	if _, err := Open(env, a.keys.SignPublic(), b.keys); err != nil {
		t.Fatalf("the recipient of the committed key: %v", err)
	}
	pt, err := Open(env, a.keys.SignPublic(), c.keys)
	if !errors.Is(err, ErrCommitment) || !errors.Is(err, ErrDecrypt) {
		t.Fatalf("the recipient of another key: Open = %q, %v; want ErrCommitment", pt, err)
	}
	// Committing to neither key is refused by both.
	env.Commit = Commitment(make([]byte, 32), env.ID)
	env.Sig = ed25519.Sign(a.keys.SignKey(), env.SignedBytes())
	for _, p := range []party{b, c} {
		if _, err := Open(env, a.keys.SignPublic(), p.keys); !errors.Is(err, ErrCommitment) {
			t.Fatalf("a commitment to neither key, device %d: %v; want ErrCommitment", p.keys.ID(), err)
		}
	}
}

// TestOpenVersion1 opens a version 1 envelope (no commitment, v1 labels),
// as one queued before the upgrade is; the caller decides whether to
// accept it at all.
func TestOpenVersion1(t *testing.T) {
	a, b := newParty(t, 1), newParty(t, 2)
	pt := []byte(`{"type":"text","text":"sent before the upgrade"}`)
	e := sealManually(t, a, b, NewID(), protocol.KeyInfo, func(e *protocol.Envelope) []byte {
		e.V, e.Commit = 1, nil
		return e.HeaderBytes()
	}, pt)
	e.Sig = ed25519.Sign(a.keys.SignKey(), e.SignedBytes())
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	got, err := Open(e, a.keys.SignPublic(), b.keys)
	if err != nil || string(got) != string(pt) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// The same bytes relabelled as version 2 do not verify: v1's
	// signature does not cover the v2 header.
	e.V, e.Commit = protocol.EnvelopeVersion, make([]byte, 32)
	if _, err := Open(e, a.keys.SignPublic(), b.keys); !errors.Is(err, ErrSignature) {
		t.Fatalf("a v1 signature passed off as v2: %v; want ErrSignature", err)
	}
}
