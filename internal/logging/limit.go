// Package logging holds the server's log handler: warnings and errors are
// rate limited per message, so that a fault that repeats with every request (a full
// disk, a lost database) is logged clearly without flooding the log or
// filling the disk it is failing on.
package logging

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Defaults for Limit.
const (
	DefaultWindow = time.Minute // errors are counted per message over this long
	DefaultBurst  = 10          // warnings or errors of one message logged per window
	maxKeys       = 1000        // messages tracked at once; past that the counts start afresh
)

// Limit returns a handler that passes records below WARN to h as they come
// and, of WARN and ERROR records, at most burst per message in each window.
// The first record of a message let through after some were dropped says
// how many were, in the attribute "suppressed".
func Limit(h slog.Handler, window time.Duration, burst int) slog.Handler {
	return &limited{h: h, st: &limitState{window: window, burst: burst, now: time.Now, keys: map[string]*count{}}}
}

type limited struct {
	h  slog.Handler
	st *limitState
}

type limitState struct {
	mu     sync.Mutex
	window time.Duration
	burst  int
	now    func() time.Time
	keys   map[string]*count
}

type count struct {
	start   time.Time
	n       int // let through in this window
	dropped int // dropped since the last one let through
}

// allow reports whether a record of msg may be logged now, and how many
// were dropped before it.
func (s *limitState) allow(msg string) (bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	c := s.keys[msg]
	if c == nil {
		if len(s.keys) >= maxKeys {
			clear(s.keys)
		}
		c = &count{start: now}
		s.keys[msg] = c
	}
	if now.Sub(c.start) >= s.window {
		c.start, c.n = now, 0
	}
	if c.n >= s.burst {
		c.dropped++
		return false, 0
	}
	c.n++
	dropped := c.dropped
	c.dropped = 0
	return true, dropped
}

func (l *limited) Enabled(ctx context.Context, lv slog.Level) bool { return l.h.Enabled(ctx, lv) }

func (l *limited) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return l.h.Handle(ctx, r)
	}
	ok, dropped := l.st.allow(r.Message)
	if !ok {
		return nil
	}
	if dropped > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed", dropped))
	}
	return l.h.Handle(ctx, r)
}

func (l *limited) WithAttrs(as []slog.Attr) slog.Handler {
	return &limited{h: l.h.WithAttrs(as), st: l.st}
}

func (l *limited) WithGroup(name string) slog.Handler {
	return &limited{h: l.h.WithGroup(name), st: l.st}
}
