package console

import (
	"errors"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// Console request limits.
const (
	maxConsoleBody = 16 << 10
	maxPageSize    = 200
)

func (a *Console) userRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /api/v1/admin/users", Access: web.Helpdesk, Func: a.listUsers},
		{Pattern: "GET /api/v1/admin/users/{id}", Access: web.Helpdesk, Func: a.getUser},
		{Pattern: "POST /api/v1/admin/users", Access: web.Admin, Func: a.createUser},
		{Pattern: "PATCH /api/v1/admin/users/{id}", Access: web.Admin, Func: a.updateUser},
		{Pattern: "POST /api/v1/admin/users/{id}/state", Access: web.Admin, Func: a.setUserState},
		{Pattern: "POST /api/v1/admin/users/{id}/offboard", Access: web.Admin, Func: a.offboardUser},
		{Pattern: "POST /api/v1/admin/users/{id}/password", Access: web.Helpdesk, Func: a.resetPassword},
		{Pattern: "POST /api/v1/admin/users/{id}/unlock", Access: web.Helpdesk, Func: a.unlockUser},
	}
}

func badRequest(format string, args ...any) error {
	return protocol.Errorf(protocol.CodeBadRequest, format, args...)
}

var errNoGroup = protocol.Errorf(protocol.CodeNotFound, "no such group")

func queryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, badRequest("%s must be a whole number from %d to %d", name, lo, hi)
	}
	return n, nil
}

func (a *Console) listUsers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.UserFilter{Query: q.Get("q"), Role: q.Get("role"), State: q.Get("state"), Level: q.Get("level")}
	switch {
	case len(f.Query) > 100:
		return badRequest("q is longer than 100 characters")
	case f.Role != "" && !model.ValidRole(f.Role):
		return badRequest("role %q: want admin, staff, external or patient", f.Role)
	case f.State != "" && !model.ValidState(f.State):
		return badRequest("state %q: want active, locked or disabled", f.State)
	case f.Level != "" && f.Level != "any" && model.LevelRank(f.Level) < 1:
		return badRequest("level %q: want owner, admin, helpdesk or any", f.Level)
	}
	var err error
	if f.Limit, err = queryInt(r, "limit", 50, 1, maxPageSize); err != nil {
		return err
	}
	if f.Offset, err = queryInt(r, "offset", 0, 0, 1<<30); err != nil {
		return err
	}
	users, total, err := a.Store.ListUsers(r.Context(), f)
	if err != nil {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"users": users, "total": total})
}

// pathUser loads the user named by the {id} path value.
func (a *Console) pathUser(r *http.Request) (*model.User, error) {
	id, err := web.PathID(r, "id")
	if err != nil {
		return nil, err
	}
	u, err := a.Store.UserByID(r.Context(), id)
	if errors.Is(err, model.ErrNotFound) {
		return nil, errNoUser
	}
	if err != nil {
		return nil, protocol.Internal(err)
	}
	return u, nil
}

// mayManage reports whether the signed-in administrator may act on target:
// an owner on anyone; an admin on users below admin level (and on their own
// profile); a helpdesk member on users with no admin level.
func mayManage(actor, target *model.User) error {
	ar, tr := model.LevelRank(actor.AdminLevel), model.LevelRank(target.AdminLevel)
	if ar == model.LevelRank(model.LevelOwner) || tr < ar || (actor.ID == target.ID && ar >= model.LevelRank(model.LevelAdmin)) {
		return nil
	}
	return protocol.Errorf(protocol.CodeForbidden, "%s is %s; your administrator level cannot change that account", target.Username, levelName(target.AdminLevel))
}

// mayGrant reports whether actor may give someone the admin level: only an
// owner makes admins and owners.
func mayGrant(actor *model.User, level string) error {
	if model.LevelRank(level) < 0 {
		return badRequest("admin_level %q: want owner, admin, helpdesk or empty", level)
	}
	if model.LevelRank(level) >= model.LevelRank(model.LevelAdmin) && actor.AdminLevel != model.LevelOwner {
		return protocol.Errorf(protocol.CodeForbidden, "only an owner can make someone %s", level)
	}
	return nil
}

func levelName(l string) string {
	if l == "" {
		return "not an administrator"
	}
	return "an " + l
}

func (a *Console) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.pathUser(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	groups, err := a.Store.GroupsOf(ctx, u.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	type groupRef struct {
		ID     int64  `json:"id"`
		Name   string `json:"name"`
		Direct bool   `json:"direct"`
	}
	refs := []groupRef{}
	for _, g := range groups {
		direct := false
		for _, d := range g.Direct {
			direct = direct || d == u.ID
		}
		refs = append(refs, groupRef{g.ID, g.Name, direct})
	}
	sessions, err := a.Store.SessionCount(ctx, u.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	lockedOut := int64(0) // the end of a sign-in wait still running (auth/backoff.go)
	if u.LockedUntil > time.Now().UnixMilli() {
		lockedOut = u.LockedUntil
	}
	mfa, err := a.Store.MFAStatusOf(ctx, u.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	out := map[string]any{"user": u, "groups": refs, "sessions": sessions, "locked_out_until": lockedOut, "has_password": u.PasswordHash != "", "mfa": mfa}
	return web.WriteJSON(w, http.StatusOK, out)
}

type userProfile struct {
	Username   string  `json:"username"`
	Display    string  `json:"display"`
	Role       string  `json:"role"`
	Email      string  `json:"email"`
	AdminLevel string  `json:"admin_level"`
	Groups     []int64 `json:"groups"`
}

// check validates a profile for a new account and normalises it.
func (p *userProfile) check() error { return p.checkWith(false) }

// checkWith is check; with usernameLater, an empty username is allowed (an
// invitation that lets the person choose one).
func (p *userProfile) checkWith(usernameLater bool) error {
	if ps := p.problems(usernameLater); len(ps) > 0 {
		return ps[0]
	}
	return nil
}

// problems is everything wrong with the profile, in the order of its
// fields, so that an import reports every fix a row needs at once.
func (p *userProfile) problems(usernameLater bool) []error {
	p.Username = strings.TrimSpace(p.Username)
	var out []error
	if !(usernameLater && p.Username == "") && !model.ValidUsername(p.Username) {
		out = append(out, badRequest("username: %s", model.UsernameRule))
	}
	var ok bool
	if p.Display, ok = web.Trimmed(p.Display, 100); !ok {
		out = append(out, badRequest("display: the person's full name, 1-100 characters"))
	}
	if !model.ValidRole(p.Role) {
		out = append(out, badRequest("role %q: want admin, staff, external or patient", p.Role))
	}
	if err := checkEmail(&p.Email); err != nil {
		out = append(out, err)
	}
	return out
}

func checkEmail(e *string) error {
	*e = strings.TrimSpace(*e)
	if *e == "" {
		return nil
	}
	addr, err := mail.ParseAddress(*e)
	if err != nil || addr.Address != *e || len(*e) > 254 {
		return badRequest("email %q is not an email address such as name@example.org", *e)
	}
	return nil
}

// origin is the server's public origin for links: API.PublicURL, or the
// origin the request came to.
func (a *Console) origin(r *http.Request) string {
	if a.PublicURL != "" {
		return strings.TrimSuffix(a.PublicURL, "/")
	}
	scheme := "http"
	if web.IsHTTPS(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// invitationOut is an invitation as the console shows it after making one.
type invitationOut struct {
	ID        int64  `json:"id"`
	URL       string `json:"url"`
	ExpiresAt int64  `json:"expires_at"`
}

// invite stores inv with a fresh token and returns its link. rec, the
// audit entry of the action, is written in the same transaction, with the
// link's expiry in its detail; its Complete may read inv.ID.
func (a *Console) invite(r *http.Request, rec *store.Pending, inv *store.Invitation) (*invitationOut, error) {
	pol, err := a.Store.LoadPolicy(r.Context())
	if err != nil {
		return nil, protocol.Internal(err)
	}
	token, hash := auth.NewToken()
	inv.ExpiresAt = time.Now().Add(pol.InvitationTTL).UnixMilli()
	if s := auth.SessionOf(r.Context()); s != nil {
		inv.CreatedBy = s.User.ID
	}
	if rec.Detail == nil {
		rec.Detail = map[string]any{}
	}
	rec.Detail["expires_at"] = inv.ExpiresAt
	if err := a.Store.CreateInvitation(store.WithAudit(r.Context(), rec), inv, hash); err != nil {
		return nil, err
	}
	return &invitationOut{ID: inv.ID, URL: auth.InvitationURL(a.origin(r), token), ExpiresAt: inv.ExpiresAt}, nil
}

func (a *Console) createUser(w http.ResponseWriter, r *http.Request) error {
	var p userProfile
	if err := web.DecodeJSON(w, r, maxConsoleBody, &p); err != nil {
		return err
	}
	if err := p.check(); err != nil {
		return err
	}
	actor := auth.SessionOf(r.Context()).User
	if err := mayGrant(actor, p.AdminLevel); err != nil {
		return err
	}
	u, inv, err := a.createAccount(r, p)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusCreated, map[string]any{"user": u, "invitation": inv})
}

// createAccount adds a user with no password yet, in p's groups, and an
// invitation link through which they set one. Both are audited.
func (a *Console) createAccount(r *http.Request, p userProfile) (*model.User, *invitationOut, error) {
	ctx := r.Context()
	u := &model.User{Username: p.Username, Display: p.Display, Role: p.Role, State: model.StateActive, AdminLevel: p.AdminLevel, Email: p.Email}
	for _, g := range p.Groups {
		if _, err := a.Store.GroupByID(ctx, g); errors.Is(err, model.ErrNotFound) {
			return nil, nil, protocol.Errorf(protocol.CodeNotFound, "no group with id %d", g)
		} else if err != nil {
			return nil, nil, protocol.Internal(err)
		}
	}
	rec := auth.Entry(r, "user.create", "", map[string]any{"username": u.Username, "role": u.Role, "admin_level": u.AdminLevel, "groups": p.Groups})
	rec.Complete = func(p *store.Pending) {
		p.Entry.Target = auth.UserTarget(u.ID)
		p.Detail["admin_level"] = u.AdminLevel // as CreateUser stored it
	}
	// The group memberships below are part of the same action: their
	// membership events name the same administrator.
	actx := store.WithAudit(ctx, rec)
	if err := a.Store.CreateUser(actx, u); errors.Is(err, model.ErrExists) {
		return nil, nil, protocol.Errorf(protocol.CodeConflict, "a user named %q already exists", p.Username)
	} else if err != nil {
		return nil, nil, protocol.Internal(err)
	}
	for _, g := range p.Groups {
		if err := a.Store.SetGroupMembers(actx, g, []int64{u.ID}, true); err != nil {
			return nil, nil, protocol.Internal(err)
		}
	}
	inv := &store.Invitation{User: u.ID}
	out, err := a.invite(r, invitationEntry(auth.Entry(r, "invitation.create", auth.UserTarget(u.ID), map[string]any{"kind": store.InviteReset}), inv), inv)
	if err != nil {
		return u, nil, protocol.Internal(err)
	}
	return u, out, nil
}

// invitationEntry has rec name inv, once it is stored, in its detail.
func invitationEntry(rec *store.Pending, inv *store.Invitation) *store.Pending {
	rec.Complete = func(p *store.Pending) { p.Detail["invitation"] = inv.ID }
	return rec
}

type userPatch struct {
	Display    *string `json:"display"`
	Role       *string `json:"role"`
	Email      *string `json:"email"`
	AdminLevel *string `json:"admin_level"`
}

func (a *Console) updateUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.pathUser(r)
	if err != nil {
		return err
	}
	var p userPatch
	if err := web.DecodeJSON(w, r, maxConsoleBody, &p); err != nil {
		return err
	}
	actor := auth.SessionOf(r.Context()).User
	if err := mayManage(actor, u); err != nil {
		return err
	}
	changed := map[string]any{}
	if p.Display != nil {
		d, ok := web.Trimmed(*p.Display, 100)
		if !ok {
			return badRequest("display: the person's full name, 1-100 characters")
		}
		p.Display = &d
		changed["display"] = "changed" // the name itself is directory data, not audit metadata
	}
	if p.Role != nil {
		if !model.ValidRole(*p.Role) {
			return badRequest("role %q: want admin, staff, external or patient", *p.Role)
		}
		changed["role"] = *p.Role
	}
	if p.Email != nil {
		if err := checkEmail(p.Email); err != nil {
			return err
		}
		changed["email"] = "changed" // the address itself is not audit metadata
	}
	if p.AdminLevel != nil && *p.AdminLevel != u.AdminLevel {
		if err := mayGrant(actor, *p.AdminLevel); err != nil {
			return err
		}
		if actor.ID == u.ID {
			return protocol.Errorf(protocol.CodeForbidden, "you cannot change your own administrator level; ask another owner")
		}
		changed["admin_level"] = map[string]string{"from": u.AdminLevel, "to": *p.AdminLevel}
	}
	nu, err := a.Store.UpdateUser(auth.Record(r, "user.update", auth.UserTarget(u.ID), changed), u.ID, store.UserUpdate{Display: p.Display, Role: p.Role, Email: p.Email, AdminLevel: p.AdminLevel})
	if errors.Is(err, model.ErrConflict) {
		return protocol.Errorf(protocol.CodeConflict, "%s", model.ReasonOf(err, "that changed meanwhile; reload and try again"))
	}
	if err != nil {
		return protocol.Internal(err)
	}
	a.rulesChanged()
	return web.WriteJSON(w, http.StatusOK, map[string]any{"user": nu})
}

func (a *Console) setUserState(w http.ResponseWriter, r *http.Request) error {
	u, err := a.pathUser(r)
	if err != nil {
		return err
	}
	var req struct {
		State string `json:"state"`
	}
	if err := web.DecodeJSON(w, r, maxConsoleBody, &req); err != nil {
		return err
	}
	if !model.ValidState(req.State) {
		return badRequest("state %q: want active, locked or disabled", req.State)
	}
	s := auth.SessionOf(r.Context())
	if err := mayManage(s.User, u); err != nil {
		return err
	}
	if u.ID == s.User.ID && req.State != model.StateActive {
		return protocol.Errorf(protocol.CodeForbidden, "you cannot lock or disable your own account")
	}
	err = a.Store.SetUserStateChecked(auth.Record(r, "user.state", auth.UserTarget(u.ID), map[string]any{"from": u.State, "to": req.State}), u.ID, req.State)
	if errors.Is(err, model.ErrConflict) {
		return protocol.Errorf(protocol.CodeConflict, "%s", model.ReasonOf(err, "that changed meanwhile; reload and try again"))
	}
	if err != nil {
		return protocol.Internal(err)
	}
	if a.DevicesChanged != nil && req.State != model.StateActive {
		a.DevicesChanged(u.ID)
	}
	nu, err := a.Store.UserByID(r.Context(), u.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"user": nu})
}

func (a *Console) resetPassword(w http.ResponseWriter, r *http.Request) error {
	u, err := a.pathUser(r)
	if err != nil {
		return err
	}
	if err := mayManage(auth.SessionOf(r.Context()).User, u); err != nil {
		return err
	}
	inv := &store.Invitation{User: u.ID}
	out, err := a.invite(r, invitationEntry(auth.Entry(r, "user.password_reset", auth.UserTarget(u.ID), nil), inv), inv)
	if err != nil {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"invitation": out})
}

func (a *Console) unlockUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.pathUser(r)
	if err != nil {
		return err
	}
	if err := mayManage(auth.SessionOf(r.Context()).User, u); err != nil {
		return err
	}
	if err := a.Store.ClearLockout(auth.Record(r, "user.unlock", auth.UserTarget(u.ID), nil), u.ID); err != nil {
		return protocol.Internal(err)
	}
	nu, err := a.Store.UserByID(r.Context(), u.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"user": nu})
}

func (a *Console) offboardUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.pathUser(r)
	if err != nil {
		return err
	}
	s := auth.SessionOf(r.Context())
	if err := mayManage(s.User, u); err != nil {
		return err
	}
	if u.ID == s.User.ID {
		return protocol.Errorf(protocol.CodeForbidden, "you cannot offboard yourself")
	}
	ctx := r.Context()
	// The entry goes with the transaction that disables the account; it
	// notes the sessions ended and the devices left to wipe, and each
	// wipe below is then recorded in its own (device.wipe).
	sessions, err := a.Store.Offboard(auth.Record(r, "user.offboard", auth.UserTarget(u.ID), map[string]any{"username": u.Username,
		"push_subscriptions_revoked": 0}), u.ID)
	if errors.Is(err, model.ErrConflict) {
		return protocol.Errorf(protocol.CodeConflict, "%s", model.ReasonOf(err, "that changed meanwhile; reload and try again"))
	}
	if err != nil {
		return protocol.Internal(err)
	}
	devs, err := a.Store.DevicesOf(ctx, u.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	revoked := 0
	for _, d := range devs {
		if d.Wiped {
			continue
		}
		// Every device not wiped before is wiped now (revoked, its share,
		// queue and sessions deleted, disconnected, a signed wipe command
		// stored), each audited as device.wipe.
		if err := a.WipeDevice(r, d); err != nil && !errors.Is(err, ErrAlreadyWiped) {
			return err
		}
		if d.State == store.DeviceActive {
			revoked++
		}
	}
	if a.DevicesChanged != nil {
		a.DevicesChanged(u.ID)
	}
	nu, err := a.Store.UserByID(ctx, u.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"user": nu, "revoked_sessions": sessions, "revoked_devices": revoked})
}
