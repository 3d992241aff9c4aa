package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// MailSettings is the stored SMTP configuration. Password is the sealed
// password (package mail seals and opens it); nil means none is stored.
type MailSettings struct {
	Host      string
	Port      int
	Security  string
	Username  string
	Password  []byte
	From      string
	Practice  string
	UpdatedAt int64
}

// MailSettings returns the stored SMTP settings, or model.ErrNotFound
// when email was never set up.
func (s *Store) MailSettings(ctx context.Context) (*MailSettings, error) {
	var m MailSettings
	err := s.read.QueryRowContext(ctx, `SELECT host, port, security, username, password, from_addr, practice, updated_at
		FROM mail_settings WHERE id = 1`).Scan(&m.Host, &m.Port, &m.Security, &m.Username, &m.Password, &m.From, &m.Practice, &m.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.ErrNotFound
	}
	return &m, err
}

// SetMailSettings stores m in place of the settings stored before; with
// keepPassword, the stored password stays as it was and m.Password is
// ignored.
func (s *Store) SetMailSettings(ctx context.Context, m *MailSettings, keepPassword bool) error {
	m.UpdatedAt = nowMS()
	return s.submit(ctx, func(tx *sql.Tx) error {
		pw := m.Password
		if keepPassword {
			err := tx.QueryRow(`SELECT password FROM mail_settings WHERE id = 1`).Scan(&pw)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		_, err := tx.Exec(`INSERT INTO mail_settings (id, host, port, security, username, password, from_addr, practice, updated_at)
			VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET host = excluded.host, port = excluded.port,
			security = excluded.security, username = excluded.username, password = excluded.password,
			from_addr = excluded.from_addr, practice = excluded.practice, updated_at = excluded.updated_at`,
			m.Host, m.Port, m.Security, m.Username, pw, m.From, m.Practice, m.UpdatedAt)
		return err
	})
}

// NudgeCandidate is a user who may be sent an unread nudge.
type NudgeCandidate struct {
	User  int64
	Email string
}

// NudgeCandidates lists active users with an email address who have a
// message waiting since before cutoff (ms) that none of their devices has
// received (no delivered receipt: it is still queued for every one of
// them), and who were not nudged since a device of theirs was last seen.
// Whether a device is connected right now only the relay knows; the
// caller asks it.
func (s *Store) NudgeCandidates(ctx context.Context, cutoff int64, limit int) ([]NudgeCandidate, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT u.id, u.email FROM users u
		WHERE u.state = 'active' AND u.email != ''
		AND u.id IN (SELECT d.user_id FROM queue q JOIN messages m ON m.id = q.message JOIN devices d ON d.id = q.device_id
			WHERE q.kind = ?1 AND m.accepted_at <= ?2 AND m.recalled = 0 AND d.state = 'active'
			AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.message = m.id AND r.user_id = d.user_id AND r.kind = ?3))
		AND NOT EXISTS (SELECT 1 FROM mail_nudges n WHERE n.user_id = u.id
			AND n.sent_at >= (SELECT COALESCE(max(last_seen), 0) FROM devices WHERE user_id = u.id))
		ORDER BY u.id LIMIT ?4`, kindMsg, cutoff, receiptKinds[protocol.ReceiptDelivered], limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []NudgeCandidate
	for rows.Next() {
		var c NudgeCandidate
		if err := rows.Scan(&c.User, &c.Email); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// MarkNudged records that user was sent an unread nudge at at (ms).
func (s *Store) MarkNudged(ctx context.Context, user, at int64) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO mail_nudges (user_id, sent_at) VALUES (?, ?)
			ON CONFLICT (user_id) DO UPDATE SET sent_at = excluded.sent_at`, user, at)
		return err
	})
}

// AlertRecipients returns the email addresses of the active owners and
// admins, who receive the server's alerts.
func (s *Store) AlertRecipients(ctx context.Context) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT DISTINCT email FROM users
		WHERE state = 'active' AND email != '' AND admin_level IN ('owner', 'admin') ORDER BY email`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
