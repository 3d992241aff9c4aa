package admin

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// Request body limits.
const (
	maxLoginBody  = 4 << 10
	maxDeviceBody = 16 << 10
	maxSearch     = 50
)

// API serves the directory and authentication endpoints.
type API struct {
	Auth  *Auth
	Store *store.Store
	Log   *slog.Logger
	// DevicesChanged is called after a user's device set changes, so the
	// relay can drop what it cached.
	DevicesChanged func(user int64)
	// EndDevice, if set, disconnects one device's relay session at once
	// with a close code (protocol.CloseSessionEnded, CloseRevoked).
	EndDevice func(device int64, code int, reason string)
	// Version is the server's version, reported to clients.
	Version string
	// PublicURL is the origin people reach the server at, for links
	// (invitations, first-run set-up) and passkeys; empty: the origin
	// each request came to.
	PublicURL string

	challenges  challenges
	passkeyRegs passkeyRegs

	cmdMu  sync.Mutex
	cmdKey ed25519.PrivateKey // the command key, once read (commandKey)
}

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	h := func(f web.HandlerFunc) http.Handler { return web.Handle(a.Log, f) }
	mux.Handle("POST /api/v1/login", h(a.login))
	mux.Handle("POST /api/v1/logout", h(a.logout))
	mux.Handle("GET /api/v1/me", h(a.authedAny(a.me)))
	mux.Handle("GET /api/v1/users/{username}", h(a.authed(a.user)))
	mux.Handle("GET /api/v1/directory", h(a.authed(a.directory)))
	mux.Handle("GET /api/v1/keys/{id}", h(a.authed(a.keys)))
	mux.Handle("POST /api/v1/devices", h(a.authed(a.registerDevice)))
	mux.Handle("GET /api/v1/groups", h(a.authed(a.groups)))
	mux.Handle("GET /api/v1/groups/{id}", h(a.authed(a.group)))
	mux.Handle("POST /api/v1/devices/{id}/challenge", h(a.authed(a.challenge)))
	mux.Handle("POST /api/v1/devices/{id}/resume", h(a.authed(a.resume)))
	mux.Handle("GET /api/v1/devices/me/share", h(a.authed(a.share)))
	mux.Handle("GET /api/v1/config", h(a.authed(a.config)))
	mux.Handle("GET /api/v1/devices/{id}/wipe", h(a.wipeCommand))
	a.registerMFA(mux)
	a.registerConsole(mux)
}

type sessionKey struct{}

// SessionOf returns the session an authed handler runs under.
func SessionOf(ctx context.Context) *Session {
	s, _ := ctx.Value(sessionKey{}).(*Session)
	return s
}

// authed runs next for an authenticated session. A session that must first
// set up a second factor (policy mfa_required) is refused: it may use only
// the routes wrapped in authedAny.
func (a *API) authed(next web.HandlerFunc) web.HandlerFunc {
	return a.authedAny(func(w http.ResponseWriter, r *http.Request) error {
		if SessionOf(r.Context()).EnrollmentRequired {
			return errEnrollFirst
		}
		return next(w, r)
	})
}

// authedAny runs next for any authenticated session, including one that
// must set up a second factor before anything else.
func (a *API) authedAny(next web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		s, err := a.Auth.Authenticate(r)
		if err != nil {
			return err
		}
		return next(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
	}
}

func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := web.DecodeJSON(w, r, maxLoginBody, &req); err != nil {
		return err
	}
	res, err := a.Auth.Login(r.Context(), web.ClientIP(r), req.Username, req.Password)
	if err != nil {
		return err
	}
	return writeLogin(w, r, res, req.Web)
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) error {
	if t := TokenFrom(r); t != "" && len(t) <= 128 {
		if ss, err := a.Store.SessionByHash(r.Context(), HashToken(t)); err == nil {
			a.Auth.record(r.Context(), web.ClientIP(r), "logout", ss.User, store.OutcomeOK, nil)
		}
	}
	if err := a.Auth.Logout(r); err != nil {
		return web.Internal(err)
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) me(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	return web.WriteJSON(w, http.StatusOK, map[string]any{"user": s.User, "device": s.Device,
		"mfa": s.MFA, "mfa_enrollment_required": s.EnrollmentRequired})
}

var errNoUser = web.Errorf(http.StatusNotFound, protocol.CodeNotFound, "no such user")

func (a *API) user(w http.ResponseWriter, r *http.Request) error {
	u, err := a.Store.UserByName(r.Context(), r.PathValue("username"))
	if errors.Is(err, model.ErrNotFound) {
		return errNoUser
	}
	if err != nil {
		return web.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"user": u})
}

func (a *API) directory(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query().Get("q")
	if len(q) > 64 {
		return web.Errorf(http.StatusBadRequest, protocol.CodeBadRequest, "q is longer than 64 characters")
	}
	users, err := a.Store.SearchUsers(r.Context(), q, maxSearch)
	if err != nil {
		return web.Internal(err)
	}
	if users == nil {
		users = []*model.User{}
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"users": users})
}

func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, web.Errorf(http.StatusBadRequest, protocol.CodeBadRequest, "%s must be a positive whole number", name)
	}
	return id, nil
}

// KeysResponse is a user's signed device list and the devices the server
// holds active. Clients encrypt to devices that are in both.
type KeysResponse struct {
	User   *model.User     `json:"user"`
	List   json.RawMessage `json:"list"`
	Active []int64         `json:"active"`
}

func (a *API) keys(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u, err := a.Store.UserByID(r.Context(), id)
	if errors.Is(err, model.ErrNotFound) {
		return errNoUser
	}
	if err != nil {
		return web.Internal(err)
	}
	list, active, err := a.Store.DeviceList(r.Context(), id)
	if err != nil {
		return web.Internal(err)
	}
	if list == nil {
		list = json.RawMessage("null")
	}
	return web.WriteJSON(w, http.StatusOK, KeysResponse{User: u, List: list, Active: active})
}

type registerRequest struct {
	Name string          `json:"name"`
	List json.RawMessage `json:"list"`
}

func (a *API) registerDevice(w http.ResponseWriter, r *http.Request) error {
	s := SessionOf(r.Context())
	if s.Device != 0 {
		return web.Errorf(http.StatusConflict, protocol.CodeConflict, "this session already has device %d; sign in again to register another", s.Device)
	}
	var req registerRequest
	if err := web.DecodeJSON(w, r, maxDeviceBody, &req); err != nil {
		return err
	}
	if req.Name == "" || len(req.Name) > 100 {
		return web.Errorf(http.StatusBadRequest, protocol.CodeBadRequest, "name must be 1-100 characters")
	}
	var list protocol.DeviceList
	if err := json.Unmarshal(req.List, &list); err != nil {
		return web.Errorf(http.StatusBadRequest, protocol.CodeBadDeviceList, "list is not a device list: %v", err)
	}
	if err := list.Validate(); err != nil {
		return err
	}
	if list.User != s.User.ID {
		return web.Errorf(http.StatusForbidden, protocol.CodeForbidden, "the list is for user %d; you are %d", list.User, s.User.ID)
	}
	signer, _ := list.Find(list.Signer)
	if !ed25519.Verify(signer.Sign, list.SignedBytes(), list.Sig) {
		return web.Errorf(http.StatusBadRequest, protocol.CodeBadDeviceList, "the list's signature does not verify with the signer's key")
	}
	agent := store.TrimAgent(r.UserAgent())
	err := a.Store.RegisterDevice(r.Context(), s.User.ID, req.Name, agent, signer, &list, req.List, s.TokenHash)
	switch {
	case errors.Is(err, model.ErrConflict):
		return web.Errorf(http.StatusConflict, protocol.CodeConflict, "%s; fetch /api/v1/keys/%d and sign a new list", unwrapMsg(err), s.User.ID)
	case errors.Is(err, model.ErrExists):
		return web.Errorf(http.StatusConflict, protocol.CodeConflict, "that device key is already registered; make new keys")
	case err != nil:
		return web.Internal(err)
	}
	a.Log.Info("device registered", "user", s.User.ID, "device", signer.ID, "list_version", list.Version)
	a.audit(r, "device.register", deviceTarget(signer.ID), store.OutcomeOK, map[string]any{"name": req.Name, "agent": agent, "list_version": list.Version})
	if a.DevicesChanged != nil {
		a.DevicesChanged(s.User.ID)
	}
	return web.WriteJSON(w, http.StatusCreated, map[string]any{"device": signer.ID})
}

func unwrapMsg(err error) string {
	msg := err.Error()
	const p = "store: conflict: "
	if len(msg) > len(p) && msg[:len(p)] == p {
		return msg[len(p):]
	}
	return msg
}

func (a *API) groups(w http.ResponseWriter, r *http.Request) error {
	gs, err := a.Store.GroupsOf(r.Context(), SessionOf(r.Context()).User.ID)
	if err != nil {
		return web.Internal(err)
	}
	if gs == nil {
		gs = []*store.Group{}
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"groups": gs})
}

func (a *API) group(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	g, err := a.Store.GroupByID(r.Context(), id)
	if errors.Is(err, model.ErrNotFound) {
		return web.Errorf(http.StatusNotFound, protocol.CodeNotFound, "no such group")
	}
	if err != nil {
		return web.Internal(err)
	}
	me := SessionOf(r.Context()).User.ID
	for _, m := range g.Members {
		if m.ID == me {
			return web.WriteJSON(w, http.StatusOK, map[string]any{"group": g})
		}
	}
	return web.Errorf(http.StatusForbidden, protocol.CodeForbidden, "you are not a member of this group")
}
