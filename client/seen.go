package client

// DefaultSeenIDs is how many recently delivered message ids a client keeps
// to drop redeliveries. The server redelivers only what a device has not
// acknowledged, so the set needs to cover one connection's unacknowledged
// window plus a reconnect, not all history.
const DefaultSeenIDs = 10000

// seenSet is a bounded set of message ids that forgets the oldest first.
// It is not safe for concurrent use; Client guards it.
type seenSet struct {
	max  int
	ids  map[string]struct{}
	ring []string // insertion order; next is the oldest once full
	next int
}

func newSeenSet(max int) *seenSet {
	if max <= 0 {
		max = DefaultSeenIDs
	}
	return &seenSet{max: max, ids: make(map[string]struct{})}
}

func (s *seenSet) has(id string) bool {
	_, ok := s.ids[id]
	return ok
}

// add records id and reports whether it was new.
func (s *seenSet) add(id string) bool {
	if s.has(id) {
		return false
	}
	if len(s.ring) < s.max {
		s.ring = append(s.ring, id)
	} else {
		delete(s.ids, s.ring[s.next])
		s.ring[s.next] = id
		s.next = (s.next + 1) % s.max
	}
	s.ids[id] = struct{}{}
	return true
}

// list returns the ids oldest first, the order add must replay them in.
func (s *seenSet) list() []string {
	out := make([]string, 0, len(s.ring))
	out = append(out, s.ring[s.next:]...)
	return append(out, s.ring[:s.next]...)
}
