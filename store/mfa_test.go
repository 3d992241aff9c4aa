package store

import (
	"context"
	"errors"
	"testing"

	"github.com/curbside-health/curbside/model"
)

func TestMFAFactors(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	u := addUser(t, s, "alice")
	other := addUser(t, s, "bob")
	status := func() MFAStatus {
		t.Helper()
		m, err := s.MFAStatusOf(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := status(); m.Has() || m.TOTPPending || m.RecoveryLeft != 0 {
		t.Fatalf("fresh user: %+v", m)
	}

	// TOTP: pending until confirmed; a pending secret can be replaced, a
	// confirmed one cannot.
	if err := s.StartTOTP(ctx, u, "AAAA"); err != nil {
		t.Fatal(err)
	}
	if err := s.StartTOTP(ctx, u, "BBBB"); err != nil {
		t.Fatal(err)
	}
	if m := status(); m.Has() || !m.TOTPPending {
		t.Fatalf("pending: %+v", m)
	}
	if err := s.UseTOTPStep(ctx, u, 5); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("a step on an unconfirmed secret: %v", err)
	}
	codes := [][]byte{[]byte("h1"), []byte("h2"), []byte("h3")}
	if err := s.ConfirmTOTP(ctx, u, 100, codes); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmTOTP(ctx, u, 101, codes); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("second confirm: %v", err)
	}
	if err := s.StartTOTP(ctx, u, "CCCC"); !errors.Is(err, model.ErrExists) {
		t.Fatalf("replacing a confirmed secret: %v", err)
	}
	if tt, _ := s.TOTPOf(ctx, u); tt.Secret != "BBBB" || !tt.Confirmed || tt.LastStep != 100 {
		t.Fatalf("totp %+v", tt)
	}
	if m := status(); !m.Has() || !m.TOTP || m.RecoveryLeft != 3 {
		t.Fatalf("confirmed: %+v", m)
	}
	// Steps: each once, never an older one.
	for _, c := range []struct {
		step int64
		ok   bool
	}{{100, false}, {99, false}, {101, true}, {101, false}, {103, true}, {102, false}} {
		err := s.UseTOTPStep(ctx, u, c.step)
		if c.ok != (err == nil) || (!c.ok && !errors.Is(err, model.ErrConflict)) {
			t.Fatalf("step %d: %v", c.step, err)
		}
	}

	// Recovery codes: each once, and only the owner's.
	if _, err := s.UseRecoveryCode(ctx, other, []byte("h1")); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("another user's code: %v", err)
	}
	if left, err := s.UseRecoveryCode(ctx, u, []byte("h1")); err != nil || left != 2 {
		t.Fatalf("use: %d %v", left, err)
	}
	if _, err := s.UseRecoveryCode(ctx, u, []byte("h1")); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("reuse: %v", err)
	}
	if err := s.ReplaceRecoveryCodes(ctx, u, [][]byte{[]byte("n1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseRecoveryCode(ctx, u, []byte("h2")); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("an old code after replacement: %v", err)
	}

	// Passkeys: the first one's codes are kept when some are left; ids are
	// unique across users.
	stored, err := s.AddPasskey(ctx, &Passkey{ID: []byte{1, 2, 3}, User: u, Name: "Laptop", Credential: []byte(`{"a":1}`)}, [][]byte{[]byte("p1")})
	if err != nil || stored {
		t.Fatalf("add with codes left: %v %v", stored, err)
	}
	if _, err := s.AddPasskey(ctx, &Passkey{ID: []byte{1, 2, 3}, User: other, Name: "X", Credential: []byte(`{}`)}, nil); !errors.Is(err, model.ErrExists) {
		t.Fatalf("duplicate id: %v", err)
	}
	if err := s.PasskeyUsed(ctx, other, []byte{1, 2, 3}, []byte(`{"a":2}`)); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("another user's passkey used: %v", err)
	}
	if err := s.PasskeyUsed(ctx, u, []byte{1, 2, 3}, []byte(`{"a":2}`)); err != nil {
		t.Fatal(err)
	}
	pks, _ := s.PasskeysOf(ctx, u)
	if len(pks) != 1 || string(pks[0].Credential) != `{"a":2}` || pks[0].LastUsed == 0 || pks[0].Name != "Laptop" {
		t.Fatalf("passkeys %+v", pks)
	}
	// Removing TOTP keeps the codes while a passkey is left; removing the
	// last passkey then drops them.
	if err := s.DeleteTOTP(ctx, u); err != nil {
		t.Fatal(err)
	}
	if m := status(); !m.Has() || m.TOTP || m.RecoveryLeft != 1 {
		t.Fatalf("after removing totp: %+v", m)
	}
	if _, err := s.DeletePasskey(ctx, other, []byte{1, 2, 3}); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("another user deletes: %v", err)
	}
	if p, err := s.DeletePasskey(ctx, u, []byte{1, 2, 3}); err != nil || p.Name != "Laptop" {
		t.Fatalf("delete: %+v %v", p, err)
	}
	if m := status(); m.Has() || m.RecoveryLeft != 0 {
		t.Fatalf("after removing everything: %+v", m)
	}
	// A passkey for an account without codes stores the new set.
	if stored, err := s.AddPasskey(ctx, &Passkey{ID: []byte{9}, User: u, Name: "Phone", Credential: []byte(`{}`)}, [][]byte{[]byte("p1"), []byte("p2")}); err != nil || !stored {
		t.Fatalf("first passkey: %v %v", stored, err)
	}

	// Reset: everything goes, and the sessions end.
	if err := s.CreateSessionFrom(ctx, []byte("tok"), u, nowMS()+60000, "passkey", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := s.StartTOTP(ctx, u, "DDDD"); err != nil {
		t.Fatal(err)
	}
	before, ended, err := s.ResetMFA(ctx, u)
	if err != nil || before.Passkeys != 1 || before.RecoveryLeft != 2 || !before.TOTPPending || ended != 1 {
		t.Fatalf("reset: %+v %d %v", before, ended, err)
	}
	if m := status(); m.Has() || m.TOTPPending || m.RecoveryLeft != 0 {
		t.Fatalf("after reset: %+v", m)
	}
	if _, err := s.SessionByHash(ctx, []byte("tok")); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("session after reset: %v", err)
	}
}

func TestSetSessionMFA(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	u := addUser(t, s, "alice")
	if err := s.CreateSessionFrom(ctx, []byte("tok"), u, nowMS()+60000, "", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSessionMFA(ctx, []byte("tok"), "totp"); err != nil {
		t.Fatal(err)
	}
	if ss, _ := s.SessionByHash(ctx, []byte("tok")); ss.MFA != "totp" {
		t.Fatalf("session mfa %q", ss.MFA)
	}
	if err := s.SetSessionMFA(ctx, []byte("nope"), "totp"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("no such session: %v", err)
	}
}
