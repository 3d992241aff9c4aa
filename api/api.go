package api

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/devicecmd"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/push"
	"github.com/curbside-health/curbside/store"
)

// Request body limits.
const (
	// maxDeviceBody holds a signed list of protocol.MaxDevicesOfUser
	// devices, each with its X-Wing key (1,216 bytes, 1,624 in base64).
	maxDeviceBody = 128 << 10
	maxSearch     = 50
)

// API serves the endpoints the apps use: the signed-in user, the directory
// and the keys to encrypt to, device registration and resume, the
// client's share of the policy, and invitation links.
type API struct {
	Auth     *auth.Auth
	Store    *store.Store
	Log      *slog.Logger
	Commands *devicecmd.Signer // the key devices pin, for config
	// Push sends Web Push wake-ups; nil: push is off, and devices cannot
	// subscribe.
	Push *push.Sender
	// DevicesChanged is called after a user's device set changes, so the
	// relay can drop what it cached.
	DevicesChanged func(user int64)
	// EndDevice, if set, disconnects one device's relay session at once
	// (a device wiped after too many wrong PINs).
	EndDevice func(device int64, code int, reason string)
	// DeviceRequested is called after a user's device requests change,
	// with the number now waiting, so the relay can tell the user's own
	// devices at once.
	DeviceRequested func(user int64, requests int)
	// Version is the server's version, reported to clients.
	Version string
	// PublicURL is the origin people reach the server at, for the
	// first-run set-up link; empty: the origin each request came to.
	PublicURL string

	challenges challenges
	wipes      wipeChecks
}

// Routes lists the app-facing routes. GET /me stays open to a session
// that must first set up a second factor, so the app can say so; a wiped
// device fetches its wipe command with no session left (proving its key
// instead), and an invitation
// link is opened by somebody who has none yet.
func (a *API) Routes() []web.Route {
	return []web.Route{
		{Pattern: "GET /api/v1/me", Access: web.Enrolling, Func: a.me},
		{Pattern: "GET /api/v1/users/{username}", Access: web.User, Func: a.user},
		{Pattern: "GET /api/v1/directory", Access: web.User, Func: a.directory},
		{Pattern: "GET /api/v1/keys/{id}", Access: web.User, Func: a.keys},
		{Pattern: "POST /api/v1/devices", Access: web.User, Func: a.registerDevice},
		{Pattern: "GET /api/v1/devices", Access: web.User, Func: a.myDevices},
		{Pattern: "GET /api/v1/devices/me/request", Access: web.User, Func: a.myRequest},
		{Pattern: "POST /api/v1/devices/me/request/reveal", Access: web.User, Func: a.revealRequest},
		{Pattern: "GET /api/v1/devices/requests", Access: web.Device, Func: a.deviceRequests},
		{Pattern: "POST /api/v1/devices/requests/{id}/answer", Access: web.Device, Func: a.answerRequest},
		{Pattern: "POST /api/v1/devices/requests/{id}/approve", Access: web.Device, Func: a.approveRequest},
		{Pattern: "DELETE /api/v1/devices/requests/{id}", Access: web.Device, Func: a.denyRequest},
		{Pattern: "GET /api/v1/groups", Access: web.User, Func: a.groups},
		{Pattern: "GET /api/v1/groups/{id}", Access: web.User, Func: a.group},
		{Pattern: "POST /api/v1/devices/{id}/challenge", Access: web.User, Func: a.challenge},
		{Pattern: "POST /api/v1/devices/{id}/resume", Access: web.User, Func: a.resume},
		{Pattern: "POST /api/v1/devices/{id}/share", Access: web.User, Func: a.share},
		{Pattern: "PUT /api/v1/devices/me/pin", Access: web.Device, Func: a.setPIN},
		{Pattern: "PUT /api/v1/devices/me/keys", Access: web.Device, Func: a.rotateKey},
		{Pattern: "GET /api/v1/config", Access: web.User, Func: a.config},
		{Pattern: "POST /api/v1/devices/{id}/wipe/challenge", Access: web.Public, Func: a.wipeChallenge},
		{Pattern: "POST /api/v1/devices/{id}/wipe", Access: web.Public, Func: a.wipeCommand},
		{Pattern: "PUT /api/v1/devices/me/wipe-key", Access: web.Device, Func: a.setWipeKey},
		{Pattern: "GET /api/v1/devices/me/push", Access: web.Device, Func: a.pushStatus},
		{Pattern: "PUT /api/v1/devices/me/push", Access: web.Device, Func: a.putPush},
		{Pattern: "DELETE /api/v1/devices/me/push", Access: web.Device, Func: a.deletePush},
		{Pattern: "POST /api/v1/invitations/show", Access: web.Public, Func: a.showInvitation},
		{Pattern: "POST /api/v1/invitations/accept", Access: web.Public, Func: a.acceptInvitation},
	}
}

func (a *API) me(w http.ResponseWriter, r *http.Request) error {
	s := auth.SessionOf(r.Context())
	return web.WriteJSON(w, http.StatusOK, map[string]any{"user": s.User, "device": s.Device,
		"mfa": s.MFA, "mfa_enrollment_required": s.EnrollmentRequired})
}

var errNoUser = protocol.Errorf(protocol.CodeNotFound, "no such user")

func (a *API) user(w http.ResponseWriter, r *http.Request) error {
	u, err := a.Store.UserByName(r.Context(), r.PathValue("username"))
	if errors.Is(err, model.ErrNotFound) {
		return errNoUser
	}
	if err != nil {
		return protocol.Internal(err)
	}
	if ok, err := a.visible(r.Context(), auth.SessionOf(r.Context()).User.ID, u.ID); err != nil {
		return protocol.Internal(err)
	} else if !ok {
		return errNoUser
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"user": model.EntryOf(u)})
}

func (a *API) directory(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query().Get("q")
	if len(q) > 64 {
		return protocol.Errorf(protocol.CodeBadRequest, "q is longer than 64 characters")
	}
	me, err := a.Store.Reach(r.Context(), auth.SessionOf(r.Context()).User.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	users, err := a.Store.SearchReachable(r.Context(), me, q, maxSearch)
	if err != nil {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"users": entries(users)})
}

// KeysResponse is a user's signed device list and the devices the server
// holds active. Clients encrypt to devices that are in both.
type KeysResponse struct {
	User   *model.Entry    `json:"user"`
	List   json.RawMessage `json:"list"`
	Active []int64         `json:"active"`
	// Inactive is set when the user is disabled or locked: Active is then
	// empty whatever devices they have, and the app says the account is
	// off rather than that no device was set up. Those who may fetch the
	// keys are those a send would tell so anyway (recipient_inactive).
	Inactive bool `json:"inactive,omitempty"`
	// AdminApproved is set when the list was stored by an administrator's
	// approval of a user who had no device left (PROTOCOL.md 3.2), not
	// signed by a device the user had before: peers say so.
	AdminApproved bool `json:"admin_approved,omitempty"`
	// Revoked names the user's revoked devices with when each was
	// revoked: peers refuse what such a device signed after (PROTOCOL.md
	// 3.4). The most recent maxRevokedShown only.
	Revoked []store.Revoked `json:"revoked"`
}

// maxRevokedShown bounds the revoked devices a keys answer names.
const maxRevokedShown = 64

func (a *API) keys(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	if ok, err := a.visible(r.Context(), auth.SessionOf(r.Context()).User.ID, id); err != nil {
		return protocol.Internal(err)
	} else if !ok {
		return errNoUser
	}
	u, err := a.Store.UserByID(r.Context(), id)
	if errors.Is(err, model.ErrNotFound) {
		return errNoUser
	}
	if err != nil {
		return protocol.Internal(err)
	}
	list, active, approvedBy, err := a.Store.DeviceList(r.Context(), id)
	if err != nil {
		return protocol.Internal(err)
	}
	revoked, err := a.Store.RevokedDevices(r.Context(), id, maxRevokedShown)
	if err != nil {
		return protocol.Internal(err)
	}
	if list == nil {
		list = json.RawMessage("null")
	}
	if u.State != model.StateActive {
		// A disabled or locked user receives nothing: no device of theirs
		// is to be sealed to, as the relay holds too.
		active = []int64{}
	}
	return web.WriteJSON(w, http.StatusOK, KeysResponse{User: model.EntryOf(u), List: list, Active: active, Inactive: u.State != model.StateActive, AdminApproved: approvedBy != 0, Revoked: revoked})
}

type registerRequest struct {
	Name string          `json:"name"`
	List json.RawMessage `json:"list"`
	// Commit is the new device's commitment to its approval nonce
	// (protocol.ApprovalCommit); needed when the user has an active
	// device already, as the new one is then only requested.
	Commit []byte `json:"commit,omitempty"`
}

// ownList parses raw, a device list the signed-in user sent, strictly (it
// is stored as sent and every peer parses it: it must read the same to them
// as it did here, with no key twice or in another case), checks its shape,
// and that it is user's. The signature is each route's to check, against
// the signer it requires.
func ownList(raw json.RawMessage, user int64) (*protocol.DeviceList, error) {
	var list protocol.DeviceList
	if err := protocol.StrictUnmarshal(raw, &list); err != nil {
		// DecodeJSON's words are the model: the cause is for the log.
		return nil, &protocol.Error{Code: protocol.CodeBadDeviceList, Message: "list is not a device list", Cause: err}
	}
	if err := list.Validate(); err != nil {
		return nil, err
	}
	if list.User != user {
		return nil, protocol.Errorf(protocol.CodeForbidden, "the list is for user %d; you are %d", list.User, user)
	}
	return &list, nil
}

func (a *API) registerDevice(w http.ResponseWriter, r *http.Request) error {
	s := auth.SessionOf(r.Context())
	if s.Device != 0 {
		return protocol.Errorf(protocol.CodeConflict, "this session already has device %d; sign in again to register another", s.Device)
	}
	var req registerRequest
	if err := web.DecodeJSON(w, r, maxDeviceBody, &req); err != nil {
		return err
	}
	if req.Name == "" || len(req.Name) > 100 {
		return protocol.Errorf(protocol.CodeBadRequest, "name must be 1-100 characters")
	}
	list, err := ownList(req.List, s.User.ID)
	if err != nil {
		return err
	}
	signer, _ := list.Find(list.Signer)
	if !ed25519.Verify(signer.Sign, list.SignedBytes(), list.Sig) {
		return protocol.Errorf(protocol.CodeBadDeviceList, "the list's signature does not verify with the signer's key")
	}
	agent := store.TrimAgent(r.UserAgent())
	if req.Commit != nil && len(req.Commit) != sha256.Size {
		return protocol.Errorf(protocol.CodeBadRequest, "commit must be %d bytes", sha256.Size)
	}
	// A request is audited as one; the approval that makes it a device is
	// audited as device.approve.
	// A user who has had a device before and has none active now asks
	// an administrator (a recovery, PROTOCOL.md 3.2).
	action := "device.register"
	if had, active, _, err := a.Store.DeviceList(r.Context(), s.User.ID); err != nil {
		return protocol.Internal(err)
	} else if len(active) > 0 {
		action = "device.request"
	} else if had != nil {
		action = "device.recovery_request"
	}
	rec := auth.Record(r, action, auth.DeviceTarget(signer.ID), map[string]any{"name": req.Name, "agent": agent, "list_version": list.Version})
	pending, err := a.Store.RegisterDevice(rec, s.User.ID, req.Name, agent, signer, list, req.List, s.TokenHash, req.Commit)
	if err == nil && pending != (action != "device.register") {
		// The devices changed between the two reads; the client signs again.
		err = model.Refuse(model.ErrConflict, "your devices changed meanwhile")
	}
	if err == nil && pending {
		// Who approves it was decided by the write: it must be what the
		// audit entry and the answer say (a new request replaces this one).
		req, rerr := a.Store.DeviceRequestOf(r.Context(), s.TokenHash)
		switch {
		case rerr != nil && !errors.Is(rerr, model.ErrNotFound):
			return protocol.Internal(rerr)
		case rerr != nil || req.Recovery != (action == "device.recovery_request"):
			err = model.Refuse(model.ErrConflict, "your devices changed meanwhile")
		}
	}
	switch {
	case errors.Is(err, model.ErrConflict):
		return protocol.Errorf(protocol.CodeConflict, "%s; fetch /api/v1/keys/%d and sign a new list", model.ReasonOf(err, "the device list changed"), s.User.ID)
	case errors.Is(err, model.ErrExists):
		return protocol.Errorf(protocol.CodeConflict, "that device key is already registered; make new keys")
	case errors.Is(err, model.ErrLimit):
		a.Log.Warn("device refused: devices per user limit reached", "user", s.User.ID)
		return protocol.Errorf(protocol.CodeLimitReached, "Device not set up: %s.", model.ReasonOf(err, "you have as many devices as your practice allows"))
	case err != nil:
		return protocol.Internal(err)
	}
	if pending && action == "device.recovery_request" {
		a.Log.Info("device recovery requested", "user", s.User.ID, "device", signer.ID)
		return web.WriteJSON(w, http.StatusAccepted, map[string]any{"device": signer.ID, "state": StatePending, "approval": ApprovalByAdmin})
	}
	if pending {
		a.Log.Info("device requested", "user", s.User.ID, "device", signer.ID)
		a.announceRequests(r.Context(), s.User.ID)
		return web.WriteJSON(w, http.StatusAccepted, map[string]any{"device": signer.ID, "state": StatePending, "approval": ApprovalByDevice})
	}
	a.Log.Info("device registered", "user", s.User.ID, "device", signer.ID, "list_version", list.Version)
	if a.DevicesChanged != nil {
		a.DevicesChanged(s.User.ID)
	}
	return web.WriteJSON(w, http.StatusCreated, map[string]any{"device": signer.ID, "state": store.DeviceActive})
}

// OwnDevice is one of the signed-in user's devices as the app lists it:
// the name it was registered with, which is also the console's name for it.
type OwnDevice struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	State     string `json:"state"`
	CreatedAt int64  `json:"created_at"`
	LastSeen  int64  `json:"last_seen"`
}

func (a *API) myDevices(w http.ResponseWriter, r *http.Request) error {
	ds, err := a.Store.DevicesOf(r.Context(), auth.SessionOf(r.Context()).User.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	out := make([]OwnDevice, len(ds))
	for i, d := range ds {
		out[i] = OwnDevice{ID: d.ID, Name: d.Name, State: d.State, CreatedAt: d.CreatedAt, LastSeen: d.LastSeen}
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"devices": out})
}

func (a *API) groups(w http.ResponseWriter, r *http.Request) error {
	gs, err := a.Store.GroupsOf(r.Context(), auth.SessionOf(r.Context()).User.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	out := make([]*Group, len(gs))
	for i, g := range gs {
		out[i] = groupOf(g)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"groups": out})
}

func (a *API) group(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	g, err := a.Store.GroupByID(r.Context(), id)
	if errors.Is(err, model.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "no such group")
	}
	if err != nil {
		return protocol.Internal(err)
	}
	me := auth.SessionOf(r.Context()).User.ID
	for _, m := range g.Members {
		if m.ID == me {
			return web.WriteJSON(w, http.StatusOK, map[string]any{"group": groupOf(g)})
		}
	}
	// Answered as a missing group, so that group ids cannot be walked.
	return protocol.Errorf(protocol.CodeNotFound, "no such group")
}
