package replica

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/curbside-health/curbside/model"
)

// Progress reports a restore's bytes and files as they arrive: on a
// terminal, one line rewritten in place (bytes and files so far, rate,
// time left); nowhere at all otherwise. A nil *Progress reports nothing.
type Progress struct {
	w           io.Writer
	step        string
	total       int64 // bytes expected in this step; 0: unknown
	start       time.Time
	bytes       atomic.Int64
	files       atomic.Int64
	stop, done  chan struct{}
	mu          sync.Mutex
	lastPrinted int
	now         func() time.Time // time.Now; tests fix it
}

// NewProgress returns a Progress writing to w, or nil when w is nil (not
// a terminal: the caller decides).
func NewProgress(w io.Writer) *Progress {
	if w == nil {
		return nil
	}
	return &Progress{w: w, now: time.Now}
}

// Begin starts a step of total bytes (0: unknown).
func (p *Progress) Begin(step string, total int64) {
	if p == nil {
		return
	}
	p.End()
	p.step, p.total, p.start = step, total, p.now()
	p.bytes.Store(0)
	p.files.Store(0)
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				p.print(true)
				return
			case <-t.C:
				p.print(false)
			}
		}
	}()
}

// End finishes the current step, leaving its last line on the terminal.
func (p *Progress) End() {
	if p == nil || p.stop == nil {
		return
	}
	close(p.stop)
	<-p.done
	p.stop = nil
}

func (p *Progress) print(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, files := p.bytes.Load(), p.files.Load()
	el := p.now().Sub(p.start)
	rate := float64(n) / max(el.Seconds(), 0.001)
	line := fmt.Sprintf("%s: %s", p.step, model.HumanBytes(n))
	if p.total > 0 {
		line += fmt.Sprintf(" of %s", model.HumanBytes(p.total))
	}
	if files > 0 {
		line += fmt.Sprintf(", %d files", files)
	}
	line += fmt.Sprintf(", %s/s", model.HumanBytes(int64(rate)))
	if p.total > 0 && rate > 0 && n < p.total && !final {
		left := time.Duration(float64(p.total-n) / rate * float64(time.Second))
		line += fmt.Sprintf(", %s left", left.Round(time.Second))
	}
	if final {
		line += fmt.Sprintf(", %s", el.Round(time.Millisecond))
	}
	pad := max(0, p.lastPrinted-len(line))
	p.lastPrinted = len(line)
	end := ""
	if final {
		end = "\n"
		p.lastPrinted = 0
	}
	fmt.Fprintf(p.w, "\r%s%*s%s", line, pad, "", end)
}

func (p *Progress) add(n int) {
	if p != nil {
		p.bytes.Add(int64(n))
	}
}

func (p *Progress) file() {
	if p != nil {
		p.files.Add(1)
	}
}

// reader counts what is read through r.
func (p *Progress) reader(r io.Reader) io.Reader {
	if p == nil {
		return r
	}
	return countingReader{r, p}
}

type countingReader struct {
	r io.Reader
	p *Progress
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.add(n)
	return n, err
}
