package store

import (
	"bytes"
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// DeviceRequest is a device waiting for one of its user's active devices
// to approve it (PROTOCOL.md 3.1).
type DeviceRequest struct {
	ID            int64  `json:"id"`
	User          int64  `json:"user"`
	Name          string `json:"name"`
	Agent         string `json:"agent"`
	Enc           []byte `json:"enc"`
	Sign          []byte `json:"sign"`
	Commit        []byte `json:"commit"`
	Approver      int64  `json:"approver"`       // the device that answered with its nonce (0: none yet)
	ApproverNonce []byte `json:"approver_nonce"` // that device's nonce
	Reveal        []byte `json:"reveal"`         // the new device's nonce, once revealed
	CreatedAt     int64  `json:"created_at"`
	// Recovery is a request of a user with no active device left, which
	// an administrator approves (PROTOCOL.md 3.2); its own list is kept.
	Recovery      bool  `json:"recovery,omitempty"`
	AdminApprover int64 `json:"-"` // the administrator who answered a recovery (0: none yet)
	tokenHash     []byte
	recoveryList  []byte
	codeFailures  int
}

// Listed returns the requested device as a device list names it.
func (r *DeviceRequest) Listed() protocol.ListedDevice {
	return protocol.ListedDevice{ID: r.ID, Enc: r.Enc, Sign: r.Sign}
}

const requestColumns = `id, user_id, name, agent, enc_key, sign_key, commit_hash, approver_id, approver_nonce, reveal_nonce, created_at, token_hash, recovery_list, admin_approver, code_failures`

func (r *DeviceRequest) dest() []any {
	return []any{&r.ID, &r.User, &r.Name, &r.Agent, &r.Enc, &r.Sign, &r.Commit, &r.Approver, &r.ApproverNonce, &r.Reveal, &r.CreatedAt, &r.tokenHash, &r.recoveryList, &r.AdminApprover, &r.codeFailures}
}

// scanRequest reads one request row and derives Recovery.
func scanRequest(row interface{ Scan(...any) error }) (*DeviceRequest, error) {
	r := &DeviceRequest{}
	if err := row.Scan(r.dest()...); err != nil {
		return nil, err
	}
	r.Recovery = r.recoveryList != nil
	return r, nil
}

// DeviceRequests lists a user's devices waiting for approval, oldest first.
func (s *Store) DeviceRequests(ctx context.Context, user int64) ([]*DeviceRequest, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+requestColumns+` FROM device_requests WHERE user_id = ? ORDER BY created_at, id`, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*DeviceRequest
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeviceRequestOf returns the device request the session tokenHash made.
func (s *Store) DeviceRequestOf(ctx context.Context, tokenHash []byte) (*DeviceRequest, error) {
	r, err := scanRequest(s.read.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM device_requests WHERE token_hash = ?`, tokenHash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.ErrNotFound
	}
	return r, err
}

// AnswerDeviceRequest records approver's nonce on user's request id. The
// first active device to answer is the approver; the same device may send
// the same nonce again, any other answer is ErrConflict.
func (s *Store) AnswerDeviceRequest(ctx context.Context, user, id, approver int64, nonce []byte) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRow(`SELECT 1 FROM devices WHERE id = ? AND user_id = ? AND state = 'active'`, approver, user).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return model.Refuse(model.ErrNotFound, "device %d is not an active device of this user", approver)
		}
		if err != nil {
			return err
		}
		var cur, admin int64
		var curNonce []byte
		err = tx.QueryRow(`SELECT approver_id, admin_approver, approver_nonce FROM device_requests WHERE id = ? AND user_id = ?`, id, user).Scan(&cur, &admin, &curNonce)
		if errors.Is(err, sql.ErrNoRows) {
			return model.ErrNotFound
		}
		if err != nil {
			return err
		}
		if admin != 0 {
			return model.Refuse(model.ErrConflict, "an administrator is approving this request")
		}
		if cur != 0 {
			if cur == approver && bytes.Equal(curNonce, nonce) {
				return nil
			}
			return model.Refuse(model.ErrConflict, "device %d is approving this request already", cur)
		}
		_, err = tx.Exec(`UPDATE device_requests SET approver_id = ?, approver_nonce = ? WHERE id = ?`, approver, nonce, id)
		return err
	})
}

// RevealDeviceRequest records the new device's nonce on the request its
// session made, once an approver has answered. The nonce must match the
// commitment made with the request: anything else is ErrConflict.
func (s *Store) RevealDeviceRequest(ctx context.Context, tokenHash, nonce []byte) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		var id, approver int64
		var commit, reveal []byte
		err := tx.QueryRow(`SELECT id, approver_id + admin_approver, commit_hash, reveal_nonce FROM device_requests WHERE token_hash = ?`, tokenHash).Scan(&id, &approver, &commit, &reveal)
		if errors.Is(err, sql.ErrNoRows) {
			return model.ErrNotFound
		}
		if err != nil {
			return err
		}
		if approver == 0 {
			return model.Refuse(model.ErrConflict, "no device or administrator has answered the request yet")
		}
		if subtle.ConstantTimeCompare(protocol.ApprovalCommit(nonce), commit) != 1 {
			return model.Refuse(model.ErrConflict, "the nonce does not match the request's commitment")
		}
		if reveal != nil {
			return nil
		}
		_, err = tx.Exec(`UPDATE device_requests SET reveal_nonce = ? WHERE id = ?`, nonce, id)
		return err
	})
}

// DenyDeviceRequest deletes user's device request id.
func (s *Store) DenyDeviceRequest(ctx context.Context, user, id int64) error {
	return s.exec1(ctx, `DELETE FROM device_requests WHERE id = ? AND user_id = ?`, id, user)
}

// ApproveDevice turns user's device request id into an active device,
// stores list (signed by approver, verified by the caller) as the user's
// new device list, and binds the session that made the request to the new
// device, all in one transaction. approver must be the device that
// answered the request, and still active; the request must have been
// revealed; the list must follow the stored version and name exactly the
// user's active devices plus the new one, with unchanged keys.
func (s *Store) ApproveDevice(ctx context.Context, user, approver, id int64, list *protocol.DeviceList, rawList []byte) error {
	now := nowMS()
	return s.submit(ctx, func(tx *sql.Tx) error {
		r, err := requestIn(tx, user, id)
		if err != nil {
			return err
		}
		if r.Approver != approver || r.Reveal == nil {
			return model.Refuse(model.ErrConflict, "the request has not been answered by this device and revealed by the new one")
		}
		var cur int64
		if err := tx.QueryRow(`SELECT version FROM device_lists WHERE user_id = ?`, user).Scan(&cur); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if list.Version != cur+1 {
			return model.Refuse(model.ErrConflict, "device list version %d does not follow the current version %d", list.Version, cur)
		}
		active, err := activeDevices(tx, user)
		if err != nil {
			return err
		}
		if active[approver] == nil {
			return model.Refuse(model.ErrConflict, "the approving device %d is no longer active", approver)
		}
		pol, err := policyIn(tx)
		if err != nil {
			return err
		}
		if len(active) >= pol.DevicesMaxPerUser {
			return model.Refuse(model.ErrLimit, "you already have %d devices set up, the most your practice allows; remove one in the app's settings or ask your administrator", len(active))
		}
		if len(list.Devices) != len(active)+1 {
			return model.Refuse(model.ErrConflict, "the list names %d devices; the directory has %d active plus the new one", len(list.Devices), len(active))
		}
		for _, d := range list.Devices {
			var want *Device
			if d.ID == r.ID {
				want = &Device{Enc: r.Enc, Sign: r.Sign}
			} else {
				want = active[d.ID]
			}
			if want == nil || !bytes.Equal(want.Enc, d.Enc) || !bytes.Equal(want.Sign, d.Sign) {
				return model.Refuse(model.ErrConflict, "device %d in the list is not an active or requested device of this user with those keys", d.ID)
			}
		}
		if _, err := tx.Exec(`INSERT INTO devices (id, user_id, name, enc_key, sign_key, created_at, last_seen, share, agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, user, r.Name, r.Enc, r.Sign, now, now, newShare(), r.Agent); err != nil {
			return err
		}
		if err := putDeviceList(tx, user, list.Version, rawList, 0); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE sessions SET device_id = ? WHERE token_hash = ? AND user_id = ? AND device_id = 0`, r.ID, r.tokenHash, user); err != nil {
			return err
		}
		_, err = tx.Exec(`DELETE FROM device_requests WHERE id = ?`, r.ID)
		return err
	})
}

// requestIn reads user's device request id in a transaction.
func requestIn(tx *sql.Tx, user, id int64) (*DeviceRequest, error) {
	r, err := scanRequest(tx.QueryRow(`SELECT `+requestColumns+` FROM device_requests WHERE id = ? AND user_id = ?`, id, user))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.ErrNotFound
	}
	return r, err
}

// MaxRecoveryCodeFailures is how many wrong codes an administrator may type
// for one recovery request before it ends.
const MaxRecoveryCodeFailures = 3

// ErrRecoveryCode is ApproveRecovery's answer to a wrong code; the request
// stays unless it was the last try (see ErrRecoveryEnded).
var ErrRecoveryCode = errors.New("store: the code does not match the device's")

// ErrRecoveryEnded means a wrong code was the last one allowed: the request
// is deleted, and the device must ask again.
var ErrRecoveryEnded = errors.New("store: too many wrong codes; the request is ended")

// AnswerRecovery records admin's nonce on user's recovery request id (an
// administrator takes the approving device's part, PROTOCOL.md 3.2). The
// first administrator to answer is the approver; the same one may send the
// same nonce again; any other answer is ErrConflict, and a request that is
// not a recovery is ErrNotFound.
func (s *Store) AnswerRecovery(ctx context.Context, user, id, admin int64, nonce []byte) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		r, err := requestIn(tx, user, id)
		if err != nil {
			return err
		}
		if !r.Recovery {
			return model.Refuse(model.ErrNotFound, "request %d is approved on one of the user's devices, not by an administrator", id)
		}
		if r.Approver != 0 {
			return model.Refuse(model.ErrConflict, "one of the user's devices is approving this request")
		}
		if r.AdminApprover != 0 {
			if r.AdminApprover == admin && bytes.Equal(r.ApproverNonce, nonce) {
				return nil
			}
			return model.Refuse(model.ErrConflict, "another administrator is approving this request already")
		}
		_, err = tx.Exec(`UPDATE device_requests SET admin_approver = ?, approver_nonce = ? WHERE id = ?`, admin, nonce, id)
		return err
	})
}

// ApproveRecovery turns user's recovery request id into the user's one
// active device, if code is the one the device shows: it stores the
// device's own list as the user's, marked approved by admin, and binds the
// session that asked to the device, in one transaction. admin must be the
// administrator who answered; the device must have revealed its nonce; the
// user must still have no active device, and the list must still follow
// the stored version. A wrong code counts: the third ends the request.
func (s *Store) ApproveRecovery(ctx context.Context, user, id, admin int64, code string) error {
	now := nowMS()
	var wrong error
	err := s.submit(ctx, func(tx *sql.Tx) error {
		wrong = nil
		r, err := requestIn(tx, user, id)
		if err != nil {
			return err
		}
		if !r.Recovery {
			return model.Refuse(model.ErrNotFound, "request %d is not a recovery", id)
		}
		if r.AdminApprover != admin || r.Reveal == nil {
			return model.Refuse(model.ErrConflict, "the request has not been answered by you and revealed by the new device")
		}
		var list protocol.DeviceList
		if err := protocol.StrictUnmarshal(r.recoveryList, &list); err != nil {
			return err
		}
		var cur int64
		if err := tx.QueryRow(`SELECT version FROM device_lists WHERE user_id = ?`, user).Scan(&cur); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		active, err := activeDevices(tx, user)
		if err != nil {
			return err
		}
		if len(active) > 0 || list.Version != cur+1 {
			return model.Refuse(model.ErrConflict, "the person's devices changed since this device asked; it must ask again")
		}
		want := protocol.ApprovalCode(user, r.Listed(), r.Reveal, r.ApproverNonce)
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
			failed(ctx, "wrong code")
			if r.codeFailures+1 >= MaxRecoveryCodeFailures {
				wrong = ErrRecoveryEnded
				note(ctx, "ended", true)
				_, err = tx.Exec(`DELETE FROM device_requests WHERE id = ?`, id)
			} else {
				wrong = ErrRecoveryCode
				_, err = tx.Exec(`UPDATE device_requests SET code_failures = code_failures + 1 WHERE id = ?`, id)
			}
			return err // the count commits; the refusal follows
		}
		if _, err := tx.Exec(`INSERT INTO devices (id, user_id, name, enc_key, sign_key, created_at, last_seen, share, agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, user, r.Name, r.Enc, r.Sign, now, now, newShare(), r.Agent); err != nil {
			return err
		}
		if err := putDeviceList(tx, user, list.Version, r.recoveryList, admin); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE sessions SET device_id = ? WHERE token_hash = ? AND user_id = ? AND device_id = 0`, r.ID, r.tokenHash, user); err != nil {
			return err
		}
		// The request approved, and any other recovery of this user: the
		// user has a device now, which approves whatever else asks.
		_, err = tx.Exec(`DELETE FROM device_requests WHERE id = ? OR (user_id = ? AND recovery_list IS NOT NULL)`, r.ID, user)
		return err
	})
	if err == nil && wrong != nil {
		return wrong
	}
	return err
}

// OtherApprovers counts who else could approve u's recovery: active users
// other than u at a level that may manage u (an owner for an owner or an
// admin, an admin or owner for anyone below) who have a second factor to
// pass the step-up with.
func (s *Store) OtherApprovers(ctx context.Context, u *model.User) (int, error) {
	levels := `'owner'`
	if model.LevelRank(u.AdminLevel) < model.LevelRank(model.LevelAdmin) {
		levels = `'owner', 'admin'`
	}
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE state = 'active' AND admin_level IN (`+levels+`) AND id != ?
		AND (EXISTS (SELECT 1 FROM mfa_totp t WHERE t.user_id = users.id AND t.confirmed)
		  OR EXISTS (SELECT 1 FROM mfa_recovery r WHERE r.user_id = users.id AND r.used_at = 0))`, u.ID).Scan(&n)
	return n, err
}

// CodeTriesLeft is how many wrong codes the request still allows.
func (r *DeviceRequest) CodeTriesLeft() int { return MaxRecoveryCodeFailures - r.codeFailures }
