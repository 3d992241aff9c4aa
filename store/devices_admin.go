package store

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"errors"
	"strings"

	"github.com/curbside-health/curbside/model"
)

// DeviceInfo is a device as the admin console lists it: the device, whose
// it is, and how many sessions are signed in on it now.
type DeviceInfo struct {
	Device
	Username string `json:"username"`
	Display  string `json:"display"`
	Sessions int    `json:"sessions"`
}

// DeviceFilter narrows the device inventory. Zero values match everything.
type DeviceFilter struct {
	User   int64  // only this user's devices
	State  string // DeviceActive or DeviceRevoked
	Q      string // a substring of the username, display name, device name or agent
	Limit  int    // at most this many (0: no limit)
	Offset int
}

// Devices returns the devices f selects, newest first, and how many there
// are in all (before Limit and Offset).
func (s *Store) Devices(ctx context.Context, f DeviceFilter) ([]*DeviceInfo, int, error) {
	var where []string
	var args []any
	if f.User != 0 {
		where = append(where, `d.user_id = ?`)
		args = append(args, f.User)
	}
	if f.State != "" {
		where = append(where, `d.state = ?`)
		args = append(args, f.State)
	}
	if f.Q != "" {
		like := "%" + escapeLike(f.Q) + "%"
		where = append(where, `(u.username LIKE ? ESCAPE '\' OR u.display LIKE ? ESCAPE '\' OR d.name LIKE ? ESCAPE '\' OR d.agent LIKE ? ESCAPE '\')`)
		args = append(args, like, like, like, like)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM devices d JOIN users u ON u.id = d.user_id`+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	q := `SELECT ` + prefixed("d.", deviceColumns) + `, u.username, u.display,
		(SELECT count(*) FROM sessions s WHERE s.device_id = d.id)
		FROM devices d JOIN users u ON u.id = d.user_id` + cond + ` ORDER BY d.last_seen DESC, d.id`
	if f.Limit > 0 {
		q += ` LIMIT ? OFFSET ?`
		args = append(args, f.Limit, f.Offset)
	}
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []*DeviceInfo{}
	for rows.Next() {
		var d DeviceInfo
		if err := rows.Scan(append(d.dest(), &d.Username, &d.Display, &d.Sessions)...); err != nil {
			return nil, 0, err
		}
		out = append(out, &d)
	}
	return out, total, rows.Err()
}

// escapeLike escapes the LIKE wildcards in s (with backslash as the escape).
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// LockDevice ends every session bound to an active device and returns how
// many there were. The device itself stays active, with its keys and its
// queue: whoever holds it must sign in with the password again and resume
// it (PROTOCOL.md section 9). A revoked device is ErrConflict.
func (s *Store) LockDevice(ctx context.Context, id int64) (ended int, err error) {
	err = s.submit(ctx, func(tx *sql.Tx) error {
		var state string
		err := tx.QueryRow(`SELECT state FROM devices WHERE id = ?`, id).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return model.ErrNotFound
		}
		if err != nil {
			return err
		}
		if state != DeviceActive {
			return model.Refuse(model.ErrConflict, "device %d is %s", id, state)
		}
		res, err := tx.Exec(`DELETE FROM sessions WHERE device_id = ?`, id)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		ended = int(n)
		note(ctx, NoteSessionsEnded, ended)
		return nil
	})
	return ended, err
}

// WipeDevice revokes a device for good and stores cmd, the signed wipe
// command it is handed on its next contact: the device is marked revoked,
// its key share (half of what opens its local store) is deleted, the
// ciphertext queued for it is deleted, and its sessions end. It returns how
// many sessions ended. A device already wiped is ErrConflict.
func (s *Store) WipeDevice(ctx context.Context, id int64, cmd []byte) (ended int, err error) {
	if len(cmd) == 0 {
		return 0, errors.New("store: a wipe needs its command")
	}
	err = s.submit(ctx, func(tx *sql.Tx) error {
		var wiped bool
		err := tx.QueryRow(`SELECT wipe IS NOT NULL FROM devices WHERE id = ?`, id).Scan(&wiped)
		if errors.Is(err, sql.ErrNoRows) {
			return model.ErrNotFound
		}
		if err != nil {
			return err
		}
		if wiped {
			return model.Refuse(model.ErrConflict, "device %d was already wiped", id)
		}
		if _, err := tx.Exec(`UPDATE devices SET state = 'revoked', share = NULL, wipe = ?,
			revoked_at = CASE WHEN state = 'active' THEN ? ELSE revoked_at END WHERE id = ?`, cmd, nowMS(), id); err != nil {
			return err
		}
		res, err := tx.Exec(`DELETE FROM sessions WHERE device_id = ?`, id)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		ended = int(n)
		note(ctx, NoteSessionsEnded, ended)
		if err := endStrandedRequests(tx, id); err != nil {
			return err
		}
		return deleteQueueOf(tx, id)
	})
	return ended, err
}

// endStrandedRequests ends the requests waiting for one of the user's
// devices (PROTOCOL.md 3.1) once revoking device id left the user no
// active device to approve them: each must ask again, and is then a
// recovery that an administrator approves (3.2).
func endStrandedRequests(tx *sql.Tx, id int64) error {
	_, err := tx.Exec(`DELETE FROM device_requests WHERE recovery_list IS NULL
		AND user_id = (SELECT user_id FROM devices WHERE id = ?1)
		AND NOT EXISTS (SELECT 1 FROM devices WHERE user_id = (SELECT user_id FROM devices WHERE id = ?1) AND state = 'active')`, id)
	return err
}

// DeviceWipeCommand returns the wipe command stored for a device, or
// ErrNotFound if the device is unknown or was never wiped.
func (s *Store) DeviceWipeCommand(ctx context.Context, id int64) ([]byte, error) {
	var cmd []byte
	err := s.read.QueryRowContext(ctx, `SELECT wipe FROM devices WHERE id = ? AND wipe IS NOT NULL`, id).Scan(&cmd)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.ErrNotFound
	}
	return cmd, err
}

// WipeFetched records that a wiped device fetched its wipe command, the
// device's confirmation that the wipe reached it; the first time stands.
func (s *Store) WipeFetched(ctx context.Context, id, at int64) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE devices SET wiped_at = ? WHERE id = ? AND wipe IS NOT NULL AND wiped_at = 0`, at, id)
		return err
	})
}

// commandKeyName is the server_state row holding the command key's seed.
const commandKeyName = "command_key"

// CommandKey returns the server's Ed25519 key for signing device commands
// (remote wipe), making and storing it on first use. It signs commands
// only: it opens no message, and a copy of it lets one forge a wipe of a
// device, nothing more.
func (s *Store) CommandKey(ctx context.Context) (ed25519.PrivateKey, error) {
	// Another request (or the CLI) may make it meanwhile: the first one
	// stored wins, so every command verifies with one key.
	seed, err := s.serverKey(ctx, commandKeyName, func(v []byte) bool { return len(v) == ed25519.SeedSize },
		func() ([]byte, error) {
			seed := make([]byte, ed25519.SeedSize)
			rand.Read(seed)
			return seed, nil
		})
	if err != nil {
		return nil, err
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// serverKey returns the server_state value name, making it with gen and
// storing it on first use. The first value stored wins over one made
// meanwhile; a stored value that valid refuses is replaced (valid nil
// takes any).
func (s *Store) serverKey(ctx context.Context, name string, valid func([]byte) bool, gen func() ([]byte, error)) ([]byte, error) {
	ok := func(v []byte) bool { return valid == nil || valid(v) }
	var v []byte
	err := s.read.QueryRowContext(ctx, `SELECT value FROM server_state WHERE name = ?`, name).Scan(&v)
	if err == nil && ok(v) {
		return v, nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	err = s.submit(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRow(`SELECT value FROM server_state WHERE name = ?`, name).Scan(&v)
		if err == nil && ok(v) {
			return nil
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if v, err = gen(); err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO server_state (name, value) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, v)
		return err
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}
