package client

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/curbside-health/curbside/protocol"
)

// DefaultOutbox is how many messages sent with a caller-chosen id the
// client keeps, sealed, for idempotent resends.
const DefaultOutbox = 64

// outboxEntry is a sealed message kept so that a resend under the same id
// sends the same bytes. The server recognises a resend only by identical
// envelope bytes (a fresh seal differs in every key and nonce), so a
// client that crashed before the accepted frame, or a script that runs
// `client send --id X` twice, must resend what it sealed the first time.
type outboxEntry struct {
	ID     string  `json:"id"`
	Intent []byte  `json:"intent"` // intentHash of what was sealed
	Env    []byte  `json:"env"`    // exact bytes: JSON re-indenting would change the digest
	Users  []int64 `json:"users"`
	Conv   string  `json:"conv"`
}

// intentHash identifies what a caller asked to send, apart from the
// randomness of sealing, so a reused id with other content is caught
// before it reaches the server. It is keyed with the device's public
// signing key only to keep hashes of one device apart from another's.
func intentHash(devicePub []byte, conv string, users []int64, flags uint32, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte("curbside/outbox/v1"))
	h.Write(devicePub)
	var b []byte
	b = binary.BigEndian.AppendUint32(b, uint32(len(conv)))
	b = append(b, conv...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(users)))
	for _, u := range users {
		b = binary.BigEndian.AppendUint64(b, uint64(u))
	}
	b = binary.BigEndian.AppendUint32(b, flags)
	h.Write(b)
	h.Write(body)
	return h.Sum(nil)
}

// fromOutbox returns the sealed message kept under id, if any. A kept
// message with other content is an error: the server would answer
// id_reused anyway, and failing here says so without a round trip.
func (c *Client) fromOutbox(id string, intent []byte) (*Prepared, error) {
	c.mu.Lock()
	var e *outboxEntry
	for _, x := range c.outbox {
		if x.ID == id {
			e = x
			break
		}
	}
	c.mu.Unlock()
	if e == nil {
		return nil, nil
	}
	if string(e.Intent) != string(intent) {
		return nil, &Error{Code: protocol.CodeIDReused, Message: fmt.Sprintf("message id %s was already used for a different message", id)}
	}
	env, err := protocol.ParseEnvelope(e.Env)
	if err != nil {
		return nil, fmt.Errorf("the kept copy of message %s is damaged: %w", id, err)
	}
	p := &Prepared{ID: id, Conv: e.Conv, Env: env, users: e.Users, intent: intent, kept: true}
	p.Frame = sendFrame(id, e.Env)
	return p, nil
}

// keep records a sealed message in the outbox, replacing an older seal of
// the same id and dropping the oldest entry beyond DefaultOutbox.
func (c *Client) keep(p *Prepared, raw []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.outbox {
		if x.ID == p.ID {
			c.outbox = append(c.outbox[:i], c.outbox[i+1:]...)
			break
		}
	}
	c.outbox = append(c.outbox, &outboxEntry{ID: p.ID, Intent: p.intent, Env: raw, Users: p.users, Conv: p.Conv})
	if n := len(c.outbox) - DefaultOutbox; n > 0 {
		c.outbox = append(c.outbox[:0], c.outbox[n:]...)
	}
}
