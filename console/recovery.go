package console

import (
	"crypto/rand"
	"errors"
	"net/http"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// Recovery (PROTOCOL.md 3.2): a user who had devices and has none left
// (a lost phone, a wiped browser) sets up a new one, which waits. An
// administrator, having checked who is asking (in person, or by calling
// them back), takes the approving device's part: the server answers the
// request with a nonce of its own, the new device reveals its nonce and
// shows six digits, and the administrator types those digits and their own
// second-factor code. The device's own list is then stored, marked as
// approved by that administrator, which peers are told. A password alone,
// or a console cookie alone, adds no device.

func (a *Console) recoveryRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /api/v1/admin/users/{id}/device-requests", Access: web.Admin, Func: a.recoveryRequests},
		{Pattern: "POST /api/v1/admin/users/{id}/device-requests/{rid}/answer", Access: web.Admin, Func: a.answerRecovery},
		{Pattern: "POST /api/v1/admin/users/{id}/device-requests/{rid}/approve", Access: web.Admin, Func: a.approveRecovery},
		{Pattern: "DELETE /api/v1/admin/users/{id}/device-requests/{rid}", Access: web.Admin, Func: a.denyRecovery},
	}
}

// RecoveryView is a device waiting for an administrator's approval as the
// console shows it.
type RecoveryView struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Agent       string `json:"agent"`
	CreatedAt   int64  `json:"created_at"`
	Fingerprint string `json:"fingerprint"` // e2ee.KeyFingerprint of its signing key
	// Stage: "new" (nobody has started), "waiting" (answered; the device
	// is to show its code), "code" (the device shows its code: type it),
	// "other" (another administrator is approving it).
	Stage     string `json:"stage"`
	TriesLeft int    `json:"tries_left"`
}

var errNoRecovery = protocol.Errorf(protocol.CodeNotFound, "no device of this person is waiting for an administrator's approval with that id; it was approved, denied or withdrawn")

func recoveryView(r *store.DeviceRequest, me int64) RecoveryView {
	v := RecoveryView{ID: r.ID, Name: r.Name, Agent: r.Agent, CreatedAt: r.CreatedAt, Fingerprint: e2ee.KeyFingerprint(r.Sign), TriesLeft: r.CodeTriesLeft(), Stage: "new"}
	switch {
	case r.AdminApprover != 0 && r.AdminApprover != me:
		v.Stage = "other"
	case r.AdminApprover != 0 && r.Reveal != nil:
		v.Stage = "code"
	case r.AdminApprover != 0:
		v.Stage = "waiting"
	}
	return v
}

// recoveryUser is the path's {id}, if the caller may manage that account
// and approve its devices: an administrator approves their own new device
// only when nobody else could (no other active user at a level that may
// manage them, with a second factor for the step-up).
func (a *Console) recoveryUser(r *http.Request) (*model.User, error) {
	u, err := a.pathUser(r)
	if err != nil {
		return nil, err
	}
	me := auth.SessionOf(r.Context()).User
	if err := mayManage(me, u); err != nil {
		return nil, err
	}
	if me.ID == u.ID {
		n, err := a.Store.OtherApprovers(r.Context(), u)
		if err != nil {
			return nil, protocol.Internal(err)
		}
		if n > 0 {
			return nil, protocol.Errorf(protocol.CodeForbidden, "another administrator must approve your own new device")
		}
	}
	return u, nil
}

// pathRecovery is the path's account ({id}, as recoveryUser allows) and
// its recovery request {rid}.
func (a *Console) pathRecovery(r *http.Request) (*model.User, *store.DeviceRequest, error) {
	u, err := a.recoveryUser(r)
	if err != nil {
		return nil, nil, err
	}
	q, err := a.recoveryRequest(r, u)
	return u, q, err
}

// recoveryRequest is the path's {rid} among u's recovery requests.
func (a *Console) recoveryRequest(r *http.Request, u *model.User) (*store.DeviceRequest, error) {
	rid, err := web.PathID(r, "rid")
	if err != nil {
		return nil, err
	}
	reqs, err := a.Store.DeviceRequests(r.Context(), u.ID)
	if err != nil {
		return nil, protocol.Internal(err)
	}
	for _, q := range reqs {
		if q.ID == rid && q.Recovery {
			return q, nil
		}
	}
	return nil, errNoRecovery
}

func (a *Console) recoveryRequests(w http.ResponseWriter, r *http.Request) error {
	u, err := a.recoveryUser(r)
	if err != nil {
		return err
	}
	reqs, err := a.Store.DeviceRequests(r.Context(), u.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	me := auth.SessionOf(r.Context()).User.ID
	out := []RecoveryView{}
	for _, q := range reqs {
		if q.Recovery {
			out = append(out, recoveryView(q, me))
		}
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"requests": out})
}

// answerRecovery starts an approval: the server answers the request with a
// fresh nonce, on behalf of the calling administrator.
func (a *Console) answerRecovery(w http.ResponseWriter, r *http.Request) error {
	u, q, err := a.pathRecovery(r)
	if err != nil {
		return err
	}
	me := auth.SessionOf(r.Context()).User.ID
	nonce := q.ApproverNonce
	if q.AdminApprover != me || nonce == nil {
		nonce = make([]byte, protocol.ApprovalNonceSize)
		rand.Read(nonce)
	}
	rec := auth.Record(r, "device.recovery_start", auth.DeviceTarget(q.ID), map[string]any{"user": u.ID})
	err = a.Store.AnswerRecovery(rec, u.ID, q.ID, me, nonce)
	switch {
	case errors.Is(err, model.ErrNotFound):
		return errNoRecovery
	case errors.Is(err, model.ErrConflict):
		return protocol.Errorf(protocol.CodeConflict, "%s", model.ReasonOf(err, "another administrator is approving this device"))
	case err != nil:
		return protocol.Internal(err)
	}
	q.AdminApprover, q.ApproverNonce = me, nonce
	return web.WriteJSON(w, http.StatusOK, map[string]any{"request": recoveryView(q, me)})
}

type approveRecoveryRequest struct {
	Code   string `json:"code"`    // the six digits the new device shows
	StepUp string `json:"step_up"` // the administrator's TOTP or recovery code
}

func (a *Console) approveRecovery(w http.ResponseWriter, r *http.Request) error {
	var req approveRecoveryRequest
	if err := web.DecodeJSON(w, r, 1024, &req); err != nil {
		return err
	}
	if len(req.Code) != 6 {
		return protocol.Errorf(protocol.CodeBadRequest, "code must be the six digits the device shows")
	}
	u, q, err := a.pathRecovery(r)
	if err != nil {
		return err
	}
	me := auth.SessionOf(r.Context()).User.ID
	// The request must be ready before the step-up spends a code.
	if q.AdminApprover != me || q.Reveal == nil {
		return protocol.Errorf(protocol.CodeConflict, "This device is not ready to approve: start the approval and wait for the code to appear on their device.")
	}
	method, err := a.Auth.StepUp(r, me, req.StepUp)
	if err != nil {
		a.Auth.AuditRefused(r, "device.recovery_approve", auth.DeviceTarget(q.ID), map[string]any{"user": u.ID, "reason": "step_up"})
		return err
	}
	rec := auth.Record(r, "device.recovery_approve", auth.DeviceTarget(q.ID), map[string]any{"user": u.ID, "name": q.Name, "step_up": method})
	err = a.Store.ApproveRecovery(rec, u.ID, q.ID, me, req.Code)
	switch {
	case errors.Is(err, store.ErrRecoveryCode):
		return protocol.CodeApprovalCodeWrong.Err()
	case errors.Is(err, store.ErrRecoveryEnded):
		return protocol.Errorf(protocol.CodeApprovalCodeWrong, "That was the third wrong code, so this request has ended. Ask the person to sign in on their device again, then start over.")
	case errors.Is(err, model.ErrNotFound):
		return errNoRecovery
	case errors.Is(err, model.ErrConflict):
		return protocol.Errorf(protocol.CodeConflict, "%s", model.ReasonOf(err, "the request is not ready to approve"))
	case err != nil:
		return protocol.Internal(err)
	}
	a.Log.Info("device recovery approved", "user", u.ID, "device", q.ID, "by", me)
	if a.DevicesChanged != nil {
		a.DevicesChanged(u.ID)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"device": q.ID, "state": store.DeviceActive})
}

func (a *Console) denyRecovery(w http.ResponseWriter, r *http.Request) error {
	u, q, err := a.pathRecovery(r)
	if err != nil {
		return err
	}
	err = a.Store.DenyDeviceRequest(auth.Record(r, "device.recovery_deny", auth.DeviceTarget(q.ID), map[string]any{"user": u.ID}), u.ID, q.ID)
	if errors.Is(err, model.ErrNotFound) {
		return errNoRecovery
	}
	if err != nil {
		return protocol.Internal(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
