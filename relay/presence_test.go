package relay

import (
	"context"
	"testing"

	"github.com/curbside-health/curbside/protocol"
)

// Do-not-disturb is what holds back Web Push for a user whose devices are
// offline, so it outlives a restart: a status chosen is written to the
// store when it changes, and a relay starting over a store that says so
// holds back normal wake-ups for that user at once.
func TestDoNotDisturbOutlivesRestart(t *testing.T) {
	st := directoryStore()
	// As a previous run of the server left it: carol on do-not-disturb.
	if err := st.SetDoNotDisturb(context.Background(), carol, true); err != nil {
		t.Fatal(err)
	}
	w := &recordingWaker{}
	tr := startRelay(t, st, withConfig(func(c *Config) { c.Waker = w }))
	a := tr.dial(alice, aliceA)
	toCarol := func(flags uint32) *protocol.Envelope {
		e := newEnv(protocol.DirectConv(alice, carol), party(alice, aliceA), party(carol, carolA), party(alice, aliceB))
		e.Flags = flags
		return e
	}
	a.sendOK(toCarol(0))
	a.sendOK(toCarol(protocol.FlagUrgent))
	eventually(t, "carol woken for the urgent message", func() bool { return len(w.of(carolA)) >= 1 })
	if got := w.of(carolA); len(got) != 1 || !got[0].Urgent {
		t.Fatalf("carol, on do-not-disturb before the start: got %+v, want only the urgent wake-up", got)
	}

	// Bob chooses do-not-disturb, then available: each change is kept.
	b := tr.dial(bob, bobA)
	kept := func(want bool) {
		t.Helper()
		eventually(t, "the status kept", func() bool {
			users, _ := st.DoNotDisturbUsers(context.Background())
			has := false
			for _, u := range users {
				has = has || u == bob
			}
			return has == want
		})
	}
	b.writeJSON(map[string]any{"type": protocol.TPresence, "status": protocol.PresenceDND})
	kept(true)
	b.writeJSON(map[string]any{"type": protocol.TPresence, "status": protocol.PresenceAvailable})
	kept(false)
}
