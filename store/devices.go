package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// Device states.
const (
	DeviceActive  = "active"
	DeviceRevoked = "revoked"
)

// Device is one registered client device.
type Device struct {
	ID        int64  `json:"id"`
	User      int64  `json:"user"`
	Name      string `json:"name"`
	Enc       []byte `json:"enc"`
	Sign      []byte `json:"sign"`
	State     string `json:"state"`
	CreatedAt int64  `json:"created_at"`
	LastSeen  int64  `json:"last_seen"`
	Agent     string `json:"agent"`    // the User-Agent that registered it, at most MaxAgentLen bytes
	Wiped     bool   `json:"wiped"`    // a wipe command was issued for it
	WipedAt   int64  `json:"wiped_at"` // when it fetched that command (0: not yet)
}

// MaxAgentLen bounds the stored User-Agent of a device: enough to tell a
// browser and platform apart, not a place to store arbitrary client text.
const MaxAgentLen = 200

// TrimAgent cuts a User-Agent to MaxAgentLen bytes without splitting a
// UTF-8 sequence.
func TrimAgent(ua string) string {
	ua = strings.TrimSpace(ua)
	if len(ua) <= MaxAgentLen {
		return ua
	}
	ua = ua[:MaxAgentLen]
	for len(ua) > 0 && !utf8.ValidString(ua) {
		ua = ua[:len(ua)-1]
	}
	return ua
}

// deviceColumns are the columns scanDevice reads, in its order.
const deviceColumns = `id, user_id, name, enc_key, sign_key, state, created_at, last_seen, agent, wipe IS NOT NULL, wiped_at`

func (d *Device) dest() []any {
	return []any{&d.ID, &d.User, &d.Name, &d.Enc, &d.Sign, &d.State, &d.CreatedAt, &d.LastSeen, &d.Agent, &d.Wiped, &d.WipedAt}
}

// RegisterDevice adds the device newDev, named name and registered by the
// program agent (a User-Agent, trimmed with TrimAgent), to user's directory
// entry, stores list as the user's new signed device list, and binds the
// session tokenHash to the device, all in one transaction.
//
// The caller has verified list's signature. Here the list is checked
// against the directory: its version must follow the stored one, and its
// devices must be exactly the user's active devices plus the new one, with
// unchanged keys. Anything else is ErrConflict (raced with another
// registration or a revocation: refetch and re-sign).
//
// When the user already has an active device, the new one is not
// registered but requested (pending is true): it is stored as a device
// request with commit, its commitment to an approval nonce, and waits for
// one of the active devices to approve it (ApproveDevice). Its list is not
// stored, and the session stays unbound until then.
func (s *Store) RegisterDevice(ctx context.Context, user int64, name, agent string, newDev protocol.ListedDevice, list *protocol.DeviceList, rawList []byte, tokenHash []byte, commit []byte) (pending bool, err error) {
	now := nowMS()
	err = s.submit(ctx, func(tx *sql.Tx) error {
		pending = false
		var cur int64
		err := tx.QueryRow(`SELECT version FROM device_lists WHERE user_id = ?`, user).Scan(&cur)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if list.Version != cur+1 {
			return model.Refuse(model.ErrConflict, "device list version %d does not follow the current version %d", list.Version, cur)
		}
		var owner int64
		switch err := tx.QueryRow(`SELECT user_id FROM devices WHERE id = ? UNION ALL SELECT user_id FROM device_requests WHERE id = ? AND token_hash != ?`, newDev.ID, newDev.ID, tokenHash).Scan(&owner); {
		case err == nil:
			return model.Refuse(model.ErrExists, "device %d is already registered", newDev.ID)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		active, err := activeDevices(tx, user)
		if err != nil {
			return err
		}
		pol, err := policyIn(tx)
		if err != nil {
			return err
		}
		if len(active) >= pol.DevicesMaxPerUser {
			return model.Refuse(model.ErrLimit, "you already have %d devices set up, the most your practice allows; remove one in the app's settings or ask your administrator", len(active))
		}
		want := len(active) + 1
		if len(list.Devices) != want {
			return model.Refuse(model.ErrConflict, "the list names %d devices; the directory has %d active plus the new one", len(list.Devices), len(active))
		}
		for _, d := range list.Devices {
			if d.ID == newDev.ID {
				continue
			}
			a, ok := active[d.ID]
			if !ok || !bytes.Equal(a.Enc, d.Enc) || !bytes.Equal(a.Sign, d.Sign) {
				return model.Refuse(model.ErrConflict, "device %d in the list is not an active device of this user with those keys", d.ID)
			}
		}
		if len(active) > 0 || cur > 0 {
			// Not a device yet: a request that an active device approves,
			// or, for a user who had devices and has none left, that an
			// administrator approves (a recovery: it keeps its own list).
			pending = true
			if len(commit) != sha256.Size {
				return model.Refuse(model.ErrConflict, "a device of a user who has had one before needs an approval commitment")
			}
			var recovery []byte
			if len(active) == 0 {
				recovery = rawList
			}
			if _, err := tx.Exec(`DELETE FROM device_requests WHERE token_hash = ?`, tokenHash); err != nil {
				return err
			}
			_, err := tx.Exec(`INSERT INTO device_requests (id, user_id, token_hash, name, agent, enc_key, sign_key, commit_hash, created_at, recovery_list)
				SELECT ?, ?, token_hash, ?, ?, ?, ?, ?, ?, ? FROM sessions WHERE token_hash = ? AND user_id = ? AND device_id = 0`,
				newDev.ID, user, name, TrimAgent(agent), newDev.Enc, newDev.Sign, commit, now, recovery, tokenHash, user)
			if err != nil {
				return err
			}
			var n int
			if err := tx.QueryRow(`SELECT count(*) FROM device_requests WHERE id = ?`, newDev.ID).Scan(&n); err != nil {
				return err
			}
			if n != 1 {
				return model.Refuse(model.ErrNotFound, "the session ended during registration")
			}
			return nil
		}
		if _, err := tx.Exec(`INSERT INTO devices (id, user_id, name, enc_key, sign_key, created_at, last_seen, share, agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			newDev.ID, user, name, newDev.Enc, newDev.Sign, now, now, newShare(), TrimAgent(agent)); err != nil {
			return err
		}
		if err := putDeviceList(tx, user, list.Version, rawList, 0); err != nil {
			return err
		}
		res, err := tx.Exec(`UPDATE sessions SET device_id = ? WHERE token_hash = ? AND user_id = ?`, newDev.ID, tokenHash, user)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return model.Refuse(model.ErrNotFound, "the session ended during registration")
		}
		return nil
	})
	return pending, err
}

func activeDevices(q interface {
	Query(string, ...any) (*sql.Rows, error)
}, user int64) (map[int64]*Device, error) {
	rows, err := q.Query(`SELECT id, enc_key, sign_key FROM devices WHERE user_id = ? AND state = 'active'`, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]*Device{}
	for rows.Next() {
		d := &Device{User: user, State: DeviceActive}
		if err := rows.Scan(&d.ID, &d.Enc, &d.Sign); err != nil {
			return nil, err
		}
		out[d.ID] = d
	}
	return out, rows.Err()
}

// DeviceList returns a user's newest signed device list as stored (nil if
// the user has registered no device) and the ids of the user's active
// devices.
//
// approvedBy is the administrator whose approval stored the list (a
// recovery, PROTOCOL.md 3.2), or 0 when one of the user's devices signed it.
func (s *Store) DeviceList(ctx context.Context, user int64) (list json.RawMessage, active []int64, approvedBy int64, err error) {
	err = s.read.QueryRowContext(ctx, `SELECT list, approved_by FROM device_lists WHERE user_id = ?`, user).Scan((*[]byte)(&list), &approvedBy)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, nil, 0, err
	}
	active, err = s.ActiveDevices(ctx, user)
	return list, active, approvedBy, err
}

// putDeviceList stores a user's device list, with the administrator whose
// approval stored it (0: one of the user's devices).
func putDeviceList(tx *sql.Tx, user, version int64, raw []byte, approvedBy int64) error {
	_, err := tx.Exec(`INSERT INTO device_lists (user_id, version, list, approved_by) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET version = excluded.version, list = excluded.list, approved_by = excluded.approved_by`, user, version, raw, approvedBy)
	return err
}

// Revoked is a device taken out of use, and when (ms).
type Revoked struct {
	ID int64 `json:"id"`
	At int64 `json:"at"`
}

// RevokedDevices returns the user's revoked devices with the time each
// was revoked, the most recent first, at most limit of them.
func (s *Store) RevokedDevices(ctx context.Context, user int64, limit int) ([]Revoked, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, revoked_at FROM devices WHERE user_id = ? AND state = 'revoked' ORDER BY revoked_at DESC, id LIMIT ?`, user, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Revoked{}
	for rows.Next() {
		var r Revoked
		if err := rows.Scan(&r.ID, &r.At); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ActiveDevices returns the ids of a user's active devices in ascending order.
func (s *Store) ActiveDevices(ctx context.Context, user int64) ([]int64, error) {
	return scanIDs(s.read.QueryContext(ctx, `SELECT id FROM devices WHERE user_id = ? AND state = 'active' ORDER BY id`, user))
}

// DevicesOf lists all of a user's devices, active and revoked.
func (s *Store) DevicesOf(ctx context.Context, user int64) ([]*Device, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE user_id = ? ORDER BY created_at, id`, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Device
	for rows.Next() {
		var d Device
		if err := rows.Scan(d.dest()...); err != nil {
			return nil, err
		}
		out = append(out, &d)
	}
	return out, rows.Err()
}

func newShare() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

// DeviceByID returns one device.
func (s *Store) DeviceByID(ctx context.Context, id int64) (*Device, error) {
	var d Device
	err := s.read.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE id = ?`, id).Scan(d.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.ErrNotFound
	}
	return &d, err
}

// BindSession binds a session with no device to an existing active device
// of the session's user (a browser resuming its device after signing in
// again).
func (s *Store) BindSession(ctx context.Context, tokenHash []byte, user, device int64) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRow(`SELECT 1 FROM devices WHERE id = ? AND user_id = ? AND state = 'active'`, device, user).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return model.ErrNotFound
		}
		if err != nil {
			return err
		}
		res, err := tx.Exec(`UPDATE sessions SET device_id = ? WHERE token_hash = ? AND user_id = ? AND device_id = 0`, device, tokenHash, user)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return model.Refuse(model.ErrConflict, "the session is gone or already has a device")
		}
		return nil
	})
}

// DeviceShare returns an active device's local-store key share, making one
// for a device that has none yet. A revoked or wiped device has none, nor
// does one whose share too many wrong PINs deleted (store/pin.go). It
// checks no PIN: the apps get the share through CheckPINProof.
func (s *Store) DeviceShare(ctx context.Context, device int64) ([]byte, error) {
	var share []byte
	err := s.submit(ctx, func(tx *sql.Tx) error {
		var verified bool
		err := tx.QueryRow(`SELECT share, pin_verifier IS NOT NULL FROM devices WHERE id = ? AND state = 'active'`, device).Scan(&share, &verified)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && share == nil && verified) {
			return model.ErrNotFound
		}
		if err != nil || share != nil {
			return err
		}
		share = newShare()
		_, err = tx.Exec(`UPDATE devices SET share = ? WHERE id = ?`, share, device)
		return err
	})
	return share, err
}

// RevokeDevice marks a device revoked, ends the sessions bound to it and
// deletes the ciphertext still queued for it.
func (s *Store) RevokeDevice(ctx context.Context, id int64) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE devices SET state = 'revoked', share = NULL,
			revoked_at = CASE WHEN state = 'active' THEN ? ELSE revoked_at END WHERE id = ?`, nowMS(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return model.ErrNotFound
		}
		if _, err := tx.Exec(`DELETE FROM sessions WHERE device_id = ?`, id); err != nil {
			return err
		}
		if err := endStrandedRequests(tx, id); err != nil {
			return err
		}
		return deleteQueueOf(tx, id)
	})
}

// TouchDevice records that a device was seen at the given time, and marks
// it active on that (UTC) day for the active-devices report.
func (s *Store) TouchDevice(ctx context.Context, id, at int64) error {
	day := time.UnixMilli(at).UTC().Format(time.DateOnly)
	return s.submit(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`UPDATE devices SET last_seen = max(last_seen, ?) WHERE id = ?`, at, id); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT OR IGNORE INTO device_days (day, device_id) VALUES (?, ?)`, day, id)
		return err
	})
}
