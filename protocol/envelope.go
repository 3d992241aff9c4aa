package protocol

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// Suite identifiers carried in every envelope, so a new suite (a
// post-quantum hybrid) can be added beside the old one without a flag day.
const (
	// SuiteX25519AES256 is HPKE base mode with DHKEM(X25519, HKDF-SHA256),
	// HKDF-SHA256 and AES-256-GCM for the per-device sealed content key, and
	// AES-256-GCM with a 12-byte nonce for the body.
	SuiteX25519AES256 uint16 = 1
)

// EnvelopeVersion is the envelope version clients seal and the relay
// accepts in a send. Version 1 envelopes (no key commitment) still parse,
// so that clients can open those queued before the upgrade; the relay
// refuses a new one with CodeUpdateRequired.
const EnvelopeVersion = 2

// Envelope flags. They are cleartext metadata: the relay needs them to know
// which receipts a message may receive.
const (
	FlagAckRequested uint32 = 1 << 0 // the sender asks each recipient to acknowledge
	FlagUrgent       uint32 = 1 << 1 // clients repeat the alert until read
	knownFlags              = FlagAckRequested | FlagUrgent
)

// Size limits. Every field the relay parses is bounded; MaxFrameBytes bounds
// the whole WebSocket message before it is parsed.
const (
	// MaxFrameBytes is a WebSocket message, whole: 2 MiB, which holds a
	// send of the largest suite-2 envelope (MaxKeys X-Wing keys of 1,168
	// bytes and a MaxBodyBytes body, all in base64; TestMaxSuite2Frame).
	MaxFrameBytes    = 2 << 20
	MaxBodyBytes     = 256 << 10 // 256 KiB of body ciphertext; files travel as blobs
	MaxKeys          = 1000      // recipient devices per envelope
	MaxIDLen         = 64
	MinIDLen         = 16
	MaxConvLen       = 128
	SealedKeyBytes   = 32 + 32 + 16 // HPKE enc (X25519) || AES-256-GCM(32-byte key) with tag
	NonceBytes       = 12
	SignatureBytes   = 64
	CommitBytesLen   = 32 // an envelope's key commitment: HMAC-SHA256
	PublicKeyBytes   = 32
	MaxDevicesOfUser = 32
	// MaxAttachments is the most attachments one message may carry, and so
	// the most blob ids its Blobs list may name.
	MaxAttachments = 20
	// BlobIDLen is the length of a blob id: 128 random bits as lowercase hex.
	BlobIDLen = 32
)

// Party names one device of one user.
type Party struct {
	User   int64 `json:"user"`
	Device int64 `json:"device"`
}

// SealedKey is the message's content key sealed with HPKE to one device.
type SealedKey struct {
	User   int64  `json:"user"`
	Device int64  `json:"device"`
	Sealed []byte `json:"key"` // HPKE enc || ciphertext, SealedKeyBytes long
}

// Envelope is one end-to-end-encrypted message as it travels. Byte fields
// are standard base64 with padding in JSON.
type Envelope struct {
	V       int         `json:"v"`
	Suite   uint16      `json:"suite"`
	ID      string      `json:"id"`      // client-chosen, globally unique, 16-64 chars of [A-Za-z0-9_-]
	Conv    string      `json:"conv"`    // conversation id, see ParseConv
	From    Party       `json:"from"`    // the sending device
	Created int64       `json:"created"` // sender's clock, ms since the Unix epoch
	Flags   uint32      `json:"flags"`
	Keys    []SealedKey `json:"keys"`
	// Commit (version 2) is the content key's commitment,
	// HMAC-SHA256(K, CommitBytes(ID)): it is in the header, so the signature
	// covers it, and a recipient whose sealed key opens to any other K
	// refuses the message. Version 1 envelopes have none.
	Commit []byte `json:"commit,omitempty"`
	Nonce  []byte `json:"nonce"`
	Body   []byte `json:"body"`
	Sig    []byte `json:"sig"`
	// Blobs lists the sender's own uploaded blobs the message's attachments
	// use, in cleartext, so that the server can keep them and delete the
	// uploads no message uses (PROTOCOL.md section 8). It is outside the
	// signature and the header: recipients ignore it and take blob ids only
	// from the encrypted body.
	Blobs []string `json:"blobs,omitempty"`
}

// ParseEnvelope decodes and validates an envelope. It checks shapes and
// limits only; it cannot check signatures (the relay does not hold keys on
// the hot path) or authorisation (that needs the directory).
//
// Its JSON is held to CheckStrict's rules: no key twice, none in another
// case than its field's.
func ParseEnvelope(raw []byte) (*Envelope, error) { return parseEnvelope(raw, false) }

// parseEnvelope is ParseEnvelope; checked says that raw has passed
// CheckStrict as an Envelope already (DecodeClientFrame checks a send's env
// with its frame).
func parseEnvelope(raw []byte, checked bool) (*Envelope, error) {
	if len(raw) > MaxFrameBytes {
		return nil, Errorf(CodeTooLarge, "envelope is %d bytes; the limit is %d", len(raw), MaxFrameBytes)
	}
	var e Envelope
	if !checked {
		if err := CheckStrict(raw, &e); err != nil {
			return nil, strictRefusal(CodeBadEnvelope, "envelope", err)
		}
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, Errorf(CodeBadEnvelope, "envelope is not valid JSON: %v", err)
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return &e, nil
}

// Validate checks an envelope's shape against the protocol's rules.
func (e *Envelope) Validate() error {
	bad := func(format string, a ...any) error { return Errorf(CodeBadEnvelope, format, a...) }
	switch {
	case e.V != 1 && e.V != EnvelopeVersion:
		return bad("unsupported envelope version %d (this server speaks %d)", e.V, EnvelopeVersion)
	case e.V == EnvelopeVersion && len(e.Commit) != CommitBytesLen:
		return bad("commit must be %d bytes", CommitBytesLen)
	case e.V == 1 && e.Commit != nil:
		return bad("a version 1 envelope has no commit")
	case e.Suite != SuiteX25519AES256 && e.Suite != SuiteXWingAES256:
		return bad("unsupported suite %d", e.Suite)
	case e.Suite == SuiteXWingAES256 && e.V != EnvelopeVersion:
		return bad("suite %d needs envelope version %d", e.Suite, EnvelopeVersion)
	case !ValidID(e.ID):
		return bad("id must be %d-%d characters of A-Z a-z 0-9 _ -", MinIDLen, MaxIDLen)
	case e.From.User <= 0 || e.From.Device <= 0:
		return bad("from.user and from.device are required")
	case e.Created <= 0:
		return bad("created is required")
	case e.Flags&^knownFlags != 0:
		return bad("unknown flags %#x", e.Flags&^knownFlags)
	case len(e.Keys) == 0:
		return bad("keys is empty: a message needs at least one recipient device")
	case len(e.Keys) > MaxKeys:
		return Errorf(CodeTooLarge, "%d recipient devices; the limit is %d", len(e.Keys), MaxKeys)
	case len(e.Nonce) != NonceBytes:
		return bad("nonce must be %d bytes", NonceBytes)
	case len(e.Body) < 16:
		return bad("body is shorter than an AES-GCM tag")
	case len(e.Body) > MaxBodyBytes:
		return Errorf(CodeTooLarge, "body is %d bytes; the limit is %d", len(e.Body), MaxBodyBytes)
	case len(e.Sig) != SignatureBytes:
		return bad("sig must be %d bytes", SignatureBytes)
	}
	if _, err := ParseConv(e.Conv); err != nil {
		return err
	}
	seen := make(map[int64]struct{}, len(e.Keys))
	for i, k := range e.Keys {
		if k.User <= 0 || k.Device <= 0 {
			return bad("keys[%d]: user and device are required", i)
		}
		if want := SealedKeySize(e.Suite); len(k.Sealed) != want {
			return bad("keys[%d]: sealed key must be %d bytes", i, want)
		}
		if _, dup := seen[k.Device]; dup {
			return bad("keys[%d]: device %d appears twice", i, k.Device)
		}
		seen[k.Device] = struct{}{}
	}
	return validBlobs(e.Blobs)
}

// SealedKeySize returns the size of one sealed content key in an envelope
// of the given suite (SealedKeyBytes or XWingSealedKeyBytes), 0 for a suite
// the protocol does not know.
func SealedKeySize(suite uint16) int {
	switch suite {
	case SuiteX25519AES256:
		return SealedKeyBytes
	case SuiteXWingAES256:
		return XWingSealedKeyBytes
	}
	return 0
}

// validBlobs checks an envelope's blobs list: at most MaxAttachments
// well-formed ids, none twice.
func validBlobs(ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if len(ids) > MaxAttachments {
		return Errorf(CodeTooLarge, "blobs names %d attachments; a message may carry at most %d", len(ids), MaxAttachments)
	}
	for i, id := range ids {
		if !ValidBlobID(id) {
			return Errorf(CodeBadEnvelope, "blobs[%d] is not a blob id (%d lowercase hex digits)", i, BlobIDLen)
		}
		for _, prev := range ids[:i] {
			if prev == id {
				return Errorf(CodeBadEnvelope, "blobs[%d]: blob %s appears twice", i, id)
			}
		}
	}
	return nil
}

// ValidBlobID reports whether id has the form of a blob id (BlobIDLen
// lowercase hex digits), so it can be used as a file name.
func ValidBlobID(id string) bool {
	if len(id) != BlobIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// RecipientUsers returns the distinct users the envelope is sealed to, in
// first-seen order, excluding the sender.
func (e *Envelope) RecipientUsers() []int64 {
	var out []int64
	seen := map[int64]bool{e.From.User: true}
	for _, k := range e.Keys {
		if !seen[k.User] {
			seen[k.User] = true
			out = append(out, k.User)
		}
	}
	return out
}

// ValidID reports whether s is a well-formed message id.
func ValidID(s string) bool {
	return len(s) >= MinIDLen && len(s) <= MaxIDLen && idChars(s)
}

// idChars reports whether s is made only of base64url characters.
func idChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// DeviceID derives a device's id from its Ed25519 public signing key: the
// first six bytes of its SHA-256, big-endian. Forty-eight bits keep the id
// exact in JavaScript numbers, and deriving it lets a device sign a list that
// names itself before the server has seen it.
func DeviceID(signPub []byte) int64 {
	sum := sha256.Sum256(signPub)
	var b [8]byte
	copy(b[2:], sum[:6])
	return int64(binary.BigEndian.Uint64(b[:]))
}

// ListedDevice is one device in a signed device list.
type ListedDevice struct {
	ID   int64  `json:"id"`
	Enc  []byte `json:"enc"`  // X25519 public key, 32 bytes
	Sign []byte `json:"sign"` // Ed25519 public key, 32 bytes
	// PQ is the device's X-Wing public key (XWingPublicKeyBytes), or
	// absent: its presence says the device opens suite 2, and that it
	// refuses suite-1 envelopes made after it first listed it.
	PQ []byte `json:"pq,omitempty"`
}

// DeviceList is a user's devices, signed by one of them. Peers encrypt only
// to devices that are both in the signed list and reported active by the
// server: the server can withhold a device but cannot add one unnoticed.
type DeviceList struct {
	User    int64          `json:"user"`
	Version int64          `json:"version"`
	Devices []ListedDevice `json:"devices"`
	Signer  int64          `json:"signer"`
	Sig     []byte         `json:"sig"`
}

// Validate checks a device list's shape: sorted unique ids that match their
// keys, key sizes, and a signer that is in the list.
func (l *DeviceList) Validate() error {
	bad := func(format string, a ...any) error { return Errorf(CodeBadDeviceList, format, a...) }
	if l.User <= 0 || l.Version <= 0 {
		return bad("user and version are required")
	}
	if len(l.Devices) == 0 || len(l.Devices) > MaxDevicesOfUser {
		return bad("a device list holds 1 to %d devices", MaxDevicesOfUser)
	}
	if len(l.Sig) != SignatureBytes {
		return bad("sig must be %d bytes", SignatureBytes)
	}
	signerListed := false
	for i, d := range l.Devices {
		if len(d.Enc) != PublicKeyBytes || len(d.Sign) != PublicKeyBytes {
			return bad("devices[%d]: keys must be %d bytes", i, PublicKeyBytes)
		}
		if d.PQ != nil && len(d.PQ) != XWingPublicKeyBytes {
			return bad("devices[%d]: pq must be %d bytes", i, XWingPublicKeyBytes)
		}
		if DeviceID(d.Sign) != d.ID {
			return bad("devices[%d]: id %d does not match its signing key", i, d.ID)
		}
		if i > 0 && l.Devices[i-1].ID >= d.ID {
			return bad("devices must be sorted by id, without repeats")
		}
		if d.ID == l.Signer {
			signerListed = true
		}
	}
	if !signerListed {
		return bad("signer %d is not in the list", l.Signer)
	}
	return nil
}

// Find returns the listed device with the given id.
func (l *DeviceList) Find(id int64) (ListedDevice, bool) {
	for _, d := range l.Devices {
		if d.ID == id {
			return d, true
		}
	}
	return ListedDevice{}, false
}

func (e *Envelope) String() string {
	return fmt.Sprintf("envelope %s conv=%s from=%d/%d keys=%d body=%dB", e.ID, e.Conv, e.From.User, e.From.Device, len(e.Keys), len(e.Body))
}
