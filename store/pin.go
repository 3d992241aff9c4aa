package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"errors"

	"github.com/curbside-health/curbside/model"
)

// PINProofSize is the length of a PIN proof (PROTOCOL.md, "The PIN proof").
const PINProofSize = 32

// PINCheck is the outcome of checking a device's PIN proof.
type PINCheck struct {
	// Share is the device's key share, released on a right proof, or when
	// the device has no verifier yet (set up before PIN proofs, or not yet
	// past its set-up). Nil on a wrong proof.
	Share []byte
	// Verified reports that the device has a verifier and the proof
	// matched it; false with a Share: the device has no verifier yet.
	Verified bool
	// Left is how many wrong proofs in a row the device has left before
	// its share is deleted; meaningful on a wrong proof.
	Left int
	// LockedOut reports that this wrong proof was the last one allowed:
	// the share is deleted, so the device's local store can no longer be
	// opened by anyone.
	LockedOut bool
}

// Wrong reports whether the proof was refused.
func (c PINCheck) Wrong() bool { return c.Share == nil }

func pinVerifier(proof []byte) []byte {
	v := sha256.Sum256(proof)
	return v[:]
}

// checkPIN checks proof against an active device's verifier in tx,
// counting a wrong proof and deleting the share at the max-th wrong one in
// a row. A device without a verifier passes whatever the proof.
func checkPIN(tx *sql.Tx, device int64, proof []byte, max int) (PINCheck, error) {
	var share, verifier []byte
	var failures int
	err := tx.QueryRow(`SELECT share, pin_verifier, pin_failures FROM devices WHERE id = ? AND state = 'active'`, device).Scan(&share, &verifier, &failures)
	if errors.Is(err, sql.ErrNoRows) {
		return PINCheck{}, model.ErrNotFound
	}
	if err != nil {
		return PINCheck{}, err
	}
	if verifier != nil && share == nil {
		return PINCheck{}, model.ErrNotFound // deleted after too many wrong proofs
	}
	if verifier != nil && subtle.ConstantTimeCompare(pinVerifier(proof), verifier) != 1 {
		failures++
		if failures >= max {
			// The share goes at once, in the transaction that counted the
			// last failure: no later request can be answered with it.
			_, err = tx.Exec(`UPDATE devices SET share = NULL, pin_failures = ? WHERE id = ?`, failures, device)
			return PINCheck{LockedOut: true}, err
		}
		_, err = tx.Exec(`UPDATE devices SET pin_failures = ? WHERE id = ?`, failures, device)
		return PINCheck{Left: max - failures}, err
	}
	if share == nil {
		// An active device without a verifier lacks a share only if it
		// was registered before shares existed.
		share = newShare()
		if _, err := tx.Exec(`UPDATE devices SET share = ? WHERE id = ?`, share, device); err != nil {
			return PINCheck{}, err
		}
	}
	if failures != 0 {
		if _, err := tx.Exec(`UPDATE devices SET pin_failures = 0 WHERE id = ?`, device); err != nil {
			return PINCheck{}, err
		}
	}
	return PINCheck{Share: share, Verified: verifier != nil, Left: max}, nil
}

// CheckPINProof releases an active device's key share for a right PIN
// proof (one whose SHA-256 is the device's verifier), or for any proof
// while the device has no verifier. A wrong proof is counted; the max-th
// wrong proof in a row deletes the share (LockedOut), and a right one
// resets the count. Either way the count is committed. ErrNotFound: no
// such active device.
func (s *Store) CheckPINProof(ctx context.Context, device int64, proof []byte, max int) (PINCheck, error) {
	var c PINCheck
	err := s.submit(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = checkPIN(tx, device, proof, max)
		return err
	})
	return c, err
}

// SetPINVerifier stores SHA-256(proof) as an active device's verifier and
// resets its count. A device that has a verifier must give the proof of
// its current PIN as old, checked and counted as by CheckPINProof: on a
// wrong one nothing is set and the check says so.
func (s *Store) SetPINVerifier(ctx context.Context, device int64, old, proof []byte, max int) (PINCheck, error) {
	var c PINCheck
	err := s.submit(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = checkPIN(tx, device, old, max); err != nil {
			return err
		}
		if c.Wrong() {
			nothingDone(ctx) // the count is kept; the setting's entry is not written
			return nil
		}
		_, err = tx.Exec(`UPDATE devices SET pin_verifier = ?, pin_failures = 0 WHERE id = ?`, pinVerifier(proof), device)
		return err
	})
	return c, err
}
