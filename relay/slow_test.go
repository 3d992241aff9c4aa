package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/coder/websocket"

	"github.com/curbside-health/curbside/protocol"
)

// A device that does not read fills its socket and then its out buffer; it
// is switched to catching up from the store and, once it reads again, gets
// every message queued for it, in queue order, each once, and then live
// delivery resumes.
func TestSlowConsumerCatchesUp(t *testing.T) {
	st := directoryStore()
	tr := startRelay(t, st, withSmallSockets(), withConfig(func(c *Config) { c.OutBuffer = 2 }))
	a := tr.dial(alice, aliceA)
	b := tr.dialPaused(bob, bobA)
	tr.waitLive(bobA)
	if n := st.pendingCallsOf(bobA); n != 1 {
		t.Fatalf("%d catch-up reads before any message, want the one on connect", n)
	}

	body := bytes.Repeat([]byte{0x5a}, 8<<10)
	var envs []*protocol.Envelope
	send := func(n int) {
		t.Helper()
		batch := make([]*protocol.Envelope, n)
		for i := range batch {
			batch[i] = aliceToBob()
			batch[i].Body = body
			a.send(batch[i])
		}
		for _, env := range batch {
			wantAccepted(t, a.next(), env.ID, false)
		}
		envs = append(envs, batch...)
	}
	// Send until bob's session gives up on live delivery.
	for {
		send(10)
		if cu, _ := tr.catchingUp(bobA); cu {
			break
		}
		if len(envs) >= 3000 {
			t.Fatalf("bob's session still live after %d unread messages", len(envs))
		}
	}
	// More while it is behind: these are passed over live and must come
	// from the store.
	send(30)

	t.Logf("bob fell behind after %d messages", len(envs)-30)
	b.startReading()
	got := b.nextN(len(envs))
	for i, f := range got {
		wantMsg(t, f, envs[i])
	}
	if want := st.queued(bobA); !slices.Equal(seqsOf(got), want) {
		t.Fatalf("bob got seqs %v,\nwant the queue %v", seqsOf(got), want)
	}
	if n := st.pendingCallsOf(bobA); n < 2 {
		t.Fatalf("the store was read %d times for bob: the catch-up did not read it", n)
	}

	tr.waitLive(bobA)
	b.noFrame() // nothing twice
	live := aliceToBob()
	a.sendOK(live)
	f := b.next()
	wantMsg(t, f, live)
	if last := got[len(got)-1].Seq; f.Seq <= last {
		t.Fatalf("live seq %d is not after %d", f.Seq, last)
	}
}

// Items committed while a new session reads its queue are not lost between
// the read and the switch to live delivery: with the store's writer and a
// flood of messages running while devices connect, every device gets all
// its queue, in order, once.
func TestCatchUpRacesLiveDelivery(t *testing.T) {
	st := directoryStore()
	tr := startRelay(t, st, withConfig(func(c *Config) { c.OutBuffer = 1 }))
	a := tr.dial(alice, aliceA)
	const total = 300
	envs := make([]*protocol.Envelope, total)
	for i := range envs {
		envs[i] = aliceToBob()
	}
	done := make(chan error, 1)
	go func() {
		for _, env := range envs {
			b, _ := json.Marshal(map[string]any{"type": protocol.TSend, "env": env})
			if err := a.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	b1 := tr.dial(bob, bobA)
	b2 := tr.dial(bob, bobB)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for range total {
		if f := a.next(); f.Type != protocol.TAccepted {
			t.Fatalf("sender got %s", f)
		}
	}
	for _, b := range []*testConn{b1, b2} {
		got := b.nextN(total)
		for i, f := range got {
			wantMsg(t, f, envs[i])
		}
		if want := st.queued(b.device); !slices.Equal(seqsOf(got), want) {
			t.Fatalf("device %d got seqs %v,\nwant %v", b.device, seqsOf(got), want)
		}
		tr.waitLive(b.device)
		b.noFrame()
	}
}

// A device that does not read is buffered at most OutBytes of frames,
// however few frames that is: large messages switch it to catching up from
// the store long before its buffer is full of frames, and once it reads
// again it still gets every message, in order.
func TestOutBufferBoundedInBytes(t *testing.T) {
	st := directoryStore()
	const outBytes = 64 << 10
	tr := startRelay(t, st, withSmallSockets(), withConfig(func(c *Config) { c.OutBuffer = 64; c.OutBytes = outBytes }))
	a := tr.dial(alice, aliceA)
	b := tr.dialPaused(bob, bobA)
	tr.waitLive(bobA)
	s := tr.sessionOf(bobA)

	body := bytes.Repeat([]byte{0x5a}, 30<<10) // some 40 KiB of frame once in base64
	var envs []*protocol.Envelope
	for {
		env := aliceToBob()
		env.Body = body
		a.sendOK(env)
		envs = append(envs, env)
		if n := s.outBytes.Load(); n > outBytes {
			t.Fatalf("bob's buffer holds %d bytes, more than the %d allowed", n, outBytes)
		}
		if cu, _ := tr.catchingUp(bobA); cu {
			break
		}
		if len(envs) > 200 {
			t.Fatalf("bob's session still live after %d unread messages", len(envs))
		}
	}
	if n := len(s.out); n >= 64/2 {
		t.Fatalf("bob's session switched to catch-up with %d frames buffered: the byte limit did not apply", n)
	}
	b.startReading()
	got := b.nextN(len(envs))
	for i, f := range got {
		wantMsg(t, f, envs[i])
	}
}
