package console

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// The device inventory, remote lock and remote wipe.
//
// Lock ends the sessions bound to a device and disconnects it with close
// code protocol.CloseSessionEnded: whoever holds it must sign in with the
// password again (and pass MFA, if required) to resume it; its local
// history stays. Wipe revokes the device for good: its key share is
// deleted (so its local store cannot be opened again, apart from the
// offline grace copy the policy may allow), its queue is deleted, it is
// disconnected with protocol.CloseRevoked, and a signed wipe command waits
// for it at GET /api/v1/devices/{id}/wipe.

// Limits of the inventory listing.
const (
	maxDevicePage  = 500
	MaxReasonBytes = 200
)

func (a *Console) deviceRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /api/v1/admin/users/{id}/devices", Access: web.Helpdesk, Func: a.userDevices},
		{Pattern: "GET /api/v1/admin/devices", Access: web.Admin, Func: a.deviceInventory},
		{Pattern: "POST /api/v1/admin/devices/{id}/lock", Access: web.Helpdesk, Func: a.lockDevice},
		{Pattern: "POST /api/v1/admin/devices/{id}/wipe", Access: web.Admin, Func: a.wipeDevice},
	}
}

// DeviceView is a device as the console shows it.
type DeviceView struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Agent       string    `json:"agent"`
	State       string    `json:"state"`
	CreatedAt   int64     `json:"created_at"`
	LastSeen    int64     `json:"last_seen"`
	Fingerprint string    `json:"fingerprint"` // e2ee.KeyFingerprint of the signing key
	Wiped       bool      `json:"wiped"`
	WipedAt     int64     `json:"wiped_at"`  // when it fetched its wipe command: the wipe reached it (0: not yet)
	Connected   bool      `json:"connected"` // it holds a relay connection now
	Sessions    int       `json:"sessions"`  // sessions signed in on it now
	User        *UserLink `json:"user,omitempty"`
}

// UserLink names the user a device belongs to.
type UserLink struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Display  string `json:"display"`
}

func (a *Console) deviceView(d *store.DeviceInfo, withUser bool) DeviceView {
	v := DeviceView{
		ID: d.ID, Name: d.Name, Agent: d.Agent, State: d.State, CreatedAt: d.CreatedAt, LastSeen: d.LastSeen,
		Fingerprint: e2ee.KeyFingerprint(d.Sign), Wiped: d.Wiped, WipedAt: d.WipedAt, Sessions: d.Sessions,
		Connected: a.Connected != nil && a.Connected(d.ID),
	}
	if withUser {
		v.User = &UserLink{ID: d.User, Username: d.Username, Display: d.Display}
	}
	return v
}

var (
	errNoDevice   = protocol.Errorf(protocol.CodeNotFound, "no such device")
	errDeviceGone = protocol.Errorf(protocol.CodeConflict, "this device is revoked: it has no session to lock")
	// ErrAlreadyWiped is WipeDevice's answer for a device wiped before.
	ErrAlreadyWiped = protocol.Errorf(protocol.CodeConflict, "this device was already wiped")
)

func (a *Console) userDevices(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := a.Store.UserByID(r.Context(), id); errors.Is(err, model.ErrNotFound) {
		return errNoUser
	} else if err != nil {
		return protocol.Internal(err)
	}
	ds, _, err := a.Store.Devices(r.Context(), store.DeviceFilter{User: id})
	if err != nil {
		return protocol.Internal(err)
	}
	out := make([]DeviceView, 0, len(ds))
	for _, d := range ds {
		out = append(out, a.deviceView(d, false))
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"devices": out})
}

func (a *Console) deviceInventory(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.DeviceFilter{Q: strings.TrimSpace(q.Get("q")), State: q.Get("state"), Limit: maxDevicePage}
	if len(f.Q) > 64 {
		return protocol.Errorf(protocol.CodeBadRequest, "q is longer than 64 characters")
	}
	if f.State != "" && f.State != store.DeviceActive && f.State != store.DeviceRevoked {
		return protocol.Errorf(protocol.CodeBadRequest, "state must be active or revoked")
	}
	num := func(name string, min, max int) (int, error) {
		s := q.Get(name)
		if s == "" {
			return -1, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < min || n > max {
			return 0, protocol.Errorf(protocol.CodeBadRequest, "%s must be a whole number from %d to %d", name, min, max)
		}
		return n, nil
	}
	if n, err := num("limit", 1, maxDevicePage); err != nil {
		return err
	} else if n > 0 {
		f.Limit = n
	}
	if n, err := num("offset", 0, 1<<30); err != nil {
		return err
	} else if n > 0 {
		f.Offset = n
	}
	if s := q.Get("user"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			return protocol.Errorf(protocol.CodeBadRequest, "user must be a positive whole number")
		}
		f.User = id
	}
	ds, total, err := a.Store.Devices(r.Context(), f)
	if err != nil {
		return protocol.Internal(err)
	}
	out := make([]DeviceView, 0, len(ds))
	for _, d := range ds {
		out = append(out, a.deviceView(d, true))
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"devices": out, "total": total})
}

type deviceActionRequest struct {
	Reason string `json:"reason"` // why, for the audit log (optional)
}

// actionReason reads the optional body of a lock or wipe: {reason}.
func actionReason(w http.ResponseWriter, r *http.Request) (string, error) {
	if r.ContentLength == 0 {
		return "", nil // no body (with or without a Content-Type): no reason
	}
	var req deviceActionRequest
	if err := web.DecodeJSON(w, r, 1024, &req); err != nil {
		return "", err
	}
	reason := strings.TrimSpace(req.Reason)
	if len(reason) > MaxReasonBytes {
		return "", protocol.Errorf(protocol.CodeBadRequest, "reason is longer than %d bytes", MaxReasonBytes)
	}
	return reason, nil
}

// pathDevice returns the device named by the path's {id}, if the caller
// may manage its user (mayManage): helpdesk cannot lock an administrator
// out, nor an admin wipe another admin's or an owner's device.
func (a *Console) pathDevice(r *http.Request) (*store.Device, error) {
	id, err := web.PathID(r, "id")
	if err != nil {
		return nil, err
	}
	d, err := a.Store.DeviceByID(r.Context(), id)
	if errors.Is(err, model.ErrNotFound) {
		return nil, errNoDevice
	}
	if err != nil {
		return nil, protocol.Internal(err)
	}
	owner, err := a.Store.UserByID(r.Context(), d.User)
	if err != nil {
		return nil, protocol.Internal(err)
	}
	if err := mayManage(auth.SessionOf(r.Context()).User, owner); err != nil {
		a.Auth.AuditRefused(r, "console.refused", auth.DeviceTarget(d.ID), map[string]any{"reason": "level", "route": r.Pattern, "user": owner.ID})
		return nil, err
	}
	return d, nil
}

// deviceInfo re-reads a device for the answer of an action.
func (a *Console) deviceInfo(ctx context.Context, d *store.Device) (DeviceView, error) {
	ds, _, err := a.Store.Devices(ctx, store.DeviceFilter{User: d.User})
	if err != nil {
		return DeviceView{}, err
	}
	for _, x := range ds {
		if x.ID == d.ID {
			return a.deviceView(x, true), nil
		}
	}
	return DeviceView{}, model.ErrNotFound
}

func (a *Console) lockDevice(w http.ResponseWriter, r *http.Request) error {
	reason, err := actionReason(w, r)
	if err != nil {
		return err
	}
	d, err := a.pathDevice(r)
	if err != nil {
		return err
	}
	// LockDevice notes the sessions it ended in the entry.
	ended, err := a.Store.LockDevice(auth.Record(r, "device.lock", auth.DeviceTarget(d.ID), withReason(map[string]any{"user": d.User}, reason)), d.ID)
	switch {
	case errors.Is(err, model.ErrNotFound):
		return errNoDevice
	case errors.Is(err, model.ErrConflict):
		return errDeviceGone
	case err != nil:
		return protocol.Internal(err)
	}
	if a.EndDevice != nil {
		a.EndDevice(d.ID, protocol.CloseSessionEnded, "session ended: sign in again")
	}
	a.Log.Info("device locked", "device", d.ID, "user", d.User, "by", auth.SessionOf(r.Context()).User.ID, "ended_sessions", ended)
	v, err := a.deviceInfo(r.Context(), d)
	if err != nil {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"device": v, "ended_sessions": ended})
}

func (a *Console) wipeDevice(w http.ResponseWriter, r *http.Request) error {
	reason, err := actionReason(w, r)
	if err != nil {
		return err
	}
	d, err := a.pathDevice(r)
	if err != nil {
		return err
	}
	if d.Wiped {
		return ErrAlreadyWiped
	}
	ended, err := a.wipe(r, d, reason)
	if err != nil {
		return err
	}
	v, err := a.deviceInfo(r.Context(), d)
	if err != nil {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"device": v, "ended_sessions": ended})
}

// WipeDevice wipes d on behalf of the request's user: the device is
// revoked, its key share, queue and sessions deleted, it is disconnected
// at once, a signed wipe command is stored for its next contact, and the
// action is audited (device.wipe). A device wiped before is left alone and
// ErrAlreadyWiped returned, so a caller going through every device of a
// user (offboarding) may skip it.
func (a *Console) WipeDevice(r *http.Request, d *store.Device) error {
	_, err := a.wipe(r, d, "")
	return err
}

func (a *Console) wipe(r *http.Request, d *store.Device, reason string) (int, error) {
	raw, err := a.Commands.Wipe(r.Context(), d.User, d.ID)
	if err != nil {
		return 0, protocol.Internal(err)
	}
	// WipeDevice notes the sessions it ended in the entry.
	rec := auth.Record(r, "device.wipe", auth.DeviceTarget(d.ID), withReason(map[string]any{"user": d.User, "was": d.State}, reason))
	ended, err := a.Store.WipeDevice(rec, d.ID, raw)
	switch {
	case errors.Is(err, model.ErrNotFound):
		return 0, errNoDevice
	case errors.Is(err, model.ErrConflict):
		return 0, ErrAlreadyWiped
	case err != nil:
		return 0, protocol.Internal(err)
	}
	if a.EndDevice != nil {
		a.EndDevice(d.ID, protocol.CloseRevoked, "this device was wiped by an administrator")
	}
	if a.DevicesChanged != nil {
		a.DevicesChanged(d.User)
	}
	a.Log.Info("device wiped", "device", d.ID, "user", d.User, "ended_sessions", ended)
	return ended, nil
}

func withReason(detail map[string]any, reason string) map[string]any {
	if reason != "" {
		detail["reason"] = reason
	}
	return detail
}
