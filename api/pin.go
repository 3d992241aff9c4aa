package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// The PIN proof (PROTOCOL.md section 9, "The PIN proof"): a browser
// device derives from its PIN and a salt only its profile holds a 32-byte
// proof; the server keeps SHA-256 of it and releases the device's key
// share only for a right one. The server counts wrong proofs in a row and,
// at the policy's pin_max_attempts, deletes the share and wipes the device.

type shareRequest struct {
	Proof []byte `json:"proof"`
}

type pinRequest struct {
	Proof []byte `json:"proof"` // the new PIN's proof
	Old   []byte `json:"old"`   // the current PIN's proof; absent while the device has no verifier
}

// share releases a device's key share for a right PIN proof. The session
// is bound to the device, or (resuming after a new sign-in) bound to none
// and the user's own: the share, then the device's key, open only with
// the PIN, and the server counts every wrong one.
func (a *API) share(w http.ResponseWriter, r *http.Request) error {
	s := auth.SessionOf(r.Context())
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	if s.Device != 0 && s.Device != id {
		return protocol.Errorf(protocol.CodeForbidden, "this session belongs to another device")
	}
	if s.Device == 0 {
		d, err := a.Store.DeviceByID(r.Context(), id)
		if errors.Is(err, model.ErrNotFound) || (err == nil && (d.User != s.User.ID || d.State != store.DeviceActive)) {
			return errNoShare
		}
		if err != nil {
			return protocol.Internal(err)
		}
	}
	var req shareRequest
	if err := web.DecodeJSON(w, r, 1024, &req); err != nil {
		return err
	}
	if len(req.Proof) != store.PINProofSize {
		return protocol.Errorf(protocol.CodeBadRequest, "proof must be %d bytes", store.PINProofSize)
	}
	c, err := a.checkPIN(r, s, id, func(max int) (store.PINCheck, error) {
		return a.Store.CheckPINProof(r.Context(), id, req.Proof, max)
	})
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"share": c.Share, "verified": c.Verified, "bound": s.Device == id})
}

// setPIN stores the verifier of the device's new PIN: at set-up and at
// the first unlock of a device set up before PIN proofs (no verifier yet,
// so no old proof), or on a change of PIN (the old PIN's proof, checked
// and counted like any other).
func (a *API) setPIN(w http.ResponseWriter, r *http.Request) error {
	s := auth.SessionOf(r.Context())
	var req pinRequest
	if err := web.DecodeJSON(w, r, 1024, &req); err != nil {
		return err
	}
	if len(req.Proof) != store.PINProofSize || (req.Old != nil && len(req.Old) != store.PINProofSize) {
		return protocol.Errorf(protocol.CodeBadRequest, "proof and old must be %d bytes", store.PINProofSize)
	}
	c, err := a.checkPIN(r, s, s.Device, func(max int) (store.PINCheck, error) {
		return a.Store.SetPINVerifier(auth.Record(r, "device.pin.set", auth.DeviceTarget(s.Device), nil), s.Device, req.Old, req.Proof, max)
	})
	if err != nil {
		return err
	}
	a.Log.Info("device PIN verifier set", "user", s.User.ID, "device", s.Device, "changed", c.Verified)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

var errNoShare = protocol.Errorf(protocol.CodeNotFound, "this device has no key share (revoked or wiped)")

// checkPIN runs check with the policy's limit and turns its outcome into
// the answer: a wrong PIN is audited and answered with the attempts left;
// the last one wipes the device.
func (a *API) checkPIN(r *http.Request, s *auth.Session, device int64, check func(max int) (store.PINCheck, error)) (store.PINCheck, error) {
	p, err := a.Store.LoadPolicy(r.Context())
	if err != nil {
		return store.PINCheck{}, protocol.Internal(err)
	}
	c, err := check(p.PINMaxAttempts)
	if errors.Is(err, model.ErrNotFound) {
		return c, errNoShare
	}
	if err != nil {
		return c, protocol.Internal(err)
	}
	if !c.Wrong() {
		return c, nil
	}
	if c.LockedOut {
		a.lockOut(r, s.User.ID, device, p.PINMaxAttempts)
		return c, protocol.CodePINLockedOut.Err()
	}
	a.Log.Info("wrong PIN", "user", s.User.ID, "device", device, "left", c.Left)
	a.Auth.AuditRefused(r, "device.pin", auth.DeviceTarget(device), map[string]any{"reason": "wrong PIN", "left": c.Left})
	return c, protocol.Errorf(protocol.CodeWrongPIN, "%s", WrongPINWords(c.Left))
}

// WrongPINWords is what a person is told after a wrong PIN the server
// counted, with the attempts left before the device is erased.
func WrongPINWords(left int) string {
	if left == 1 {
		return "That PIN is not right. 1 attempt left: one more wrong PIN erases this device's messages."
	}
	return fmt.Sprintf("That PIN is not right. %d attempts left.", left)
}

// lockOut wipes a device whose share the last wrong PIN deleted: it is
// revoked, its sessions and queue deleted and a signed wipe command
// stored, like an administrator's wipe, audited as device.pin.lockout.
// The share is gone already, so a failure here is logged and leaves the
// local store unopenable all the same.
func (a *API) lockOut(r *http.Request, user, device int64, max int) {
	raw, err := a.Commands.Wipe(r.Context(), user, device)
	if err == nil {
		rec := auth.Record(r, "device.pin.lockout", auth.DeviceTarget(device), map[string]any{"user": user, "wrong_pins": max})
		_, err = a.Store.WipeDevice(rec, device, raw)
	}
	if err != nil && !errors.Is(err, model.ErrConflict) {
		a.Log.Error("PIN lock-out: the share is deleted but the device was not wiped", "device", device, "err", err)
		return
	}
	if a.EndDevice != nil {
		a.EndDevice(device, protocol.CloseRevoked, "too many wrong PINs: this device was wiped")
	}
	if a.DevicesChanged != nil {
		a.DevicesChanged(user)
	}
	a.Log.Warn("device wiped after too many wrong PINs", "device", device, "user", user, "wrong_pins", max)
}
