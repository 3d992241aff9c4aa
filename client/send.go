package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

// Outgoing is a message to send.
//
// The conversation is Conv if set; otherwise a direct conversation when To
// names one user, or a new broadcast to the To users when it names several
// (its token is the message id, so a resend with the same ID lands in the
// same conversation). A group conversation (protocol.GroupConv) with To
// empty is sent to the group's members as the server lists them.
type Outgoing struct {
	// ID is the message id; empty means a new random one. Sending again
	// with the same ID is idempotent: the server answers dup.
	ID   string
	Conv string
	To   []int64 // recipient user ids
	Text string
	// ReplyTo is the id of the message this one answers.
	ReplyTo string
	// Plaintext, if set, is sent instead of Text and ReplyTo.
	Plaintext *e2ee.Plaintext
	Flags     uint32 // protocol.FlagAckRequested, protocol.FlagUrgent
	// Created is the sender's timestamp; zero means now.
	Created time.Time
}

// Accepted is the server's confirmation that a message is durable.
type Accepted struct {
	ID     string
	Conv   string    // the message's conversation (for Recall); set by Send and SendPrepared
	SentAt time.Time // the server's acceptance time
	Dup    bool      // the server had already accepted this id
}

// Prepared is a sealed message ready to send: the load generator prepares
// its messages ahead of time so that sending costs only the write.
type Prepared struct {
	ID    string
	Conv  string
	Env   *protocol.Envelope
	Frame []byte // the whole send frame

	users  []int64 // recipient users, for resealing
	hdr    protocol.Envelope
	body   []byte
	intent []byte // set when the caller chose the id: the message is kept in the outbox
	kept   bool   // taken from the outbox, not sealed by this call
}

func nowMS() int64 { return time.Now().UnixMilli() }

// Prepare resolves an outgoing message's conversation and recipients and
// seals it. It fetches device keys the client does not have yet, so it may
// fail with *UntrustedKeysError.
func (c *Client) Prepare(ctx context.Context, out Outgoing) (*Prepared, error) {
	id, err := messageID(out.ID)
	if err != nil {
		return nil, err
	}
	conv, users, err := c.conversation(ctx, out, id)
	if err != nil {
		return nil, err
	}
	pt := plaintext(out)
	if len(pt.Attachments) > protocol.MaxAttachments {
		return nil, fmt.Errorf("a message may carry at most %d attachments", protocol.MaxAttachments)
	}
	body, err := pt.Marshal()
	if err != nil {
		return nil, err
	}
	hdr := c.header(id, conv, out)
	hdr.Blobs = ownBlobs(pt)
	var intent []byte
	if out.ID != "" {
		// A caller-chosen id may be a resend: send the very bytes sealed
		// the first time, which is the only thing the server takes as one.
		intent = intentHash(c.keys().SignPublic(), conv, users, out.Flags, body)
		kept, err := c.resend(id, intent, hdr, body)
		if err != nil || kept != nil {
			return kept, err
		}
	}
	p := &Prepared{ID: id, Conv: conv, users: users, body: body, hdr: hdr, intent: intent}
	if err := c.seal(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// messageID returns the caller's id if it is valid, or a new random one if
// the caller chose none.
func messageID(id string) (string, error) {
	if id == "" {
		id = e2ee.NewID()
	}
	if !protocol.ValidID(id) {
		return "", fmt.Errorf("message id %q must be %d-%d characters of A-Z a-z 0-9 _ -", id, protocol.MinIDLen, protocol.MaxIDLen)
	}
	return id, nil
}

// conversation returns the conversation out goes to and its recipient
// users, sorted, each once, and without this user: sealing adds this
// user's other devices on its own.
func (c *Client) conversation(ctx context.Context, out Outgoing, id string) (string, []int64, error) {
	me := c.user.ID
	users := slices.Clone(out.To)
	conv := out.Conv
	if conv == "" {
		var err error
		if conv, err = impliedConv(me, users, id); err != nil {
			return "", nil, err
		}
	}
	users, err := c.convUsers(ctx, conv, users)
	if err != nil {
		return "", nil, err
	}
	slices.Sort(users)
	users = slices.Compact(users)
	users = slices.DeleteFunc(users, func(u int64) bool { return u == me })
	return conv, users, nil
}

// impliedConv is the conversation of a message that names none: direct
// to one other user, or a new broadcast keyed by the message id, so that
// a resend lands in the same conversation.
func impliedConv(me int64, users []int64, id string) (string, error) {
	switch {
	case len(users) == 0:
		return "", errors.New("a message needs a conversation or at least one recipient")
	case len(users) == 1:
		if users[0] == me {
			return "", errors.New("a direct message needs another user; to reach only your own devices, use a broadcast")
		}
		return protocol.DirectConv(me, users[0]), nil
	default:
		return protocol.BroadcastConv(me, id), nil
	}
}

// convUsers checks that this user may send to conv and returns who the
// message goes to: the other party of a direct conversation, the given
// users, or, for a group given none, the members the server lists.
func (c *Client) convUsers(ctx context.Context, conv string, users []int64) ([]int64, error) {
	me := c.user.ID
	cv, err := protocol.ParseConv(conv)
	if err != nil {
		return nil, err
	}
	switch cv.Kind {
	case protocol.Direct:
		if cv.A != me && cv.B != me {
			return nil, fmt.Errorf("you are not in direct conversation %s", conv)
		}
		users = []int64{cv.A + cv.B - me}
	case protocol.Group:
		if len(users) == 0 {
			g, err := c.Group(ctx, cv.Group)
			if err != nil {
				return nil, fmt.Errorf("group %d: %w", cv.Group, err)
			}
			for _, m := range g.Members {
				users = append(users, m.ID)
			}
		}
	case protocol.Broadcast:
		if len(users) == 0 {
			return nil, fmt.Errorf("broadcast %s needs its recipients in To", conv)
		}
	}
	return users, nil
}

// plaintext is what out encrypts: its Plaintext, or else a text message
// made of its Text and ReplyTo.
func plaintext(out Outgoing) *e2ee.Plaintext {
	if out.Plaintext != nil {
		return out.Plaintext
	}
	return &e2ee.Plaintext{Type: e2ee.TypeText, Text: out.Text, ReplyTo: out.ReplyTo}
}

// header is the unsealed part of the envelope of message id in conv,
// stamped with out's creation time or, if it has none, now.
func (c *Client) header(id, conv string, out Outgoing) protocol.Envelope {
	created := out.Created
	if created.IsZero() {
		created = time.Now()
	}
	return protocol.Envelope{
		V: protocol.EnvelopeVersion, Suite: protocol.SuiteX25519AES256, ID: id, Conv: conv,
		From:    protocol.Party{User: c.user.ID, Device: c.keys().ID()},
		Created: created.UnixMilli(), Flags: out.Flags,
	}
}

// resend returns the copy of message id that the outbox kept from an
// earlier send with the same intent, or nil if there is none. The kept
// copy gets hdr, with the first send's creation time, and body, so that
// it can be resealed if the recipients' devices have changed since.
func (c *Client) resend(id string, intent []byte, hdr protocol.Envelope, body []byte) (*Prepared, error) {
	kept, err := c.fromOutbox(id, intent)
	if err != nil || kept == nil {
		return nil, err
	}
	hdr.Created = kept.Env.Created
	kept.hdr, kept.body = hdr, body
	return kept, nil
}

// seal (re)seals p to its users' current devices and builds its frame.
func (c *Client) seal(ctx context.Context, p *Prepared) error {
	recips, err := c.recipients(ctx, p.users)
	if err != nil {
		return err
	}
	// The strongest suite every recipient device opens: a device that
	// lists an X-Wing key refuses suite 1 (ErrDowngrade).
	hdr := p.hdr
	hdr.Suite = e2ee.Suite(recips)
	env, err := e2ee.Seal(hdr, recips, p.body, c.keys().SignKey())
	if err != nil {
		return err
	}
	raw, err := json.Marshal(env)
	if err != nil {
		return err
	}
	frame := sendFrame(p.ID, raw)
	if len(frame) > protocol.MaxFrameBytes {
		return &Error{Code: protocol.CodeTooLarge, Message: fmt.Sprintf("the message is %d bytes sealed; the limit is %d", len(frame), protocol.MaxFrameBytes)}
	}
	p.Env, p.Frame, p.kept = env, frame, false
	if p.intent != nil {
		c.keep(p, raw)
	}
	return nil
}

// sendFrame wraps an encoded envelope in a send frame without re-encoding
// it. The id is a valid message id, so it needs no JSON escaping.
func sendFrame(id string, env []byte) []byte {
	frame := make([]byte, 0, len(env)+len(id)+40)
	frame = append(frame, `{"type":"send","ref":"`...)
	frame = append(frame, id...)
	frame = append(frame, `","env":`...)
	frame = append(frame, env...)
	return append(frame, '}')
}
