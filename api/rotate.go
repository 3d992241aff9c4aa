package api

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

type rotateRequest struct {
	List json.RawMessage `json:"list"`
}

// rotateKey stores the list with which the session's device gives itself a
// new encryption key (PROTOCOL.md 3.3): signed by that device, identical
// to the stored list except that device's enc, at the next version. Peers
// accept it without a warning only when it is signed so; the checks here
// keep an honest server from storing anything else under this route.
func (a *API) rotateKey(w http.ResponseWriter, r *http.Request) error {
	s := auth.SessionOf(r.Context())
	var req rotateRequest
	if err := web.DecodeJSON(w, r, maxDeviceBody, &req); err != nil {
		return err
	}
	list, err := ownList(req.List, s.User.ID)
	if err != nil {
		return err
	}
	if list.Signer != s.Device {
		return protocol.Errorf(protocol.CodeBadDeviceList, "a new key must be signed by the device it is for (%d)", s.Device)
	}
	signer, _ := list.Find(list.Signer)
	d, err := a.Store.DeviceByID(r.Context(), s.Device)
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return protocol.Internal(err)
	}
	if err != nil || !ed25519.PublicKey(d.Sign).Equal(ed25519.PublicKey(signer.Sign)) || !ed25519.Verify(signer.Sign, list.SignedBytes(), list.Sig) {
		return protocol.Errorf(protocol.CodeBadDeviceList, "the list's signature does not verify with this device's key")
	}
	rec := auth.Record(r, "device.rotate", auth.DeviceTarget(s.Device), map[string]any{"list_version": list.Version})
	err = a.Store.RotateDeviceKey(rec, s.User.ID, s.Device, list, req.List)
	switch {
	case errors.Is(err, model.ErrNotFound):
		return protocol.Errorf(protocol.CodeNotFound, "this device is no longer active")
	case errors.Is(err, model.ErrConflict):
		return protocol.Errorf(protocol.CodeConflict, "%s; fetch /api/v1/keys/%d and sign a new list", model.ReasonOf(err, "the device list changed"), s.User.ID)
	case errors.Is(err, model.ErrLimit):
		return protocol.Errorf(protocol.CodeRateLimited, "New key not stored: %s.", model.ReasonOf(err, "this device made a new key a short time ago"))
	case err != nil:
		return protocol.Internal(err)
	}
	a.Log.Info("device key rotated", "user", s.User.ID, "device", s.Device, "list_version", list.Version)
	if a.DevicesChanged != nil {
		a.DevicesChanged(s.User.ID)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"device": s.Device, "list_version": list.Version})
}
