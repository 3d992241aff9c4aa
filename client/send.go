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
	id := out.ID
	if id == "" {
		id = e2ee.NewID()
	}
	if !protocol.ValidID(id) {
		return nil, fmt.Errorf("message id %q must be %d-%d characters of A-Z a-z 0-9 _ -", id, protocol.MinIDLen, protocol.MaxIDLen)
	}
	me := c.user.ID
	users := slices.Clone(out.To)
	conv := out.Conv
	if conv == "" {
		switch {
		case len(users) == 0:
			return nil, errors.New("a message needs a conversation or at least one recipient")
		case len(users) == 1:
			if users[0] == me {
				return nil, errors.New("a direct message needs another user; to reach only your own devices, use a broadcast")
			}
			conv = protocol.DirectConv(me, users[0])
		default:
			conv = protocol.BroadcastConv(me, id)
		}
	}
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
	slices.Sort(users)
	users = slices.Compact(users)
	users = slices.DeleteFunc(users, func(u int64) bool { return u == me })

	pt := out.Plaintext
	if pt == nil {
		pt = &e2ee.Plaintext{Type: e2ee.TypeText, Text: out.Text, ReplyTo: out.ReplyTo}
	}
	body, err := pt.Marshal()
	if err != nil {
		return nil, err
	}
	created := out.Created
	if created.IsZero() {
		created = time.Now()
	}
	hdr := protocol.Envelope{
		V: 1, Suite: protocol.SuiteX25519AES256, ID: id, Conv: conv,
		From:    protocol.Party{User: me, Device: c.keys.ID()},
		Created: created.UnixMilli(), Flags: out.Flags,
	}
	var intent []byte
	if out.ID != "" {
		// A caller-chosen id may be a resend: send the very bytes sealed
		// the first time, which is the only thing the server takes as one.
		intent = intentHash(c.keys.SignPublic(), conv, users, out.Flags, body)
		kept, err := c.fromOutbox(id, intent)
		if err != nil {
			return nil, err
		}
		if kept != nil {
			hdr.Created = kept.Env.Created
			kept.hdr, kept.body = hdr, body
			return kept, nil
		}
	}
	p := &Prepared{ID: id, Conv: conv, users: users, body: body, hdr: hdr, intent: intent}
	if err := c.seal(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// seal (re)seals p to its users' current devices and builds its frame.
func (c *Client) seal(ctx context.Context, p *Prepared) error {
	recips, err := c.recipients(ctx, p.users)
	if err != nil {
		return err
	}
	env, err := e2ee.Seal(p.hdr, recips, p.body, c.keys.SignKey())
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
