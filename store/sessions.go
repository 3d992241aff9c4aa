package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/curbside-health/curbside/model"
)

// Session is a signed-in client. Only the SHA-256 of its token is stored,
// so a copy of the database does not yield usable tokens.
type Session struct {
	TokenHash []byte
	User      *model.User
	Device    int64 // 0 until the session registers a device
	CreatedAt int64
	LastUsed  int64
	ExpiresAt int64
	MFA       string // how sign-in was confirmed: "" (password only), "totp", "recovery", "passkey"
	IP        string // the address that signed in
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, tokenHash []byte, user int64, expiresAt int64) error {
	return s.CreateSessionFrom(ctx, tokenHash, user, expiresAt, "", "")
}

// CreateSessionFrom stores a new session, recording how its sign-in was
// confirmed (mfa) and from which address. A user who already holds the
// policy's sessions_max_per_user unexpired sessions is refused with a
// model.ErrLimit refusal: no session is ended to make room.
func (s *Store) CreateSessionFrom(ctx context.Context, tokenHash []byte, user int64, expiresAt int64, mfa, ip string) error {
	now := nowMS()
	return s.submit(ctx, func(tx *sql.Tx) error {
		pol, err := policyIn(tx)
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(`SELECT COUNT(*) FROM sessions WHERE user_id = ? AND expires_at > ? AND last_used > ?`,
			user, now, now-pol.SessionIdle.Milliseconds()).Scan(&n); err != nil {
			return err
		}
		if n >= pol.SessionsMaxPerUser {
			return model.Refuse(model.ErrLimit, "you are signed in on %d browsers or devices, the most your practice allows; sign out on one of them, or wait until an unused sign-in ends", n)
		}
		if _, err := tx.Exec(`INSERT INTO sessions (token_hash, user_id, created_at, last_used, expires_at, mfa, ip) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			tokenHash, user, now, now, expiresAt, mfa, ip); err != nil {
			return err
		}
		_, err = tx.Exec(`UPDATE users SET signed_in_at = ? WHERE id = ? AND signed_in_at = 0`, now, user)
		return err
	})
}

// SessionByHash returns the session with the given token hash and its user.
func (s *Store) SessionByHash(ctx context.Context, tokenHash []byte) (*Session, error) {
	var ss Session
	row := s.read.QueryRowContext(ctx, `SELECT s.device_id, s.created_at, s.last_used, s.expires_at, s.mfa, s.ip, `+prefixed("u.", userColumns)+`
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`, tokenHash)
	var u model.User
	err := row.Scan(append([]any{&ss.Device, &ss.CreatedAt, &ss.LastUsed, &ss.ExpiresAt, &ss.MFA, &ss.IP}, userDest(&u)...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	ss.TokenHash = tokenHash
	ss.User = &u
	return &ss, nil
}

// TouchSession records use of a session.
func (s *Store) TouchSession(ctx context.Context, tokenHash []byte, at int64) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE sessions SET last_used = ? WHERE token_hash = ?`, at, tokenHash)
		return err
	})
}

// DeleteSession ends one session.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
		return err
	})
}

// DeleteExpiredSessions removes sessions past their absolute expiry or idle
// longer than idleMS.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now, idleMS int64) (int64, error) {
	var n int64
	err := s.submit(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM sessions WHERE expires_at < ? OR last_used < ?`, now, now-idleMS)
		if err == nil {
			n, _ = res.RowsAffected()
		}
		return err
	})
	return n, err
}
