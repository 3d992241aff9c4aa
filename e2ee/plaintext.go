package e2ee

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Plaintext types. A client shows the types it knows and a placeholder for
// the rest, so new types (attachments, alerts) can ship before every client
// understands them.
const (
	TypeText = "text"
)

// Plaintext is what a message body decrypts to: a JSON object with a type
// and the type's fields. Unknown fields are ignored when decoding, so later
// versions can add fields (an attachment's key and hash) without breaking
// older clients.
type Plaintext struct {
	Type        string       `json:"type"`
	Text        string       `json:"text,omitempty"`
	ReplyTo     string       `json:"reply_to,omitempty"` // id of the message this one answers
	Attachments []Attachment `json:"attachments,omitempty"`
	Forwarded   *Forwarded   `json:"forwarded,omitempty"`
	// Quote is what a reply shows of the message ReplyTo names, so that
	// the reply reads well where the original has expired or never came.
	Quote *Quote `json:"quote,omitempty"`
	// Mentions are the users a group message names with @: their apps
	// alert them even in a conversation they muted.
	Mentions []int64 `json:"mentions,omitempty"`
}

// Quote is an excerpt of the message a reply answers: who sent it and at
// most MaxQuoteChars characters of its text (or its first attachment's
// name). A receiver shortens a longer one.
type Quote struct {
	From int64  `json:"from"`
	Text string `json:"text,omitempty"`
}

// Limits of the reply and mention fields; a receiver ignores what is past
// them.
const (
	MaxQuoteChars = 200 // characters (Unicode code points) of a quote's text
	MaxMentions   = 64  // users one message mentions
)

// Forwarded marks a message forwarded from another conversation.
type Forwarded struct {
	From int64  `json:"from"` // the original sender
	ID   string `json:"id"`   // the original message id
	Sent int64  `json:"sent"` // the original acceptance time, ms
}

// Marshal encodes p for Seal.
func (p *Plaintext) Marshal() ([]byte, error) {
	if p.Type == "" {
		return nil, errors.New("e2ee: plaintext needs a type")
	}
	return json.Marshal(p)
}

// ParsePlaintext decodes an opened body.
func ParsePlaintext(b []byte) (*Plaintext, error) {
	var p Plaintext
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("e2ee: message body is not a JSON object: %w", err)
	}
	if p.Type == "" {
		return nil, errors.New("e2ee: message body has no type")
	}
	return &p, nil
}
