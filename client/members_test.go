package client

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

func memberStrings(evs []MemberEvent) []string {
	var out []string
	for _, e := range evs {
		s := e.String()
		if e.Announced && e.Observed {
			s += " [both]"
		}
		out = append(out, s)
	}
	return out
}

// TestMemberObservations checks what the client concludes from member
// lists and message recipients alone, and that a server event for a change
// it observed first is one event, not two.
func TestMemberObservations(t *testing.T) {
	c, err := newClient("https://curbside.example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	var told []MemberEvent
	c.onMember = func(e MemberEvent) { told = append(told, e) }
	ana, sam := User{ID: 1, Username: "ana", Display: "Dr Ana Ruiz"}, User{ID: 2, Username: "sam", Display: "Sam Lee"}
	eve := User{ID: 3, Username: "eve", Display: "Eve Hall"}
	conv := protocol.GroupConv(5)

	// The first list is the baseline: nothing to report.
	c.observeGroup(Group{ID: 5, Members: []User{ana, sam}})
	if len(c.MemberEvents()) != 0 {
		t.Fatalf("first list reported %q", memberStrings(c.MemberEvents()))
	}
	// A message sealed to someone new: seen, though no list said so. A
	// partial list (recipients) never reports who is missing.
	c.observeMembers(conv, 5, []int64{1, 3}, map[int64]string{3: "Eve Hall"}, false)
	if got := memberStrings(c.MemberEvents()); !slices.Equal(got, []string{"Eve Hall now receives this group's messages"}) {
		t.Fatalf("after a message to eve: %q", got)
	}
	// The server's event for the same change joins the observation.
	c.announced(&protocol.ServerFrame{Type: protocol.TMember, Conv: conv, Group: 5, Kind: protocol.MemberAdded, User: 3,
		Name: "Eve Hall", By: 1, ByName: "Dr Ana Ruiz", Via: protocol.ViaConsole, Seq: 9, TS: 1000})
	if got := memberStrings(c.MemberEvents()); !slices.Equal(got, []string{"Dr Ana Ruiz added Eve Hall [both]"}) {
		t.Fatalf("after the server's event: %q", got)
	}
	// The same queue item again (not acked before a reconnect): nothing new.
	c.announced(&protocol.ServerFrame{Type: protocol.TMember, Conv: conv, Group: 5, Kind: protocol.MemberAdded, User: 3,
		Name: "Eve Hall", By: 1, ByName: "Dr Ana Ruiz", Via: protocol.ViaConsole, Seq: 9, TS: 1000})
	if n := len(c.MemberEvents()); n != 1 {
		t.Fatalf("a redelivered event made %d events", n)
	}
	// An event first, then a list that agrees: nothing more.
	c.announced(&protocol.ServerFrame{Type: protocol.TMember, Conv: conv, Group: 5, Kind: protocol.MemberRemoved, User: 2,
		Name: "Sam Lee", Via: protocol.ViaCLI, Seq: 10, TS: 2000})
	c.observeGroup(Group{ID: 5, Members: []User{ana, eve}})
	want := []string{"Dr Ana Ruiz added Eve Hall [both]", "Sam Lee was removed by the administrator (command line)"}
	if got := memberStrings(c.MemberEvents()); !slices.Equal(got, want) {
		t.Fatalf("after the removal: %q; want %q", got, want)
	}
	// A list without a member, unannounced.
	c.observeGroup(Group{ID: 5, Members: []User{ana}})
	want = append(want, "Eve Hall no longer receives this group's messages")
	if got := memberStrings(c.MemberEvents()); !slices.Equal(got, want) {
		t.Fatalf("after eve vanished: %q; want %q", got, want)
	}
	if len(told) != 4 { // eve observed, eve's join announced, sam removed, eve gone
		t.Fatalf("handler called %d times: %q", len(told), memberStrings(told))
	}

	// The set last known survives Save and Load.
	k, err := e2ee.GenerateDeviceKeys()
	if err != nil {
		t.Fatal(err)
	}
	c.dev.Store(k)
	path := filepath.Join(t.TempDir(), "state.json")
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	c2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := c2.KnownMembers(conv); !ok || !slices.Equal(got, []int64{1}) {
		t.Fatalf("loaded members %v, %v", got, ok)
	}
}
