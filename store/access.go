package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/curbside-health/curbside/model"
)

// maxHashesPerQuery bounds the token hashes one LiveSessions or
// TouchSessions statement names, well inside SQLite's limit on bound
// parameters.
const maxHashesPerQuery = 500

// AccessEpoch returns the access epoch: a counter that the schema's
// triggers move on every commit that deletes a session, changes a user's
// state or password, or changes a device's state, whichever process
// committed it. A reader that sees it unchanged knows that no session has
// ended since it last looked, so one read of one row stands in for
// rereading every session. Only a change of the number means anything.
func (s *Store) AccessEpoch(ctx context.Context) (int64, error) {
	var n int64
	err := s.read.QueryRowContext(ctx, `SELECT n FROM access_epoch WHERE id = 1`).Scan(&n)
	return n, err
}

// LiveSessions reports which of the given sessions (by token hash) are
// still live at now: stored, not past their absolute expiry, used within
// idleMS, and of a user in the active state. These are the conditions under
// which the sign-in path accepts a session too. The result maps each live
// hash, as a string, to when it ends unless used again (ms): the earlier
// of its absolute expiry and its idle limit.
func (s *Store) LiveSessions(ctx context.Context, hashes [][]byte, now, idleMS int64) (map[string]int64, error) {
	live := make(map[string]int64, len(hashes))
	for len(hashes) > 0 {
		part := hashes[:min(len(hashes), maxHashesPerQuery)]
		hashes = hashes[len(part):]
		args := make([]any, 0, len(part)+3)
		args = append(args, idleMS, now, now-idleMS)
		for _, h := range part {
			args = append(args, h)
		}
		rows, err := s.read.QueryContext(ctx, `SELECT s.token_hash, min(s.expires_at, s.last_used + ?) FROM sessions s JOIN users u ON u.id = s.user_id
			WHERE s.expires_at > ? AND s.last_used > ? AND u.state = 'active' AND s.token_hash IN (`+bindList(len(part))+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var h []byte
			var end int64
			if err := rows.Scan(&h, &end); err != nil {
				rows.Close()
				return nil, err
			}
			live[string(h)] = end
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return live, nil
}

// TouchSessions records that the given sessions were in use at at (a
// device kept talking over its relay connection), so that their idle
// limit counts from then, as an HTTP request's use does.
func (s *Store) TouchSessions(ctx context.Context, hashes [][]byte, at int64) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		for len(hashes) > 0 {
			part := hashes[:min(len(hashes), maxHashesPerQuery)]
			hashes = hashes[len(part):]
			args := make([]any, 0, len(part)+1)
			args = append(args, at)
			for _, h := range part {
				args = append(args, h)
			}
			if _, err := tx.Exec(`UPDATE sessions SET last_used = max(last_used, ?) WHERE token_hash IN (`+bindList(len(part))+`)`, args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// bindList is n comma-separated SQL parameters, for an IN list.
func bindList(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// SetDeviceWipeKey records the public key an active device proves itself
// with when it asks for its wipe command while locked.
func (s *Store) SetDeviceWipeKey(ctx context.Context, device int64, key []byte) error {
	return s.exec1(ctx, `UPDATE devices SET wipe_key = ? WHERE id = ? AND state = 'active'`, key, device)
}

// DeviceProofKeys returns the keys a device may prove itself with to the
// wipe check: its signing key and, if it set one, its wipe-check key.
func (s *Store) DeviceProofKeys(ctx context.Context, device int64) (sign, wipe []byte, err error) {
	err = s.read.QueryRowContext(ctx, `SELECT sign_key, wipe_key FROM devices WHERE id = ?`, device).Scan(&sign, &wipe)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, model.ErrNotFound
	}
	return sign, wipe, err
}
