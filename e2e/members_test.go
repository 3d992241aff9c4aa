package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/protocol"
)

// groupWard makes the group Ward with the given members by the operator
// CLI and returns its id, as alice's client sees it.
func groupWard(t *testing.T, ts *testServer, c *client.Client, members ...string) int64 {
	t.Helper()
	if out, err := curbside(t, "", "group", "add", "--data", ts.Data, "--name", "Ward", "--add", strings.Join(members, ",")); err != nil {
		t.Fatalf("group add: %v\n%s", err, out)
	}
	g, err := c.GroupByName(ctxT(t), "Ward")
	if err != nil {
		t.Fatal(err)
	}
	return g.ID
}

// memberEvent waits for the inbox's membership event about user.
func (in *inbox) memberEvent(kind string, user int64) *client.MemberEvent {
	in.t.Helper()
	var found *client.MemberEvent
	in.waitFor(fmt.Sprintf("member %s %d", kind, user), func(_ []client.Incoming, evs []client.Event) bool {
		for i := range evs {
			if m := evs[i].Member; evs[i].Type == protocol.TMember && m != nil && m.Kind == kind && m.User == user {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

func idOf(t *testing.T, c *client.Client, name string) int64 {
	t.Helper()
	u, err := c.UserByName(ctxT(t), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// TestGroupMemberEvents: a member added in the console reaches every
// member's devices as an event naming the administrator, a device that
// was offline gets it when it connects, and the member added gets it too;
// a removal reaches the one removed as well as those who stay.
func TestGroupMemberEvents(t *testing.T) {
	ts, alice, bob, _ := aliceAndBob(t)
	withAdmin(t, ts)
	ts.addUser(t, "carol", "staff")
	carol := ts.device(t, "carol")
	g := groupWard(t, ts, alice, "alice", "bob")
	carolID := idOf(t, alice, "carol")

	ina := newInbox(t, connect(t, alice))
	// The CLI made the group: alice hears that bob was added, and by whom.
	if m := ina.memberEvent(protocol.MemberAdded, bob.User().ID); m.Via != protocol.ViaCLI || m.Conv != protocol.GroupConv(g) ||
		m.String() != "Bob Test was added by the administrator (command line)" {
		t.Fatalf("alice was told of bob: %+v %q", m, m.String())
	}

	// bob is offline; root adds carol in the console.
	path := fmt.Sprintf("/api/v1/admin/groups/%d/members", g)
	if code, out := adminDo(t, ts, "root", http.MethodPost, path, map[string]any{"add": []int64{carolID}}); code != 200 {
		t.Fatalf("console add: %d %v", code, out)
	}
	m := ina.memberEvent(protocol.MemberAdded, carolID)
	if m.Via != protocol.ViaConsole || m.ByName != "Root Test" || m.By == 0 || m.Name != "Carol Test" || !m.Announced || m.Seq == 0 {
		t.Fatalf("alice's event: %+v", m)
	}
	if got := m.String(); got != "Root Test added Carol Test" {
		t.Fatalf("alice's event reads %q", got)
	}

	// bob, offline then, gets it on connecting; so does carol herself.
	inb := newInbox(t, connect(t, bob))
	if m := inb.memberEvent(protocol.MemberAdded, carolID); m.String() != "Root Test added Carol Test" {
		t.Fatalf("bob's event reads %q", m.String())
	}
	inc := newInbox(t, connect(t, carol))
	inc.memberEvent(protocol.MemberAdded, carolID)

	// A removal reaches those who stay and the one removed.
	if code, out := adminDo(t, ts, "root", http.MethodPost, path, map[string]any{"remove": []int64{carolID}}); code != 200 {
		t.Fatalf("console remove: %d %v", code, out)
	}
	for _, in := range []*inbox{ina, inb, inc} {
		if m := in.memberEvent(protocol.MemberRemoved, carolID); m.String() != "Root Test removed Carol Test" {
			t.Fatalf("removal reads %q", m.String())
		}
	}
}

// TestAttackSilentGroupMember: a malicious server adds a listener to a
// group by editing its database, and announces nothing. The members'
// clients still show that the listener appeared: the sender's from the
// member list it seals to, the receiver's from the recipients of the
// message it opens.
func TestAttackSilentGroupMember(t *testing.T) {
	ts, alice, bob, ctx := aliceAndBob(t)
	ts.addUser(t, "mallory", "staff")
	mallory := ts.device(t, "mallory")
	g := groupWard(t, ts, alice, "alice", "bob")
	conv := protocol.GroupConv(g)
	if _, err := bob.Groups(ctx); err != nil { // bob's app lists his groups
		t.Fatal(err)
	}
	ina, inb := newInbox(t, connect(t, alice)), newInbox(t, connect(t, bob))
	ina.memberEvent(protocol.MemberAdded, bob.User().ID)
	inb.memberEvent(protocol.MemberAdded, bob.User().ID)

	// The server adds mallory to Ward, and no event.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(ts.Data, "curbside.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(context.Background(), `INSERT INTO group_members (group_id, user_id) VALUES (?, ?)`, g, mallory.User().ID); err != nil {
		t.Fatal(err)
	}
	db.Close()
	ts = ts.restart(t) // nothing the server cached of the group survives
	ina, inb = newInbox(t, connect(t, alice)), newInbox(t, connect(t, bob))

	cna := ina.cn
	acc, err := cna.Send(ctx, client.Outgoing{Conv: conv, Text: "bed 4 needs a review"})
	if err != nil {
		t.Fatal(err)
	}
	inb.waitFor("alice's message", func(msgs []client.Incoming, _ []client.Event) bool {
		for _, m := range msgs {
			if m.ID == acc.ID {
				return true
			}
		}
		return false
	})
	want := "Mallory Test now receives this group's messages"
	for who, c := range map[string]*client.Client{"alice": alice, "bob": bob} {
		var seen *client.MemberEvent
		for _, e := range c.MemberEvents() {
			if e.User == mallory.User().ID && e.Conv == conv && e.Kind == protocol.MemberAdded {
				e := e
				seen = &e
			}
		}
		if seen == nil || seen.Announced || !seen.Observed || seen.String() != want {
			t.Fatalf("%s's client: mallory's arrival %+v; events %+v", who, seen, c.MemberEvents())
		}
	}
	for _, in := range []*inbox{ina, inb} {
		in.mu.Lock()
		for _, e := range in.events {
			if e.Member != nil && e.Member.User == mallory.User().ID {
				t.Errorf("the server announced what it should have hidden: %+v", e.Member)
			}
		}
		in.mu.Unlock()
	}
}
