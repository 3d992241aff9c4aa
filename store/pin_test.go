package store

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/curbside-health/curbside/model"
)

// TestPINProof pins down the rules of the server's PIN count: no
// verifier, any proof passes; with one, only its proof; wrong proofs are
// counted and a right one resets them; the max-th wrong one in a row
// deletes the share, after which even the right proof gets nothing; and
// replacing the verifier takes the current PIN's proof.
func TestPINProof(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	addDevice(t, s, addUser(t, s, "ruth"), 7) // registered before shares: none yet
	right, wrong, next := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)

	c, err := s.CheckPINProof(ctx, 7, wrong, 3)
	if err != nil || len(c.Share) != 32 || c.Verified {
		t.Fatalf("no verifier: %+v %v", c, err)
	}
	share := c.Share
	if c, err = s.SetPINVerifier(ctx, 7, nil, right, 3); err != nil || c.Wrong() {
		t.Fatalf("first verifier: %+v %v", c, err)
	}
	if c, _ = s.CheckPINProof(ctx, 7, right, 3); !c.Verified || !bytes.Equal(c.Share, share) {
		t.Fatalf("right proof: %+v", c)
	}
	if c, _ = s.CheckPINProof(ctx, 7, wrong, 3); !c.Wrong() || c.Left != 2 {
		t.Fatalf("wrong proof: %+v", c)
	}
	// Replacing the verifier needs the current proof; a wrong one is counted and changes nothing.
	if c, _ = s.SetPINVerifier(ctx, 7, wrong, next, 3); !c.Wrong() || c.Left != 1 {
		t.Fatalf("replace with a wrong old proof: %+v", c)
	}
	if c, _ = s.CheckPINProof(ctx, 7, right, 3); c.Wrong() {
		t.Fatal("the verifier changed without the current proof")
	}
	if c, _ = s.SetPINVerifier(ctx, 7, right, next, 3); c.Wrong() {
		t.Fatalf("replace: %+v", c)
	}
	if c, _ = s.CheckPINProof(ctx, 7, right, 3); !c.Wrong() {
		t.Fatal("the old PIN still opens after the change")
	}
	if c, _ = s.CheckPINProof(ctx, 7, wrong, 3); c.Left != 1 || c.LockedOut {
		t.Fatalf("second wrong proof: %+v", c)
	}
	if c, _ = s.CheckPINProof(ctx, 7, wrong, 3); !c.LockedOut || c.Share != nil {
		t.Fatalf("third wrong proof: %+v", c)
	}
	if _, err = s.CheckPINProof(ctx, 7, next, 3); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("the right proof after the lock-out: %v", err)
	}
	// The device stays active until the caller wipes it, but no path makes it a new share.
	if _, err = s.DeviceShare(ctx, 7); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("DeviceShare after the lock-out: %v", err)
	}
	if _, err = s.CheckPINProof(ctx, 99, right, 3); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("an unknown device: %v", err)
	}
}
