package relay

import (
	"context"
	"sync"
	"testing"
	"time"
)

// endingSessions is a Sessions whose sessions end at set times, with an
// epoch that never moves: their ending is a matter of time alone, as an
// absolute expiry or an idle limit is.
type endingSessions struct {
	mu  sync.Mutex
	end map[string]time.Time
}

func (e *endingSessions) Epoch(context.Context) (int64, error) { return 1, nil }

func (e *endingSessions) Live(_ context.Context, hashes [][]byte) (map[string]int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	live := map[string]int64{}
	for _, h := range hashes {
		if end, ok := e.end[string(h)]; ok && time.Now().Before(end) {
			live[string(h)] = end.UnixMilli()
		}
	}
	return live, nil
}

func (e *endingSessions) Touch(context.Context, [][]byte, int64) error { return nil }

// TestSessionExpiryClosesAtOnce: a connection whose session expires is
// closed when it expires, not at the next half-minute sweep. One session
// ends a moment after its connection opens, another much later; only the
// first connection is closed, with CloseSessionEnded, well inside the
// harness's wait (which is shorter than the sweep).
func TestSessionExpiryClosesAtOnce(t *testing.T) {
	sess := &endingSessions{end: map[string]time.Time{
		string(sha256Sum([]byte("short"))): time.Now().Add(500 * time.Millisecond),
		string(sha256Sum([]byte("long"))):  time.Now().Add(time.Hour),
	}}
	tr := startRelay(t, directoryStore(), withConfig(func(c *Config) {
		c.Sessions, c.SessionPoll = sess, 20*time.Millisecond
	}))
	dial := func(user, device int64, tok string) *testConn {
		c, err := tr.tryDialSession(user, device, tok)
		if err != nil {
			t.Fatal(err)
		}
		c.startReading()
		return c
	}
	bob := dial(bob, bobA, "long")
	alice := dial(alice, aliceA, "short")
	if code := alice.waitEnd(); code != closeSessionEnded {
		t.Fatalf("expired session's connection closed with %d, want %d", code, closeSessionEnded)
	}
	select {
	case <-bob.ended:
		t.Fatalf("the live session's connection was closed too: %v", bob.endErr)
	default:
	}
}
