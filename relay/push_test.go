package relay

import (
	"sync"
	"testing"

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
