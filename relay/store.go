package relay

import (
	"context"
	"io"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// Store is everything the relay needs from storage. It is deliberately
// narrow, and speaks in package model's plain data types, so that a second
// implementation (PostgreSQL for a larger practice) can be added without
// touching the relay. *store.Store implements it; fakeStore, in this
// package's tests, is the in-memory one the relay's unit tests run against.
//
// The asynchronous methods queue an operation and return at once; done is
// called once it has committed (or failed), in submission order, after the
// items it queued have gone to the notifier. Implementations must keep that
// order: it is what makes a device's queue arrive in commit order and a
// sender's replies arrive in the order it sent.
type Store interface {
	SetNotifier(model.Notifier)
	Barrier(ctx context.Context) error

	// AcceptAsync marks the blobs m.Env.Blobs names as referenced in the
	// transaction that accepts m, and refuses m with model.ErrBlobGone if
	// one is not a stored blob of its sender.
	AcceptAsync(ctx context.Context, m *model.NewMessage, done func(model.AcceptResult, error)) error
	Accepted(ctx context.Context, msgID string, sender int64, digest []byte) (ts int64, ok bool, err error)
	AckAsync(ctx context.Context, user, device int64, seqs []int64, done func(error)) error
	// ReceiptAsync and RecallAsync queue the signing device's attestation
	// with the event; they check the signed conversation against the
	// message's, not the signature (clients verify it).
	ReceiptAsync(ctx context.Context, user, device int64, msgID, kind string, signed protocol.Signed, done func(error)) error
	RecallAsync(ctx context.Context, user, device int64, msgID string, signed protocol.Signed, done func(error)) error
	Details(ctx context.Context, user int64, msgID string) (*model.MessageStatus, error)
	// Pending may return fewer than limit items though more are waiting
	// (a page is bounded in bytes too); an empty page means none is.
	Pending(ctx context.Context, device, after int64, limit int) ([]model.Item, error)
	Sweep(ctx context.Context, now int64, batch int) (items, msgs int64, err error)

	// PutBlob refuses a blob past the user's quota with model.ErrLimit.
	PutBlob(ctx context.Context, user int64, r io.Reader, limit, expiresAt int64, quota model.BlobQuota) (*model.Blob, error)
	OpenBlob(ctx context.Context, id string) (*model.Blob, io.ReadCloser, error)
	// SweepBlobs deletes blobs expired by now and blobs no message
	// referenced stored before unreferencedBefore, up to batch of each.
	SweepBlobs(ctx context.Context, now, unreferencedBefore int64, batch int) (expired, unreferenced int, err error)

	ActiveDevices(ctx context.Context, user int64) ([]int64, error)
	GroupMemberIDs(ctx context.Context, group int64) ([]int64, error)
	UserByID(ctx context.Context, id int64) (*model.User, error)
	Reach(ctx context.Context, user int64) (*model.Reach, error)
	LoadPolicy(ctx context.Context) (model.Policy, error)
	AllContacts(ctx context.Context) ([][2]int64, error)
	// SetDoNotDisturb and DoNotDisturbUsers keep whose last chosen status
	// is do-not-disturb across restarts (it holds back Web Push).
	SetDoNotDisturb(ctx context.Context, user int64, on bool) error
	DoNotDisturbUsers(ctx context.Context) ([]int64, error)
	// AddContacts stores contact pairs (a < b) made without a message.
	AddContacts(ctx context.Context, pairs [][2]int64) error
	TouchDevice(ctx context.Context, id, at int64) error
}
