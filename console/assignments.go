package console

import (
	"errors"
	"net/http"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// Assignments are the users and groups assigned to a user under the
// participation rules (model.Reach): a patient's care team, the people an
// external provider works with. Assigning links both ways: the patient
// reaches the clinician and the clinician the patient.
func (a *Console) assignmentRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /api/v1/admin/users/{id}/assignments", Access: web.Admin, Func: a.listAssignments},
		{Pattern: "POST /api/v1/admin/users/{id}/assignments", Access: web.Admin, Func: a.addAssignment},
		{Pattern: "DELETE /api/v1/admin/users/{id}/assignments/{kind}/{target}", Access: web.Admin, Func: a.removeAssignment},
	}
}

func (a *Console) listAssignments(w http.ResponseWriter, r *http.Request) error {
	u, err := a.pathUser(r)
	if err != nil {
		return err
	}
	as, err := a.Store.Assignments(r.Context(), u.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"assignments": as})
}

// assignRequest names what to assign: a user or a group, by id or by name.
type assignRequest struct {
	Kind string `json:"kind"`
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

func (a *Console) addAssignment(w http.ResponseWriter, r *http.Request) error {
	u, err := a.pathUser(r)
	if err != nil {
		return err
	}
	var q assignRequest
	if err := web.DecodeJSON(w, r, maxConsoleBody, &q); err != nil {
		return err
	}
	if q.ID == 0 && q.Name != "" {
		if len(q.Name) > 100 {
			return badRequest("name is longer than 100 characters")
		}
		switch q.Kind {
		case store.AssignUser:
			t, err := a.Store.UserByName(r.Context(), q.Name)
			if errors.Is(err, model.ErrNotFound) {
				return protocol.Errorf(protocol.CodeNotFound, "no user named %q", q.Name)
			} else if err != nil {
				return protocol.Internal(err)
			}
			q.ID = t.ID
		case store.AssignGroup:
			g, err := a.Store.GroupByName(r.Context(), q.Name)
			if errors.Is(err, model.ErrNotFound) {
				return protocol.Errorf(protocol.CodeNotFound, "no group named %q", q.Name)
			} else if err != nil {
				return protocol.Internal(err)
			}
			q.ID = g.ID
		}
	}
	if q.Kind != store.AssignUser && q.Kind != store.AssignGroup {
		return badRequest("kind %q: want user or group", q.Kind)
	}
	if q.ID == 0 {
		return badRequest("say which %s to assign, by id or name", q.Kind)
	}
	err = a.Store.Assign(auth.Record(r, "user.assign", auth.UserTarget(u.ID), map[string]any{"kind": q.Kind, "id": q.ID}), u.ID, q.Kind, q.ID)
	switch {
	case errors.Is(err, model.ErrNotFound):
		return protocol.Errorf(protocol.CodeNotFound, "no %s with id %d", q.Kind, q.ID)
	case errors.Is(err, model.ErrConflict):
		return protocol.Errorf(protocol.CodeConflict, "%s", model.ReasonOf(err, "that cannot be assigned"))
	case err != nil:
		return protocol.Internal(err)
	}
	a.rulesChanged()
	return a.listAssignments(w, r)
}

func (a *Console) removeAssignment(w http.ResponseWriter, r *http.Request) error {
	u, err := a.pathUser(r)
	if err != nil {
		return err
	}
	kind := r.PathValue("kind")
	if kind != store.AssignUser && kind != store.AssignGroup {
		return badRequest("kind %q: want user or group", kind)
	}
	target, err := web.PathID(r, "target")
	if err != nil {
		return err
	}
	err = a.Store.Unassign(auth.Record(r, "user.unassign", auth.UserTarget(u.ID), map[string]any{"kind": kind, "id": target}), u.ID, kind, target)
	if errors.Is(err, model.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "that %s is not assigned to %s", kind, u.Username)
	}
	if err != nil {
		return protocol.Internal(err)
	}
	a.rulesChanged()
	return a.listAssignments(w, r)
}

// rulesChanged tells the relay that who may reach whom changed.
func (a *Console) rulesChanged() {
	if a.RulesChanged != nil {
		a.RulesChanged()
	}
}
