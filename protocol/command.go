package protocol

import (
	"crypto/ed25519"
	"errors"
)

// labelCommand separates device-command signatures from every other
// signature.
const labelCommand = "curbside/command/v1"

// CommandWipe is the kind of a remote-wipe command.
const CommandWipe = "wipe"

// DeviceCommand is an order from the server to one device, signed with the
// server's command key (published as command_key in GET /api/v1/config and
// pinned by the device when it is set up). The only kind so far is
// CommandWipe: erase everything local.
type DeviceCommand struct {
	V        int    `json:"v"`         // 1
	Kind     string `json:"kind"`      // CommandWipe
	User     int64  `json:"user"`      // the device's user
	Device   int64  `json:"device"`    // the device the command is for
	IssuedAt int64  `json:"issued_at"` // ms since the Unix epoch, the server's clock
	Sig      []byte `json:"sig"`       // Ed25519 over SignedBytes
}

// SignedBytes returns what the command key signs:
//
//	"curbside/command/v1" || u32 v || str(kind) || u64 user || u64 device ||
//	u64 issued_at
func (c *DeviceCommand) SignedBytes() []byte {
	b := make(canon, 0, len(labelCommand)+32+len(c.Kind))
	b = append(b, labelCommand...)
	return b.u32(uint32(c.V)).str(c.Kind).u64(c.User).u64(c.Device).u64(c.IssuedAt)
}

// Sign fills in c.Sig with key.
func (c *DeviceCommand) Sign(key ed25519.PrivateKey) {
	c.Sig = ed25519.Sign(key, c.SignedBytes())
}

// Verify checks that c is a version-1 command for device, signed by pub.
// A device acts on a command only when Verify returns nil.
func (c *DeviceCommand) Verify(pub ed25519.PublicKey, device int64) error {
	switch {
	case c.V != 1:
		return errors.New("protocol: unknown command version")
	case c.Device != device:
		return errors.New("protocol: the command is for another device")
	case len(pub) != ed25519.PublicKeySize || len(c.Sig) != ed25519.SignatureSize:
		return errors.New("protocol: malformed command key or signature")
	case !ed25519.Verify(pub, c.SignedBytes(), c.Sig):
		return errors.New("protocol: the command's signature does not verify")
	}
	return nil
}

// labelWipeCheck separates a device's proof in a wipe check from every
// other signature.
const labelWipeCheck = "curbside/wipe-check/v1"

// WipeCheckBytes returns what a device signs with its Ed25519 key to fetch
// its wipe command (POST /api/v1/devices/{id}/wipe), over the nonce the
// server handed out for it:
//
//	"curbside/wipe-check/v1" || u64 device || str(nonce)
func WipeCheckBytes(device int64, nonce []byte) []byte {
	b := make(canon, 0, len(labelWipeCheck)+12+len(nonce))
	b = append(b, labelWipeCheck...)
	return b.u64(device).bytes(nonce)
}

// Labels of the other proofs a device signs with its Ed25519 key.
const (
	labelLogin  = "curbside/login/v1"
	labelResume = "curbside/resume/v1"
)

// LoginProofBytes returns what a device signs to prove itself at sign-in
// (the "device" member of POST /api/v1/login), over a nonce from POST
// /api/v1/login/challenge, with its signing key or with the wipe-check key
// it registered (a browser whose signing key is sealed until unlock):
//
//	"curbside/login/v1" || u64 user || u64 device || str(nonce)
func LoginProofBytes(user, device int64, nonce []byte) []byte {
	return userDeviceProof(labelLogin, user, device, nonce)
}

// ResumeBytes returns what a device signs to bind a new session to itself
// (POST /api/v1/devices/{id}/resume), over the nonce of that device's
// challenge:
//
//	"curbside/resume/v1" || u64 user || u64 device || str(nonce)
func ResumeBytes(user, device int64, nonce []byte) []byte {
	return userDeviceProof(labelResume, user, device, nonce)
}

func userDeviceProof(label string, user, device int64, nonce []byte) []byte {
	b := make(canon, 0, len(label)+20+len(nonce))
	b = append(b, label...)
	return b.u64(user).u64(device).bytes(nonce)
}
