package protocol

import "encoding/binary"

// Canonical encodings are plain concatenations: fixed-width big-endian
// integers and strings prefixed by their length as a big-endian uint32. They
// are trivial to reproduce in JavaScript with a DataView, which is why they
// are used instead of any JSON canonicalisation for signatures and AEAD
// associated data.

// Domain-separation labels, one per signed or authenticated structure.
const (
	labelHeader   = "curbside/env/v1"
	labelSig      = "curbside/sig/v1"
	labelHeaderV2 = "curbside/env/v2"
	labelSigV2    = "curbside/sig/v2"
	labelCommit   = "curbside/commit/v2"
	labelKeyInfo  = "curbside/key/v1"
	labelDevices  = "curbside/devices/v1"
	labelDevices2 = "curbside/devices/v2"
)

type canon []byte

func (c canon) u16(v uint16) canon { return binary.BigEndian.AppendUint16(c, v) }
func (c canon) u32(v uint32) canon { return binary.BigEndian.AppendUint32(c, v) }
func (c canon) u64(v int64) canon  { return binary.BigEndian.AppendUint64(c, uint64(v)) }
func (c canon) str(s string) canon { return append(c.u32(uint32(len(s))), s...) }
func (c canon) bytes(b []byte) canon {
	return append(c.u32(uint32(len(b))), b...)
}

// HeaderBytes returns the canonical encoding of the envelope's cleartext
// header. It is the associated data of the body's AES-256-GCM encryption, so
// any change to routing metadata makes the body fail to open. Version 2:
//
//	"curbside/env/v2" || u16 suite || str(id) || str(conv) ||
//	u64 from.user || u64 from.device || u64 created || u32 flags ||
//	str(commit) || u32 len(keys) || for each key: u64 user || u64 device
//
// Version 1 has the label "curbside/env/v1" and no str(commit).
func (e *Envelope) HeaderBytes() []byte {
	c := make(canon, 0, 100+len(e.ID)+len(e.Conv)+16*len(e.Keys))
	if e.V == 1 {
		c = append(c, labelHeader...)
	} else {
		c = append(c, labelHeaderV2...)
	}
	c = c.u16(e.Suite).str(e.ID).str(e.Conv)
	c = c.u64(e.From.User).u64(e.From.Device).u64(e.Created).u32(e.Flags)
	if e.V != 1 {
		c = c.bytes(e.Commit)
	}
	c = c.u32(uint32(len(e.Keys)))
	for _, k := range e.Keys {
		c = c.u64(k.User).u64(k.Device)
	}
	return c
}

// SignedBytes returns what the sender's Ed25519 key signs:
//
//	"curbside/sig/v2" || HeaderBytes || for each key: str(sealed key) ||
//	str(nonce) || str(body)
//
// Version 1 has the label "curbside/sig/v1" (and its own header).
func (e *Envelope) SignedBytes() []byte {
	h := e.HeaderBytes()
	n := len(labelSigV2) + len(h) + 8 + len(e.Nonce) + len(e.Body)
	for _, k := range e.Keys {
		n += 4 + len(k.Sealed)
	}
	c := make(canon, 0, n)
	if e.V == 1 {
		c = append(c, labelSig...)
	} else {
		c = append(c, labelSigV2...)
	}
	c = append(c, h...)
	for _, k := range e.Keys {
		c = c.bytes(k.Sealed)
	}
	return c.bytes(e.Nonce).bytes(e.Body)
}

// CommitBytes returns the message that a version 2 envelope's content key K
// authenticates to commit to it: commit = HMAC-SHA256(K, CommitBytes(id)).
// HMAC keyed with K is collision resistant in K, which AES-GCM alone is
// not: without it one body and one signature could open to two different
// plaintexts under two keys sealed to two recipients.
//
//	"curbside/commit/v2" || str(id)
func CommitBytes(msgID string) []byte {
	c := make(canon, 0, len(labelCommit)+4+len(msgID))
	c = append(c, labelCommit...)
	return c.str(msgID)
}

// KeyInfo returns the HPKE info string used when sealing a message's content
// key to one device; binding the message id and the device id stops a sealed
// key from being replayed into another envelope or to another device.
//
//	"curbside/key/v1" || str(id) || u64 device
func KeyInfo(msgID string, device int64) []byte {
	c := make(canon, 0, len(labelKeyInfo)+12+len(msgID))
	c = append(c, labelKeyInfo...)
	return c.str(msgID).u64(device)
}

// SignedBytes returns what a device list's signer signs:
//
//	"curbside/devices/v1" || u64 user || u64 version || u32 n ||
//	for each device in ascending id order: u64 id || str(enc) || str(sign)
//
// and, when any device carries an X-Wing key (PQ), version 2, in which
// every device also has str(pq) (empty for a device without one):
//
//	"curbside/devices/v2" || u64 user || u64 version || u32 n ||
//	for each device: u64 id || str(enc) || str(sign) || str(pq)
//
// A list signed with X-Wing keys cannot be passed off without them: the
// bytes of the stripped list are version 1 bytes, which the signature is
// not over. Devices must already be sorted by id (Validate checks it).
func (l *DeviceList) SignedBytes() []byte {
	v2 := l.HasPQ()
	label := labelDevices
	if v2 {
		label = labelDevices2
	}
	c := make(canon, 0, len(label)+20+80*len(l.Devices))
	c = append(c, label...)
	c = c.u64(l.User).u64(l.Version).u32(uint32(len(l.Devices)))
	for _, d := range l.Devices {
		c = c.u64(d.ID).bytes(d.Enc).bytes(d.Sign)
		if v2 {
			c = c.bytes(d.PQ)
		}
	}
	return c
}

// HasPQ reports whether any device in the list carries an X-Wing key.
func (l *DeviceList) HasPQ() bool {
	for _, d := range l.Devices {
		if len(d.PQ) > 0 {
			return true
		}
	}
	return false
}
