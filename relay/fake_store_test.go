package relay

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// fakeStore is an in-memory Store for the relay's tests. It keeps the
// contract the interface documents: asynchronous operations run one at a
// time on a writer goroutine in submission order; a committed operation's
// queue items go to the notifier before its done is called; seqs are
// assigned in commit order; a message id is idempotent for the same sender
// and digest and refused with model.ErrIDReused otherwise; acks delete;
// after Close, submissions fail with model.ErrClosed.
//
// Tests can pause the writer (submissions queue up, nothing commits), make
// operations fail, and look at what is queued.
type fakeStore struct {
	mu       sync.Mutex
	notify   model.Notifier
	seq      int64
	queues   map[int64][]model.Item // device → items, ascending seq
	itemMsg  map[[2]int64]string    // (device, seq) → message id, for message items
	msgs     map[string]*fakeMsg
	users    map[int64]*model.User
	devices  map[int64][]int64 // user → active devices, ascending
	groups   map[int64][]int64 // group → members
	policy   model.Policy
	contacts map[[2]int64]bool
	dnd      map[int64]bool
	links    map[int64]map[int64]bool // user → users linked by an assignment
	blobs    map[string]fakeBlob
	touched  map[int64]int

	// Failure injection; nil: no failure. submit is returned by the
	// asynchronous method (done is then not called); done is passed to done.
	failAccept  func(m *model.NewMessage) (submit, done error)
	failAck     func(device int64, seqs []int64) (submit, done error)
	failPending func(device, after int64) error
	failBarrier error

	// Observations.
	pendingCalls map[int64]int // device → Pending calls
	accepts      int           // AcceptAsync calls that were queued
	outstanding  int           // queued operations not yet committed
	maxOutstand  int           // the most outstanding at once

	// The writer.
	wmu     sync.Mutex
	wcond   *sync.Cond
	ops     []fakeOp
	paused  bool
	closed  bool
	stopped chan struct{}
}

type fakeOp struct {
	fn   func() ([]model.Item, error) // runs under mu
	done func(error)
}

type fakeMsg struct {
	id, conv   string
	sender     int64
	digest     []byte
	created    int64
	ts         int64
	flags      uint32
	recipients []int64
	devices    []int64
	recalled   bool
	receipts   map[int64]map[string]int64 // user → kind → at
}

type fakeBlob struct {
	meta       model.Blob
	data       []byte
	referenced bool
}

func newFakeStore() *fakeStore {
	f := &fakeStore{
		queues: map[int64][]model.Item{}, itemMsg: map[[2]int64]string{}, msgs: map[string]*fakeMsg{},
		users: map[int64]*model.User{}, devices: map[int64][]int64{}, groups: map[int64][]int64{},
		policy: model.DefaultPolicy, contacts: map[[2]int64]bool{}, dnd: map[int64]bool{}, blobs: map[string]fakeBlob{},
		touched: map[int64]int{}, pendingCalls: map[int64]int{}, stopped: make(chan struct{}),
	}
	f.wcond = sync.NewCond(&f.wmu)
	go f.writer()
	return f
}

// Directory set-up.

func (f *fakeStore) addUser(id int64, name string, devices ...int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[id] = &model.User{ID: id, Username: name, Display: name, Role: model.RoleStaff, State: model.StateActive}
	f.devices[id] = slices.Sorted(slices.Values(devices))
}

func (f *fakeStore) setRole(user int64, role string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[user].Role = role
}

// link assigns b to a (and so a to b).
func (f *fakeStore) link(a, b int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.links == nil {
		f.links = map[int64]map[int64]bool{}
	}
	for _, p := range [][2]int64{{a, b}, {b, a}} {
		if f.links[p[0]] == nil {
			f.links[p[0]] = map[int64]bool{}
		}
		f.links[p[0]][p[1]] = true
	}
}

func (f *fakeStore) setDevices(user int64, devices ...int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.devices[user] = slices.Sorted(slices.Values(devices))
}

func (f *fakeStore) setGroup(id int64, members ...int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups[id] = slices.Clone(members)
}

// Writer control.

// pause stops the writer before its next operation; submissions queue up.
func (f *fakeStore) pause() {
	f.wmu.Lock()
	f.paused = true
	f.wmu.Unlock()
}

func (f *fakeStore) resume() {
	f.wmu.Lock()
	f.paused = false
	f.wmu.Unlock()
	f.wcond.Broadcast()
}

// Close stops the writer after the operations already submitted.
func (f *fakeStore) Close() {
	f.wmu.Lock()
	f.closed = true
	f.paused = false
	f.wmu.Unlock()
	f.wcond.Broadcast()
	<-f.stopped
}

func (f *fakeStore) writer() {
	defer close(f.stopped)
	for {
		f.wmu.Lock()
		for (len(f.ops) == 0 || f.paused) && !(f.closed && len(f.ops) == 0) {
			f.wcond.Wait()
		}
		if len(f.ops) == 0 {
			f.wmu.Unlock()
			return
		}
		op := f.ops[0]
		f.ops = f.ops[1:]
		f.wmu.Unlock()

		f.mu.Lock()
		items, err := op.fn()
		notify := f.notify
		f.outstanding-- // committed (or failed); done may start the next
		f.mu.Unlock()
		if err == nil && notify != nil && len(items) > 0 {
			notify(items)
		}
		op.done(err)
	}
}

func (f *fakeStore) submit(fn func() ([]model.Item, error), done func(error)) error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if f.closed {
		return model.ErrClosed
	}
	f.mu.Lock()
	f.outstanding++
	f.maxOutstand = max(f.maxOutstand, f.outstanding)
	f.mu.Unlock()
	f.ops = append(f.ops, fakeOp{fn, done})
	f.wcond.Signal()
	return nil
}

// queue appends an item for device with the next seq; call under mu.
func (f *fakeStore) queue(device int64, it model.Item, msgID string) model.Item {
	f.seq++
	it.Device, it.Seq = device, f.seq
	if it.Event != nil {
		ev := *it.Event
		ev.Seq = f.seq
		it.Event = &ev
	} else {
		f.itemMsg[[2]int64{device, f.seq}] = msgID
	}
	f.queues[device] = append(f.queues[device], it)
	return it
}

// Observations for tests.

// queued returns the seqs queued for device, ascending.
func (f *fakeStore) queued(device int64) []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int64
	for _, it := range f.queues[device] {
		out = append(out, it.Seq)
	}
	return out
}

func (f *fakeStore) pendingCallsOf(device int64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pendingCalls[device]
}

func (f *fakeStore) acceptCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.accepts
}

func (f *fakeStore) maxOutstanding() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxOutstand
}

// The Store interface.

func (f *fakeStore) SetNotifier(n model.Notifier) {
	f.mu.Lock()
	f.notify = n
	f.mu.Unlock()
}

func (f *fakeStore) Barrier(ctx context.Context) error {
	f.mu.Lock()
	fail := f.failBarrier
	f.mu.Unlock()
	if fail != nil {
		return fail
	}
	ch := make(chan error, 1)
	if err := f.submit(func() ([]model.Item, error) { return nil, nil }, func(err error) { ch <- err }); err != nil {
		return err
	}
	return <-ch
}

func (f *fakeStore) AcceptAsync(ctx context.Context, m *model.NewMessage, done func(model.AcceptResult, error)) error {
	f.mu.Lock()
	var submitErr, doneErr error
	if f.failAccept != nil {
		submitErr, doneErr = f.failAccept(m)
	}
	if submitErr == nil {
		f.accepts++
	}
	f.mu.Unlock()
	if submitErr != nil {
		return submitErr
	}
	var res model.AcceptResult
	return f.submit(func() ([]model.Item, error) {
		res = model.AcceptResult{}
		if doneErr != nil {
			return nil, doneErr
		}
		if old := f.msgs[m.Env.ID]; old != nil {
			if old.sender != m.Env.From.User || !bytes.Equal(old.digest, m.Digest) {
				return nil, model.ErrIDReused
			}
			res = model.AcceptResult{TS: old.ts, Dup: true}
			return nil, nil
		}
		now := time.Now().UnixMilli()
		for _, id := range m.Env.Blobs {
			if b, ok := f.blobs[id]; !ok || b.meta.User != m.Env.From.User || b.meta.ExpiresAt <= now {
				return nil, model.Refuse(model.ErrBlobGone, "an attachment is not stored")
			}
		}
		for _, id := range m.Env.Blobs {
			b := f.blobs[id]
			b.referenced = true
			f.blobs[id] = b
		}
		f.msgs[m.Env.ID] = &fakeMsg{id: m.Env.ID, conv: m.Env.Conv, sender: m.Env.From.User, digest: slices.Clone(m.Digest),
			created: m.Env.Created, ts: now, flags: m.Env.Flags, recipients: slices.Clone(m.Recipients),
			devices: slices.Clone(m.Deliver), receipts: map[int64]map[string]int64{}}
		var items []model.Item
		for _, d := range m.Deliver {
			items = append(items, f.queue(d, model.Item{TS: now, Env: slices.Clone(m.Raw)}, m.Env.ID))
		}
		for _, p := range m.Contacts {
			f.contacts[p] = true
		}
		res.TS = now
		return items, nil
	}, func(err error) { done(res, err) })
}

func (f *fakeStore) Accepted(ctx context.Context, msgID string, sender int64, digest []byte) (int64, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.msgs[msgID]
	if m == nil {
		return 0, false, nil
	}
	return m.ts, m.sender == sender && bytes.Equal(m.digest, digest), nil
}

func (f *fakeStore) AckAsync(ctx context.Context, user, device int64, seqs []int64, done func(error)) error {
	f.mu.Lock()
	var submitErr, doneErr error
	if f.failAck != nil {
		submitErr, doneErr = f.failAck(device, seqs)
	}
	f.mu.Unlock()
	if submitErr != nil {
		return submitErr
	}
	seqs = slices.Clone(seqs)
	return f.submit(func() ([]model.Item, error) {
		if doneErr != nil {
			return nil, doneErr
		}
		var items []model.Item
		now := time.Now().UnixMilli()
		for _, seq := range seqs {
			q := f.queues[device]
			i := slices.IndexFunc(q, func(it model.Item) bool { return it.Seq == seq })
			if i < 0 {
				continue // acks are idempotent
			}
			f.queues[device] = slices.Delete(q, i, i+1)
			key := [2]int64{device, seq}
			id, isMsg := f.itemMsg[key]
			delete(f.itemMsg, key)
			if !isMsg {
				continue
			}
			if m := f.msgs[id]; m != nil && m.sender != user {
				items = append(items, f.receipt(m, user, device, protocol.ReceiptDelivered, now, false)...)
			}
		}
		return items, nil
	}, done)
}

// receipt records a receipt the first time and queues it for the sender's
// devices (and the recipient's other devices); call under mu.
func (f *fakeStore) receipt(m *fakeMsg, user, device int64, kind string, now int64, toOwn bool) []model.Item {
	return f.signedReceipt(m, user, device, kind, nil, now, toOwn)
}

// signedReceipt is receipt carrying a device's attestation; a signed
// delivered receipt is recorded apart from the server's unsigned one.
func (f *fakeStore) signedReceipt(m *fakeMsg, user, device int64, kind string, signed *protocol.Signed, now int64, toOwn bool) []model.Item {
	if m.receipts[user] == nil {
		m.receipts[user] = map[string]int64{}
	}
	key := kind
	if signed != nil && kind == protocol.ReceiptDelivered {
		key = "delivered, signed"
	}
	if m.receipts[user][key] != 0 {
		return nil
	}
	m.receipts[user][key] = now
	ev := &protocol.Event{Type: protocol.TReceipt, Msg: m.id, User: user, Device: device, Kind: kind, TS: now}
	if signed != nil {
		ev.Conv, ev.At, ev.Sig = signed.Conv, signed.At, signed.Sig
	}
	targets := slices.Clone(f.devices[m.sender])
	if toOwn {
		for _, d := range f.devices[user] {
			if d != device {
				targets = append(targets, d)
			}
		}
	}
	var items []model.Item
	for _, d := range targets {
		items = append(items, f.queue(d, model.Item{Event: ev}, ""))
	}
	return items
}

func (f *fakeStore) ReceiptAsync(ctx context.Context, user, device int64, msgID, kind string, signed protocol.Signed, done func(error)) error {
	return f.submit(func() ([]model.Item, error) {
		m := f.msgs[msgID]
		if m == nil {
			return nil, model.ErrNotFound
		}
		if !slices.Contains(m.recipients, user) {
			return nil, model.Refuse(model.ErrForbidden, "you are not a recipient of this message")
		}
		if kind == protocol.ReceiptAcknowledged && m.flags&protocol.FlagAckRequested == 0 {
			return nil, model.Refuse(model.ErrForbidden, "this message did not request acknowledgement")
		}
		if signed.Conv != m.conv {
			return nil, model.Refuse(model.ErrForbidden, "the receipt names another conversation than the message's")
		}
		now := time.Now().UnixMilli()
		items := f.receipt(m, user, device, protocol.ReceiptDelivered, now, false)
		return append(items, f.signedReceipt(m, user, device, kind, &signed, now, kind != protocol.ReceiptDelivered)...), nil
	}, done)
}

func (f *fakeStore) RecallAsync(ctx context.Context, user, device int64, msgID string, signed protocol.Signed, done func(error)) error {
	return f.submit(func() ([]model.Item, error) {
		m := f.msgs[msgID]
		if m == nil {
			return nil, model.ErrNotFound
		}
		if m.sender != user {
			return nil, model.Refuse(model.ErrForbidden, "only the sender can recall a message")
		}
		if signed.Conv != m.conv {
			return nil, model.Refuse(model.ErrForbidden, "the recall names another conversation than the message's")
		}
		if m.recalled {
			return nil, nil
		}
		m.recalled = true
		ev := &protocol.Event{Type: protocol.TRecall, Msg: msgID, User: user, Device: device, TS: time.Now().UnixMilli(),
			Conv: signed.Conv, At: signed.At, Sig: signed.Sig}
		var items []model.Item
		for _, d := range m.devices {
			f.queues[d] = slices.DeleteFunc(f.queues[d], func(it model.Item) bool {
				return it.Event == nil && f.itemMsg[[2]int64{d, it.Seq}] == msgID
			})
			items = append(items, f.queue(d, model.Item{Event: ev}, ""))
		}
		return items, nil
	}, done)
}

func (f *fakeStore) Details(ctx context.Context, user int64, msgID string) (*model.MessageStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.msgs[msgID]
	if m == nil {
		return nil, model.ErrNotFound
	}
	if m.sender != user {
		return nil, model.Refuse(model.ErrForbidden, "only the sender can see a message's details")
	}
	d := &model.MessageStatus{Msg: m.id, Conv: m.conv, Created: m.created, Accepted: m.ts,
		AckRequested: m.flags&protocol.FlagAckRequested != 0, Recalled: m.recalled}
	for _, u := range m.recipients {
		r := m.receipts[u]
		d.Recipients = append(d.Recipients, model.RecipientStatus{User: u, Delivered: r[protocol.ReceiptDelivered],
			Read: r[protocol.ReceiptRead], Acknowledged: r[protocol.ReceiptAcknowledged]})
	}
	return d, nil
}

func (f *fakeStore) Pending(ctx context.Context, device, after int64, limit int) ([]model.Item, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pendingCalls[device]++
	if f.failPending != nil {
		if err := f.failPending(device, after); err != nil {
			return nil, err
		}
	}
	var out []model.Item
	for _, it := range f.queues[device] {
		if it.Seq <= after {
			continue
		}
		if len(out) == limit {
			break
		}
		if it.Event != nil {
			ev := *it.Event
			it.Event = &ev
		}
		out = append(out, it)
	}
	return out, nil
}

func (f *fakeStore) Sweep(ctx context.Context, now int64, batch int) (int64, int64, error) {
	return 0, 0, nil
}

func (f *fakeStore) PutBlob(ctx context.Context, user int64, r io.Reader, limit, expiresAt int64, quota model.BlobQuota) (*model.Blob, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, model.ErrTooLarge
	}
	var id [16]byte
	rand.Read(id[:])
	b := model.Blob{ID: hex.EncodeToString(id[:]), User: user, Size: int64(len(data)), CreatedAt: time.Now().UnixMilli(), ExpiresAt: expiresAt}
	f.mu.Lock()
	defer f.mu.Unlock()
	count, used := 0, int64(0)
	for _, o := range f.blobs {
		if o.meta.User == user {
			count, used = count+1, used+o.meta.Size
		}
	}
	if quota.Count > 0 && count+1 > quota.Count || quota.Bytes > 0 && used+b.Size > quota.Bytes {
		return nil, model.Refuse(model.ErrLimit, "over the quota")
	}
	f.blobs[b.ID] = fakeBlob{meta: b, data: data}
	return &b, nil
}

func (f *fakeStore) OpenBlob(ctx context.Context, id string) (*model.Blob, io.ReadCloser, error) {
	f.mu.Lock()
	b, ok := f.blobs[id]
	f.mu.Unlock()
	if !ok {
		return nil, nil, model.ErrNotFound
	}
	return &b.meta, io.NopCloser(bytes.NewReader(b.data)), nil
}

func (f *fakeStore) SweepBlobs(ctx context.Context, now, unreferencedBefore int64, batch int) (expired, unreferenced int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, b := range f.blobs {
		switch {
		case b.meta.ExpiresAt <= now && expired < batch:
			expired++
		case !b.referenced && b.meta.CreatedAt < unreferencedBefore && unreferenced < batch:
			unreferenced++
		default:
			continue
		}
		delete(f.blobs, id)
	}
	return expired, unreferenced, nil
}

func (f *fakeStore) ActiveDevices(ctx context.Context, user int64) ([]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64{}, f.devices[user]...), nil // never nil, like the real store
}

func (f *fakeStore) GroupMemberIDs(ctx context.Context, group int64) ([]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.groups[group]
	if !ok {
		return nil, model.ErrNotFound
	}
	return slices.Clone(m), nil
}

func (f *fakeStore) UserByID(ctx context.Context, id int64) (*model.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[id]
	if !ok {
		return nil, model.ErrNotFound
	}
	c := *u
	return &c, nil
}

func (f *fakeStore) Reach(ctx context.Context, user int64) (*model.Reach, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := &model.Reach{User: user, Links: maps.Clone(f.links[user])}
	if u, ok := f.users[user]; ok {
		r.Role = u.Role
	}
	return r, nil
}

func (f *fakeStore) LoadPolicy(ctx context.Context) (model.Policy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.policy, nil
}

func (f *fakeStore) AddContacts(ctx context.Context, pairs [][2]int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range pairs {
		f.contacts[p] = true
	}
	return nil
}

func (f *fakeStore) SetDoNotDisturb(ctx context.Context, user int64, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if on {
		f.dnd[user] = true
	} else {
		delete(f.dnd, user)
	}
	return nil
}

func (f *fakeStore) DoNotDisturbUsers(ctx context.Context) ([]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int64
	for u := range f.dnd {
		out = append(out, u)
	}
	return out, nil
}

func (f *fakeStore) AllContacts(ctx context.Context) ([][2]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][2]int64
	for p := range f.contacts {
		out = append(out, p)
	}
	return out, nil
}

func (f *fakeStore) TouchDevice(ctx context.Context, id, at int64) error {
	f.mu.Lock()
	f.touched[id]++
	f.mu.Unlock()
	return nil
}

var _ Store = (*fakeStore)(nil)

// Tests of the fake against the Store contract, so the relay's tests rest
// on a store that behaves like the real one.

func fakeMessage(id string, sender int64, body string, deliver ...int64) *model.NewMessage {
	raw := []byte(`{"id":"` + id + `","body":"` + body + `"}`)
	sum := sha256Sum(raw)
	return &model.NewMessage{
		Env: &protocol.Envelope{ID: id, Conv: protocol.DirectConv(sender, 2), From: protocol.Party{User: sender, Device: sender*10 + 1}, Created: 1},
		Raw: raw, Digest: sum, Recipients: []int64{2}, Deliver: deliver,
	}
}

func acceptWait(t *testing.T, f *fakeStore, m *model.NewMessage) (model.AcceptResult, error) {
	t.Helper()
	type out struct {
		res model.AcceptResult
		err error
	}
	ch := make(chan out, 1)
	if err := f.AcceptAsync(context.Background(), m, func(r model.AcceptResult, err error) { ch <- out{r, err} }); err != nil {
		return model.AcceptResult{}, err
	}
	o := <-ch
	return o.res, o.err
}

func TestFakeStoreDoneInSubmissionOrderAfterNotifier(t *testing.T) {
	f := newFakeStore()
	defer f.Close()
	var mu sync.Mutex
	var events []string
	f.SetNotifier(func(items []model.Item) {
		mu.Lock()
		defer mu.Unlock()
		for _, it := range items {
			events = append(events, fmt.Sprint("notify ", it.Seq))
		}
	})
	f.pause() // everything below is submitted before anything commits
	var wg sync.WaitGroup
	for i, id := range []string{"aaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaa2", "aaaaaaaaaaaaaaa3"} {
		wg.Add(1)
		err := f.AcceptAsync(context.Background(), fakeMessage(id, 1, "x", 21), func(r model.AcceptResult, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("accept %d: %v", i, err)
			}
			events = append(events, fmt.Sprint("done ", i+1))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	f.resume()
	wg.Wait()
	want := []string{"notify 1", "done 1", "notify 2", "done 2", "notify 3", "done 3"}
	if !slices.Equal(events, want) {
		t.Fatalf("events %q, want %q", events, want)
	}
}

func TestFakeStoreIdempotentIDs(t *testing.T) {
	f := newFakeStore()
	defer f.Close()
	first, err := acceptWait(t, f, fakeMessage("bbbbbbbbbbbbbbb1", 1, "x", 21))
	if err != nil || first.Dup {
		t.Fatalf("first accept: %+v, %v", first, err)
	}
	again, err := acceptWait(t, f, fakeMessage("bbbbbbbbbbbbbbb1", 1, "x", 21))
	if err != nil || !again.Dup || again.TS != first.TS {
		t.Fatalf("resend: %+v, %v; want dup with ts %d", again, err, first.TS)
	}
	if got := f.queued(21); len(got) != 1 {
		t.Fatalf("resend queued again: %v", got)
	}
	if _, err := acceptWait(t, f, fakeMessage("bbbbbbbbbbbbbbb1", 1, "other", 21)); !errors.Is(err, model.ErrIDReused) {
		t.Fatalf("same id, other content: %v, want ErrIDReused", err)
	}
	if _, err := acceptWait(t, f, fakeMessage("bbbbbbbbbbbbbbb1", 3, "x", 21)); !errors.Is(err, model.ErrIDReused) {
		t.Fatalf("same id, other sender: %v, want ErrIDReused", err)
	}
}

func TestFakeStorePendingAndAck(t *testing.T) {
	f := newFakeStore()
	defer f.Close()
	f.addUser(1, "alice", 11)
	f.addUser(2, "bob", 21)
	for _, id := range []string{"ccccccccccccccc1", "ccccccccccccccc2", "ccccccccccccccc3"} {
		if _, err := acceptWait(t, f, fakeMessage(id, 1, "x", 21)); err != nil {
			t.Fatal(err)
		}
	}
	all, _ := f.Pending(context.Background(), 21, 0, 10)
	if len(all) != 3 || all[0].Seq >= all[1].Seq || all[1].Seq >= all[2].Seq {
		t.Fatalf("pending: %+v", all)
	}
	after, _ := f.Pending(context.Background(), 21, all[0].Seq, 10)
	if len(after) != 2 || after[0].Seq != all[1].Seq {
		t.Fatalf("pending after %d: %+v", all[0].Seq, after)
	}
	if page, _ := f.Pending(context.Background(), 21, 0, 2); len(page) != 2 {
		t.Fatalf("limit 2 gave %d items", len(page))
	}
	ch := make(chan error, 1)
	if err := f.AckAsync(context.Background(), 2, 21, []int64{all[1].Seq, 999}, func(err error) { ch <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-ch; err != nil {
		t.Fatal(err)
	}
	if got, want := f.queued(21), []int64{all[0].Seq, all[2].Seq}; !slices.Equal(got, want) {
		t.Fatalf("after ack: %v, want %v", got, want)
	}
	// The first ack of a message by a recipient queues a delivered receipt
	// for the sender's devices.
	ev, _ := f.Pending(context.Background(), 11, 0, 10)
	if len(ev) != 1 || ev[0].Event == nil || ev[0].Event.Kind != protocol.ReceiptDelivered || ev[0].Event.Seq != ev[0].Seq {
		t.Fatalf("sender's queue after ack: %+v", ev)
	}
}

func TestFakeStoreClosed(t *testing.T) {
	f := newFakeStore()
	f.Close()
	if err := f.AcceptAsync(context.Background(), fakeMessage("ddddddddddddddd1", 1, "x", 21), func(model.AcceptResult, error) {
		t.Error("done called after a refused submission")
	}); !errors.Is(err, model.ErrClosed) {
		t.Fatalf("accept after close: %v", err)
	}
	if err := f.Barrier(context.Background()); !errors.Is(err, model.ErrClosed) {
		t.Fatalf("barrier after close: %v", err)
	}
}
