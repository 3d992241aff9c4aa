package api_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"testing"

	"github.com/curbside-health/curbside/api"
	"github.com/curbside-health/curbside/internal/apitest"
)

// proofOf is a 32-byte PIN proof made of one repeated byte.
func proofOf(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

// registered signs name in and registers a device, returning the session and the device.
func registered(t *testing.T, f *apitest.Fixture, name string) (string, *apitest.TestDevice) {
	t.Helper()
	d := apitest.NewTestDevice()
	tok := f.Login(name)
	uid := f.Users[name].ID
	if code, out := f.Do("POST", "/api/v1/devices", tok, map[string]any{"name": "browser", "list": apitest.SignedList(uid, 1, d, d.Listed())}); code != 201 {
		t.Fatalf("register: %d %v", code, out)
	}
	return tok, d
}

// deviceRow reads what the server holds of a device's PIN state.
func deviceRow(t *testing.T, f *apitest.Fixture, id int64) (share []byte, failures int, state string, wiped bool) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+f.Store.Path()+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT share, pin_failures, state, wipe IS NOT NULL FROM devices WHERE id = ?`, id).Scan(&share, &failures, &state, &wiped); err != nil {
		t.Fatal(err)
	}
	return
}

// TestPINProofCountedAndWipedAfterMax: the share is released only for the
// right PIN proof once a verifier is set; wrong proofs are counted (a
// right one resets the count) and answered with the attempts left; the
// policy's pin_max_attempts-th wrong proof in a row deletes the share and
// wipes the device, audited.
func TestPINProofCountedAndWipedAfterMax(t *testing.T) {
	f := apitest.New(t, "ruth", "sam")
	ctx := context.Background()
	if err := f.Store.SetPolicy(ctx, map[string]string{"pin_max_attempts": "3"}); err != nil {
		t.Fatal(err)
	}
	tok, d := registered(t, f, "ruth")
	share := "/api/v1/devices/" + apitest.Itoa(d.ID) + "/share"
	right, wrong := proofOf(7), proofOf(8)

	// Before a verifier is set (set-up, or a device set up before PIN
	// proofs), the device's own session gets the share for any proof.
	code, out := f.Do("POST", share, tok, map[string]any{"proof": wrong})
	first, _ := out["share"].(string)
	if code != 200 || len(first) != 44 || out["verified"] != false {
		t.Fatalf("share with no verifier: %d %v", code, out)
	}
	if code, out := f.Do("POST", share, tok, map[string]any{"proof": "c2hvcnQ="}); code != 400 {
		t.Fatalf("a short proof: %d %v", code, out)
	}
	if code, out := f.Do("PUT", "/api/v1/devices/me/pin", tok, map[string]any{"proof": right}); code != 204 {
		t.Fatalf("set the verifier: %d %v", code, out)
	}
	code, out = f.Do("POST", share, tok, map[string]any{"proof": right})
	if code != 200 || out["share"] != first || out["verified"] != true {
		t.Fatalf("share with the right proof: %d %v", code, out)
	}
	// Setting it again needs the current PIN's proof: without one it is a wrong PIN.
	if code, out := f.Do("PUT", "/api/v1/devices/me/pin", tok, map[string]any{"proof": wrong}); code != 403 || apitest.ErrCode(out) != "wrong_pin" {
		t.Fatalf("replace the verifier without the old proof: %d %v", code, out)
	}
	if _, n, _, _ := deviceRow(t, f, d.ID); n != 1 {
		t.Fatalf("after one wrong PIN the server counts %d", n)
	}
	if code, out := f.Do("POST", share, tok, map[string]any{"proof": wrong}); code != 403 || apitest.ErrCode(out) != "wrong_pin" || apitest.ErrMessage(out) != "That PIN is not right. 1 attempt left: one more wrong PIN erases this device's messages." {
		t.Fatalf("second wrong PIN: %d %v", code, out)
	}
	// A right PIN resets the count.
	if code, out := f.Do("POST", share, tok, map[string]any{"proof": right}); code != 200 || out["share"] != first {
		t.Fatalf("right PIN after two wrong: %d %v", code, out)
	}
	if _, n, _, _ := deviceRow(t, f, d.ID); n != 0 {
		t.Fatalf("a right PIN left the count at %d", n)
	}
	if code, out := f.Do("POST", share, tok, map[string]any{"proof": wrong}); code != 403 || apitest.ErrMessage(out) != "That PIN is not right. 2 attempts left." {
		t.Fatalf("wrong PIN: %d %v", code, out)
	}

	// Signed in again, with no device bound yet (resuming), the share still
	// needs the right proof, and is the same device's count.
	tok2 := f.Login("ruth")
	if code, out := f.Do("POST", share, tok2, map[string]any{"proof": wrong}); code != 403 || apitest.ErrMessage(out) != api.WrongPINWords(1) {
		t.Fatalf("wrong PIN from a new sign-in: %d %v", code, out)
	}
	// Nobody else's session is answered, right proof or not.
	if code, out := f.Do("POST", share, f.Login("sam"), map[string]any{"proof": right}); code != 404 {
		t.Fatalf("another user's session: %d %v", code, out)
	}
	samTok, _ := registered(t, f, "sam")
	if code, out := f.Do("POST", share, samTok, map[string]any{"proof": right}); code != 403 || out["share"] != nil {
		t.Fatalf("a session bound to another device: %d %v", code, out)
	}

	// The third wrong PIN in a row: the share is deleted and the device wiped.
	if code, out := f.Do("POST", share, tok2, map[string]any{"proof": wrong}); code != 410 || apitest.ErrCode(out) != "pin_locked_out" || apitest.ErrMessage(out) != "Too many wrong PINs: this device's messages have been erased. Sign in with your password to set it up again." {
		t.Fatalf("last wrong PIN: %d %v", code, out)
	}
	sh, _, state, wiped := deviceRow(t, f, d.ID)
	if sh != nil || state != "revoked" || !wiped {
		t.Fatalf("after lock-out: share %x, state %s, wipe command %v", sh, state, wiped)
	}
	// The right PIN no longer opens anything: the device's session ended,
	// and a new sign-in finds no device to resume.
	if code, _ := f.Do("POST", share, tok, map[string]any{"proof": right}); code != 401 {
		t.Fatalf("the device's session after lock-out: %d", code)
	}
	if code, _ := f.Do("POST", share, f.Login("ruth"), map[string]any{"proof": right}); code != 404 {
		t.Fatalf("a new sign-in after lock-out: %d", code)
	}
	// The wipe command waits for the device's next contact.
	if code, _ := f.WipeCheck(d.ID, d.Sign); code != 200 {
		t.Fatalf("wipe command after lock-out: %d", code)
	}
	rows := apitest.AuditRows(t, f.Store)
	target := "device:" + apitest.Itoa(d.ID)
	for _, want := range [][4]string{
		{"device.pin.set", target, "ruth", "ok"},
		{"device.pin", target, "ruth", "fail"},
		{"device.pin.lockout", target, "ruth", "ok"},
	} {
		if !apitest.HasAudit(rows, want) {
			t.Errorf("no audit entry %v in %v", want, rows)
		}
	}
}

// TestShareNeedsThePINProof is the copied-profile attack: whoever holds a
// live session of the device (its cookie is in the profile) cannot fetch
// the share without the PIN's proof. Before PIN proofs, GET
// /api/v1/devices/me/share handed it to any session of the device, and the
// profile could then be searched for the PIN offline.
func TestShareNeedsThePINProof(t *testing.T) {
	f := apitest.New(t, "ruth")
	tok, d := registered(t, f, "ruth")
	if code, out := f.Do("PUT", "/api/v1/devices/me/pin", tok, map[string]any{"proof": proofOf(7)}); code != 204 {
		t.Fatalf("set the verifier: %d %v", code, out)
	}
	if code, out := f.Do("GET", "/api/v1/devices/me/share", tok, nil); code != 404 && code != 405 || out["share"] != nil {
		t.Fatalf("the share without a proof: %d %v", code, out)
	}
	path := "/api/v1/devices/" + apitest.Itoa(d.ID) + "/share"
	for _, body := range []map[string]any{{}, {"proof": proofOf(0)}, {"proof": proofOf(9)}} {
		if code, out := f.Do("POST", path, tok, body); code == 200 || out["share"] != nil {
			t.Fatalf("share for %v: %d %v", body, code, out)
		}
	}
	// Changing the PIN takes the current PIN's proof, so the cookie cannot
	// set a PIN of its own either.
	if code, _ := f.Do("PUT", "/api/v1/devices/me/pin", tok, map[string]any{"proof": proofOf(1), "old": proofOf(2)}); code != 403 {
		t.Fatalf("change PIN with a wrong old proof: %d", code)
	}
	if code, out := f.Do("PUT", "/api/v1/devices/me/pin", tok, map[string]any{"proof": proofOf(1), "old": proofOf(7)}); code != 204 {
		t.Fatalf("change PIN: %d %v", code, out)
	}
	if code, _ := f.Do("POST", path, tok, map[string]any{"proof": proofOf(7)}); code != 403 {
		t.Fatalf("the old PIN after the change: %d", code)
	}
	if code, _ := f.Do("POST", path, tok, map[string]any{"proof": proofOf(1)}); code != 200 {
		t.Fatalf("the new PIN: %d", code)
	}
}
