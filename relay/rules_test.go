package relay

import (
	"testing"
	"time"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// erinToBob is a direct message from erin (one device) to bob.
func erinToBob() *protocol.Envelope {
	return newEnv(protocol.DirectConv(erin, bob), party(erin, erinA), party(bob, bobA), party(bob, bobB))
}

// A patient reaches only the people assigned to them, and they reach the
// patient back; removing nothing else, the relay follows an assignment as
// soon as it is told the rules changed.
func TestPatientReachesCareTeamOnly(t *testing.T) {
	st := directoryStore()
	st.setRole(erin, model.RolePatient)
	tr := startRelay(t, st)
	e := tr.dial(erin, erinA)

	env := erinToBob()
	e.send(env)
	wantError(t, e.next(), protocol.CodeNotReachable, env.ID)
	if n := st.acceptCalls(); n != 0 {
		t.Fatalf("%d refused envelopes reached the store", n)
	}

	st.link(erin, bob)
	tr.r.RulesChanged()
	env = erinToBob()
	e.sendOK(env)

	// The link is symmetric: bob answers.
	b := tr.dial(bob, bobA)
	wantMsg(t, b.next(), env)
	back := newEnv(protocol.DirectConv(bob, erin), party(bob, bobA), party(erin, erinA), party(bob, bobB))
	b.sendOK(back)
	wantMsg(t, e.next(), back)

	// And it is a link to bob only: carol, staff too, is not reachable.
	env = newEnv(protocol.DirectConv(erin, carol), party(erin, erinA), party(carol, carolA))
	e.send(env)
	wantError(t, e.next(), protocol.CodeNotReachable, env.ID)
}

// A patient may not mark a message urgent or ask for acknowledgement
// unless the policy allows it; staff may.
func TestPatientFlags(t *testing.T) {
	st := directoryStore()
	st.setRole(erin, model.RolePatient)
	st.link(erin, bob)
	tr := startRelay(t, st)
	e := tr.dial(erin, erinA)
	b := tr.dial(bob, bobA)
	for _, flag := range []uint32{protocol.FlagUrgent, protocol.FlagAckRequested} {
		env := erinToBob()
		env.Flags = flag
		e.send(env)
		wantError(t, e.next(), protocol.CodeFlagNotAllowed, env.ID)
	}
	for _, flag := range []uint32{protocol.FlagUrgent, protocol.FlagAckRequested} {
		back := newEnv(protocol.DirectConv(bob, erin), party(bob, bobA), party(erin, erinA), party(bob, bobB))
		back.Flags = flag
		b.sendOK(back)
	}

	// The practice allows acknowledgement requests. The relay's cached
	// policy is older, but a refusal is only ever made on the stored one,
	// so the app that was just told it may ask is not refused.
	e.nextN(2) // bob's two messages
	st.mu.Lock()
	st.policy.PatientAck = true
	st.mu.Unlock()
	env := erinToBob()
	env.Flags = protocol.FlagAckRequested
	e.sendOK(env)

	st2 := directoryStore()
	st2.setRole(erin, model.RolePatient)
	st2.link(erin, bob)
	st2.policy.PatientUrgent, st2.policy.PatientAck = true, true
	tr2 := startRelay(t, st2)
	e2 := tr2.dial(erin, erinA)
	env = erinToBob()
	env.Flags = protocol.FlagUrgent | protocol.FlagAckRequested
	e2.sendOK(env)
}

// nextPresence returns the next presence frame.
func (c *testConn) nextPresence() frame {
	c.t.Helper()
	select {
	case f := <-c.presence:
		return f
	case <-time.After(waitTimeout):
		c.t.Fatalf("device %d: no presence frame within %v", c.device, waitTimeout)
	}
	return frame{}
}

// nextOthersPresence returns the next presence frame about another user
// than the device's own.
func (c *testConn) nextOthersPresence() frame {
	c.t.Helper()
	for {
		if f := c.nextPresence(); f.User != c.user {
			return f
		}
	}
}

// Presence goes only between contacts the rules let reach each other: a
// patient who once exchanged messages with a clinician (here in a shared
// group) learns nothing of the clinician's presence, and the clinician
// nothing of the patient's.
func TestPresenceFollowsRules(t *testing.T) {
	st := directoryStore()
	st.setRole(erin, model.RolePatient)
	st.contacts[[2]int64{bob, erin}] = true
	st.contacts[[2]int64{bob, carol}] = true
	tr := startRelay(t, st)

	b := tr.dial(bob, bobA)
	if f := b.nextOthersPresence(); f.User != carol {
		t.Fatalf("bob's snapshot begins with %s, want carol only", f)
	}
	e := tr.dial(erin, erinA)
	e.writeJSON(map[string]any{"type": protocol.TPresence, "status": protocol.PresenceDND, "ref": "dnd"})
	if f := e.next(); f.Type != protocol.TOK {
		t.Fatalf("erin's status change got %s", f)
	}
	// Presence frames to one device keep their order: carol's coming
	// online is the next bob sees, with nothing of erin's before it.
	tr.dial(carol, carolA)
	if f := b.nextOthersPresence(); f.User != carol || f.Status != protocol.PresenceAvailable {
		t.Fatalf("bob got %s, want carol coming online and nothing of erin", f)
	}
	b.writeJSON(map[string]any{"type": protocol.TPresence, "status": protocol.PresenceAway, "ref": "away"})
	if f := b.next(); f.Type != protocol.TOK {
		t.Fatalf("bob's status change got %s", f)
	}
	// erin's own devices see only erin's own status.
	for {
		f := e.nextPresence()
		if f.User != erin {
			t.Fatalf("erin, a patient not assigned to bob, got %s", f)
		}
		if f.Status == protocol.PresenceDND {
			break
		}
	}

	// Once bob is on erin's care team, they see each other.
	st.link(erin, bob)
	tr.r.RulesChanged()
	b.writeJSON(map[string]any{"type": protocol.TPresence, "status": protocol.PresenceDND, "ref": "dnd"})
	if f := e.nextOthersPresence(); f.User != bob || f.Status != protocol.PresenceDND {
		t.Fatalf("erin got %s, want bob's status now that he is on her care team", f)
	}
}

// Opening a direct conversation makes a contact: the contact frame tells
// both people each other's presence at once (rather than "offline" until
// a first message), is stored, and is refused for someone the rules do
// not let one reach, who learns nothing.
func TestContactFrameShowsPresence(t *testing.T) {
	st := directoryStore()
	st.setRole(erin, model.RolePatient)
	tr := startRelay(t, st)
	a := tr.dial(alice, aliceA)
	b := tr.dial(bob, bobA)
	b.writeJSON(map[string]any{"type": protocol.TPresence, "status": protocol.PresenceAway, "ref": "away"})
	if f := b.next(); f.Type != protocol.TOK {
		t.Fatalf("bob's status change got %s", f)
	}
	a.writeJSON(map[string]any{"type": protocol.TContact, "user": bob, "ref": "c-1"})
	if f := a.next(); f.Type != protocol.TOK || f.Ref != "c-1" {
		t.Fatalf("the contact frame got %s, want ok", f)
	}
	if f := a.nextOthersPresence(); f.User != bob || f.Status != protocol.PresenceAway {
		t.Fatalf("alice got %s, want bob away", f)
	}
	if f := b.nextOthersPresence(); f.User != alice || f.Status != protocol.PresenceAvailable {
		t.Fatalf("bob got %s, want alice available", f)
	}
	st.mu.Lock()
	stored := st.contacts[[2]int64{alice, bob}]
	st.mu.Unlock()
	if !stored {
		t.Fatal("the contact was not stored")
	}
	// Asked again, the known contact's presence is told to the asker only.
	a.writeJSON(map[string]any{"type": protocol.TContact, "user": bob, "ref": "c-2"})
	if f := a.next(); f.Type != protocol.TOK {
		t.Fatalf("the second contact frame got %s", f)
	}
	if f := a.nextOthersPresence(); f.User != bob || f.Status != protocol.PresenceAway {
		t.Fatalf("alice got %s, want bob away again", f)
	}

	// A patient may not make a clinician off their care team a contact.
	e := tr.dial(erin, erinA)
	e.writeJSON(map[string]any{"type": protocol.TContact, "user": bob, "ref": "c-3"})
	wantError(t, e.next(), protocol.CodeNotReachable, "c-3")
	e.writeJSON(map[string]any{"type": protocol.TContact, "user": nobody, "ref": "c-4"})
	wantError(t, e.next(), protocol.CodeNotReachable, "c-4")
	select {
	case f := <-b.presence:
		if f.User == erin {
			t.Fatalf("bob learnt the patient's presence: %s", f)
		}
	case <-time.After(100 * time.Millisecond):
	}
	if tr.r.Connected(aliceA) != true || tr.r.Connected(carolA) {
		t.Fatal("Connected does not follow the sessions")
	}
}
