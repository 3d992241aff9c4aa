package client

import "time"

// DefaultSeenIDs is how many recently delivered message ids a client keeps
// at least, to drop redeliveries and replays. The set forgets an id only
// once it holds more than this many and the id is older than its window
// (the retention window, WithMaxAge): within the window every id is kept,
// and past it an envelope is refused by its signed created time anyway
// (ErrTooOld), so a replayed old message is caught either way.
const DefaultSeenIDs = 10000

// seenSet is a set of message ids that forgets the oldest first, but none
// younger than keepMS. It is not safe for concurrent use; Client guards it.
type seenSet struct {
	max    int
	keepMS int64 // ids seen within this long are never forgotten
	ids    map[string]struct{}
	q      []seenEntry // oldest first from head
	head   int
	now    func() int64 // ms; time.Now unless a test sets it
}

type seenEntry struct {
	id string
	at int64 // when it was seen, ms
}

func newSeenSet(max int) *seenSet {
	if max <= 0 {
		max = DefaultSeenIDs
	}
	return &seenSet{max: max, ids: make(map[string]struct{}), now: func() int64 { return time.Now().UnixMilli() }}
}

func (s *seenSet) has(id string) bool {
	_, ok := s.ids[id]
	return ok
}

// add records id as seen now and reports whether it was new.
func (s *seenSet) add(id string) bool { return s.addAt(id, s.now()) }

// addAt records id as seen at at (ms) and reports whether it was new.
func (s *seenSet) addAt(id string, at int64) bool {
	if s.has(id) {
		return false
	}
	s.q = append(s.q, seenEntry{id, at})
	s.ids[id] = struct{}{}
	limit := s.now() - s.keepMS
	for len(s.q)-s.head > s.max && s.q[s.head].at <= limit {
		delete(s.ids, s.q[s.head].id)
		s.q[s.head] = seenEntry{}
		s.head++
	}
	if s.head > len(s.q)/2 {
		s.q = append(s.q[:0:0], s.q[s.head:]...)
		s.head = 0
	}
	return true
}

// list returns the ids oldest first, the order add must replay them in,
// and when each was seen.
func (s *seenSet) list() (ids []string, at []int64) {
	for _, e := range s.q[s.head:] {
		ids = append(ids, e.id)
		at = append(at, e.at)
	}
	return ids, at
}
