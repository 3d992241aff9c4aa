package e2ee

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/curbside-health/curbside/protocol"
)

// Errors returned by Open. They are distinct so a client can tell a forged
// or tampered envelope (ErrSignature) from one that is simply not for this
// device (ErrNotRecipient).
var (
	// ErrSignature means the envelope's signature does not verify with the
	// sending device's key: it was forged or changed in transit.
	ErrSignature = errors.New("e2ee: envelope signature does not verify")
	// ErrNotRecipient means the envelope holds no sealed key for this device.
	ErrNotRecipient = errors.New("e2ee: envelope is not sealed to this device")
	// ErrDecrypt means the signature verified but the sealed key or the body
	// did not decrypt: the sender sealed it wrongly.
	ErrDecrypt = errors.New("e2ee: envelope does not decrypt")
	// ErrUnsupported means the envelope's version or suite is not one this
	// package implements.
	ErrUnsupported = errors.New("e2ee: unsupported envelope version or suite")
	// ErrCommitment means the signature verified but the content key this
	// device's sealed key opens to is not the one the signed header commits
	// to: the sender (or whoever sealed the keys) gave different recipients
	// different keys, so what this device would read need not be what the
	// others read. It wraps ErrDecrypt.
	ErrCommitment = fmt.Errorf("%w: the content key does not match the envelope's commitment", ErrDecrypt)
)

// Commitment returns the key commitment of a version 2 envelope with the
// given id: HMAC-SHA256(key, protocol.CommitBytes(id)).
func Commitment(key []byte, msgID string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(protocol.CommitBytes(msgID))
	return m.Sum(nil)
}

// contentKeyBytes is the size of a message's AES-256-GCM content key.
const contentKeyBytes = 32

// The HPKE suite of protocol.SuiteX25519AES256.
var (
	suiteKDF  = hpke.HKDFSHA256()
	suiteAEAD = hpke.AES256GCM()
)

// NewID returns a fresh random message id: 16 bytes from crypto/rand as 22
// characters of unpadded base64url, which satisfies protocol.ValidID.
func NewID() string {
	var b [16]byte
	rand.Read(b[:]) // never returns an error (crypto/rand's contract since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Seal encrypts plaintext to the recipient devices and signs the result.
//
// hdr supplies the cleartext header: ID, Conv, From, Created and Flags (its
// Keys, Nonce, Body and Sig are ignored), and Blobs, which is copied as it
// is and is not signed (PROTOCOL.md section 8). V and Suite default to
// protocol.EnvelopeVersion and protocol.SuiteX25519AES256 (Seal makes no
// version 1 envelopes); Suite may be protocol.SuiteXWingAES256, which seals
// to each recipient's X-Wing key (Recipient.PQ; see Suite), and an empty ID is replaced by NewID, so a
// caller that wants an idempotent resend passes the same ID again. signKey
// must be the private key of device hdr.From.Device.
//
// The returned envelope has passed protocol's Validate, so the relay will
// not reject its shape.
func Seal(hdr protocol.Envelope, recipients []Recipient, plaintext []byte, signKey ed25519.PrivateKey) (*protocol.Envelope, error) {
	if len(signKey) != ed25519.PrivateKeySize {
		return nil, errors.New("e2ee: seal: signing key is not an Ed25519 private key")
	}
	if protocol.DeviceID(signKey.Public().(ed25519.PublicKey)) != hdr.From.Device {
		return nil, fmt.Errorf("e2ee: seal: the signing key is not device %d's", hdr.From.Device)
	}
	env := &protocol.Envelope{
		V: hdr.V, Suite: hdr.Suite, ID: hdr.ID, Conv: hdr.Conv,
		From: hdr.From, Created: hdr.Created, Flags: hdr.Flags,
		Blobs: hdr.Blobs, // outside the signature: for the server only
	}
	if env.V == 0 {
		env.V = protocol.EnvelopeVersion
	}
	if env.Suite == 0 {
		env.Suite = protocol.SuiteX25519AES256
	}
	if env.V != protocol.EnvelopeVersion || (env.Suite != protocol.SuiteX25519AES256 && env.Suite != protocol.SuiteXWingAES256) {
		return nil, ErrUnsupported
	}
	if env.ID == "" {
		env.ID = NewID()
	}

	key := make([]byte, contentKeyBytes)
	rand.Read(key)
	defer clear(key)
	env.Commit = Commitment(key, env.ID)

	env.Keys = make([]protocol.SealedKey, len(recipients))
	for i, r := range recipients {
		if env.Suite == protocol.SuiteXWingAES256 {
			sealed, err := sealXWing(r, env.ID, key)
			if err != nil {
				return nil, fmt.Errorf("e2ee: seal: device %d of user %d: %w", r.Device, r.User, err)
			}
			env.Keys[i] = protocol.SealedKey{User: r.User, Device: r.Device, Sealed: sealed}
			continue
		}
		pub := r.pub
		if pub == nil {
			var err error
			if pub, err = parsePublic(r.Enc); err != nil {
				return nil, fmt.Errorf("e2ee: seal: device %d of user %d: %w", r.Device, r.User, err)
			}
		}
		sealed, err := hpke.Seal(pub, suiteKDF, suiteAEAD, protocol.KeyInfo(env.ID, r.Device), key)
		if err != nil {
			return nil, fmt.Errorf("e2ee: seal: device %d of user %d: %w", r.Device, r.User, err)
		}
		if len(sealed) != protocol.SealedKeyBytes {
			// The protocol fixes this size; a library change must not slip by.
			return nil, fmt.Errorf("e2ee: seal: HPKE output is %d bytes; the protocol fixes %d", len(sealed), protocol.SealedKeyBytes)
		}
		env.Keys[i] = protocol.SealedKey{User: r.User, Device: r.Device, Sealed: sealed}
	}

	env.Nonce = make([]byte, protocol.NonceBytes)
	rand.Read(env.Nonce)
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	// The associated data covers the recipients' (user, device) pairs, which
	// is why the keys are filled in before the body is encrypted.
	env.Body = gcm.Seal(nil, env.Nonce, plaintext, env.HeaderBytes())
	env.Sig = ed25519.Sign(signKey, env.SignedBytes())

	if err := env.Validate(); err != nil {
		return nil, fmt.Errorf("e2ee: seal: %w", err)
	}
	return env, nil
}

// Open verifies and decrypts an envelope sealed to device me. senderSign is
// the Ed25519 public key of device env.From.Device, which the caller takes
// from the sender's verified device list.
//
// The signature is checked first, so nothing of a forged envelope is
// decrypted. In a version 2 envelope the content key must match the signed
// commitment (ErrCommitment otherwise); a version 1 envelope, which has
// none, is opened as before: the caller decides whether to accept one
// (client accepts them only as old as the upgrade allows). Errors wrap
// ErrUnsupported, ErrSignature, ErrNotRecipient or ErrDecrypt.
//
// retired are the device's earlier keys (RotateEnc), tried in order after
// me when me's key does not open the sealed key: a message sealed before a
// rotation opens for as long as the device keeps the key it was sealed to.
//
// A suite-2 envelope opens with the device's X-Wing key (or a retired
// one). Open does not refuse a suite-1 envelope to a device that lists an
// X-Wing key: when it was made decides that, which the caller knows
// (package client, ErrDowngrade).
func Open(env *protocol.Envelope, senderSign ed25519.PublicKey, me *DeviceKeys, retired ...*DeviceKeys) ([]byte, error) {
	xw := env.Suite == protocol.SuiteXWingAES256
	if (env.V != 1 && env.V != protocol.EnvelopeVersion) || (env.Suite != protocol.SuiteX25519AES256 && !xw) || (xw && env.V == 1) {
		return nil, fmt.Errorf("%w: v=%d suite=%d", ErrUnsupported, env.V, env.Suite)
	}
	if len(senderSign) != ed25519.PublicKeySize || protocol.DeviceID(senderSign) != env.From.Device {
		// The caller looked up the wrong key; failing here keeps a lookup
		// bug from turning into accepting a signature by another device.
		return nil, fmt.Errorf("%w: the key given is not device %d's", ErrSignature, env.From.Device)
	}
	if len(env.Sig) != ed25519.SignatureSize || !ed25519.Verify(senderSign, env.SignedBytes(), env.Sig) {
		return nil, fmt.Errorf("%w (message %s from device %d)", ErrSignature, env.ID, env.From.Device)
	}
	var sealed []byte
	for _, k := range env.Keys {
		if k.Device == me.id {
			sealed = k.Sealed
			break
		}
	}
	if sealed == nil {
		return nil, fmt.Errorf("%w (message %s, device %d)", ErrNotRecipient, env.ID, me.id)
	}
	open := func(k *DeviceKeys) ([]byte, error) {
		if !xw {
			return hpke.Open(k.hpke, suiteKDF, suiteAEAD, protocol.KeyInfo(env.ID, me.id), sealed)
		}
		if k.pq == nil {
			return nil, ErrNoPQ
		}
		return OpenKeyXWing(k.pq, env.ID, me.id, sealed)
	}
	key, err := open(me)
	for _, old := range retired {
		if err == nil {
			break
		}
		if old == nil || old.id != me.id {
			continue
		}
		key, err = open(old)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: content key: %v", ErrDecrypt, err)
	}
	defer clear(key)
	if len(key) != contentKeyBytes || len(env.Nonce) != protocol.NonceBytes {
		return nil, fmt.Errorf("%w: bad content key or nonce size", ErrDecrypt)
	}
	if env.V != 1 && !hmac.Equal(Commitment(key, env.ID), env.Commit) {
		return nil, fmt.Errorf("%w (message %s, device %d)", ErrCommitment, env.ID, me.id)
	}
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	pt, err := gcm.Open(nil, env.Nonce, env.Body, env.HeaderBytes())
	if err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrDecrypt, err)
	}
	return pt, nil
}

// sealXWing seals the content key to r with suite 2.
func sealXWing(r Recipient, msgID string, key []byte) ([]byte, error) {
	pub := r.pqPub
	if pub == nil {
		if len(r.PQ) == 0 {
			return nil, ErrNoPQ
		}
		var err error
		if pub, err = ParseXWingPublicKey(r.PQ); err != nil {
			return nil, err
		}
	}
	return SealKeyXWing(pub, msgID, r.Device, key)
}

// ErrNoPQ means a suite-2 envelope was to be sealed to a device that lists
// no X-Wing key.
var ErrNoPQ = errors.New("e2ee: the device lists no X-Wing key")

// Suite returns the strongest suite that every recipient opens: suite 2
// when each lists an X-Wing key, suite 1 otherwise (PROTOCOL.md "Suite 2:
// X-Wing", negotiation).
func Suite(recipients []Recipient) uint16 {
	if len(recipients) == 0 {
		return protocol.SuiteX25519AES256
	}
	for _, r := range recipients {
		if len(r.PQ) == 0 {
			return protocol.SuiteX25519AES256
		}
	}
	return protocol.SuiteXWingAES256
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("e2ee: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("e2ee: %w", err)
	}
	return gcm, nil
}
