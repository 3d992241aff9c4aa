package e2ee

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/curbside-health/curbside/protocol"
)

// keysFormat is the first byte of DeviceKeys.MarshalBinary's output, so the
// encoding can change without guessing at old files: 1 for a device without
// an X-Wing key, 2 for one with it.
const (
	keysFormat   = 1
	keysFormatPQ = 2
)

// marshalledKeysLen is the length of a format-1 encoding:
// format byte || X25519 private key || Ed25519 seed; format 2 appends the
// X-Wing seed.
const (
	marshalledKeysLen   = 1 + 32 + ed25519.SeedSize
	marshalledKeysLenPQ = marshalledKeysLen + protocol.XWingSeedBytes
)

// DeviceKeys are one device's private keys: an X25519 key that recipients'
// content keys are sealed to and an Ed25519 key that signs the device's
// envelopes and device lists. They never leave the device.
type DeviceKeys struct {
	enc  *ecdh.PrivateKey
	hpke hpke.PrivateKey // enc, wrapped once for hpke.Open
	sign ed25519.PrivateKey
	id   int64
	pq   *XWingKey // suite 2's key; nil for a device that lists none
}

// GenerateDeviceKeys makes a new device's key pairs from crypto/rand.
func GenerateDeviceKeys() (*DeviceKeys, error) {
	enc, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("e2ee: generating X25519 key: %w", err)
	}
	_, sign, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("e2ee: generating Ed25519 key: %w", err)
	}
	return newDeviceKeys(enc, sign)
}

func newDeviceKeys(enc *ecdh.PrivateKey, sign ed25519.PrivateKey) (*DeviceKeys, error) {
	hk, err := hpke.NewDHKEMPrivateKey(enc)
	if err != nil {
		return nil, fmt.Errorf("e2ee: wrapping X25519 key for HPKE: %w", err)
	}
	k := &DeviceKeys{enc: enc, hpke: hk, sign: sign}
	k.id = protocol.DeviceID(k.SignPublic())
	return k, nil
}

// ID returns the device's id, protocol.DeviceID of its signing key.
func (k *DeviceKeys) ID() int64 { return k.id }

// EncPublic returns the device's X25519 public key (32 bytes).
func (k *DeviceKeys) EncPublic() []byte { return k.enc.PublicKey().Bytes() }

// SignPublic returns the device's Ed25519 public key (32 bytes).
func (k *DeviceKeys) SignPublic() []byte {
	return append([]byte(nil), k.sign.Public().(ed25519.PublicKey)...)
}

// SignKey returns the device's Ed25519 private key, for Seal.
func (k *DeviceKeys) SignKey() ed25519.PrivateKey { return k.sign }

// Listed returns the device as it appears in a signed device list, with
// its X-Wing public key if it has one.
func (k *DeviceKeys) Listed() protocol.ListedDevice {
	return protocol.ListedDevice{ID: k.id, Enc: k.EncPublic(), Sign: k.SignPublic(), PQ: k.PQPublic()}
}

// PQPublic returns the device's X-Wing public key, or nil if it has none.
func (k *DeviceKeys) PQPublic() []byte {
	if k.pq == nil {
		return nil
	}
	return k.pq.PublicKey()
}

// PQSeed returns the device's X-Wing seed, or nil if it has none. It is
// secret.
func (k *DeviceKeys) PQSeed() []byte {
	if k.pq == nil {
		return nil
	}
	return k.pq.Seed()
}

// GenerateDeviceKeysPQ makes a new device's key pairs with an X-Wing key,
// so that the device opens suite 2 (PROTOCOL.md "Suite 2: X-Wing").
func GenerateDeviceKeysPQ() (*DeviceKeys, error) {
	k, err := GenerateDeviceKeys()
	if err != nil {
		return nil, err
	}
	if k.pq, err = GenerateXWingKey(); err != nil {
		return nil, err
	}
	return k, nil
}

// RotateEncPQ is RotateEnc that also gives the device a new X-Wing key
// (its first, or in place of the old one): the X-Wing key rotates with the
// X25519 key, and a device adds its first one by such a rotation.
func (k *DeviceKeys) RotateEncPQ() (*DeviceKeys, error) {
	return k.rotateBoth()
}

// RotateEnc returns the device's keys with a new X25519 key from
// crypto/rand and the same signing key (so the same id): a rotation of the
// encryption key (PROTOCOL.md 3.3). A device with an X-Wing key gets a new
// one too (RotateEncPQ). k is unchanged; the caller keeps it as a
// retired key for as long as items sealed to it may still arrive.
func (k *DeviceKeys) RotateEnc() (*DeviceKeys, error) {
	if k.pq != nil {
		return k.rotateBoth()
	}
	return k.rotateX25519()
}

func (k *DeviceKeys) rotateBoth() (*DeviceKeys, error) {
	next, err := k.rotateX25519()
	if err != nil {
		return nil, err
	}
	if next.pq, err = GenerateXWingKey(); err != nil {
		return nil, err
	}
	return next, nil
}

func (k *DeviceKeys) rotateX25519() (*DeviceKeys, error) {
	enc, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("e2ee: generating X25519 key: %w", err)
	}
	return newDeviceKeys(enc, k.sign)
}

// EncPrivate returns the device's X25519 private key (32 bytes), to keep a
// retired key in a state file. It is secret.
func (k *DeviceKeys) EncPrivate() []byte { return k.enc.Bytes() }

// WithEnc returns the device's keys with the X25519 private key priv (as
// EncPrivate returned it) in place of its own: a retired key, for Open.
// pqSeed, if given and not empty, is the retired X-Wing seed (PQSeed) that
// was rotated with it.
func (k *DeviceKeys) WithEnc(priv []byte, pqSeed ...[]byte) (*DeviceKeys, error) {
	enc, err := ecdh.X25519().NewPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("e2ee: retired encryption key: %w", err)
	}
	out, err := newDeviceKeys(enc, k.sign)
	if err != nil {
		return nil, err
	}
	if len(pqSeed) > 0 && len(pqSeed[0]) > 0 {
		if out.pq, err = NewXWingKey(pqSeed[0]); err != nil {
			return nil, fmt.Errorf("e2ee: retired X-Wing key: %w", err)
		}
	}
	return out, nil
}

// MarshalBinary encodes the private keys for a state file. The output is
// secret: whoever reads it can read the device's messages and sign as it.
func (k *DeviceKeys) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, marshalledKeysLenPQ)
	if k.pq != nil {
		b = append(b, keysFormatPQ)
	} else {
		b = append(b, keysFormat)
	}
	b = append(b, k.enc.Bytes()...)
	b = append(b, k.sign.Seed()...)
	if k.pq != nil {
		b = append(b, k.pq.seed...)
	}
	return b, nil
}

// UnmarshalDeviceKeys decodes the output of DeviceKeys.MarshalBinary.
func UnmarshalDeviceKeys(b []byte) (*DeviceKeys, error) {
	if len(b) == 0 || (b[0] != keysFormat && b[0] != keysFormatPQ) {
		return nil, errors.New("e2ee: device keys: unknown format (the state file is from a newer version, or damaged)")
	}
	want := marshalledKeysLen
	if b[0] == keysFormatPQ {
		want = marshalledKeysLenPQ
	}
	if len(b) != want {
		return nil, fmt.Errorf("e2ee: device keys are %d bytes; want %d", len(b), want)
	}
	enc, err := ecdh.X25519().NewPrivateKey(b[1:33])
	if err != nil {
		return nil, fmt.Errorf("e2ee: device keys: %w", err)
	}
	k, err := newDeviceKeys(enc, ed25519.NewKeyFromSeed(b[33:marshalledKeysLen]))
	if err != nil {
		return nil, err
	}
	if b[0] == keysFormatPQ {
		if k.pq, err = NewXWingKey(b[marshalledKeysLen:]); err != nil {
			return nil, fmt.Errorf("e2ee: device keys: %w", err)
		}
	}
	return k, nil
}

// Recipient is one device a message's content key is sealed to.
type Recipient struct {
	User   int64
	Device int64
	Enc    []byte // the device's X25519 public key
	// PQ is the device's X-Wing public key, if its list entry has one:
	// needed for suite 2.
	PQ []byte

	pub   hpke.PublicKey  // Enc, parsed once by NewRecipient
	pqPub *XWingPublicKey // PQ, parsed once by NewListedRecipient
}

// NewListedRecipient is NewRecipient for a device as its user's verified
// list gives it, with its X-Wing key if it lists one.
func NewListedRecipient(user int64, d protocol.ListedDevice) (Recipient, error) {
	r, err := NewRecipient(user, d.ID, d.Enc)
	if err != nil || len(d.PQ) == 0 {
		return r, err
	}
	if r.pqPub, err = ParseXWingPublicKey(d.PQ); err != nil {
		return Recipient{}, fmt.Errorf("e2ee: device %d of user %d: %w", d.ID, user, err)
	}
	r.PQ = d.PQ
	return r, nil
}

// NewRecipient parses a recipient device's X25519 public key once, so that
// a client that seals many messages to the same devices does not parse the
// key for each of them. A Recipient literal without it works too.
func NewRecipient(user, device int64, enc []byte) (Recipient, error) {
	pub, err := parsePublic(enc)
	if err != nil {
		return Recipient{}, fmt.Errorf("e2ee: device %d of user %d: %w", device, user, err)
	}
	return Recipient{User: user, Device: device, Enc: enc, pub: pub}, nil
}

func parsePublic(enc []byte) (hpke.PublicKey, error) {
	if len(enc) != protocol.PublicKeyBytes {
		return nil, fmt.Errorf("X25519 public key is %d bytes; want %d", len(enc), protocol.PublicKeyBytes)
	}
	return hpke.DHKEM(ecdh.X25519()).NewPublicKey(enc)
}
