package client

import (
	"fmt"
	"reflect"
	"testing"
)

func TestSeenSetBounded(t *testing.T) {
	s := newSeenSet(3)
	for _, id := range []string{"a", "b", "c"} {
		if !s.add(id) {
			t.Fatalf("%s reported as seen before", id)
		}
	}
	if s.add("b") {
		t.Fatal("a repeat reported as new")
	}
	s.add("d") // forgets a, the oldest
	if s.has("a") || !s.has("b") || !s.has("d") {
		t.Fatalf("after overflow: a=%v b=%v d=%v; want the oldest forgotten", s.has("a"), s.has("b"), s.has("d"))
	}
	if got, _ := s.list(); !reflect.DeepEqual(got, []string{"b", "c", "d"}) {
		t.Fatalf("list = %v; want oldest first", got)
	}
	// Replaying list into a new set restores the same order of forgetting.
	r := newSeenSet(3)
	ids, _ := s.list()
	for _, id := range ids {
		r.add(id)
	}
	r.add("e")
	if r.has("b") || !r.has("c") {
		t.Fatal("a reloaded set forgets in another order")
	}
	if len(r.ids) != 3 {
		t.Fatalf("set holds %d ids; want 3", len(r.ids))
	}
}

func TestSeenSetLarge(t *testing.T) {
	s := newSeenSet(100)
	for i := range 1000 {
		s.add(fmt.Sprint(i))
	}
	if ids, _ := s.list(); len(s.ids) != 100 || len(ids) != 100 || !s.has("999") || s.has("899") || !s.has("900") {
		t.Fatalf("bounded set holds %d ids", len(s.ids))
	}
}

// Within its window the set forgets nothing, however many ids arrive: a
// replay of a message seen a day ago is still a duplicate.
func TestSeenSetKeepsItsWindow(t *testing.T) {
	now := int64(1_000_000)
	s := newSeenSet(2)
	s.keepMS, s.now = 1000, func() int64 { return now }
	for _, id := range []string{"a", "b", "c", "d"} {
		s.add(id)
	}
	if len(s.ids) != 4 || !s.has("a") {
		t.Fatalf("within the window the set forgot: %v", s.ids)
	}
	now += 1000
	s.add("e")
	if s.has("a") || s.has("b") || s.has("c") || !s.has("d") || !s.has("e") {
		t.Fatalf("past the window: %v; want the oldest forgotten down to 2", s.ids)
	}
	if _, at := s.list(); len(at) != 2 || at[0] != now-1000 || at[1] != now {
		t.Fatalf("times %v", at)
	}
}
