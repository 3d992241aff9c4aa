package api

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// StatePending is the state of a device that waits for approval by one of
// its user's active devices (PROTOCOL.md 3.1).
const StatePending = "pending"

// Who approves a pending device: one of the user's active devices, or, for
// a user with no device left, an administrator (a recovery).
const (
	ApprovalByDevice = "device"
	ApprovalByAdmin  = "admin"
)

// announceRequests tells the user's own connected devices how many device
// requests wait now.
func (a *API) announceRequests(ctx context.Context, user int64) {
	if a.DeviceRequested == nil {
		return
	}
	reqs, err := a.Store.DeviceRequests(ctx, user)
	if err != nil {
		a.Log.Error("device requests not announced", "user", user, "err", err)
		return
	}
	a.DeviceRequested(user, len(reqs))
}

// DeviceRequest is a device waiting for approval as its user's other
// devices see it: its keys, its commitment, and how far the exchange of
// nonces has got.
type DeviceRequest struct {
	ID            int64  `json:"id"`
	Name          string `json:"name"`
	Agent         string `json:"agent"`
	CreatedAt     int64  `json:"created_at"`
	Enc           []byte `json:"enc"`
	Sign          []byte `json:"sign"`
	Commit        []byte `json:"commit"`
	Approver      int64  `json:"approver"`
	ApproverNonce []byte `json:"approver_nonce"`
	Reveal        []byte `json:"reveal"`
	// Approval is who approves it: ApprovalByDevice or ApprovalByAdmin.
	Approval string `json:"approval"`
}

func requestOf(r *store.DeviceRequest) DeviceRequest {
	by := ApprovalByDevice
	if r.Recovery {
		by = ApprovalByAdmin
	}
	return DeviceRequest{ID: r.ID, Name: r.Name, Agent: r.Agent, CreatedAt: r.CreatedAt, Enc: r.Enc, Sign: r.Sign,
		Commit: r.Commit, Approver: r.Approver, ApproverNonce: r.ApproverNonce, Reveal: r.Reveal, Approval: by}
}

// myRequest is what a waiting device polls: its own request, or, once it
// has been approved, the device its session is now bound to.
func (a *API) myRequest(w http.ResponseWriter, r *http.Request) error {
	s := auth.SessionOf(r.Context())
	if s.Device != 0 {
		return web.WriteJSON(w, http.StatusOK, map[string]any{"state": store.DeviceActive, "device": s.Device})
	}
	req, err := a.Store.DeviceRequestOf(r.Context(), s.TokenHash)
	if errors.Is(err, model.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "this session has no device waiting for approval; it was denied, or never requested")
	}
	if err != nil {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"state": StatePending, "device": req.ID, "request": requestOf(req)})
}

type nonceRequest struct {
	Nonce []byte `json:"nonce"`
}

func (a *API) revealRequest(w http.ResponseWriter, r *http.Request) error {
	s := auth.SessionOf(r.Context())
	var req nonceRequest
	if err := web.DecodeJSON(w, r, 1024, &req); err != nil {
		return err
	}
	if len(req.Nonce) != protocol.ApprovalNonceSize {
		return protocol.Errorf(protocol.CodeBadRequest, "nonce must be %d bytes", protocol.ApprovalNonceSize)
	}
	err := a.Store.RevealDeviceRequest(r.Context(), s.TokenHash, req.Nonce)
	switch {
	case errors.Is(err, model.ErrNotFound):
		return protocol.Errorf(protocol.CodeNotFound, "this session has no device waiting for approval")
	case errors.Is(err, model.ErrConflict):
		return protocol.Errorf(protocol.CodeConflict, "%s", model.ReasonOf(err, "the request is not ready to be revealed"))
	case err != nil:
		return protocol.Internal(err)
	}
	a.announceRequests(r.Context(), s.User.ID)
	return web.WriteJSON(w, http.StatusOK, map[string]any{})
}

func (a *API) deviceRequests(w http.ResponseWriter, r *http.Request) error {
	reqs, err := a.Store.DeviceRequests(r.Context(), auth.SessionOf(r.Context()).User.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	out := make([]DeviceRequest, len(reqs))
	for i, q := range reqs {
		out[i] = requestOf(q)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"requests": out})
}

var errNoRequest = protocol.Errorf(protocol.CodeNotFound, "no device of yours is waiting for approval with that id; it was approved, denied or withdrawn")

func (a *API) answerRequest(w http.ResponseWriter, r *http.Request) error {
	s := auth.SessionOf(r.Context())
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	var req nonceRequest
	if err := web.DecodeJSON(w, r, 1024, &req); err != nil {
		return err
	}
	if len(req.Nonce) != protocol.ApprovalNonceSize {
		return protocol.Errorf(protocol.CodeBadRequest, "nonce must be %d bytes", protocol.ApprovalNonceSize)
	}
	err = a.Store.AnswerDeviceRequest(r.Context(), s.User.ID, id, s.Device, req.Nonce)
	switch {
	case errors.Is(err, model.ErrNotFound):
		return errNoRequest
	case errors.Is(err, model.ErrConflict):
		return protocol.Errorf(protocol.CodeConflict, "%s", model.ReasonOf(err, "another device is approving it"))
	case err != nil:
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{})
}

type approveRequest struct {
	List json.RawMessage `json:"list"`
}

// approveRequest stores the list an active device counter-signed to add
// the requested device. The server checks what it can (the signer is the
// device that answered the request and the session's own device, the list
// is the active devices plus the requested one); peers check the signer
// themselves (PROTOCOL.md 3.1).
func (a *API) approveRequest(w http.ResponseWriter, r *http.Request) error {
	s := auth.SessionOf(r.Context())
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	var req approveRequest
	if err := web.DecodeJSON(w, r, maxDeviceBody, &req); err != nil {
		return err
	}
	list, err := ownList(req.List, s.User.ID)
	if err != nil {
		return err
	}
	if list.Signer != s.Device || list.Signer == id {
		return protocol.Errorf(protocol.CodeBadDeviceList, "the list must be signed by this device (%d), which approves device %d", s.Device, id)
	}
	signer, _ := list.Find(list.Signer)
	if !ed25519.Verify(signer.Sign, list.SignedBytes(), list.Sig) {
		return protocol.Errorf(protocol.CodeBadDeviceList, "the list's signature does not verify with the signer's key")
	}
	rec := auth.Record(r, "device.approve", auth.DeviceTarget(id), map[string]any{"approver": s.Device, "list_version": list.Version})
	err = a.Store.ApproveDevice(rec, s.User.ID, s.Device, id, list, req.List)
	switch {
	case errors.Is(err, model.ErrNotFound):
		return errNoRequest
	case errors.Is(err, model.ErrConflict):
		return protocol.Errorf(protocol.CodeConflict, "%s; fetch /api/v1/keys/%d and sign a new list", model.ReasonOf(err, "the device list changed"), s.User.ID)
	case errors.Is(err, model.ErrLimit):
		return protocol.Errorf(protocol.CodeLimitReached, "Device not set up: %s.", model.ReasonOf(err, "you have as many devices as your practice allows"))
	case err != nil:
		return protocol.Internal(err)
	}
	a.Log.Info("device approved", "user", s.User.ID, "device", id, "approver", s.Device, "list_version", list.Version)
	if a.DevicesChanged != nil {
		a.DevicesChanged(s.User.ID)
	}
	a.announceRequests(r.Context(), s.User.ID)
	return web.WriteJSON(w, http.StatusOK, map[string]any{"device": id, "state": store.DeviceActive})
}

func (a *API) denyRequest(w http.ResponseWriter, r *http.Request) error {
	s := auth.SessionOf(r.Context())
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	err = a.Store.DenyDeviceRequest(auth.Record(r, "device.deny", auth.DeviceTarget(id), map[string]any{"by": s.Device}), s.User.ID, id)
	if errors.Is(err, model.ErrNotFound) {
		return errNoRequest
	}
	if err != nil {
		return protocol.Internal(err)
	}
	a.Log.Info("device request denied", "user", s.User.ID, "device", id, "by", s.Device)
	a.announceRequests(r.Context(), s.User.ID)
	return web.WriteJSON(w, http.StatusOK, map[string]any{})
}
