package relay

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// recordingWaker keeps every wake-up the relay asks for.
type recordingWaker struct {
	mu    sync.Mutex
	wakes []model.Wake
}

func (w *recordingWaker) Wake(x model.Wake) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.wakes = append(w.wakes, x)
	return true
}

func (w *recordingWaker) of(device int64) []model.Wake {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []model.Wake
	for _, x := range w.wakes {
		if x.Device == device {
			out = append(out, x)
		}
	}
	return out
}

// A message wakes the recipients' devices that are not connected, once
// until they connect (however many messages wait), again for an urgent
// message; never the sender's own devices or a connected one.
// Do-not-disturb holds back all but urgent messages.
func TestWakesOfflineDevicesOnce(t *testing.T) {
	w := &recordingWaker{}
	tr := startRelay(t, directoryStore(), withConfig(func(c *Config) { c.Waker = w }))
	a := tr.dial(alice, aliceA)
	tr.dial(bob, bobA)
	toCarol := func(flags uint32) *protocol.Envelope {
		e := newEnv(protocol.DirectConv(alice, carol), party(alice, aliceA), party(carol, carolA), party(alice, aliceB))
		e.Flags = flags
		return e
	}
	// settled waits until a message to carol, offline, has been decided:
	// decisions are made in order, so every earlier one is made too.
	settled := func(n int) {
		t.Helper()
		eventually(t, "carol woken", func() bool { return len(w.of(carolA)) >= n })
	}

	first := aliceToBob()
	a.sendOK(first)
	a.sendOK(aliceToBob())
	a.sendOK(toCarol(0))
	settled(1)
	got := w.of(bobB)
	if len(got) != 1 || got[0].Urgent || got[0].Conv != first.Conv {
		t.Fatalf("bob's offline device: got %+v, want one normal wake-up for %s", got, first.Conv)
	}
	for _, d := range []int64{bobA, aliceA, aliceB} {
		if n := len(w.of(d)); n != 0 {
			t.Fatalf("device %d (connected, or the sender's) woken %d times", d, n)
		}
	}

	// An urgent message still wakes a device woken only for normal ones.
	urgent := aliceToBob()
	urgent.Flags = protocol.FlagUrgent
	a.sendOK(urgent)
	eventually(t, "urgent wake-up", func() bool { return len(w.of(bobB)) == 2 })
	if !w.of(bobB)[1].Urgent {
		t.Fatalf("the second wake-up is not urgent: %+v", w.of(bobB))
	}

	// Carol chooses do-not-disturb and leaves: a normal message waits, an
	// urgent one wakes her device (the default policy lets it through).
	c := tr.dial(carol, carolA)
	waiting := c.next() // the message that woke her
	c.writeJSON(map[string]any{"type": protocol.TPresence, "status": protocol.PresenceDND})
	// Frames are handled in order: once the ack is answered, the status is set.
	c.writeJSON(map[string]any{"type": protocol.TAck, "seqs": []int64{waiting.Seq}, "ref": "a1"})
	if f := c.next(); f.Type != protocol.TOK {
		t.Fatalf("ack: got %s", f)
	}
	c.close()
	eventually(t, "carol gone", func() bool { return tr.sessionOf(carolA) == nil })
	for _, env := range []*protocol.Envelope{toCarol(0), toCarol(protocol.FlagUrgent)} {
		a.send(env)
		for f := a.next(); f.Type != protocol.TAccepted || f.ID != env.ID; f = a.next() {
			if f.Type == protocol.TError {
				t.Fatalf("send: %s", f)
			}
		}
	}
	settled(2)
	got = w.of(carolA)
	if len(got) != 2 || got[0].Urgent || !got[1].Urgent {
		t.Fatalf("carol on do-not-disturb: got %+v, want the first normal wake-up and then the urgent one only", got)
	}
}

// pushRig is a relay with a recording waker and a push clock that the
// test moves; alice is connected and sends, everyone else is offline.
type pushRig struct {
	t      *testing.T
	st     *fakeStore
	tr     *testRelay
	w      *recordingWaker
	a      *testConn
	mu     sync.Mutex
	at     time.Time
	marker int64
}

// markerBase numbers the marker users, 700+k, each with one device
// 10×(700+k), woken once each by settle.
const markerBase, markers = 700, 20

func newPushRig(t *testing.T, edit func(*model.Policy)) *pushRig {
	st := directoryStore()
	for k := int64(1); k <= markers; k++ {
		st.addUser(markerBase+k, fmt.Sprintf("marker%d", k), 10*(markerBase+k))
	}
	if edit != nil {
		edit(&st.policy)
	}
	r := &pushRig{t: t, st: st, w: &recordingWaker{}, at: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}
	r.tr = startRelay(t, st, withConfig(func(c *Config) { c.Waker = r.w; c.PushClock = r.now }))
	r.a = r.tr.dial(alice, aliceA)
	return r
}

func (r *pushRig) now() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.at
}

func (r *pushRig) advance(d time.Duration) {
	r.mu.Lock()
	r.at = r.at.Add(d)
	r.mu.Unlock()
}

// send has alice send env and waits until it is accepted.
func (r *pushRig) send(env *protocol.Envelope) {
	r.t.Helper()
	r.a.send(env)
	for f := r.a.next(); f.Type != protocol.TAccepted || f.ID != env.ID; f = r.a.next() {
		if f.Type == protocol.TError {
			r.t.Fatalf("send: %s", f)
		}
	}
}

// toCarol sends alice's message to carol, urgent or not, and waits until
// the relay has decided whether to wake carol's device.
func (r *pushRig) toCarol(urgent bool) {
	r.t.Helper()
	e := newEnv(protocol.DirectConv(alice, carol), party(alice, aliceA), party(carol, carolA), party(alice, aliceB))
	if urgent {
		e.Flags = protocol.FlagUrgent
	}
	r.send(e)
	r.settle()
}

// settle waits until every message sent so far has been decided on: it
// sends one to the next marker user, whose device has never been woken,
// and waits for that wake-up. Decisions are made one at a time, in the
// order the messages were accepted.
func (r *pushRig) settle() {
	r.t.Helper()
	r.marker++
	if r.marker > markers {
		r.t.Fatal("out of marker users")
	}
	u := markerBase + r.marker
	r.send(newEnv(protocol.DirectConv(alice, u), party(alice, aliceA), party(u, 10*u), party(alice, aliceB)))
	eventually(r.t, "the marker's wake-up", func() bool { return len(r.w.of(10*u)) == 1 })
}

// woken checks how many wake-ups carol's device has had.
func (r *pushRig) woken(want int, why string) {
	r.t.Helper()
	if got := r.w.of(carolA); len(got) != want {
		r.t.Fatalf("%s: carol's device woken %d times (%+v), want %d", why, len(got), got, want)
	}
}

// visit connects carol's device and disconnects it again; it returns once
// the relay has done with the disconnection (its last-seen is written
// after everything else).
func (r *pushRig) visit(then func(c *testConn)) {
	r.t.Helper()
	r.st.mu.Lock()
	before := r.st.touched[carolA]
	r.st.mu.Unlock()
	c := r.tr.dial(carol, carolA)
	if then != nil {
		then(c)
	}
	c.close()
	eventually(r.t, "carol's device gone", func() bool {
		r.st.mu.Lock()
		defer r.st.mu.Unlock()
		return r.st.touched[carolA] == before+2 // connected, disconnected
	})
}

// A device that connects and leaves again is woken by the next message,
// however recently it was woken before; until it connects, further
// messages are coalesced into the first wake-up.
func TestWakesAgainAfterReconnect(t *testing.T) {
	r := newPushRig(t, nil)
	r.toCarol(false)
	r.woken(1, "the first message")
	r.toCarol(false)
	r.toCarol(false)
	r.woken(1, "two more messages while it has not connected")

	r.visit(nil)
	r.toCarol(false)
	r.woken(2, "a message after it connected and left")
	r.toCarol(false)
	r.woken(2, "one more after that")

	// The same again: every visit earns one more wake-up.
	r.visit(nil)
	r.toCarol(false)
	r.woken(3, "a message after the second visit")
}

// push_interval: a device that does not connect is woken again once the
// interval since its last wake-up has passed, not before; the interval
// counts from the latest wake-up.
func TestPushIntervalWakesAgain(t *testing.T) {
	r := newPushRig(t, func(p *model.Policy) { p.PushInterval = time.Minute })
	r.toCarol(false)
	r.woken(1, "the first message")
	r.advance(59 * time.Second)
	r.toCarol(false)
	r.woken(1, "59s later, within push_interval=1m")
	r.advance(time.Second)
	r.toCarol(false)
	r.woken(2, "a minute after the first wake-up")
	r.advance(30 * time.Second)
	r.toCarol(false)
	r.woken(2, "30s after the second wake-up")
	r.advance(30 * time.Second)
	r.toCarol(false)
	r.woken(3, "a minute after the second wake-up")

	// The default interval, 15 minutes, holds a wake-up back a minute on.
	d := newPushRig(t, nil)
	d.toCarol(false)
	d.advance(time.Minute)
	d.toCarol(false)
	d.woken(1, "a minute later under the default push_interval")
	d.advance(14 * time.Minute)
	d.toCarol(false)
	d.woken(2, "15 minutes later under the default push_interval")
}

// push_urgent_dnd=false: while its user is on do-not-disturb, a device is
// not woken even for an urgent message; once the user is available again,
// it is.
func TestUrgentHeldBackByDNDWhenPolicySays(t *testing.T) {
	r := newPushRig(t, func(p *model.Policy) { p.PushUrgentDND = false })
	setStatus := func(status string) func(c *testConn) {
		return func(c *testConn) {
			// A presence frame with a ref is confirmed once the status is set.
			c.writeJSON(map[string]any{"type": protocol.TPresence, "status": status, "ref": "p1"})
			for f := c.next(); f.Type != protocol.TOK || f.Ref != "p1"; f = c.next() {
				if f.Type == protocol.TError {
					t.Fatalf("presence: %s", f)
				}
			}
		}
	}
	r.visit(setStatus(protocol.PresenceDND))
	r.toCarol(true)
	r.toCarol(false)
	r.toCarol(true)
	r.woken(0, "urgent and normal messages on do-not-disturb, push_urgent_dnd=false")

	r.visit(setStatus(protocol.PresenceAvailable))
	r.toCarol(true)
	r.woken(1, "an urgent message once available again")
	if !r.w.of(carolA)[0].Urgent {
		t.Fatalf("the wake-up is not urgent: %+v", r.w.of(carolA))
	}
}
