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
// encoding can change (for a post-quantum key) without guessing at old files.
const keysFormat = 1

// marshalledKeysLen is the length of a format-1 encoding:
// format byte || X25519 private key || Ed25519 seed.
const marshalledKeysLen = 1 + 32 + ed25519.SeedSize

// DeviceKeys are one device's private keys: an X25519 key that recipients'
// content keys are sealed to and an Ed25519 key that signs the device's
// envelopes and device lists. They never leave the device.
type DeviceKeys struct {
	enc  *ecdh.PrivateKey
	hpke hpke.PrivateKey // enc, wrapped once for hpke.Open
	sign ed25519.PrivateKey
	id   int64
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

// Listed returns the device as it appears in a signed device list.
func (k *DeviceKeys) Listed() protocol.ListedDevice {
	return protocol.ListedDevice{ID: k.id, Enc: k.EncPublic(), Sign: k.SignPublic()}
}

// RotateEnc returns the device's keys with a new X25519 key from
// crypto/rand and the same signing key (so the same id): a rotation of the
// encryption key (PROTOCOL.md 3.3). k is unchanged; the caller keeps it as a
// retired key for as long as items sealed to it may still arrive.
func (k *DeviceKeys) RotateEnc() (*DeviceKeys, error) {
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
func (k *DeviceKeys) WithEnc(priv []byte) (*DeviceKeys, error) {
	enc, err := ecdh.X25519().NewPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("e2ee: retired encryption key: %w", err)
	}
	return newDeviceKeys(enc, k.sign)
}

// MarshalBinary encodes the private keys for a state file. The output is
// secret: whoever reads it can read the device's messages and sign as it.
func (k *DeviceKeys) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, marshalledKeysLen)
	b = append(b, keysFormat)
	b = append(b, k.enc.Bytes()...)
	b = append(b, k.sign.Seed()...)
	return b, nil
}

// UnmarshalDeviceKeys decodes the output of DeviceKeys.MarshalBinary.
func UnmarshalDeviceKeys(b []byte) (*DeviceKeys, error) {
	if len(b) == 0 || b[0] != keysFormat {
		return nil, errors.New("e2ee: device keys: unknown format (the state file is from a newer version, or damaged)")
	}
	if len(b) != marshalledKeysLen {
		return nil, fmt.Errorf("e2ee: device keys are %d bytes; want %d", len(b), marshalledKeysLen)
	}
	enc, err := ecdh.X25519().NewPrivateKey(b[1:33])
	if err != nil {
		return nil, fmt.Errorf("e2ee: device keys: %w", err)
	}
	return newDeviceKeys(enc, ed25519.NewKeyFromSeed(b[33:]))
}

// Recipient is one device a message's content key is sealed to.
type Recipient struct {
	User   int64
	Device int64
	Enc    []byte // the device's X25519 public key

	pub hpke.PublicKey // Enc, parsed once by NewRecipient
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
