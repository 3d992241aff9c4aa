package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// memberItems fans the recorded membership events out and returns what
// each device's queue then holds of them, as "kind user via by" lines
// per conversation.
func memberItems(t *testing.T, s *Store, devices ...int64) map[int64][]string {
	t.Helper()
	ctx := context.Background()
	if _, err := s.FanOutMemberEvents(ctx); err != nil {
		t.Fatal(err)
	}
	out := map[int64][]string{}
	for _, d := range devices {
		items, err := s.Pending(ctx, d, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if m := it.Member; m != nil {
				if m.Seq != it.Seq || m.Type != protocol.TMember || m.Conv != protocol.GroupConv(m.Group) {
					t.Fatalf("device %d: member item %+v (seq %d)", d, m, it.Seq)
				}
				out[d] = append(out[d], fmt.Sprintf("%s %s %s %s %s", m.Conv, m.Kind, m.Name, m.Via, m.ByName))
			}
		}
	}
	return out
}

// TestMemberEvents checks that every change of a group's members is
// queued as an event for the devices of the members before and after it,
// naming who made it, and that changes through a subgroup reach the
// conversations above it.
func TestMemberEvents(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	ana, sam, lee := addUser(t, s, "ana"), addUser(t, s, "sam"), addUser(t, s, "lee")
	addDevice(t, s, ana, 101)
	addDevice(t, s, sam, 201)
	addDevice(t, s, sam, 202)
	addDevice(t, s, lee, 301)
	admin := &model.User{Username: "root", Display: "Dr Root", Role: model.RoleAdmin, State: model.StateActive, PasswordHash: "x"}
	if err := s.CreateUser(ctx, admin); err != nil {
		t.Fatal(err)
	}
	g, _ := s.CreateGroupIn(ctx, "Ward", "", 0)
	conv := protocol.GroupConv(g)
	if err := s.ChangeGroupMembers(ctx, g, []int64{ana}, nil); err != nil {
		t.Fatal(err)
	}
	if got := memberItems(t, s, 101); !slices.Equal(got[101], []string{conv + " added ana server "}) {
		t.Fatalf("ana after joining: %q", got[101])
	}
	s.Ack(ctx, ana, 101, pendingSeqs(t, s, 101))

	// The console: the administrator is named.
	rec := WithAudit(ctx, &Pending{Entry: AuditEntry{Actor: admin.ID, ActorName: "root", Action: "group.members"}})
	if err := s.ChangeGroupMembers(rec, g, []int64{sam}, nil); err != nil {
		t.Fatal(err)
	}
	got := memberItems(t, s, 101, 201, 202, 301)
	want := []string{conv + " added sam console Dr Root"}
	for _, d := range []int64{101, 201, 202} {
		if !slices.Equal(got[d], want) {
			t.Fatalf("device %d after sam was added: %q; want %q", d, got[d], want)
		}
	}
	if len(got[301]) != 0 {
		t.Fatalf("lee, no member, was told: %q", got[301])
	}
	for _, d := range []int64{101, 201, 202} {
		u := map[int64]int64{101: ana, 201: sam, 202: sam}[d]
		s.Ack(ctx, u, d, pendingSeqs(t, s, d))
	}

	// The operator CLI, and a removal: the removed member hears of it too.
	cli := WithAudit(ctx, &Pending{Entry: AuditEntry{ActorName: "operator (command line)", Action: "group.members"}, Detail: map[string]any{"via": "cli"}})
	if err := s.ChangeGroupMembers(cli, g, nil, []int64{sam}); err != nil {
		t.Fatal(err)
	}
	got = memberItems(t, s, 101, 201)
	if want := []string{conv + " removed sam cli "}; !slices.Equal(got[101], want) || !slices.Equal(got[201], want) {
		t.Fatalf("after sam was removed: ana %q, sam %q", got[101], got[201])
	}
	s.Ack(ctx, ana, 101, pendingSeqs(t, s, 101))

	// A change that changes nothing records nothing.
	if err := s.ChangeGroupMembers(ctx, g, []int64{ana}, []int64{lee}); err != nil {
		t.Fatal(err)
	}
	if got := memberItems(t, s, 101); len(got[101]) != 0 {
		t.Fatalf("a change of nothing: %q", got[101])
	}

	// Through a subgroup: lee joins Night, so Ward's conversation too;
	// moving Night out of Ward takes lee out of Ward again.
	night, _ := s.CreateGroupIn(ctx, "Night", "", g)
	if err := s.ChangeGroupMembers(ctx, night, []int64{lee}, nil); err != nil {
		t.Fatal(err)
	}
	got = memberItems(t, s, 101, 301)
	if want := []string{conv + " added lee server "}; !slices.Equal(got[101], want) {
		t.Fatalf("ana after lee joined the subgroup: %q", got[101])
	}
	nightConv := protocol.GroupConv(night)
	if !slices.Contains(got[301], nightConv+" added lee server ") || !slices.Contains(got[301], conv+" added lee server ") {
		t.Fatalf("lee after joining the subgroup: %q", got[301])
	}
	s.Ack(ctx, ana, 101, pendingSeqs(t, s, 101))
	if err := s.UpdateGroup(ctx, night, "Night", "", 0); err != nil {
		t.Fatal(err)
	}
	if got := memberItems(t, s, 101); !slices.Equal(got[101], []string{conv + " removed lee server "}) {
		t.Fatalf("ana after the subgroup moved out: %q", got[101])
	}

	// Nothing is left to fan out.
	if n, err := s.FanOutMemberEvents(ctx); n != 0 || err != nil {
		t.Fatalf("second fan-out: %d, %v", n, err)
	}
}

// TestMemberEventsImport checks that accounts created into groups by the
// directory import are announced as the directory's doing.
func TestMemberEventsImport(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	ana := addUser(t, s, "ana")
	addDevice(t, s, ana, 101)
	g, _ := s.CreateGroupIn(ctx, "Ward", "", 0)
	s.ChangeGroupMembers(ctx, g, []int64{ana}, nil)
	memberItems(t, s, 101)
	s.Ack(ctx, ana, 101, pendingSeqs(t, s, 101))
	rec := WithAudit(ctx, &Pending{Entry: AuditEntry{Action: "user.create"}, Detail: map[string]any{"via": "import"}})
	err := s.CreateAccounts(rec, []*NewAccount{{
		User:   &model.User{Username: "sam", Display: "Sam Lee", Role: model.RoleStaff},
		Groups: []int64{g}, Invitation: &Invitation{ExpiresAt: nowMS() + 1000}, TokenHash: []byte(strings.Repeat("h", 32)),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := memberItems(t, s, 101); !slices.Equal(got[101], []string{protocol.GroupConv(g) + " added Sam Lee sync "}) {
		t.Fatalf("ana after the import: %q", got[101])
	}
}

func pendingSeqs(t *testing.T, s *Store, device int64) []int64 {
	t.Helper()
	items, err := s.Pending(context.Background(), device, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for _, it := range items {
		seqs = append(seqs, it.Seq)
	}
	if len(seqs) == 0 {
		return []int64{1}
	}
	return seqs
}
