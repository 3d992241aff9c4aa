package relay

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/curbside-health/curbside/protocol"
)

// At MaxInFlight frames being processed, the relay stops reading the
// device's frames (it neither refuses nor drops them): the next frame is
// handled only once an earlier one's reply is written. When the store
// catches up every frame is answered, sends in submission order.
func TestInFlightLimit(t *testing.T) {
	const limit = 2
	st := directoryStore()
	tr := startRelay(t, st, withConfig(func(c *Config) { c.MaxInFlight = limit }))
	a := tr.dial(alice, aliceA)

	st.pause()
	var envs []*protocol.Envelope
	for range 4 {
		env := aliceToBob()
		envs = append(envs, env)
		a.send(env)
	}
	// A frame the relay answers without the store: it waits for a slot too.
	a.write([]byte(`{"type":"shout","ref":"probe"}`))

	eventually(t, "the first sends reach the store", func() bool { return st.acceptCalls() >= limit })
	// Give a relay without a limit every chance to read on. (Passing does
	// not depend on this pause; a broken limit shows up within it.)
	time.Sleep(200 * time.Millisecond)
	if n := st.acceptCalls(); n != limit {
		t.Fatalf("%d sends reached the store with %d slots", n, limit)
	}
	a.noFrame()

	st.resume()
	got := a.nextN(5)
	var accepted []string
	probeAt, acceptedAt := -1, map[string]int{}
	for i, f := range got {
		switch {
		case f.Type == protocol.TAccepted:
			accepted = append(accepted, f.ID)
			acceptedAt[f.ID] = i
		case f.Type == protocol.TError && f.Ref == "probe" && f.Code == protocol.CodeBadFrame:
			probeAt = i
		default:
			t.Fatalf("unexpected frame %s", f)
		}
	}
	want := []string{envs[0].ID, envs[1].ID, envs[2].ID, envs[3].ID}
	if !slices.Equal(accepted, want) {
		t.Fatalf("accepted %v, want %v in order", accepted, want)
	}
	// The probe is the fifth frame: with two slots it is read only after
	// the third send's reply is written.
	if probeAt < acceptedAt[envs[2].ID] {
		t.Fatalf("frames %s: the probe was answered before the third send", typesOf(got))
	}
	if m := st.maxOutstanding(); m > limit {
		t.Fatalf("the store had %d operations of one device outstanding, limit %d", m, limit)
	}
}

// Frames that succeed silently (ack and presence without a ref) give their
// slot back, so a long run of them never blocks the session.
func TestInFlightSilentFramesRelease(t *testing.T) {
	st := directoryStore()
	tr := startRelay(t, st, withConfig(func(c *Config) { c.MaxInFlight = 1 }))
	a := tr.dial(alice, aliceA)
	for i := range 20 {
		if i%2 == 0 {
			a.writeJSON(map[string]any{"type": protocol.TAck, "seqs": []int64{int64(1000 + i)}})
		} else {
			a.writeJSON(map[string]any{"type": protocol.TPresence, "status": protocol.PresenceAway})
		}
	}
	a.sendOK(aliceToBob())
}

// A session ended while its reader waits for a slot ends completely: the
// handler returns and the device is no longer online. That holds whether
// the waiting frame is text or binary.
func TestInFlightSessionEndsWhileFull(t *testing.T) {
	for _, binary := range []bool{false, true} {
		name := "text"
		if binary {
			name = "binary"
		}
		t.Run(name, func(t *testing.T) {
			st := directoryStore()
			tr := startRelay(t, st, withConfig(func(c *Config) { c.MaxInFlight = 1 }))
			a := tr.dial(alice, aliceA)
			st.pause()
			a.send(aliceToBob())
			eventually(t, "the send reaches the store", func() bool { return st.acceptCalls() == 1 })
			if binary {
				if err := a.ws.Write(context.Background(), websocket.MessageBinary, []byte("x")); err != nil {
					t.Fatal(err)
				}
			} else {
				a.send(aliceToBob())
			}
			// Let the relay read the frame and wait for the slot. (Passing
			// does not depend on this pause; the fault shows up after it.)
			time.Sleep(100 * time.Millisecond)
			tr.r.EndDevice(aliceA, protocol.CloseSessionEnded, "locked by an administrator")
			if code := a.waitEnd(); code != protocol.CloseSessionEnded {
				t.Fatalf("closed with %d, want %d", code, protocol.CloseSessionEnded)
			}
			eventually(t, "the session is gone", func() bool { return tr.r.Online() == 0 })
			st.resume()
		})
	}
}
