package relay

import (
	"context"
	"io"

	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// Store is everything the relay needs from storage. It is deliberately
// narrow, and speaks in the store package's plain data types, so that a
// second implementation (PostgreSQL for a larger practice) can be added
// without touching the relay. *store.Store implements it.
//
// The asynchronous methods queue an operation and return at once; done is
// called once it has committed (or failed), in submission order, after the
// items it queued have gone to the notifier. Implementations must keep that
// order: it is what makes a device's queue arrive in commit order and a
// sender's replies arrive in the order it sent.
type Store interface {
	SetNotifier(store.Notifier)
	Barrier(ctx context.Context) error

	AcceptAsync(ctx context.Context, m *store.NewMessage, done func(store.AcceptResult, error)) error
	Accepted(ctx context.Context, msgID string, sender int64, digest []byte) (ts int64, ok bool, err error)
	AckAsync(ctx context.Context, user, device int64, seqs []int64, done func(error)) error
	ReceiptAsync(ctx context.Context, user, device int64, msgID, kind string, done func(error)) error
	RecallAsync(ctx context.Context, user int64, msgID string, done func(error)) error
	Details(ctx context.Context, user int64, msgID string) (*protocol.Details, error)
	Pending(ctx context.Context, device, after int64, limit int) ([]store.Item, error)
	Sweep(ctx context.Context, now int64, batch int) (items, msgs int64, err error)

	PutBlob(ctx context.Context, user int64, r io.Reader, limit, expiresAt int64) (*store.Blob, error)
	OpenBlob(ctx context.Context, id string) (*store.Blob, io.ReadCloser, error)
	SweepBlobs(ctx context.Context, now int64, batch int) (int, error)

	ActiveDevices(ctx context.Context, user int64) ([]int64, error)
	GroupMemberIDs(ctx context.Context, group int64) ([]int64, error)
	UserByID(ctx context.Context, id int64) (*store.User, error)
	LoadPolicy(ctx context.Context) (store.Policy, error)
	AllContacts(ctx context.Context) ([][2]int64, error)
	TouchDevice(ctx context.Context, id, at int64) error
}

var _ Store = (*store.Store)(nil)
