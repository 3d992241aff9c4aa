package ratelimit

import (
	"testing"
	"time"
)

// TestKeyed checks the burst, the refill, the refund (once only), that
// keys are apart, and that memory is bounded.
func TestKeyed(t *testing.T) {
	now := time.Unix(1000, 0)
	k := New(time.Second, 2, 3)
	refund, ok := k.Reserve("a", now)
	if !ok || !k.Allow("a", now) || k.Allow("a", now) {
		t.Fatal("the burst of 2 is not 2")
	}
	refund()
	refund()
	if !k.Allow("a", now) || k.Allow("a", now) {
		t.Fatal("a refund does not give back exactly one attempt")
	}
	if !k.Allow("b", now) {
		t.Fatal("another key shares a's bucket")
	}
	if !k.Allow("a", now.Add(time.Second)) {
		t.Fatal("no attempt earned back after the interval")
	}
	k.Allow("c", now)
	k.RefuseWhenFull = true
	if k.Allow("d", now) {
		t.Fatal("a fourth key was let in past maxKeys while all were busy")
	}
	if !k.Allow("d", now.Add(3*time.Second)) {
		t.Fatal("refilled buckets are not forgotten to make room")
	}
}
