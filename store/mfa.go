package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/curbside-health/curbside/model"
)

// TOTP is a user's time-based one-time password secret. It counts as a
// factor only once Confirmed: a code made from it was entered, which proves
// the person's authenticator app holds it.
type TOTP struct {
	Secret    string // base32, as authenticator apps take it
	Confirmed bool
	LastStep  int64 // the newest time step whose code was accepted; older and equal steps are refused
	CreatedAt int64
}

// Passkey is a WebAuthn credential registered by a user.
type Passkey struct {
	ID         []byte `json:"-"` // the credential id
	User       int64  `json:"-"`
	Name       string `json:"name"`
	Credential []byte `json:"-"` // JSON of the library's credential record
	CreatedAt  int64  `json:"created_at"`
	LastUsed   int64  `json:"last_used"`
}

// MFAStatus summarises a user's second factors.
type MFAStatus struct {
	TOTP         bool `json:"totp"`
	TOTPPending  bool `json:"totp_pending"` // a secret was made but not confirmed yet
	Passkeys     int  `json:"passkeys"`
	RecoveryLeft int  `json:"recovery_left"`
}

// Has reports whether the user has a factor that can confirm a sign-in on
// its own: a confirmed TOTP or a passkey. Recovery codes are a fallback for
// those, never a factor by themselves.
func (m MFAStatus) Has() bool { return m.TOTP || m.Passkeys > 0 }

// MFAStatusOf returns the user's factors.
func (s *Store) MFAStatusOf(ctx context.Context, user int64) (MFAStatus, error) {
	var m MFAStatus
	var confirmed sql.NullInt64
	err := s.read.QueryRowContext(ctx, `SELECT
		(SELECT confirmed FROM mfa_totp WHERE user_id = ?1),
		(SELECT COUNT(*) FROM passkeys WHERE user_id = ?1),
		(SELECT COUNT(*) FROM mfa_recovery WHERE user_id = ?1 AND used_at = 0)`, user).Scan(&confirmed, &m.Passkeys, &m.RecoveryLeft)
	if err != nil {
		return m, err
	}
	m.TOTP = confirmed.Valid && confirmed.Int64 == 1
	m.TOTPPending = confirmed.Valid && confirmed.Int64 == 0
	return m, nil
}

// TOTPOf returns the user's TOTP secret, confirmed or not; ErrNotFound if
// there is none.
func (s *Store) TOTPOf(ctx context.Context, user int64) (*TOTP, error) {
	var t TOTP
	err := s.read.QueryRowContext(ctx, `SELECT secret, confirmed, last_step, created_at FROM mfa_totp WHERE user_id = ?`, user).
		Scan(&t.Secret, &t.Confirmed, &t.LastStep, &t.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// StartTOTP stores a new unconfirmed secret for the user, replacing an
// earlier unconfirmed one. It fails with ErrExists when the user already
// has a confirmed secret: that one must be removed first, with a code.
func (s *Store) StartTOTP(ctx context.Context, user int64, secret string) error {
	now := nowMS()
	return s.submit(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`INSERT INTO mfa_totp (user_id, secret, confirmed, last_step, created_at) VALUES (?, ?, 0, 0, ?)
			ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at, last_step = 0
			WHERE mfa_totp.confirmed = 0`, user, secret, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return model.ErrExists
		}
		return nil
	})
}

// ConfirmTOTP turns the user's pending secret on, recording step as used,
// and replaces the user's recovery codes with codeHashes, in one
// transaction. It fails with ErrNotFound when no pending secret is there
// (none was made, or another request confirmed it first).
func (s *Store) ConfirmTOTP(ctx context.Context, user, step int64, codeHashes [][]byte) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE mfa_totp SET confirmed = 1, last_step = ? WHERE user_id = ? AND confirmed = 0`, step, user)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return model.ErrNotFound
		}
		return replaceRecovery(tx, user, codeHashes)
	})
}

// UseTOTPStep records that the code of time step was accepted for the
// user. It fails with ErrConflict when that step or a later one was
// already used: a code works once, and an observed code cannot be
// replayed.
func (s *Store) UseTOTPStep(ctx context.Context, user, step int64) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE mfa_totp SET last_step = ? WHERE user_id = ? AND confirmed = 1 AND last_step < ?`, step, user, step)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return model.ErrConflict
		}
		return nil
	})
}

// DeleteTOTP removes the user's TOTP secret. When no passkey remains, the
// recovery codes go too: they back up a factor and are not one.
func (s *Store) DeleteTOTP(ctx context.Context, user int64) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM mfa_totp WHERE user_id = ?`, user)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return model.ErrNotFound
		}
		return dropOrphanRecovery(tx, user)
	})
}

func dropOrphanRecovery(tx *sql.Tx, user int64) error {
	_, err := tx.Exec(`DELETE FROM mfa_recovery WHERE user_id = ?1
		AND NOT EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = ?1 AND confirmed = 1)
		AND NOT EXISTS (SELECT 1 FROM passkeys WHERE user_id = ?1)`, user)
	return err
}

// ReplaceRecoveryCodes replaces every recovery code of the user with
// codeHashes.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, user int64, codeHashes [][]byte) error {
	return s.submit(ctx, func(tx *sql.Tx) error { return replaceRecovery(tx, user, codeHashes) })
}

func replaceRecovery(tx *sql.Tx, user int64, codeHashes [][]byte) error {
	if _, err := tx.Exec(`DELETE FROM mfa_recovery WHERE user_id = ?`, user); err != nil {
		return err
	}
	for _, h := range codeHashes {
		if _, err := tx.Exec(`INSERT INTO mfa_recovery (user_id, code_hash) VALUES (?, ?)`, user, h); err != nil {
			return err
		}
	}
	return nil
}

// UseRecoveryCode marks the user's unused code with this hash as used and
// returns how many unused codes are left. It fails with ErrNotFound when
// no unused code has the hash.
func (s *Store) UseRecoveryCode(ctx context.Context, user int64, codeHash []byte) (left int, err error) {
	now := nowMS()
	err = s.submit(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE mfa_recovery SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at = 0`, now, user, codeHash)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return model.ErrNotFound
		}
		err = tx.QueryRow(`SELECT COUNT(*) FROM mfa_recovery WHERE user_id = ? AND used_at = 0`, user).Scan(&left)
		note(ctx, "left", left)
		return err
	})
	return left, err
}

// AddPasskey stores a new passkey (ErrExists if its credential id is
// already registered, to anyone) and, when the user has no unused recovery
// codes, gives the user codeHashes as a new set, in one transaction. It
// reports whether the codes were stored.
func (s *Store) AddPasskey(ctx context.Context, p *Passkey, codeHashes [][]byte) (stored bool, err error) {
	if p.CreatedAt == 0 {
		p.CreatedAt = nowMS()
	}
	err = s.submit(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO passkeys (id, user_id, name, credential, created_at) VALUES (?, ?, ?, ?, ?)`,
			p.ID, p.User, p.Name, string(p.Credential), p.CreatedAt)
		if isUnique(err) {
			return model.ErrExists
		}
		if err != nil {
			return err
		}
		var left int
		if err := tx.QueryRow(`SELECT COUNT(*) FROM mfa_recovery WHERE user_id = ? AND used_at = 0`, p.User).Scan(&left); err != nil {
			return err
		}
		stored = left == 0 && len(codeHashes) > 0
		if stored {
			return replaceRecovery(tx, p.User, codeHashes)
		}
		return nil
	})
	return stored, err
}

// PasskeysOf lists the user's passkeys, oldest first.
func (s *Store) PasskeysOf(ctx context.Context, user int64) ([]*Passkey, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, user_id, name, credential, created_at, last_used FROM passkeys WHERE user_id = ? ORDER BY created_at, id`, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Passkey
	for rows.Next() {
		var p Passkey
		var cred string
		if err := rows.Scan(&p.ID, &p.User, &p.Name, &cred, &p.CreatedAt, &p.LastUsed); err != nil {
			return nil, err
		}
		p.Credential = []byte(cred)
		out = append(out, &p)
	}
	return out, rows.Err()
}

// PasskeyUsed records a sign-in with the passkey: its updated credential
// record (the authenticator's new signature counter) and the time.
func (s *Store) PasskeyUsed(ctx context.Context, user int64, id, credential []byte) error {
	return s.exec1(ctx, `UPDATE passkeys SET credential = ?, last_used = ? WHERE id = ? AND user_id = ?`, string(credential), nowMS(), id, user)
}

// DeletePasskey removes one of the user's passkeys (ErrNotFound if the
// user has no passkey with that id). When it was the last factor, the
// recovery codes go too.
func (s *Store) DeletePasskey(ctx context.Context, user int64, id []byte) (*Passkey, error) {
	var p Passkey
	err := s.submit(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRow(`DELETE FROM passkeys WHERE id = ? AND user_id = ? RETURNING id, user_id, name, created_at, last_used`, id, user).
			Scan(&p.ID, &p.User, &p.Name, &p.CreatedAt, &p.LastUsed)
		if errors.Is(err, sql.ErrNoRows) {
			return model.ErrNotFound
		}
		if err != nil {
			return err
		}
		return dropOrphanRecovery(tx, user)
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// ResetMFA deletes every factor of the user (the TOTP secret, recovery
// codes and passkeys) and ends the user's sessions, which were confirmed
// with those factors. It returns what the user had and how many sessions
// ended.
func (s *Store) ResetMFA(ctx context.Context, user int64) (m MFAStatus, sessions int64, err error) {
	err = s.submit(ctx, func(tx *sql.Tx) error {
		var confirmed sql.NullInt64
		if err := tx.QueryRow(`SELECT
			(SELECT confirmed FROM mfa_totp WHERE user_id = ?1),
			(SELECT COUNT(*) FROM passkeys WHERE user_id = ?1),
			(SELECT COUNT(*) FROM mfa_recovery WHERE user_id = ?1 AND used_at = 0)`, user).Scan(&confirmed, &m.Passkeys, &m.RecoveryLeft); err != nil {
			return err
		}
		m.TOTP = confirmed.Valid && confirmed.Int64 == 1
		m.TOTPPending = confirmed.Valid && confirmed.Int64 == 0
		for _, q := range []string{`DELETE FROM mfa_totp WHERE user_id = ?`, `DELETE FROM mfa_recovery WHERE user_id = ?`, `DELETE FROM passkeys WHERE user_id = ?`} {
			if _, err := tx.Exec(q, user); err != nil {
				return err
			}
		}
		res, err := tx.Exec(`DELETE FROM sessions WHERE user_id = ?`, user)
		if err == nil {
			sessions, _ = res.RowsAffected()
			note(ctx, "totp", m.TOTP)
			note(ctx, "passkeys", m.Passkeys)
			note(ctx, "recovery_left", m.RecoveryLeft)
			note(ctx, NoteSessionsEnded, sessions)
		}
		return err
	})
	return m, sessions, err
}

// SetSessionMFA records that the session's sign-in is now confirmed with a
// second factor (how: "totp", "recovery" or "passkey"), after the user
// enrolled one while signed in.
func (s *Store) SetSessionMFA(ctx context.Context, tokenHash []byte, how string) error {
	return s.exec1(ctx, `UPDATE sessions SET mfa = ? WHERE token_hash = ?`, how, tokenHash)
}
