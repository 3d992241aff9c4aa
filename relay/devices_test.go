package relay

import (
	"testing"
	"time"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// nextDevices returns the next devices frame c receives.
func (c *testConn) nextDevices() frame {
	c.t.Helper()
	select {
	case f := <-c.devices:
		return f
	case <-time.After(waitTimeout):
		c.t.Fatalf("device %d: no devices frame within %v", c.device, waitTimeout)
	}
	return frame{}
}

// noDevices checks that c received no devices frame.
func (c *testConn) noDevices() {
	c.t.Helper()
	select {
	case f := <-c.devices:
		c.t.Fatalf("device %d: unexpected devices frame %s", c.device, f)
	default:
	}
}

// A change of a user's devices reaches at once the connected devices of
// everyone who may seal to that user: the user's own, their contacts' and
// those of users the participation rules let reach them. Others are not
// told.
func TestDevicesChangedTellsThoseWhoSealToTheUser(t *testing.T) {
	st := directoryStore()
	// erin is a patient linked to nobody: she may not reach bob. dave is a
	// patient too, but has exchanged messages with bob (a shared group).
	st.setRole(erin, model.RolePatient)
	st.setRole(dave, model.RolePatient)
	st.setDevices(dave, 41)
	st.contacts[[2]int64{bob, dave}] = true
	tr := startRelay(t, st)
	a := tr.dial(alice, aliceA)
	c := tr.dial(carol, carolA)
	b := tr.dial(bob, bobA)
	e := tr.dial(erin, erinA)
	d := tr.dial(dave, 41)

	// bob's second device is wiped, then he sets up a new one.
	for _, devs := range [][]int64{{bobA}, {bobA, 23}} {
		st.setDevices(bob, devs...)
		tr.r.DevicesChanged(bob)
		for _, who := range []*testConn{a, c, b, d} {
			f := who.nextDevices()
			if f.Type != protocol.TDevices || f.User != bob || f.TS == 0 {
				t.Fatalf("device %d got %s, want a devices frame about bob", who.device, f)
			}
		}
	}
	// Erin's own presence change reaches her through the same buffer, after
	// anything pushed to her by then.
	e.writeJSON(map[string]any{"type": protocol.TPresence, "status": protocol.PresenceAway})
	for away := false; !away; {
		select {
		case f := <-e.presence:
			away = f.User == erin && f.Status == protocol.PresenceAway
		case <-time.After(waitTimeout):
			t.Fatal("erin's own presence did not come back")
		}
	}
	e.noDevices()

	// The relay no longer uses what it cached: a message sealed to the new
	// set is accepted.
	env := newEnv(protocol.DirectConv(alice, bob), party(alice, aliceA), party(bob, bobA), party(bob, 23), party(alice, aliceB))
	wantAccepted(t, a.sendOK(env), env.ID, false)
}
