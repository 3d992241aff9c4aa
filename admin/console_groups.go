package admin

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// maxGroupChange bounds how many members one request adds or removes.
const maxGroupChange = 1000

func (a *API) groupRoutes() []Route {
	return []Route{
		{"GET /api/v1/admin/groups", model.LevelHelpdesk, a.listGroups},
		{"GET /api/v1/admin/groups/{id}", model.LevelHelpdesk, a.getGroup},
		{"POST /api/v1/admin/groups", model.LevelAdmin, a.createGroup},
		{"PATCH /api/v1/admin/groups/{id}", model.LevelAdmin, a.updateGroup},
		{"DELETE /api/v1/admin/groups/{id}", model.LevelAdmin, a.deleteGroup},
		{"POST /api/v1/admin/groups/{id}/members", model.LevelAdmin, a.groupMembers},
	}
}

func groupTarget(id int64) string { return "group:" + strconv.FormatInt(id, 10) }

func (a *API) listGroups(w http.ResponseWriter, r *http.Request) error {
	gs, err := a.Store.AllGroups(r.Context())
	if err != nil {
		return web.Internal(err)
	}
	if gs == nil {
		gs = []*store.Group{}
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"groups": gs})
}

func (a *API) pathGroup(r *http.Request) (*store.Group, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	g, err := a.Store.GroupByID(r.Context(), id)
	if errors.Is(err, model.ErrNotFound) {
		return nil, errNoGroup
	}
	if err != nil {
		return nil, web.Internal(err)
	}
	return g, nil
}

func (a *API) getGroup(w http.ResponseWriter, r *http.Request) error {
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
		n, ok := trimmed(*q.Name, 64)
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
		return web.Errorf(http.StatusConflict, protocol.CodeConflict, "a group named %q already exists", name)
	case errors.Is(err, model.ErrConflict):
		return web.Errorf(http.StatusConflict, protocol.CodeConflict, "%s", unwrapMsg(err))
	case errors.Is(err, model.ErrNotFound):
		return web.Errorf(http.StatusNotFound, protocol.CodeNotFound, "no such parent group")
	}
	return web.Internal(err)
}

func (a *API) createGroup(w http.ResponseWriter, r *http.Request) error {
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
	id, err := a.Store.CreateGroupIn(r.Context(), g.Name, g.Description, g.Parent)
	if err != nil {
		return groupError(err, g.Name)
	}
	a.audit(r, "group.create", groupTarget(id), store.OutcomeOK, map[string]any{"name": g.Name, "parent": g.Parent})
	ng, err := a.Store.GroupByID(r.Context(), id)
	if err != nil {
		return web.Internal(err)
	}
	return web.WriteJSON(w, http.StatusCreated, map[string]any{"group": ng})
}

func (a *API) updateGroup(w http.ResponseWriter, r *http.Request) error {
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
	if err := a.Store.UpdateGroup(r.Context(), g.ID, g.Name, g.Description, g.Parent); err != nil {
		return groupError(err, g.Name)
	}
	a.audit(r, "group.update", groupTarget(g.ID), store.OutcomeOK, map[string]any{"name": map[string]string{"from": old.Name, "to": g.Name},
		"parent": map[string]int64{"from": old.Parent, "to": g.Parent}})
	ng, err := a.Store.GroupByID(r.Context(), g.ID)
	if err != nil {
		return web.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"group": ng})
}

func (a *API) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := a.pathGroup(r)
	if err != nil {
		return err
	}
	if err := a.Store.DeleteGroup(r.Context(), g.ID); err != nil {
		return web.Internal(err)
	}
	a.audit(r, "group.delete", groupTarget(g.ID), store.OutcomeOK, map[string]any{"name": g.Name, "members": len(g.Direct)})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) groupMembers(w http.ResponseWriter, r *http.Request) error {
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
			return web.Errorf(http.StatusNotFound, protocol.CodeNotFound, "no user with id %d", id)
		} else if err != nil {
			return web.Internal(err)
		}
	}
	for _, change := range []struct {
		ids []int64
		add bool
	}{{q.Add, true}, {q.Remove, false}} {
		if len(change.ids) == 0 {
			continue
		}
		if err := a.Store.SetGroupMembers(r.Context(), g.ID, change.ids, change.add); err != nil {
			return web.Internal(err)
		}
	}
	a.audit(r, "group.members", groupTarget(g.ID), store.OutcomeOK, map[string]any{"added": q.Add, "removed": q.Remove})
	ng, err := a.Store.GroupByID(r.Context(), g.ID)
	if err != nil {
		return web.Internal(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"group": ng})
}
