package api

import (
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// maxPushBody bounds a subscription's JSON: an endpoint of at most
// push.MaxEndpoint bytes and two short keys.
const maxPushBody = 4 << 10

// pushRequest is a PushSubscription as the browser's toJSON() gives it.
type pushRequest struct {
	Endpoint       string `json:"endpoint"`
	ExpirationTime *int64 `json:"expirationTime"` // read and ignored: push services say when a subscription is gone
	Keys           struct {
		P256DH string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
}

var errPushOff = protocol.CodePushUnavailable.Err()

// pushStatus reports whether the calling device has a subscription.
func (a *API) pushStatus(w http.ResponseWriter, r *http.Request) error {
	if a.Push == nil {
		return errPushOff
	}
	_, err := a.Store.PushSubscription(r.Context(), auth.SessionOf(r.Context()).Device)
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"subscribed": err == nil})
}

// putPush stores the calling device's subscription, replacing any it had.
func (a *API) putPush(w http.ResponseWriter, r *http.Request) error {
	if a.Push == nil {
		return errPushOff
	}
	var req pushRequest
	if err := web.DecodeJSON(w, r, maxPushBody, &req); err != nil {
		return err
	}
	u, err := a.Push.Guard().CheckEndpoint(req.Endpoint)
	if err != nil {
		a.Log.Info("push subscription refused", "device", auth.SessionOf(r.Context()).Device, "why", err)
		return protocol.CodePushRefused.Err()
	}
	p256dh, err := decodeB64URL(req.Keys.P256DH)
	if err == nil {
		_, err = ecdh.P256().NewPublicKey(p256dh)
	}
	if err != nil {
		return protocol.Errorf(protocol.CodeBadRequest, "keys.p256dh must be the browser's P-256 public key, base64url")
	}
	authKey, err := decodeB64URL(req.Keys.Auth)
	if err != nil || len(authKey) != 16 {
		return protocol.Errorf(protocol.CodeBadRequest, "keys.auth must be the browser's 16-byte secret, base64url")
	}
	s := auth.SessionOf(r.Context())
	// The push service's host is recorded, not the endpoint: the endpoint
	// is what lets one push to the device.
	ctx := auth.Record(r, "device.push.subscribe", auth.DeviceTarget(s.Device), map[string]any{"push_service": u.Hostname()})
	err = a.Store.PutPushSubscription(ctx, model.PushSubscription{Device: s.Device, Endpoint: req.Endpoint, P256DH: p256dh, Auth: authKey})
	if errors.Is(err, model.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "this device is no longer active")
	}
	if err != nil {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"subscribed": true})
}

// deletePush deletes the calling device's subscription, if any.
func (a *API) deletePush(w http.ResponseWriter, r *http.Request) error {
	s := auth.SessionOf(r.Context())
	_, err := a.Store.DeletePushSubscription(auth.Record(r, "device.push.unsubscribe", auth.DeviceTarget(s.Device), nil), s.Device, "")
	if err != nil {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"subscribed": false})
}

// decodeB64URL decodes base64url with or without padding, as browsers and
// libraries differ.
func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
