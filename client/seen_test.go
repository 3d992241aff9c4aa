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
	if got := s.list(); !reflect.DeepEqual(got, []string{"b", "c", "d"}) {
		t.Fatalf("list = %v; want oldest first", got)
	}
	// Replaying list into a new set restores the same order of forgetting.
	r := newSeenSet(3)
	for _, id := range s.list() {
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
	if len(s.ids) != 100 || len(s.list()) != 100 || !s.has("999") || s.has("899") || !s.has("900") {
		t.Fatalf("bounded set holds %d ids", len(s.ids))
	}
}
