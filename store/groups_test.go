package store

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/curbside-health/curbside/model"
)

// TestSubgroups checks that a subgroup's members belong to every group
// above it, that moves cannot make a loop, and that deleting a group lifts
// its subgroups to its parent.
func TestSubgroups(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ids []int64
	for _, n := range []string{"ann", "ben", "cat"} {
		u := &model.User{Username: n, Display: n, Role: model.RoleStaff, State: model.StateActive, PasswordHash: "x"}
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	nursing, _ := st.CreateGroupIn(ctx, "Nursing", "all nurses", 0)
	night, err := st.CreateGroupIn(ctx, "Night shift", "", nursing)
	if err != nil {
		t.Fatal(err)
	}
	empty, _ := st.CreateGroupIn(ctx, "Empty", "", 0)
	st.SetGroupMembers(ctx, nursing, ids[:1], true)
	st.SetGroupMembers(ctx, night, ids[1:2], true)

	got, err := st.GroupMemberIDs(ctx, nursing)
	if err != nil || !slices.Equal(sorted(got), ids[:2]) {
		t.Fatalf("Nursing members = %v, %v; want %v (direct and through Night shift)", got, err, ids[:2])
	}
	if got, _ := st.GroupMemberIDs(ctx, night); !slices.Equal(got, ids[1:2]) {
		t.Fatalf("Night shift members = %v", got)
	}
	if got, err := st.GroupMemberIDs(ctx, empty); err != nil || len(got) != 0 {
		t.Fatalf("empty group: %v, %v", got, err)
	}
	if _, err := st.GroupMemberIDs(ctx, 9999); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("missing group: %v", err)
	}
	g, _ := st.GroupByID(ctx, nursing)
	if len(g.Members) != 2 || !slices.Equal(g.Direct, ids[:1]) {
		t.Fatalf("Nursing: %d members, direct %v", len(g.Members), g.Direct)
	}
	of, _ := st.GroupsOf(ctx, ids[1])
	if len(of) != 2 {
		t.Fatalf("ben is in %d groups; want Night shift and Nursing", len(of))
	}
	if err := st.UpdateGroup(ctx, nursing, "Nursing", "", night); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("moving a group under its own subgroup: %v", err)
	}
	if err := st.DeleteGroup(ctx, nursing); err != nil {
		t.Fatal(err)
	}
	g, _ = st.GroupByID(ctx, night)
	if g.Parent != 0 {
		t.Fatalf("after deleting its parent, Night shift's parent is %d", g.Parent)
	}
}

func sorted(s []int64) []int64 { s = slices.Clone(s); slices.Sort(s); return s }
