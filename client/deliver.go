package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

// Incoming is a message received, verified and decrypted.
type Incoming struct {
	ID           string
	Conv         string
	FromUser     int64
	FromDevice   int64
	FromUsername string // "" if the sender's username is not known
	Type         string // the plaintext type, e2ee.TypeText for text
	Text         string
	ReplyTo      string
	Plaintext    *e2ee.Plaintext
	Created      time.Time // the sender's clock, signed: order and expire by it
	SentAt       time.Time // the server's acceptance time, unsigned
	Seq          int64     // the queue item to Ack
	Flags        uint32
	// ServerTimeDiffers is set when SentAt and Created are more than
	// protocol.ClockSkewMs apart: the server's time for the message (or
	// the sender's clock) is not to be believed; show Created, with a note.
	ServerTimeDiffers bool
	// Version is the envelope's version: 1 for one sealed before the
	// upgrade to version 2, which has no key commitment.
	Version int
	// Suite is the envelope's suite: protocol.SuiteXWingAES256 for a
	// message sealed with the post-quantum suite, else
	// protocol.SuiteX25519AES256.
	Suite uint16
}

// AckRequested reports whether the sender asked for an acknowledged receipt.
func (m *Incoming) AckRequested() bool { return m.Flags&protocol.FlagAckRequested != 0 }

// Urgent reports whether the sender marked the message urgent.
func (m *Incoming) Urgent() bool { return m.Flags&protocol.FlagUrgent != 0 }

// Event is a receipt, recall, group membership event or presence update.
// Receipts, recalls and membership events are queued (Seq > 0) and must be
// acknowledged like messages; presence is not.
//
// A receipt or recall reaches the application only once its signature has
// verified: User and Device signed it, for message Msg in Conv, at At.
// The application must still check that the signer may say it: a receipt
// from one of the message's recipients (or this user's other device), a
// recall only from the message's own sender (Incoming.FromUser), in the
// message's conversation.
type Event struct {
	Type     string // protocol.TReceipt, protocol.TRecall, protocol.TMember or protocol.TPresence
	Seq      int64
	Msg      string    // the message a receipt or recall is about
	Conv     string    // receipt, recall: the message's conversation, signed
	User     int64     // receipt: the recipient; recall: the sender; presence: the user
	Username string    // "" if not known
	Device   int64     // receipt, recall: the signing device
	Kind     string    // receipt kind: delivered, read or acknowledged
	Status   string    // presence status
	At       time.Time // receipt, recall: the signer's time; presence: the server's
	ServerAt time.Time // the server's time, unsigned
	// Member is set for protocol.TMember: the change, as joined with what
	// this client observed (Client.MemberEvents keeps them too).
	Member *MemberEvent
}

// MessageError reports a queued message that could not be verified or
// decrypted. Such messages are acknowledged at once, so that a bad envelope
// is not redelivered forever; the error is the only trace of them.
type MessageError struct {
	ID         string
	Seq        int64
	FromUser   int64
	FromDevice int64
	Err        error
}

func (e *MessageError) Error() string {
	return fmt.Sprintf("message %s (seq %d) from user %d device %d dropped: %v", e.ID, e.Seq, e.FromUser, e.FromDevice, e.Err)
}

// Unwrap returns the cause.
func (e *MessageError) Unwrap() error { return e.Err }

// enqueue hands a frame to the delivery goroutine. The queue is unbounded
// so that the reader never waits for the application: it must stay free to
// route accepted frames to senders. Its length is bounded in practice by
// what the server has queued for the device.
func (cn *Conn) enqueue(f *protocol.ServerFrame) {
	cn.qmu.Lock()
	cn.queue = append(cn.queue, f)
	cn.qmu.Unlock()
	select {
	case cn.qWake <- struct{}{}:
	default:
	}
}

// dequeue waits for the next frame; nil means the connection is ending.
func (cn *Conn) dequeue() *protocol.ServerFrame {
	for {
		cn.qmu.Lock()
		if len(cn.queue) > 0 {
			f := cn.queue[0]
			cn.queue[0] = nil
			cn.queue = cn.queue[1:]
			cn.qmu.Unlock()
			return f
		}
		cn.qmu.Unlock()
		select {
		case <-cn.qWake:
		case <-cn.dctx.Done():
			return nil
		}
	}
}

// deliverLoop decrypts queued frames and hands them to the application in
// order. Decryption may fetch a sender's keys over HTTP; doing it here, not
// on the reader, keeps that from delaying senders' accepted frames.
func (cn *Conn) deliverLoop() {
	defer cn.wg.Done()
	defer close(cn.deliverDone)
	defer close(cn.events)
	defer close(cn.msgs)
	for {
		f := cn.dequeue()
		if f == nil {
			return
		}
		var ok bool
		switch f.Type {
		case protocol.TMsg:
			ok = cn.deliverMsg(f)
		case protocol.TReceipt, protocol.TRecall:
			ok = cn.deliverEvent(f)
		case protocol.TPresence, protocol.TMember:
			ev := Event{Type: f.Type, Seq: f.Seq, Msg: f.Msg, User: f.User, Username: cn.c.username(f.User),
				Device: f.Device, Kind: f.Kind, Status: f.Status, At: time.UnixMilli(f.TS), ServerAt: time.UnixMilli(f.TS)}
			if f.Type == protocol.TMember {
				m := cn.c.announced(f)
				ev.Member = &m
			}
			select {
			case cn.events <- ev:
				ok = true
				if cn.cfg.autoAck && f.Seq > 0 {
					cn.Ack(f.Seq)
				}
			case <-cn.dctx.Done():
			}
		}
		if !ok && cn.dctx.Err() != nil {
			return
		}
	}
}

// deliverMsg opens one queued message and hands it over. It reports false
// only if the connection ended first.
func (cn *Conn) deliverMsg(f *protocol.ServerFrame) bool {
	env, err := protocol.ParseEnvelope(f.Env)
	if err != nil {
		cn.report(&MessageError{Seq: f.Seq, Err: err})
		cn.Ack(f.Seq)
		return true
	}
	cn.amu.Lock()
	_, inHand := cn.delivered[env.ID]
	cn.amu.Unlock()
	if inHand || cn.c.hasSeen(env.ID) {
		// A redelivery of what the application already acknowledged, or
		// holds now. Acking the copy is safe: if the application never
		// acks the original, the server keeps that one.
		cn.Ack(f.Seq)
		return true
	}
	in, err := cn.c.OpenEnvelope(cn.dctx, env)
	if err != nil {
		if cn.dctx.Err() != nil {
			return false
		}
		cn.report(&MessageError{ID: env.ID, Seq: f.Seq, FromUser: env.From.User, FromDevice: env.From.Device, Err: err})
		var transient *transientError
		if !errors.As(err, &transient) {
			cn.Ack(f.Seq)
		}
		// A transient failure (the key directory could not be reached) is
		// left queued on the server: the next connection tries again.
		return true
	}
	in.Seq, in.SentAt = f.Seq, time.UnixMilli(f.TS)
	in.ServerTimeDiffers = abs(f.TS-env.Created) > protocol.ClockSkewMs
	// Record the message as in hand before the application can ack it;
	// it becomes "seen" (and persisted by Save) only when acked, so a
	// message that was buffered but never handled comes again next time.
	cn.amu.Lock()
	cn.delivered[env.ID] = struct{}{}
	cn.unacked[f.Seq] = env.ID
	if env.From.User != cn.c.user.ID {
		cn.receiptFor[f.Seq] = deliveredMsg{id: env.ID, conv: env.Conv}
	}
	cn.amu.Unlock()
	select {
	case cn.msgs <- *in:
	case <-cn.dctx.Done():
		return false
	}
	if cn.cfg.autoAck {
		cn.Ack(f.Seq)
	}
	return true
}

// transientError marks an open failure that may pass (a network error while
// fetching keys), as opposed to a message that will never open.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// OpenEnvelope verifies and decrypts an envelope sealed to this device,
// using the sender's verified device list. Seq and SentAt are left zero:
// they come from the queue, not the envelope.
func (c *Client) OpenEnvelope(ctx context.Context, env *protocol.Envelope) (*Incoming, error) {
	if cv, err := protocol.ParseConv(env.Conv); err != nil {
		return nil, err
	} else if cv.Kind == protocol.Direct {
		// A direct conversation's id names both its members; a message in
		// it from or to anyone else is misaddressed.
		me, from := c.user.ID, env.From.User
		if (cv.A != me && cv.B != me) || (cv.A != from && cv.B != from) {
			return nil, fmt.Errorf("direct conversation %s does not hold both the sender (user %d) and this user", env.Conv, from)
		}
	}
	if err := c.checkAge(env); err != nil {
		return nil, err
	}
	key, sender, err := c.senderKey(ctx, env.From.User, env.From.Device, env.Created)
	if err != nil {
		var untrusted *UntrustedKeysError
		if errors.Is(err, errUnknownDevice) || errors.Is(err, ErrRevokedDevice) || errors.As(err, &untrusted) || ErrorCode(err) == protocol.CodeNotFound {
			return nil, err
		}
		return nil, &transientError{err}
	}
	body, err := e2ee.Open(env, key, c.keys(), c.retiredKeys()...)
	if err != nil {
		return nil, err
	}
	if err := c.checkSuite(ctx, env); err != nil {
		clear(body)
		return nil, err
	}
	pt, err := e2ee.ParsePlaintext(body)
	clear(body)
	if err != nil {
		return nil, err
	}
	if cv, _ := protocol.ParseConv(env.Conv); cv.Kind == protocol.Group {
		// Who this message was sealed to is who can read it: a member
		// the client did not know of is shown, whatever the server said.
		users := []int64{env.From.User}
		for _, k := range env.Keys {
			users = append(users, k.User)
		}
		c.observeRecipients(ctx, env.Conv, cv.Group, users, map[int64]string{env.From.User: sender.Display})
	}
	return &Incoming{
		ID: env.ID, Conv: env.Conv, FromUser: env.From.User, FromDevice: env.From.Device,
		FromUsername: sender.Username, Type: pt.Type, Text: pt.Text, ReplyTo: pt.ReplyTo, Plaintext: pt,
		Created: time.UnixMilli(env.Created), Flags: env.Flags, Version: env.V, Suite: env.Suite,
	}, nil
}

// ErrTooOld and ErrVersion1 refuse an envelope by its signed times.
var (
	// ErrTooOld: the envelope's signed created time is older than the
	// retention window (WithMaxAge), so an honest server would have
	// expired it: it is a replay of an old message, and is refused even
	// once its id has left the seen set.
	ErrTooOld = errors.New("message is older than the retention window: refused as a replay")
	// ErrVersion1: a version 1 envelope (no key commitment) arrived after
	// this device's drain period (protocol.V1DrainMs from when it first ran
	// version 2), or claims to have been made after it.
	ErrVersion1 = errors.New("version 1 message refused: this device no longer accepts messages without a key commitment")
)

// ErrDowngrade: a suite-1 envelope made after this device's list first
// gave it an X-Wing key (allowing protocol.ClockSkewMs), sealed only to
// devices that all list one as far as this device has verified, when an
// honest sender would have used suite 2. A server that hid the keys from
// the sender (serving it an older list) gets the message refused, not
// read by whoever can one day break X25519.
var ErrDowngrade = errors.New("message refused: it was sealed without the post-quantum suite that all its recipient devices list (a downgrade)")

// checkSuite refuses a downgraded envelope (ErrDowngrade), after Open has
// verified its signature. A suite-1 envelope opens if it was made before
// this device listed its X-Wing key (queued while it was away), or if one
// of the devices it is sealed to lists no X-Wing key in the verified list
// this client holds of its user (or is not in it): for such a set suite 1
// is the strongest suite every device opens.
func (c *Client) checkSuite(ctx context.Context, env *protocol.Envelope) error {
	since := c.pqListed()
	if env.Suite != protocol.SuiteX25519AES256 || since == 0 || env.Created <= since+protocol.ClockSkewMs {
		return nil
	}
	lists := map[int64]*protocol.DeviceList{}
	for _, k := range env.Keys {
		l, ok := lists[k.User]
		if !ok {
			p, err := c.lookup(ctx, k.User, false)
			if err != nil {
				var untrusted *UntrustedKeysError
				if errors.As(err, &untrusted) || ErrorCode(err) == protocol.CodeNotFound {
					return err
				}
				return &transientError{err}
			}
			l, lists[k.User] = p.list, p.list
		}
		if l == nil {
			return nil
		}
		if d, ok := l.Find(k.Device); !ok || len(d.PQ) == 0 {
			return nil
		}
	}
	return fmt.Errorf("%w (message %s from device %d)", ErrDowngrade, env.ID, env.From.Device)
}

// checkAge refuses an envelope that is too old to be anything but a
// replay, and a version 1 envelope outside the drain period.
func (c *Client) checkAge(env *protocol.Envelope) error {
	now := time.Now().UnixMilli()
	if env.Created < now-c.maxAge.Milliseconds() {
		return ErrTooOld
	}
	if env.V == 1 && (now >= c.v2Since+protocol.V1DrainMs || env.Created > c.v2Since) {
		return ErrVersion1
	}
	return nil
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func (c *Client) hasSeen(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen.has(id)
}

func (c *Client) markSeen(id string) {
	c.mu.Lock()
	c.seen.add(id)
	c.mu.Unlock()
}
