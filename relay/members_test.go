package relay

import (
	"context"
	"testing"
	"time"
)

// fakeMemberEvents records when the relay asks for a fan-out and answers
// from a script of counts (then 0).
type fakeMemberEvents struct {
	script []int
	calls  chan int // the count each call answered
}

func (f *fakeMemberEvents) FanOutMemberEvents(ctx context.Context) (int, error) {
	n := 0
	if len(f.script) > 0 {
		n, f.script = f.script[0], f.script[1:]
	}
	f.calls <- n
	return n, nil
}

// TestMemberEventsFanOut checks when the relay has membership events
// queued: at start (what was recorded while it was down), again at once
// while a fan-out found some (there may be more), and when told a group
// changed, without waiting for its poll.
func TestMemberEventsFanOut(t *testing.T) {
	me := &fakeMemberEvents{script: []int{3}, calls: make(chan int, 16)}
	tr := startRelay(t, newFakeStore(), withConfig(func(c *Config) {
		c.MemberEvents = me
		c.SessionPoll = time.Hour // no poll falls in this test
	}))
	next := func(what string) int {
		t.Helper()
		select {
		case n := <-me.calls:
			return n
		case <-time.After(30 * time.Second):
			t.Fatalf("no fan-out %s", what)
			return 0
		}
	}
	if n := next("at start"); n != 3 {
		t.Fatalf("first fan-out answered %d", n)
	}
	if n := next("after a fan-out that found events"); n != 0 {
		t.Fatalf("second fan-out answered %d", n)
	}
	tr.r.MembersChanged()
	next("after MembersChanged")
	select {
	case <-me.calls:
		t.Fatal("a fan-out that found nothing was followed by another before the poll")
	default:
	}
}
