package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

func openTest(t *testing.T) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func addUser(t *testing.T, s *Store, name string) int64 {
	t.Helper()
	u := &model.User{Username: name, Display: name, Role: model.RoleStaff, State: model.StateActive, PasswordHash: "x"}
	if err := s.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// addDevice inserts a device directly; registration proper is tested in admin.
func addDevice(t *testing.T, s *Store, user, id int64) {
	t.Helper()
	err := s.submit(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO devices (id, user_id, name, enc_key, sign_key, created_at, last_seen) VALUES (?, ?, 'd', x'00', x'00', 0, 0)`, id, user)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func newMsg(id string, from, fromDev int64, recipients []int64, deliver []int64) *model.NewMessage {
	env := &protocol.Envelope{V: 1, Suite: 1, ID: id, Conv: protocol.DirectConv(from, recipients[0]),
		From: protocol.Party{User: from, Device: fromDev}, Created: 1, Flags: protocol.FlagAckRequested}
	raw := []byte(fmt.Sprintf(`{"id":%q}`, id))
	sum := sha256.Sum256(raw)
	return &model.NewMessage{Env: env, Raw: raw, Digest: sum[:], Recipients: recipients, Deliver: deliver,
		ExpiresAt: time.Now().Add(time.Hour).UnixMilli()}
}

func TestMessageLifecycle(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	var mu sync.Mutex
	var notified []model.Item
	s.SetNotifier(func(items []model.Item) { mu.Lock(); notified = append(notified, items...); mu.Unlock() })
	alice, bob := addUser(t, s, "alice"), addUser(t, s, "bob")
	addDevice(t, s, alice, 11)
	addDevice(t, s, alice, 12)
	addDevice(t, s, bob, 21)

	m := newMsg("AAAAAAAAAAAAAAAAAAAA", alice, 11, []int64{bob}, []int64{21, 12})
	res, err := s.Accept(ctx, m)
	if err != nil || res.Dup || res.TS == 0 {
		t.Fatalf("accept: %+v %v", res, err)
	}
	// A resend of the same bytes is a duplicate with the original time.
	again, err := s.Accept(ctx, m)
	if err != nil || !again.Dup || again.TS != res.TS {
		t.Fatalf("resend: %+v %v", again, err)
	}
	// The same id with other bytes is refused.
	other := newMsg("AAAAAAAAAAAAAAAAAAAA", alice, 11, []int64{bob}, []int64{21})
	other.Digest = []byte("different")
	if _, err := s.Accept(ctx, other); !errors.Is(err, model.ErrIDReused) {
		t.Fatalf("reused id: %v", err)
	}
	mu.Lock()
	if len(notified) != 2 {
		t.Fatalf("notified %d items, want 2 (one per device, none for the resend)", len(notified))
	}
	mu.Unlock()

	items, err := s.Pending(ctx, 21, 0, 10)
	if err != nil || len(items) != 1 || string(items[0].Env) != string(m.Raw) {
		t.Fatalf("pending: %+v %v", items, err)
	}
	if err := s.Ack(ctx, bob, 21, []int64{items[0].Seq}); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Pending(ctx, 21, 0, 10); len(again) != 0 {
		t.Fatalf("still pending after ack: %+v", again)
	}
	// Bob's ack queued a delivered receipt for both of Alice's devices.
	for _, dev := range []int64{11, 12} {
		items, _ := s.Pending(ctx, dev, 0, 10)
		var got []string
		for _, it := range items {
			if it.Event != nil {
				got = append(got, it.Event.Kind)
			}
		}
		if len(got) != 1 || got[0] != protocol.ReceiptDelivered {
			t.Fatalf("device %d events %v, want one delivered receipt", dev, got)
		}
	}
	_, withCT, _ := s.QueueDepth(ctx)
	if withCT != 1 {
		t.Fatalf("ciphertext rows = %d; alice's other device has not acked yet", withCT)
	}
	items, _ = s.Pending(ctx, 12, 0, 10)
	var seqs []int64
	for _, it := range items {
		seqs = append(seqs, it.Seq)
	}
	if err := s.Ack(ctx, alice, 12, seqs); err != nil {
		t.Fatal(err)
	}
	if _, withCT, _ := s.QueueDepth(ctx); withCT != 0 {
		t.Fatalf("ciphertext kept after every device acked")
	}

	signed := protocol.Signed{Conv: m.Env.Conv, At: 99, Sig: make([]byte, 64)}
	if err := s.Receipt(ctx, bob, 21, m.Env.ID, protocol.ReceiptRead, protocol.Signed{Conv: "g:1", At: 99, Sig: make([]byte, 64)}); !errors.Is(err, model.ErrForbidden) {
		t.Fatalf("a receipt naming another conversation: %v", err)
	}
	if err := s.Receipt(ctx, bob, 21, m.Env.ID, protocol.ReceiptRead, signed); err != nil {
		t.Fatal(err)
	}
	if err := s.Receipt(ctx, bob, 21, m.Env.ID, protocol.ReceiptAcknowledged, signed); err != nil {
		t.Fatal(err)
	}
	if err := s.Receipt(ctx, alice, 11, m.Env.ID, protocol.ReceiptRead, signed); !errors.Is(err, model.ErrForbidden) {
		t.Fatalf("sender's own read receipt: %v", err)
	}
	// The queued events carry the signed attestation as it was given.
	evs, _ := s.Pending(ctx, 11, 0, 100)
	var read *protocol.Event
	for _, it := range evs {
		if it.Event != nil && it.Event.Kind == protocol.ReceiptRead {
			read = it.Event
		}
	}
	if read == nil || read.Conv != m.Env.Conv || read.At != 99 || len(read.Sig) != 64 || read.User != bob || read.Device != 21 {
		t.Fatalf("the read receipt queued for the sender is %+v", read)
	}
	d, err := s.Details(ctx, alice, m.Env.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Recipients) != 1 || d.Recipients[0].Delivered == 0 || d.Recipients[0].Read == 0 || d.Recipients[0].Acknowledged == 0 || d.Accepted != res.TS {
		t.Fatalf("details: %+v", d)
	}
	if _, err := s.Details(ctx, bob, m.Env.ID); !errors.Is(err, model.ErrForbidden) {
		t.Fatalf("details for a recipient: %v", err)
	}
}

func TestRecallDeletesUndelivered(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	alice, bob := addUser(t, s, "alice"), addUser(t, s, "bob")
	addDevice(t, s, alice, 11)
	addDevice(t, s, bob, 21)
	m := newMsg("BBBBBBBBBBBBBBBBBBBB", alice, 11, []int64{bob}, []int64{21})
	if _, err := s.Accept(ctx, m); err != nil {
		t.Fatal(err)
	}
	signed := protocol.Signed{Conv: m.Env.Conv, At: 5, Sig: make([]byte, 64)}
	if err := s.Recall(ctx, bob, 21, m.Env.ID, signed); !errors.Is(err, model.ErrForbidden) {
		t.Fatalf("recall by a recipient: %v", err)
	}
	if err := s.Recall(ctx, alice, 11, m.Env.ID, protocol.Signed{Conv: "g:3", At: 5, Sig: make([]byte, 64)}); !errors.Is(err, model.ErrForbidden) {
		t.Fatalf("recall naming another conversation: %v", err)
	}
	if err := s.Recall(ctx, alice, 11, m.Env.ID, signed); err != nil {
		t.Fatal(err)
	}
	items, _ := s.Pending(ctx, 21, 0, 10)
	if len(items) != 1 || items[0].Event == nil || items[0].Event.Type != protocol.TRecall ||
		items[0].Event.User != alice || items[0].Event.Device != 11 || items[0].Event.Conv != m.Env.Conv || items[0].Event.At != 5 {
		t.Fatalf("after recall bob's queue = %+v, want only the recall event", items)
	}
	if _, withCT, _ := s.QueueDepth(ctx); withCT != 0 {
		t.Fatal("recalled ciphertext kept")
	}
}

func TestSweepExpires(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	alice, bob := addUser(t, s, "alice"), addUser(t, s, "bob")
	addDevice(t, s, bob, 21)
	m := newMsg("CCCCCCCCCCCCCCCCCCCC", alice, 11, []int64{bob}, []int64{21})
	m.ExpiresAt = time.Now().Add(-time.Second).UnixMilli()
	if _, err := s.Accept(ctx, m); err != nil {
		t.Fatal(err)
	}
	if left, _ := s.Pending(ctx, 21, 0, 10); len(left) != 0 {
		t.Fatal("expired message delivered before the sweep")
	}
	items, msgs, err := s.Sweep(ctx, time.Now().UnixMilli(), 100)
	if err != nil || items != 1 || msgs != 1 {
		t.Fatalf("sweep: %d items %d msgs %v", items, msgs, err)
	}
	if left, _ := s.Pending(ctx, 21, 0, 10); len(left) != 0 {
		t.Fatal("expired message still pending")
	}
}

func TestGroupCommitConcurrent(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	alice, bob := addUser(t, s, "alice"), addUser(t, s, "bob")
	addDevice(t, s, bob, 21)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := newMsg(fmt.Sprintf("concurrent-message-%04d", i), alice, 11, []int64{bob}, []int64{21})
			if _, err := s.Accept(ctx, m); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	items, _ := s.Pending(ctx, 21, 0, 1000)
	if len(items) != 200 {
		t.Fatalf("%d pending, want 200", len(items))
	}
	for i := 1; i < len(items); i++ {
		if items[i].Seq <= items[i-1].Seq {
			t.Fatal("seqs not increasing")
		}
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	s, dir := openTest(t)
	if err := s.submit(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, SchemaVersion+1))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(context.Background(), dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "newer curbside") {
		t.Fatalf("opening a newer schema: %v", err)
	}
}

func TestPolicy(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	p, err := s.LoadPolicy(ctx)
	if err != nil || p.Retention != model.DefaultPolicy.Retention || len(p.QuickMessages) != len(model.DefaultPolicy.QuickMessages) {
		t.Fatalf("default policy: %+v %v", p, err)
	}
	if err := s.SetPolicy(ctx, map[string]string{"retention": "48h", "lockout_threshold": "3"}); err != nil {
		t.Fatal(err)
	}
	p, _ = s.LoadPolicy(ctx)
	if p.Retention != 48*time.Hour || p.LockoutThreshold != 3 {
		t.Fatalf("policy after set: %+v", p)
	}
	if err := s.SetPolicy(ctx, map[string]string{"retention": "forever"}); err == nil {
		t.Fatal("bad duration accepted")
	}
	if err := s.SetPolicy(ctx, map[string]string{"quick_messages": "On my way| Back in 5 ", "pin_required": "false"}); err != nil {
		t.Fatal(err)
	}
	p, _ = s.LoadPolicy(ctx)
	if len(p.QuickMessages) != 2 || p.QuickMessages[1] != "Back in 5" || p.PINRequired {
		t.Fatalf("list and bool policy: %+v", p)
	}
	if err := s.SetPolicy(ctx, map[string]string{"nope": "1"}); err == nil {
		t.Fatal("unknown key accepted")
	}
}

// Do-not-disturb is kept per user and read back by a new process.
func TestDoNotDisturbKept(t *testing.T) {
	s, dir := openTest(t)
	ctx := context.Background()
	a, b := addUser(t, s, "dnd-a"), addUser(t, s, "dnd-b")
	for _, step := range []struct {
		user int64
		on   bool
	}{{a, true}, {b, true}, {a, false}} {
		if err := s.SetDoNotDisturb(ctx, step.user, step.on); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s2, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, err := s2.DoNotDisturbUsers(ctx)
	if err != nil || len(got) != 1 || got[0] != b {
		t.Fatalf("do-not-disturb after reopening: %v %v, want [%d]", got, err, b)
	}
}
