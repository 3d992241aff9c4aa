package relay

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

var errDisk = errors.New("disk I/O error")

// errFull is how the store says the disk is full: model.ErrStorageFull
// around the cause.
var errFull = fmt.Errorf("%w: %w", model.ErrStorageFull, errors.New("database or disk is full"))

// A store that refuses or fails a message gives the sender an error frame
// with the envelope's id as ref (internal for a fault, unavailable when
// the store is closed), queues nothing, and the session goes on. With one
// in-flight slot, the next frame being handled at all shows the failure
// gave its slot back.
func TestAcceptFails(t *testing.T) {
	tests := []struct {
		name         string
		submit, done error
		code         protocol.Code
	}{
		{"submission fails", errDisk, nil, protocol.CodeInternal},
		{"submission after close", model.ErrClosed, nil, protocol.CodeUnavailable},
		{"commit fails", nil, errDisk, protocol.CodeInternal},
		{"closed before commit", nil, model.ErrClosed, protocol.CodeUnavailable},
		{"the disk is full", nil, errFull, protocol.CodeStorageFull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := directoryStore()
			tr := startRelay(t, st, withConfig(func(c *Config) { c.MaxInFlight = 1 }))
			a := tr.dial(alice, aliceA)
			b := tr.dial(bob, bobA)
			tr.waitLive(bobA)
			var bad []*protocol.Envelope
			st.mu.Lock()
			st.failAccept = func(m *model.NewMessage) (error, error) {
				if slices.ContainsFunc(bad, func(e *protocol.Envelope) bool { return e.ID == m.Env.ID }) {
					return tt.submit, tt.done
				}
				return nil, nil
			}
			st.mu.Unlock()
			for range 3 {
				env := aliceToBob()
				st.mu.Lock()
				bad = append(bad, env)
				st.mu.Unlock()
				a.send(env)
				f := a.next()
				wantError(t, f, tt.code, env.ID)
				if strings.Contains(f.Message, errDisk.Error()) {
					t.Fatalf("message %q shows the store's error to the client", f.Message)
				}
			}
			if q := st.queued(bobA); len(q) != 0 {
				t.Fatalf("failed messages were queued: %v", q)
			}
			b.noFrame()

			good := aliceToBob()
			a.sendOK(good)
			wantMsg(t, b.next(), good)
		})
	}
}

// An ack the store cannot commit is answered with an error frame carrying
// the ack's ref, the items stay queued, and a retried ack deletes them.
func TestAckFails(t *testing.T) {
	tests := []struct {
		name         string
		submit, done error
		code         protocol.Code
	}{
		{"submission fails", errDisk, nil, protocol.CodeInternal},
		{"submission after close", model.ErrClosed, nil, protocol.CodeUnavailable},
		{"commit fails", nil, errDisk, protocol.CodeInternal},
		{"closed before commit", nil, model.ErrClosed, protocol.CodeUnavailable},
		{"the disk is full", nil, errFull, protocol.CodeStorageFull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := directoryStore()
			tr := startRelay(t, st, withConfig(func(c *Config) { c.MaxInFlight = 1 }))
			a := tr.dial(alice, aliceA)
			b := tr.dial(bob, bobA)
			tr.waitLive(bobA)
			env := aliceToBob()
			a.sendOK(env)
			m := b.next()
			wantMsg(t, m, env)

			failing := true
			st.mu.Lock()
			st.failAck = func(int64, []int64) (error, error) {
				if failing {
					return tt.submit, tt.done
				}
				return nil, nil
			}
			st.mu.Unlock()
			// The error frame names the ack it refused: by its ref, or
			// without one by "ack:" and its first seq; and it lists the
			// seqs that stay queued.
			b.writeJSON(map[string]any{"type": protocol.TAck, "seqs": []int64{m.Seq}})
			f := b.next()
			wantError(t, f, tt.code, "ack:"+strconv.FormatInt(m.Seq, 10))
			if !slices.Equal(f.Seqs, []int64{m.Seq}) {
				t.Fatalf("the error answering an ack lists seqs %v, want %v", f.Seqs, []int64{m.Seq})
			}
			b.writeJSON(map[string]any{"type": protocol.TAck, "seqs": []int64{m.Seq}, "ref": "ack-1"})
			f = b.next()
			wantError(t, f, tt.code, "ack-1")
			if !slices.Equal(f.Seqs, []int64{m.Seq}) {
				t.Fatalf("the error answering ack-1 lists seqs %v", f.Seqs)
			}
			if q := st.queued(bobA); !slices.Equal(q, []int64{m.Seq}) {
				t.Fatalf("after failed acks the queue is %v, want %v", q, []int64{m.Seq})
			}

			st.mu.Lock()
			failing = false
			st.mu.Unlock()
			b.writeJSON(map[string]any{"type": protocol.TAck, "seqs": []int64{m.Seq}, "ref": "ack-2"})
			if f := b.next(); f.Type != protocol.TOK || f.Ref != "ack-2" {
				t.Fatalf("got %s, want ok for ack-2", f)
			}
			if q := st.queued(bobA); len(q) != 0 {
				t.Fatalf("after the retried ack the queue is %v", q)
			}
		})
	}
}

// A details request whose barrier fails gets an error frame with its ref.
func TestDetailsBarrierFails(t *testing.T) {
	st := directoryStore()
	tr := startRelay(t, st)
	a := tr.dial(alice, aliceA)
	env := aliceToBob()
	a.sendOK(env)
	st.mu.Lock()
	st.failBarrier = errDisk
	st.mu.Unlock()
	a.writeJSON(map[string]any{"type": protocol.TDetails, "msg": env.ID, "ref": "d-1"})
	wantError(t, a.next(), protocol.CodeInternal, "d-1")
	st.mu.Lock()
	st.failBarrier = nil
	st.mu.Unlock()
	a.writeJSON(map[string]any{"type": protocol.TDetails, "msg": env.ID, "ref": "d-2"})
	if f := a.next(); f.Type != protocol.TDetails || f.Ref != "d-2" || f.Msg != env.ID {
		t.Fatalf("got %s, want details", f)
	}
}

// When reading a device's queue fails, the relay does not retry: it ends
// the session with 1011 (a server fault, so the device reconnects), the
// device is no longer online,
// and nothing it was owed is lost: on reconnecting it gets its queue.
func TestPendingFails(t *testing.T) {
	st := directoryStore()
	tr := startRelay(t, st)
	a := tr.dial(alice, aliceA)
	var envs []*protocol.Envelope
	for range 3 {
		env := aliceToBob()
		a.sendOK(env)
		envs = append(envs, env)
	}
	st.mu.Lock()
	st.failPending = func(device, after int64) error {
		if device == bobA {
			return errDisk
		}
		return nil
	}
	st.mu.Unlock()

	b := tr.dialPaused(bob, bobA)
	b.startReading()
	if code := b.waitEnd(); code != websocket.StatusInternalError {
		t.Fatalf("session ended with close code %d, want 1011", code)
	}
	b.noFrame()
	eventually(t, "bob's device is offline", func() bool { return tr.sessionOf(bobA) == nil })
	if n := st.pendingCallsOf(bobA); n != 1 {
		t.Fatalf("the queue was read %d times, want once (no retry loop)", n)
	}

	st.mu.Lock()
	st.failPending = nil
	st.mu.Unlock()
	b = tr.dial(bob, bobA)
	got := b.nextN(3)
	for i, f := range got {
		wantMsg(t, f, envs[i])
	}
}
