package replica

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestProgressLine: on a terminal the line says the bytes and files so
// far, the total, the rate and the time left, rewrites itself in place
// (a carriage return, and spaces over a longer line before), and ends
// with the step's time and a newline.
func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf)
	began := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return began.Add(2 * time.Second) }
	p.step, p.total, p.start = "restore", 4<<20, began
	p.add(1 << 20)
	p.file()
	p.file()
	p.print(false)
	line := buf.String()
	for _, want := range []string{"\rrestore: 1.0 MiB of 4.0 MiB", ", 2 files", " KiB/s", "s left"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress %q lacks %q", line, want)
		}
	}
	// 1 MiB in 2 s: 512 KiB/s, and 3 MiB to go is 6 s.
	if !strings.Contains(line, ", 512 KiB/s, 6s left") {
		t.Errorf("progress %q: want 512 KiB/s and 6s left", line)
	}
	if strings.Contains(line, "\n") {
		t.Errorf("a progress line before the end ends the line: %q", line)
	}

	buf.Reset()
	p.step, p.total = "files", 0 // a shorter line, total unknown
	p.print(true)
	end := buf.String()
	if !strings.HasPrefix(end, "\rfiles: 1.0 MiB, 2 files, 512 KiB/s, 2s") || !strings.HasSuffix(end, "\n") {
		t.Errorf("last line %q", end)
	}
	if strings.Contains(end, "left") || strings.Contains(end, " of ") {
		t.Errorf("last line %q says a total or a time left it does not know", end)
	}
	if text := strings.TrimRight(end, "\n"); !strings.HasSuffix(text, " ") || len(text)-1 < len(line)-1 {
		t.Errorf("the last line %q does not cover the longer one before it (%d < %d)", end, len(text), len(line))
	}
}

// syncBuffer is a bytes.Buffer safe for Progress's ticker.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestProgressSteps: each step ends on a line of its own, counted through
// the reader; nil reports nothing and counts through unchanged.
func TestProgressSteps(t *testing.T) {
	var out syncBuffer
	p := NewProgress(&out)
	p.Begin("database", 10)
	if n, err := bytes.NewBuffer(nil).ReadFrom(p.reader(strings.NewReader("0123456789"))); err != nil || n != 10 {
		t.Fatal(n, err)
	}
	p.Begin("files", 0) // ends the first step
	p.file()
	p.End()
	p.End() // twice is harmless
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want a line per step, got %q", out.String())
	}
	last := func(l string) string { return l[strings.LastIndex(l, "\r")+1:] }
	if got := last(lines[0]); !strings.HasPrefix(got, "database: 10 bytes of 10 bytes, ") {
		t.Errorf("database step ends %q", got)
	}
	if got := last(lines[1]); !strings.HasPrefix(got, "files: 0 bytes, 1 files, ") {
		t.Errorf("files step ends %q", got)
	}

	var none *Progress
	if NewProgress(nil) != nil {
		t.Fatal("NewProgress(nil) is not nil")
	}
	none.Begin("x", 1)
	none.file()
	none.End()
	if n, _ := bytes.NewBuffer(nil).ReadFrom(none.reader(strings.NewReader("abc"))); n != 3 {
		t.Fatal("a nil Progress's reader lost bytes")
	}
}
