package model

import (
	"errors"
	"fmt"
)

// The errors a store returns. Callers test for them with errors.Is; an
// error may carry a reason fit to show the person who asked (see Refuse).
var (
	ErrNotFound  = errors.New("not found")                                // a looked-up row does not exist
	ErrExists    = errors.New("already exists")                           // a unique name or key is taken
	ErrConflict  = errors.New("conflict")                                 // the change contradicts the current state
	ErrForbidden = errors.New("not allowed")                              // the caller may not do this
	ErrIDReused  = errors.New("message id reused with different content") // a resend that is not the same message
	ErrGone      = errors.New("no longer valid")                          // an invitation that was used, revoked or has expired
	ErrTooLarge  = errors.New("too large")                                // a blob larger than allowed
	ErrClosed    = errors.New("store closed")                             // an operation submitted after Close
	ErrLimit     = errors.New("limit reached")                            // a per-user limit of the policy (attachments, sessions, devices)
	ErrQueueFull = errors.New("queue full")                               // a recipient device has as many items waiting as the policy allows
	ErrBlobGone  = errors.New("blob not stored")                          // a message names a blob its sender has not (or no longer) stored
	// ErrStorageFull: the disk holding the data is full (SQLite's
	// SQLITE_FULL, or ENOSPC writing a file); nothing was stored. It is
	// wrapped around the cause, which errors.As still finds.
	ErrStorageFull = errors.New("storage full")
)

// Refusal is an error of one of the kinds above with a reason that is safe
// to show to the person who asked, in words they understand ("the last
// owner cannot be disabled").
type Refusal struct {
	Kind   error
	Reason string
}

func (r *Refusal) Error() string { return r.Kind.Error() + ": " + r.Reason }

// Unwrap makes errors.Is(r, r.Kind) hold.
func (r *Refusal) Unwrap() error { return r.Kind }

// Refuse returns a Refusal of kind with a formatted reason.
func Refuse(kind error, format string, a ...any) error {
	return &Refusal{Kind: kind, Reason: fmt.Sprintf(format, a...)}
}

// ReasonOf returns the reason err carries, or fallback when it has none.
func ReasonOf(err error, fallback string) string {
	var r *Refusal
	if errors.As(err, &r) && r.Reason != "" {
		return r.Reason
	}
	return fallback
}
