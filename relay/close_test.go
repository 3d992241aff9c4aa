package relay

import (
	"testing"

	"github.com/coder/websocket"

	"github.com/curbside-health/curbside/protocol"
)

// The close code a session ends with reaches the device: it tells the
// client what to do next (sign in again, stop, or not fight a newer tab).
// The sending of the close frame races with the end of the session's
// reader, so each is tried many times.
func TestCloseCodesReachDevice(t *testing.T) {
	const rounds = 30
	st := directoryStore()
	tr := startRelay(t, st)
	t.Run("session ended", func(t *testing.T) {
		for range rounds {
			b := tr.dial(bob, bobA)
			tr.r.EndDevice(bobA, protocol.CloseSessionEnded, "locked by an administrator")
			if code := b.waitEnd(); code != protocol.CloseSessionEnded {
				t.Fatalf("closed with %d, want %d", code, protocol.CloseSessionEnded)
			}
			eventually(t, "session gone", func() bool { return tr.sessionOf(bobA) == nil })
		}
	})
	t.Run("replaced", func(t *testing.T) {
		b := tr.dial(bob, bobA)
		for range rounds {
			next := tr.dial(bob, bobA)
			if code := b.waitEnd(); code != websocket.StatusCode(protocol.CloseReplaced) {
				t.Fatalf("closed with %d, want %d", code, protocol.CloseReplaced)
			}
			b = next
		}
	})
	t.Run("revoked", func(t *testing.T) {
		for range rounds {
			st.setDevices(bob, bobA, bobB)
			tr.r.DevicesChanged(bob)
			b := tr.dial(bob, bobB)
			tr.waitLive(bobB)
			st.setDevices(bob, bobA)
			tr.r.DevicesChanged(bob)
			if code := b.waitEnd(); code != protocol.CloseRevoked {
				t.Fatalf("closed with %d, want %d", code, protocol.CloseRevoked)
			}
			eventually(t, "session gone", func() bool { return tr.sessionOf(bobB) == nil })
		}
	})
	t.Run("restart", func(t *testing.T) {
		b := tr.dial(bob, bobA)
		tr.r.Close()
		if code := b.waitEnd(); code != websocket.StatusServiceRestart {
			t.Fatalf("closed with %d, want %d", code, websocket.StatusServiceRestart)
		}
		// A device connecting during shutdown is told so at once.
		late, err := tr.tryDial(bob, bobA)
		if err != nil {
			t.Fatal(err)
		}
		late.once.Do(func() { close(late.start) })
		if code := late.waitEnd(); code != websocket.StatusServiceRestart {
			t.Fatalf("late device closed with %d, want %d", code, websocket.StatusServiceRestart)
		}
		late.noFrame()
	})
}
