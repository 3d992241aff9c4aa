package console

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// maxGroupChange bounds how many members one request adds or removes.
const maxGroupChange = 1000

func (a *Console) groupRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /api/v1/admin/groups", Access: web.Helpdesk, Func: a.listGroups},
		{Pattern: "GET /api/v1/admin/groups/{id}", Access: web.Helpdesk, Func: a.getGroup},
		{Pattern: "POST /api/v1/admin/groups", Access: web.Admin, Func: a.createGroup},
		{Pattern: "PATCH /api/v1/admin/groups/{id}", Access: web.Admin, Func: a.updateGroup},
		{Pattern: "DELETE /api/v1/admin/groups/{id}", Access: web.Admin, Func: a.deleteGroup},
		{Pattern: "POST /api/v1/admin/groups/{id}/members", Access: web.Admin, Func: a.groupMembers},
	}
}

func groupTarget(id int64) string { return "group:" + strconv.FormatInt(id, 10) }

func (a *Console) listGroups(w http.ResponseWriter, r *http.Request) error {
	gs, err := a.Store.AllGroups(r.Context())
	if err != nil {
		return protocol.Internal(err)
	}
	if gs == nil {
		gs = []*store.Group{}
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"groups": gs})
}

func (a *Console) pathGroup(r *http.Request) (*store.Group, error) {
	id, err := web.PathID(r, "id")
	if err != nil {
		return nil, err
	}
	g, err := a.Store.GroupByID(r.Context(), id)
	if errors.Is(err, model.ErrNotFound) {
		return nil, errNoGroup
	}
	if err != nil {
		return nil, protocol.Internal(err)
	}
	return g, nil
}

func (a *Console) getGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := a.pathGroup(r)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"group": g})
}

type groupRequest struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Parent      *int64  `json:"parent"`
}

// apply fills g from the request and checks it.
func (q *groupRequest) apply(g *store.Group) error {
	if q.Name != nil {
		n, ok := web.Trimmed(*q.Name, 64)
		if !ok {
			return badRequest("name: the group's name, 1-64 characters")
		}
		g.Name = n
	}
	if q.Description != nil {
		if len(*q.Description) > 500 {
			return badRequest("description: at most 500 characters")
		}
		g.Description = *q.Description
	}
	if q.Parent != nil {
		if *q.Parent < 0 {
			return badRequest("parent must be a group id, or 0 for a top-level group")
		}
		g.Parent = *q.Parent
	}
	return nil
}

func groupError(err error, name string) error {
	switch {
	case errors.Is(err, model.ErrExists):
		return protocol.Errorf(protocol.CodeConflict, "a group named %q already exists", name)
	case errors.Is(err, model.ErrConflict):
		return protocol.Errorf(protocol.CodeConflict, "%s", model.ReasonOf(err, "that changed meanwhile; reload and try again"))
	case errors.Is(err, model.ErrNotFound):
		return protocol.Errorf(protocol.CodeNotFound, "no such parent group")
	}
	return protocol.Internal(err)
}

func (a *Console) createGroup(w http.ResponseWriter, r *http.Request) error {
	var q groupRequest
	if err := web.DecodeJSON(w, r, maxConsoleBody, &q); err != nil {
		return err
	}
	if q.Name == nil {
		return badRequest("name: the group's name, 1-64 characters")
	}
	var g store.Group
	if err := q.apply(&g); err != nil {
		return err
	}
	rec := auth.Entry(r, "group.create", "", map[string]any{"parent": g.Parent})
	rec.Complete = func(p *store.Pending) { p.Entry.Target = groupTarget(p.Result.(int64)) }
	id, err := a.Store.CreateGroupIn(store.WithAudit(r.Context(), rec), g.Name, g.Description, g.Parent)
	if err != nil {
		return groupError(err, g.Name)
	}
	ng, err := a.Store.GroupByID(r.Context(), id)
	if err != nil {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusCreated, map[string]any{"group": ng})
}

func (a *Console) updateGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := a.pathGroup(r)
	if err != nil {
		return err
	}
	var q groupRequest
	if err := web.DecodeJSON(w, r, maxConsoleBody, &q); err != nil {
		return err
	}
	old := *g
	if err := q.apply(g); err != nil {
		return err
	}
	rec := auth.Record(r, "group.update", groupTarget(g.ID), map[string]any{"renamed": old.Name != g.Name,
		"parent": map[string]int64{"from": old.Parent, "to": g.Parent}})
	if err := a.Store.UpdateGroup(rec, g.ID, g.Name, g.Description, g.Parent); err != nil {
		return groupError(err, g.Name)
	}
	if old.Parent != g.Parent {
		a.rulesChanged() // a subgroup's members reach through its parents
	}
	ng, err := a.Store.GroupByID(r.Context(), g.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"group": ng})
}

func (a *Console) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := a.pathGroup(r)
	if err != nil {
		return err
	}
	if err := a.Store.DeleteGroup(auth.Record(r, "group.delete", groupTarget(g.ID), map[string]any{"members": len(g.Direct)}), g.ID); err != nil {
		return protocol.Internal(err)
	}
	a.rulesChanged() // its assignments went with it
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *Console) groupMembers(w http.ResponseWriter, r *http.Request) error {
	g, err := a.pathGroup(r)
	if err != nil {
		return err
	}
	var q struct {
		Add    []int64 `json:"add"`
		Remove []int64 `json:"remove"`
	}
	if err := web.DecodeJSON(w, r, 64<<10, &q); err != nil {
		return err
	}
	if len(q.Add)+len(q.Remove) > maxGroupChange {
		return badRequest("at most %d members change in one request", maxGroupChange)
	}
	for _, id := range q.Add {
		if _, err := a.Store.UserByID(r.Context(), id); errors.Is(err, model.ErrNotFound) {
			return protocol.Errorf(protocol.CodeNotFound, "no user with id %d", id)
		} else if err != nil {
			return protocol.Internal(err)
		}
	}
	rec := auth.Record(r, "group.members", groupTarget(g.ID), map[string]any{"added": q.Add, "removed": q.Remove})
	if err := a.Store.ChangeGroupMembers(rec, g.ID, q.Add, q.Remove); err != nil {
		return protocol.Internal(err)
	}
	a.rulesChanged()
	ng, err := a.Store.GroupByID(r.Context(), g.ID)
	if err != nil {
		return protocol.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"group": ng})
}
