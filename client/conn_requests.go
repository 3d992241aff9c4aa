package client

import (
	"context"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

// request sends a frame that the server answers with a frame carrying the
// same ref, and waits for that answer.
func (cn *Conn) request(ctx context.Context, f *protocol.ClientFrame) (*protocol.ServerFrame, error) {
	f.Ref = "r-" + e2ee.NewID()
	w := &waiter{msg: f.Msg}
	if err := cn.register(f.Ref, w); err != nil {
		return nil, err
	}
	defer cn.unregister(f.Ref, w)
	if err := cn.writeJSON(f); err != nil {
		return nil, err
	}
	return cn.wait(ctx, w)
}

// confirm sends a frame whose success the server confirms with an ok frame
// (because it carries a ref) and waits for that or an error frame.
func (cn *Conn) confirm(ctx context.Context, f *protocol.ClientFrame) error {
	_, err := cn.request(ctx, f)
	return err
}

// Receipt tells a message's sender that this user read (protocol.ReceiptRead)
// or acknowledged (protocol.ReceiptAcknowledged) message msgID of
// conversation conv (Incoming.Conv), signed by this device. Delivered
// receipts are sent by the connection itself once a message is acked.
func (cn *Conn) Receipt(ctx context.Context, msgID, conv, kind string) error {
	return cn.confirm(ctx, cn.c.signedFrame(protocol.TReceipt, kind, msgID, conv))
}

// Recall asks the server to recall message msgID of conversation conv,
// which this user sent: it deletes what is still queued and gives
// recipients' clients this device's signed recall, which they obey by
// hiding the message. It cannot unsend what a device already holds.
func (cn *Conn) Recall(ctx context.Context, msgID, conv string) error {
	return cn.confirm(ctx, cn.c.signedFrame(protocol.TRecall, "", msgID, conv))
}

// SetPresence sets this user's presence: protocol.PresenceAvailable,
// PresenceAway or PresenceDND.
func (cn *Conn) SetPresence(ctx context.Context, status string) error {
	return cn.confirm(ctx, &protocol.ClientFrame{Type: protocol.TPresence, Status: status})
}

// Details asks for the delivery status of a message this user sent.
func (cn *Conn) Details(ctx context.Context, msgID string) (*protocol.Details, error) {
	f, err := cn.request(ctx, &protocol.ClientFrame{Type: protocol.TDetails, Msg: msgID})
	if err != nil {
		return nil, err
	}
	return &protocol.Details{
		Type: f.Type, Ref: f.Ref, Msg: f.Msg, Conv: f.Conv, Created: f.Created, Sent: f.Sent,
		AckRequested: f.AckRequested, Recalled: f.Recalled, Recipients: f.Recipients,
	}, nil
}
