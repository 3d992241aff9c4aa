package relay

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"testing"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

func typingFrame(conv, ref string) map[string]any {
	return map[string]any{"type": protocol.TTyping, "conv": conv, "ref": ref}
}

func wantTyping(t *testing.T, f frame, user int64, conv string) {
	t.Helper()
	if f.Type != protocol.TTyping || f.User != user || f.Conv != conv || f.TS <= 0 {
		t.Fatalf("got %s, want typing of user %d in %s", f, user, conv)
	}
}

// A typing frame reaches the other participants who are connected, at
// once, and nothing of it is stored: no queue item for anyone, no message,
// and a device that connects later never sees it.
func TestTypingIsEphemeral(t *testing.T) {
	st := directoryStore()
	tr := startRelay(t, st)
	a := tr.dial(alice, aliceA)
	b1 := tr.dial(bob, bobA)
	a2 := tr.dial(alice, aliceB)
	direct := protocol.DirectConv(alice, bob)

	a.writeJSON(typingFrame(direct, "t1"))
	if f := a.next(); f.Type != protocol.TOK || f.Ref != "t1" {
		t.Fatalf("alice's typing frame got %s, want ok", f)
	}
	f := b1.next()
	wantTyping(t, f, alice, direct)
	// The frame names the user and the conversation, nothing else.
	var raw map[string]any
	if err := json.Unmarshal(f.raw, &raw); err != nil {
		t.Fatal(err)
	}
	if keys := slices.Sorted(maps.Keys(raw)); !slices.Equal(keys, []string{"conv", "ts", "type", "user"}) {
		t.Fatalf("typing frame has fields %v", keys)
	}

	// A group: every other member connected gets it.
	c := tr.dial(carol, carolA)
	group := protocol.GroupConv(staffGroup)
	a.writeJSON(typingFrame(group, "t2"))
	if f := a.next(); f.Type != protocol.TOK {
		t.Fatalf("alice's group typing got %s", f)
	}
	wantTyping(t, b1.next(), alice, group)
	wantTyping(t, c.next(), alice, group)

	// Alice's own other device is not told she is typing.
	a2.noFrame()
	for _, d := range []int64{aliceA, aliceB, bobA, bobB, carolA} {
		if q := st.queued(d); len(q) != 0 {
			t.Fatalf("device %d has %v queued after typing frames", d, q)
		}
	}
	if n := st.acceptCalls(); n != 0 {
		t.Fatalf("%d messages stored for typing frames", n)
	}
	// Bob's second device connects afterwards: nothing comes (a message
	// sent now is the first frame it gets after the hello).
	b2 := tr.dial(bob, bobB)
	tr.waitLive(bobB)
	env := aliceToBob()
	a.sendOK(env)
	wantMsg(t, b2.next(), env)
}

// A typing frame for a conversation the sender is not in, or with
// someone the rules do not let them reach, is refused, and nobody gets it.
func TestTypingRefused(t *testing.T) {
	st := directoryStore()
	st.setRole(erin, model.RolePatient)
	tr := startRelay(t, st)
	a := tr.dial(alice, aliceA)
	b := tr.dial(bob, bobA)
	c := tr.dial(carol, carolA)
	e := tr.dial(erin, erinA)

	for i, tc := range []struct {
		conv string
		code protocol.Code
	}{
		{protocol.DirectConv(bob, carol), protocol.CodeForbidden}, // not hers
		{protocol.GroupConv(otherGroup), protocol.CodeForbidden},  // not a member
		{protocol.GroupConv(noGroup), protocol.CodeForbidden},     // as for a group that does not exist
		{protocol.DirectConv(alice, erin), protocol.CodeNotReachable},
		{protocol.BroadcastConv(alice, "tok"), protocol.CodeBadFrame},
		{"x:1", protocol.CodeBadFrame},
	} {
		ref := "r" + strconv.Itoa(i)
		a.writeJSON(typingFrame(tc.conv, ref))
		wantError(t, a.next(), tc.code, ref)
	}
	// A frame that went through comes after everything refused: had any
	// of those reached bob, carol or erin, it would be before this one.
	a.writeJSON(typingFrame(protocol.GroupConv(staffGroup), "ok"))
	if f := a.next(); f.Type != protocol.TOK {
		t.Fatalf("got %s", f)
	}
	wantTyping(t, b.next(), alice, protocol.GroupConv(staffGroup))
	wantTyping(t, c.next(), alice, protocol.GroupConv(staffGroup))
	// Once erin is on alice's care team the same frame reaches her, and it
	// is the first she gets: the refused one never did.
	st.link(erin, alice)
	tr.r.RulesChanged()
	// (From alice's other device: this one has spent its burst.)
	a2 := tr.dial(alice, aliceB)
	a2.writeJSON(typingFrame(protocol.DirectConv(alice, erin), "care"))
	if f := a2.next(); f.Type != protocol.TOK {
		t.Fatalf("got %s", f)
	}
	wantTyping(t, e.next(), alice, protocol.DirectConv(alice, erin))
}

// A connection may send TypingBurst typing frames at once; the next are
// refused with rate_limited and passed to nobody.
func TestTypingRateLimited(t *testing.T) {
	st := directoryStore()
	tr := startRelay(t, st)
	a := tr.dial(alice, aliceA)
	b := tr.dial(bob, bobA)
	direct := protocol.DirectConv(alice, bob)
	const n = protocol.TypingBurst + 5
	for i := range n {
		a.writeJSON(typingFrame(direct, "t"+strconv.Itoa(i)))
	}
	ok, limited := 0, 0
	for range n {
		switch f := a.next(); {
		case f.Type == protocol.TOK:
			ok++
		case f.Type == protocol.TError && f.Code == protocol.CodeRateLimited:
			limited++
		default:
			t.Fatalf("got %s", f)
		}
	}
	// The bucket refills while the frames are read, so a slow machine may
	// pass one or two more; never all of them.
	if limited == 0 || ok < protocol.TypingBurst {
		t.Fatalf("%d passed and %d refused of %d, want the burst of %d to pass and the rest refused", ok, limited, n, protocol.TypingBurst)
	}
	for range ok {
		wantTyping(t, b.next(), alice, direct)
	}
	b.noFrame()
}
