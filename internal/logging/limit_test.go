package logging

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestLimitErrors checks that a repeating error is logged burst times per
// window, that the next one let through counts those dropped, that other
// messages and lower levels are not held back, and that loggers made with
// With share the counts.
func TestLimitErrors(t *testing.T) {
	var buf bytes.Buffer
	h := Limit(slog.NewTextHandler(&buf, nil), time.Minute, 3).(*limited)
	clock := time.Unix(1000, 0)
	h.st.now = func() time.Time { return clock }
	log := slog.New(h)
	for range 10 {
		log.Error("store commit failed", "err", "disk full")
		log.With("device", 7).Error("store commit failed")
		log.Info("request served")
	}
	log.Error("another fault")
	out := buf.String()
	if n := strings.Count(out, "store commit failed"); n != 3 {
		t.Fatalf("%d lines of the repeating error in one window, want 3:\n%s", n, out)
	}
	if n := strings.Count(out, "request served"); n != 10 {
		t.Fatalf("%d info lines, want all 10", n)
	}
	if !strings.Contains(out, "another fault") {
		t.Fatal("a different error was held back")
	}
	clock = clock.Add(time.Minute)
	buf.Reset()
	log.Error("store commit failed")
	if !strings.Contains(buf.String(), "suppressed=17") {
		t.Fatalf("the first error of the next window does not count the 17 dropped: %s", buf.String())
	}
}
