package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/curbside-health/curbside/model"
)

// TestQueueCap checks the per-device queue cap with the upper bound that
// spares a count per message: a device at the cap refuses new messages,
// and once it acks some it takes new ones again, up to the cap and no more.
func TestQueueCap(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	alice, bob := addUser(t, s, "alice"), addUser(t, s, "bob")
	addDevice(t, s, alice, 11)
	addDevice(t, s, bob, 21)
	n := 0
	send := func() error {
		n++
		m := newMsg(fmt.Sprintf("QCAP%016d", n), alice, 11, []int64{bob}, []int64{21})
		m.MaxQueued = 3
		_, err := s.Accept(ctx, m)
		return err
	}
	for i := range 3 {
		if err := send(); err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
	}
	if err := send(); !errors.Is(err, model.ErrQueueFull) {
		t.Fatalf("a 4th message to a full queue: %v, want ErrQueueFull", err)
	}
	items, err := s.Pending(ctx, 21, 0, 10)
	if err != nil || len(items) != 3 {
		t.Fatalf("pending: %d items, %v", len(items), err)
	}
	if err := s.Ack(ctx, bob, 21, []int64{items[0].Seq, items[1].Seq}); err != nil {
		t.Fatal(err)
	}
	// The acks made room for two, counted afresh once the bound said full.
	for i := range 2 {
		if err := send(); err != nil {
			t.Fatalf("after the acks, message %d: %v", i+1, err)
		}
	}
	if err := send(); !errors.Is(err, model.ErrQueueFull) {
		t.Fatalf("past the cap again: %v, want ErrQueueFull", err)
	}
}
