package e2ee

import (
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/curbside-health/curbside/protocol"
)

// Suite 2 (protocol.SuiteXWingAES256): the content key of a message sealed
// with HPKE base mode, KEM X-Wing (ML-KEM-768 + X25519), HKDF-SHA256 and
// AES-256-GCM, with the same info binding as suite 1 (protocol.KeyInfo).
// An attacker who records envelopes today and has a quantum computer later
// must break ML-KEM-768 as well as X25519 to read them.
//
// Seal and Open use these for an envelope of suite 2; a device's X-Wing
// key travels in its entry of the signed device list (ListedDevice.PQ), and
// PROTOCOL.md "Suite 2: X-Wing" describes how the suite is negotiated.

// xwing is the KEM of suite 2; HKDF-SHA256 and AES-256-GCM are shared with
// suite 1 (suiteKDF, suiteAEAD).
var xwing = hpke.MLKEM768X25519()

// XWingKey is a device's suite-2 private key. Its whole secret is a 32-byte
// seed, which is what is stored and what other implementations are given:
// X-Wing expands it (SHAKE256) into the ML-KEM-768 and X25519 keys, and
// every conforming implementation expands it alike. (HPKE's DeriveKeyPair
// is a different function, on which the Go and browser libraries differ;
// it is not used.)
type XWingKey struct {
	priv hpke.PrivateKey
	seed []byte
}

// GenerateXWingKey makes a new suite-2 key from crypto/rand.
func GenerateXWingKey() (*XWingKey, error) {
	seed := make([]byte, protocol.XWingSeedBytes)
	rand.Read(seed) // never returns an error (crypto/rand's contract since Go 1.24)
	return NewXWingKey(seed)
}

// NewXWingKey rebuilds a suite-2 key from its 32-byte seed. The seed is
// copied.
func NewXWingKey(seed []byte) (*XWingKey, error) {
	if len(seed) != protocol.XWingSeedBytes {
		return nil, fmt.Errorf("e2ee: X-Wing seed is %d bytes; want %d", len(seed), protocol.XWingSeedBytes)
	}
	priv, err := xwing.NewPrivateKey(seed)
	if err != nil {
		return nil, fmt.Errorf("e2ee: X-Wing key: %w", err)
	}
	return &XWingKey{priv: priv, seed: append([]byte(nil), seed...)}, nil
}

// Seed returns a copy of the key's 32-byte seed. It is secret: whoever holds
// it can open every content key sealed to the key.
func (k *XWingKey) Seed() []byte { return append([]byte(nil), k.seed...) }

// PublicKey returns the key's X-Wing public key (protocol.XWingPublicKeyBytes
// long): what a device list would carry for suite 2.
func (k *XWingKey) PublicKey() []byte { return k.priv.PublicKey().Bytes() }

// XWingPublicKey is a recipient device's suite-2 public key, parsed once so
// that sealing to the same device again does not decode ML-KEM's 1,184-byte
// key each time.
type XWingPublicKey struct{ pub hpke.PublicKey }

// ParseXWingPublicKey checks and parses an X-Wing public key.
func ParseXWingPublicKey(b []byte) (*XWingPublicKey, error) {
	if len(b) != protocol.XWingPublicKeyBytes {
		return nil, fmt.Errorf("e2ee: X-Wing public key is %d bytes; want %d", len(b), protocol.XWingPublicKeyBytes)
	}
	pub, err := xwing.NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("e2ee: X-Wing public key: %w", err)
	}
	return &XWingPublicKey{pub: pub}, nil
}

// Bytes returns the public key's encoding.
func (p *XWingPublicKey) Bytes() []byte { return p.pub.Bytes() }

// SealKeyXWing seals a message's 32-byte content key to one device with
// suite 2: HPKE.SealBase(pk, info = protocol.KeyInfo(msgID, device),
// aad = "", pt = key), written as enc || ct, protocol.XWingSealedKeyBytes
// long. It is what suite 1's Seal does per device, with X-Wing as the KEM.
func SealKeyXWing(pub *XWingPublicKey, msgID string, device int64, key []byte) ([]byte, error) {
	if len(key) != contentKeyBytes {
		return nil, fmt.Errorf("e2ee: content key is %d bytes; want %d", len(key), contentKeyBytes)
	}
	sealed, err := hpke.Seal(pub.pub, suiteKDF, suiteAEAD, protocol.KeyInfo(msgID, device), key)
	if err != nil {
		return nil, fmt.Errorf("e2ee: X-Wing seal: %w", err)
	}
	if len(sealed) != protocol.XWingSealedKeyBytes {
		// The protocol fixes this size; a library change must not slip by.
		return nil, fmt.Errorf("e2ee: X-Wing seal is %d bytes; the protocol fixes %d", len(sealed), protocol.XWingSealedKeyBytes)
	}
	return sealed, nil
}

// ErrXWingOpen means a suite-2 sealed key did not open with this device's
// key for this message: it was sealed to another key, for another message
// or device, or changed on the way.
var ErrXWingOpen = errors.New("e2ee: X-Wing sealed key does not open")

// OpenKeyXWing opens a content key sealed by SealKeyXWing for message msgID
// and device. It fails with ErrXWingOpen, never with a partial key.
func OpenKeyXWing(k *XWingKey, msgID string, device int64, sealed []byte) ([]byte, error) {
	if len(sealed) != protocol.XWingSealedKeyBytes {
		return nil, fmt.Errorf("%w: it is %d bytes; want %d", ErrXWingOpen, len(sealed), protocol.XWingSealedKeyBytes)
	}
	key, err := hpke.Open(k.priv, suiteKDF, suiteAEAD, protocol.KeyInfo(msgID, device), sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrXWingOpen, err)
	}
	if len(key) != contentKeyBytes {
		clear(key)
		return nil, fmt.Errorf("%w: the content key is %d bytes", ErrXWingOpen, len(key))
	}
	return key, nil
}
