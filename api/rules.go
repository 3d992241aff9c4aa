package api

import (
	"context"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/store"
)

// The directory the apps see follows the participation rules
// (model.Reach): a user finds, looks up and fetches the keys of only the
// people the rules let them reach, and the members of the groups they are
// in (whom they address as members, in the group conversation). Anyone
// else answers exactly as a user that does not exist, so that ids and
// usernames cannot be used to walk the directory. Every answer carries
// directory entries (model.Entry), never the full user record.

// visible reports whether user me may look up user other: the rules let
// me reach other, or the two share a group.
func (a *API) visible(ctx context.Context, me, other int64) (bool, error) {
	if me == other {
		return true, nil
	}
	rm, err := a.Store.Reach(ctx, me)
	if err != nil {
		return false, err
	}
	ro, err := a.Store.Reach(ctx, other)
	if err != nil {
		return false, err
	}
	if rm.Reaches(ro) {
		return true, nil
	}
	return a.Store.SharesGroup(ctx, me, other)
}

// Group is a group as the apps see it: its members as directory entries.
type Group struct {
	ID          int64          `json:"id"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Parent      int64          `json:"parent,omitempty"`
	Members     []*model.Entry `json:"members"` // direct and through subgroups
	Direct      []int64        `json:"direct"`  // the ids of the direct members
}

func groupOf(g *store.Group) *Group {
	out := &Group{ID: g.ID, Name: g.Name, Description: g.Description, Parent: g.Parent, Members: entries(g.Members), Direct: g.Direct}
	if out.Direct == nil {
		out.Direct = []int64{}
	}
	return out
}

func entries(us []*model.User) []*model.Entry {
	out := make([]*model.Entry, len(us))
	for i, u := range us {
		out[i] = model.EntryOf(u)
	}
	return out
}
