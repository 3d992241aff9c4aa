package store

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"database/sql"
	"errors"
	"time"

	"github.com/curbside-health/curbside/model"
)

// PutPushSubscription stores the Web Push subscription of an active
// device, replacing the one it had: a device has at most one. A device
// that is unknown or not active is ErrNotFound.
func (s *Store) PutPushSubscription(ctx context.Context, sub model.PushSubscription) error {
	now := time.Now().UnixMilli()
	return s.submit(ctx, func(tx *sql.Tx) error {
		var state string
		err := tx.QueryRow(`SELECT state FROM devices WHERE id = ?`, sub.Device).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && state != DeviceActive) {
			return model.ErrNotFound
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO push_subscriptions (device_id, endpoint, p256dh, auth, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (device_id) DO UPDATE SET endpoint = excluded.endpoint, p256dh = excluded.p256dh,
				auth = excluded.auth, updated_at = excluded.updated_at`,
			sub.Device, sub.Endpoint, sub.P256DH, sub.Auth, now, now)
		return err
	})
}

// DeletePushSubscription deletes a device's subscription. With endpoint
// set, only a subscription to that endpoint is deleted, so that a push
// service's "gone" for an old subscription cannot delete the new one the
// device made meanwhile. It reports whether there was one to delete; the
// audit entry ctx carries is written only if there was.
func (s *Store) DeletePushSubscription(ctx context.Context, device int64, endpoint string) (bool, error) {
	var n int64
	err := s.submit(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM push_subscriptions WHERE device_id = ? AND (? = '' OR endpoint = ?)`, device, endpoint, endpoint)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			nothingDone(ctx) // no entry for a subscription that was not there
		}
		return err
	})
	return n > 0, err
}

// PushSubscription returns a device's subscription, or ErrNotFound.
func (s *Store) PushSubscription(ctx context.Context, device int64) (*model.PushSubscription, error) {
	sub := model.PushSubscription{Device: device}
	err := s.read.QueryRowContext(ctx, `SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE device_id = ?`, device).
		Scan(&sub.Endpoint, &sub.P256DH, &sub.Auth)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &sub, nil
}

// vapidKeyName is the server_state row holding the VAPID private key.
const vapidKeyName = "vapid_key"

// VAPIDKey returns the server's VAPID key (RFC 8292), the P-256 key that
// signs every push so that push services know the pushes come from the
// server the browsers subscribed with, making and storing it on first use.
// It encrypts nothing and opens nothing: a copy lets one send wake-ups
// to subscribed browsers, nothing more. It lives in the database so that
// a restored backup keeps the subscriptions working.
func (s *Store) VAPIDKey(ctx context.Context) (*ecdh.PrivateKey, error) {
	// The first key stored wins, so every subscription is to one key.
	raw, err := s.serverKey(ctx, vapidKeyName, nil, func() ([]byte, error) {
		k, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return k.Bytes(), nil
	})
	if err != nil {
		return nil, err
	}
	return ecdh.P256().NewPrivateKey(raw)
}
