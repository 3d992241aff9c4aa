package client

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/curbside-health/curbside/protocol"
)

// Receipts and recalls are signed by the device that makes them
// (protocol.Attestation). This client signs its own and hands the
// application only those of others that verify against the signer's
// verified device list: what the server merely claims is dropped.

// ErrUnsignedEvent and ErrBadEventSignature are the causes of an
// EventError: a receipt or recall that no device signed, or whose
// signature does not verify with the device it names.
var (
	ErrUnsignedEvent     = errors.New("receipt or recall carries no signature")
	ErrBadEventSignature = errors.New("receipt or recall signature does not verify")
)

// EventError reports a queued receipt or recall that was dropped because
// it did not verify: the server (or whoever edited its queue) made it, or
// changed it. It is acknowledged, so it does not come again; the
// application never sees the event itself.
type EventError struct {
	Type   string // protocol.TReceipt or protocol.TRecall
	Seq    int64
	Msg    string
	User   int64 // the signer the event names
	Device int64
	Err    error
}

func (e *EventError) Error() string {
	return fmt.Sprintf("%s for message %s (seq %d) naming user %d device %d dropped: %v", e.Type, e.Msg, e.Seq, e.User, e.Device, e.Err)
}

// Unwrap returns the cause.
func (e *EventError) Unwrap() error { return e.Err }

// sign returns the signed part of a receipt or recall of message msgID in
// conv, made now by this device.
func (c *Client) sign(kind, msgID, conv string) (at int64, sig []byte) {
	at = time.Now().UnixMilli()
	a := protocol.Attestation{Kind: kind, Msg: msgID, Conv: conv, At: at, User: c.user.ID, Device: c.keys().ID()}
	return at, ed25519.Sign(c.keys().SignKey(), a.SignedBytes())
}

// signedFrame builds a receipt or recall frame signed by this device.
func (c *Client) signedFrame(typ, kind, msgID, conv string) *protocol.ClientFrame {
	attKind := kind
	if typ == protocol.TRecall {
		attKind = protocol.RecallKind
	}
	at, sig := c.sign(attKind, msgID, conv)
	return &protocol.ClientFrame{Type: typ, Msg: msgID, Kind: kind, Conv: conv, At: at, Sig: sig}
}

// verifyEvent checks a queued receipt or recall: it must carry a
// signature, by the device it names, that verifies with that device's key
// in its user's verified device list. A failure to fetch the list is
// returned as a transientError.
func (c *Client) verifyEvent(ctx context.Context, f *protocol.ServerFrame) error {
	ev := protocol.Event{Type: f.Type, Msg: f.Msg, User: f.User, Device: f.Device, Kind: f.Kind, Conv: f.Conv, At: f.At, Sig: f.Sig}
	if len(ev.Sig) == 0 {
		return ErrUnsignedEvent
	}
	if ev.User <= 0 || ev.Device <= 0 || ev.At <= 0 {
		return ErrBadEventSignature
	}
	key, _, err := c.senderKey(ctx, ev.User, ev.Device, ev.At)
	if err != nil {
		var untrusted *UntrustedKeysError
		if errors.Is(err, errUnknownDevice) || errors.Is(err, ErrRevokedDevice) || errors.As(err, &untrusted) || ErrorCode(err) == protocol.CodeNotFound {
			return fmt.Errorf("%w: %v", ErrBadEventSignature, err)
		}
		return &transientError{err}
	}
	if !ed25519.Verify(key, ev.Attestation().SignedBytes(), ev.Sig) {
		return ErrBadEventSignature
	}
	return nil
}

// deliverEvent verifies a queued receipt or recall and hands it over. It
// reports false only if the connection ended first.
func (cn *Conn) deliverEvent(f *protocol.ServerFrame) bool {
	if err := cn.c.verifyEvent(cn.dctx, f); err != nil {
		if cn.dctx.Err() != nil {
			return false
		}
		var transient *transientError
		if errors.As(err, &transient) {
			// Left queued: the next connection tries again.
			cn.report(&EventError{Type: f.Type, Seq: f.Seq, Msg: f.Msg, User: f.User, Device: f.Device, Err: err})
			return true
		}
		// The server's own delivered records (made when a device acks) are
		// unsigned by design: dropped without a report. Anything else that
		// does not verify is reported.
		if !(errors.Is(err, ErrUnsignedEvent) && f.Type == protocol.TReceipt && f.Kind == protocol.ReceiptDelivered) {
			cn.report(&EventError{Type: f.Type, Seq: f.Seq, Msg: f.Msg, User: f.User, Device: f.Device, Err: err})
		}
		cn.Ack(f.Seq)
		return true
	}
	ev := Event{Type: f.Type, Seq: f.Seq, Msg: f.Msg, Conv: f.Conv, User: f.User, Username: cn.c.username(f.User),
		Device: f.Device, Kind: f.Kind, At: time.UnixMilli(f.At), ServerAt: time.UnixMilli(f.TS)}
	select {
	case cn.events <- ev:
		if cn.cfg.autoAck && f.Seq > 0 {
			cn.Ack(f.Seq)
		}
		return true
	case <-cn.dctx.Done():
		return false
	}
}

// sendDelivered sends this device's signed delivered receipts for
// messages the application acknowledged, without waiting for an answer:
// a receipt lost with the connection is only a "Delivered" the sender does
// not see, never a message lost.
func (cn *Conn) sendDelivered(ctx context.Context, msgs []deliveredMsg) {
	for _, m := range msgs {
		b, _ := json.Marshal(cn.c.signedFrame(protocol.TReceipt, protocol.ReceiptDelivered, m.id, m.conv))
		if cn.write(ctx, b) != nil {
			return
		}
	}
}

// deliveredMsg is a message from another user that the application holds:
// once it is acknowledged, this device signs its delivered receipt.
type deliveredMsg struct{ id, conv string }
