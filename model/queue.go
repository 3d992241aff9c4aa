package model

import "github.com/curbside-health/curbside/protocol"

// Item is one entry of a device's queue: a message or an event.
type Item struct {
	Device int64
	Seq    int64
	TS     int64           // message: server acceptance time
	Env    []byte          // message: the envelope as the sender sent it
	Event  *protocol.Event // event: a receipt or a recall, with Seq set
	// Member is a group membership event, with Seq set (an item is a
	// message, an Event or a Member).
	Member *protocol.MemberEvent
}

// NewMessage is a message the relay has validated and authorised.
type NewMessage struct {
	Env        *protocol.Envelope
	Raw        []byte     // the envelope's JSON, stored and forwarded as is
	Digest     []byte     // SHA-256 of Raw
	Recipients []int64    // recipient users, without the sender
	Deliver    []int64    // devices to queue it for: recipients' and the sender's other devices
	ExpiresAt  int64      // ms
	Contacts   [][2]int64 // user pairs not yet known as contacts
	// MaxQueued is how many items a device may have waiting; a message to
	// a device that has as many is refused whole with ErrQueueFull (0: no
	// limit). Nothing already accepted is dropped to make room.
	MaxQueued int
}

// AcceptResult is what accepting a message reports.
type AcceptResult struct {
	TS  int64 // the server's acceptance time, ms
	Dup bool  // the message was already accepted (a resend)
}

// Notifier receives queue items right after the transaction that created
// them commits, in commit order, on the store's writer goroutine. It must
// not block.
type Notifier func(items []Item)

// MessageStatus is what the server knows of a message its sender asks
// about: its metadata and, per recipient, when each receipt arrived.
type MessageStatus struct {
	Msg          string
	Conv         string
	Created      int64 // the sender's creation time, ms
	Accepted     int64 // the server's acceptance time, ms
	AckRequested bool
	Recalled     bool
	Recipients   []RecipientStatus
}

// RecipientStatus is one recipient's receipt times (ms; 0: not yet).
type RecipientStatus struct {
	User         int64
	Delivered    int64
	Read         int64
	Acknowledged int64
}
