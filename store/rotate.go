package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// RotateDeviceKey stores list as user's new signed device list and the new
// encryption key it gives device, in one transaction: a rotation of the
// device's encryption key (PROTOCOL.md 3.3).
//
// The caller has verified that device signed list. Here the list is checked
// against what is stored: its version must follow the stored list's, and it
// must name exactly the stored list's devices with the same keys except
// device's encryption keys: its X25519 key, which must be new, and its
// X-Wing key, which may be added or replaced with it (ErrConflict otherwise: the
// list changed meanwhile, or this is not a rotation). device must be an
// active device of user (ErrNotFound). A device that rotated less than the
// policy's KeyRotationGap ago is refused with ErrLimit.
func (s *Store) RotateDeviceKey(ctx context.Context, user, device int64, list *protocol.DeviceList, rawList []byte) error {
	now := nowMS()
	return s.submit(ctx, func(tx *sql.Tx) error {
		var state string
		var last int64
		err := tx.QueryRow(`SELECT state, enc_rotated_at FROM devices WHERE id = ? AND user_id = ?`, device, user).Scan(&state, &last)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && state != DeviceActive) {
			return model.Refuse(model.ErrNotFound, "device %d is not an active device of yours", device)
		}
		if err != nil {
			return err
		}
		var cur int64
		var raw []byte
		err = tx.QueryRow(`SELECT version, list FROM device_lists WHERE user_id = ?`, user).Scan(&cur, &raw)
		if errors.Is(err, sql.ErrNoRows) {
			return model.Refuse(model.ErrConflict, "you have no device list yet")
		}
		if err != nil {
			return err
		}
		if list.Version != cur+1 {
			return model.Refuse(model.ErrConflict, "device list version %d does not follow the current version %d", list.Version, cur)
		}
		var stored protocol.DeviceList
		if err := protocol.StrictUnmarshal(raw, &stored); err != nil {
			return err
		}
		if len(stored.Devices) != len(list.Devices) {
			return model.Refuse(model.ErrConflict, "a rotation must list the same devices as the current list")
		}
		rotated := false
		for i, d := range list.Devices {
			o := stored.Devices[i]
			if o.ID != d.ID || !bytes.Equal(o.Sign, d.Sign) {
				return model.Refuse(model.ErrConflict, "a rotation must list the same devices as the current list")
			}
			switch {
			case d.ID == device:
				rotated = !bytes.Equal(o.Enc, d.Enc)
			case !bytes.Equal(o.Enc, d.Enc) || !bytes.Equal(o.PQ, d.PQ):
				return model.Refuse(model.ErrConflict, "a rotation may change only the rotating device's own key")
			}
		}
		if !rotated {
			return model.Refuse(model.ErrConflict, "the list does not give device %d a new key", device)
		}
		pol, err := policyIn(tx)
		if err != nil {
			return err
		}
		if gap := pol.KeyRotationGap(); last > 0 && now-last < gap.Milliseconds() {
			return model.Refuse(model.ErrLimit, "this device made a new key less than %s ago; it may make one every %s", gap.Round(time.Second), gap.Round(time.Second))
		}
		d, _ := list.Find(device)
		if _, err := tx.Exec(`UPDATE devices SET enc_key = ?, enc_rotated_at = ? WHERE id = ?`, d.Enc, now, device); err != nil {
			return err
		}
		// The same devices, one key new: who approved the list stays (an
		// administrator's recovery is still what peers who missed it see).
		var approvedBy int64
		if err := tx.QueryRow(`SELECT approved_by FROM device_lists WHERE user_id = ?`, user).Scan(&approvedBy); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		return putDeviceList(tx, user, list.Version, rawList, approvedBy)
	})
}
