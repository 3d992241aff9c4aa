package store

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/curbside-health/curbside/model"
)

// TestReach checks the links assignments make, in both directions and
// through groups and subgroups, the search that follows them, and the
// limits on assigning.
func TestReach(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id := map[string]int64{}
	for _, u := range [][2]string{{"doc", model.RoleStaff}, {"nurse", model.RoleStaff}, {"night", model.RoleStaff},
		{"owner", model.RoleAdmin}, {"spec", model.RoleExternal}, {"pat", model.RolePatient}, {"other", model.RolePatient}} {
		m := &model.User{Username: u[0], Display: u[0], Role: u[1], State: model.StateActive, PasswordHash: "x"}
		if err := st.CreateUser(ctx, m); err != nil {
			t.Fatal(err)
		}
		id[u[0]] = m.ID
	}
	nursing, _ := st.CreateGroupIn(ctx, "Nursing", "", 0)
	night, _ := st.CreateGroupIn(ctx, "Night", "", nursing)
	st.SetGroupMembers(ctx, nursing, []int64{id["nurse"]}, true)
	st.SetGroupMembers(ctx, night, []int64{id["night"]}, true)

	if err := st.Assign(ctx, id["pat"], AssignUser, id["doc"]); err != nil {
		t.Fatal(err)
	}
	if err := st.Assign(ctx, id["pat"], AssignGroup, nursing); err != nil {
		t.Fatal(err)
	}
	if err := st.Assign(ctx, id["pat"], AssignUser, id["doc"]); err != nil {
		t.Fatalf("assigning twice: %v", err)
	}
	links := func(name string) []int64 {
		r, err := st.Reach(ctx, id[name])
		if err != nil {
			t.Fatal(err)
		}
		return slices.Sorted(maps.Keys(r.Links))
	}
	if got, want := links("pat"), []int64{id["doc"], id["nurse"], id["night"]}; !slices.Equal(got, want) {
		t.Errorf("patient's links %v, want the doctor, Nursing and its subgroup %v", got, want)
	}
	for _, n := range []string{"doc", "nurse", "night"} {
		if got := links(n); !slices.Equal(got, []int64{id["pat"]}) {
			t.Errorf("%s's links %v, want the patient", n, got)
		}
	}
	if got := links("other"); len(got) != 0 {
		t.Errorf("unassigned patient has links %v", got)
	}
	if r, _ := st.Reach(ctx, 9999); r.Role != "" {
		t.Errorf("a missing user has role %q", r.Role)
	}

	r, _ := st.Reach(ctx, id["pat"])
	found, err := st.SearchReachable(ctx, r, "", 50)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range found {
		names = append(names, u.Username)
	}
	if want := []string{"doc", "night", "nurse", "pat"}; !slices.Equal(names, want) {
		t.Errorf("patient's directory %v, want %v", names, want)
	}
	r, _ = st.Reach(ctx, id["spec"])
	found, _ = st.SearchReachable(ctx, r, "", 50)
	names = nil
	for _, u := range found {
		names = append(names, u.Username)
	}
	if want := []string{"doc", "night", "nurse", "owner", "spec"}; !slices.Equal(names, want) {
		t.Errorf("external's directory %v, want the staff %v", names, want)
	}

	as, err := st.Assignments(ctx, id["pat"])
	if err != nil || len(as) != 2 || as[0].Kind != AssignUser || as[1].Kind != AssignGroup || as[1].Name != "Nursing" {
		t.Fatalf("assignments %+v, %v", as, err)
	}
	if ok, _ := st.SharesGroup(ctx, id["nurse"], id["night"]); !ok {
		t.Error("Nursing and its subgroup's member share no group")
	}
	if ok, _ := st.SharesGroup(ctx, id["pat"], id["nurse"]); ok {
		t.Error("an assignment counted as group membership")
	}

	if err := st.Assign(ctx, id["pat"], AssignUser, id["pat"]); !errors.Is(err, model.ErrConflict) {
		t.Errorf("self-assignment: %v", err)
	}
	if err := st.Assign(ctx, id["pat"], AssignGroup, 9999); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("missing group: %v", err)
	}
	if err := st.Unassign(ctx, id["pat"], AssignGroup, nursing); err != nil {
		t.Fatal(err)
	}
	if err := st.Unassign(ctx, id["pat"], AssignGroup, nursing); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("removing twice: %v", err)
	}
	if got := links("nurse"); len(got) != 0 {
		t.Errorf("after removal nurse's links %v", got)
	}
}

// TestEpochMovesWithReach: every commit that changes who reaches whom or
// what a message may carry moves the access epoch, so the relay drops its
// caches of them within a poll, whichever process made the change.
func TestEpochMovesWithReach(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pat := &model.User{Username: "pat", Display: "pat", Role: model.RolePatient, State: model.StateActive, PasswordHash: "x"}
	doc := &model.User{Username: "doc", Display: "doc", Role: model.RoleStaff, State: model.StateActive, PasswordHash: "x"}
	for _, u := range []*model.User{pat, doc} {
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	g, _ := st.CreateGroupIn(ctx, "Nursing", "", 0)
	sub, _ := st.CreateGroupIn(ctx, "Night", "", 0)
	external := model.RoleExternal
	for _, c := range []struct {
		what string
		do   func() error
	}{
		{"a policy change", func() error { return st.SetPolicy(ctx, map[string]string{"patient_ack": "true"}) }},
		{"a member added", func() error { return st.SetGroupMembers(ctx, g, []int64{doc.ID}, true) }},
		{"a member removed", func() error { return st.SetGroupMembers(ctx, g, []int64{doc.ID}, false) }},
		{"an assignment", func() error { return st.Assign(ctx, pat.ID, AssignUser, doc.ID) }},
		{"an assignment removed", func() error { return st.Unassign(ctx, pat.ID, AssignUser, doc.ID) }},
		{"a role change", func() error { _, err := st.UpdateUser(ctx, doc.ID, UserUpdate{Role: &external}); return err }},
		{"a group deleted", func() error { return st.DeleteGroup(ctx, sub) }},
	} {
		before, err := st.AccessEpoch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.do(); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if after, _ := st.AccessEpoch(ctx); after == before {
			t.Errorf("%s did not move the access epoch", c.what)
		}
	}
}

// TestEpochMovesWhenSessionsEnd: every commit that ends a session or
// changes what a live session may do moves the access epoch, which is how
// the relay learns of it within a poll when another process (the operator
// CLI) made it. The state and password changes are made with no session
// left, so that the user's own trigger is what moves it; using a session
// does not move it.
func TestEpochMovesWhenSessionsEnd(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u := &model.User{Username: "nurse", Display: "nurse", Role: model.RoleStaff, State: model.StateActive, PasswordHash: "x"}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	far := time.Now().Add(time.Hour).UnixMilli()
	session := func(b byte, expires int64) []byte {
		h := bytes.Repeat([]byte{b}, 32)
		if err := st.CreateSession(ctx, h, u.ID, expires); err != nil {
			t.Fatal(err)
		}
		return h
	}
	epoch := func() int64 {
		n, err := st.AccessEpoch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	one := session(1, far)
	session(2, time.Now().UnixMilli()-1) // expired: the sweep's
	session(3, far)                      // for the password change
	before := epoch()
	if err := st.TouchSession(ctx, one, time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if epoch() != before {
		t.Error("using a session moved the access epoch")
	}
	for _, c := range []struct {
		what string
		do   func() error
	}{
		{"a sign-out", func() error { return st.DeleteSession(ctx, one) }},
		{"an expired session swept", func() error {
			n, err := st.DeleteExpiredSessions(ctx, time.Now().UnixMilli(), time.Hour.Milliseconds())
			if err == nil && n != 1 {
				t.Fatalf("the sweep ended %d sessions, want the expired one", n)
			}
			return err
		}},
		{"the password changed, with a session", func() error { _, err := st.SetPassword(ctx, u.ID, "y"); return err }},
		{"the password changed, with none left", func() error { _, err := st.SetPassword(ctx, u.ID, "z"); return err }},
		{"the user locked", func() error { return st.SetUserState(ctx, u.ID, model.StateLocked) }},
		{"the user active again", func() error { return st.SetUserState(ctx, u.ID, model.StateActive) }},
		{"the user disabled", func() error { return st.SetUserState(ctx, u.ID, model.StateDisabled) }},
	} {
		before := epoch()
		if err := c.do(); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if epoch() == before {
			t.Errorf("%s did not move the access epoch", c.what)
		}
	}
}
