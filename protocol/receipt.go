package protocol

// Signed receipts and recalls (version 2). The relay stores and forwards
// them as it always did, but what a client shows ("Delivered", "Read",
// "Acknowledged", a recalled message) it takes only from an attestation
// that the device named in it signed, verified against that user's signed
// device list: the server can withhold one, not forge or alter one.

// RecallKind is the attestation kind of a recall; the receipt kinds
// (ReceiptDelivered, ReceiptRead, ReceiptAcknowledged) are the others.
const RecallKind = "recall"

// labelAttest is the domain-separation label of a signed receipt or recall.
const labelAttest = "curbside/receipt/v2"

// Signed is what a device adds to a receipt or recall frame in version 2:
// the message's conversation, the signer's time and the Ed25519 signature
// over Attestation.SignedBytes.
type Signed struct {
	Conv string
	At   int64
	Sig  []byte
}

// Attestation is one signed receipt or recall as a client verifies it.
type Attestation struct {
	Kind   string // ReceiptDelivered, ReceiptRead, ReceiptAcknowledged or RecallKind
	Msg    string // the message's envelope id
	Conv   string // the message's conversation
	At     int64  // the signer's clock, ms since the Unix epoch
	User   int64  // the signer's user
	Device int64  // the signing device
}

// SignedBytes returns what the signing device signs:
//
//	"curbside/receipt/v2" || str(kind) || str(msg) || str(conv) ||
//	u64 at || u64 user || u64 device
func (a *Attestation) SignedBytes() []byte {
	c := make(canon, 0, len(labelAttest)+40+len(a.Kind)+len(a.Msg)+len(a.Conv))
	c = append(c, labelAttest...)
	c = c.str(a.Kind).str(a.Msg).str(a.Conv)
	return c.u64(a.At).u64(a.User).u64(a.Device)
}

// validSigned checks the signed part of a receipt or recall frame.
func validSigned(conv string, at int64, sig []byte) error {
	if _, err := ParseConv(conv); err != nil {
		return Errorf(CodeBadFrame, "a signed receipt or recall needs the message's conv")
	}
	if at <= 0 {
		return Errorf(CodeBadFrame, "a signed receipt or recall needs at, the signer's time")
	}
	if len(sig) != SignatureBytes {
		return Errorf(CodeBadFrame, "sig must be %d bytes", SignatureBytes)
	}
	return nil
}

// Times a client applies to what the server cannot be trusted on.
const (
	// ClockSkewMs is how far the server's time for a message (a msg
	// frame's ts) may be from the message's signed created time before a
	// client flags it: 5 minutes, past any honest clock drift and queueing
	// delay of a connected sender. A client orders and expires messages by
	// created, and shows the server's time only with such a note.
	ClockSkewMs = 5 * 60 * 1000
	// V1DrainMs is how long after a device first ran version 2 it still
	// opens version 1 envelopes (those queued before the upgrade, which
	// carry no key commitment): 7 days, the default retention, after which
	// an honest server has delivered or expired every one of them.
	V1DrainMs = 7 * 24 * 60 * 60 * 1000
)
