package nonce

import (
	"testing"
	"time"
)

// TestNonce checks that a nonce is valid only for what it was bound to,
// only from this issuer, only until it expires, and spends once.
func TestNonce(t *testing.T) {
	now := time.Unix(1000, 0)
	a, b := New("test/a", time.Minute), New("test/a", time.Minute)
	n, exp := a.Issue([]byte{7}, now)
	if len(n) != Len || !exp.Equal(now.Add(time.Minute)) {
		t.Fatalf("nonce of %d bytes expiring %v", len(n), exp)
	}
	if !a.Valid([]byte{7}, n, now) {
		t.Fatal("a fresh nonce is not valid")
	}
	if a.Valid([]byte{8}, n, now) || a.Valid(nil, n, now) {
		t.Fatal("a nonce is valid for what it was not bound to")
	}
	if b.Valid([]byte{7}, n, now) {
		t.Fatal("another issuer's nonce is valid")
	}
	if a.Valid([]byte{7}, n, exp) {
		t.Fatal("an expired nonce is valid")
	}
	bad := append([]byte(nil), n...)
	bad[9] ^= 1
	if a.Valid([]byte{7}, bad, now) {
		t.Fatal("an altered nonce is valid")
	}
	if !a.Spend(n, now) || a.Spend(n, now) {
		t.Fatal("a nonce does not spend exactly once")
	}
}

// TestSpendIsBounded checks that the remembered nonces are bounded: past
// MaxUsed live ones an answer is refused, and expired ones make room.
func TestSpendIsBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	i := New("test/bound", time.Minute)
	for range MaxUsed {
		n, _ := i.Issue(nil, now)
		if !i.Spend(n, now) {
			t.Fatal("refused below the bound")
		}
	}
	n, _ := i.Issue(nil, now)
	if i.Spend(n, now) {
		t.Fatal("spent past the bound")
	}
	if !i.Spend(n, now.Add(2*time.Minute)) {
		t.Fatal("expired nonces do not make room")
	}
}
