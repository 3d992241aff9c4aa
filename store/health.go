package store

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/curbside-health/curbside/model"
)

// fullLogEvery is how often, at most, the store logs the writes it refused
// because the disk is full: one ERROR line a window with their count, not
// one per refusal, so that a full disk is reported clearly without the log
// growing on the disk that is full.
const fullLogEvery = time.Minute

// writeHealth records whether the writer's transactions are reaching the
// disk: a failed begin or commit, or an operation failing for a reason of
// the storage itself (I/O error, disk full, read-only or corrupt file),
// counts as a failed write; a refused operation (a duplicate, a limit) does
// not, since the disk took it fine.
//
// While the disk is full it also counts the operations refused for it and
// logs them, one line a window (fullLogEvery), and a line when writes
// succeed again.
type writeHealth struct {
	log     *slog.Logger
	now     func() time.Time
	every   time.Duration
	changed chan struct{} // poked when Failing changes

	mu       sync.Mutex
	failures int64
	lastFail time.Time
	lastOK   time.Time
	lastErr  error
	full     bool // the last failure was the disk being full

	// The operations refused for a full disk: in the current outage, and
	// since the last line logged; when that line was; the timer that
	// logs the rest of the window.
	outageStart  time.Time
	refused      int64
	unlogged     int64
	lastLine     time.Time
	flush        *time.Timer
	flushPending bool
}

func newWriteHealth(log *slog.Logger) *writeHealth {
	return &writeHealth{log: log, now: time.Now, every: fullLogEvery, changed: make(chan struct{}, 1)}
}

// WriteHealth is what the store knows of its recent writes.
type WriteHealth struct {
	Failures    int64     // failed writes since the store opened
	LastFailure time.Time // zero: none
	LastOK      time.Time // the last commit that wrote and succeeded
	LastErr     error     // the cause of the last failure (for the log, never a client)
	// Full reports that the last failure was the disk being full
	// (SQLITE_FULL, or ENOSPC writing an attachment).
	Full bool
	// Refused counts the operations refused for a full disk since writes
	// last succeeded, and Since is when the first of them was.
	Refused int64
	Since   time.Time
}

// Failing reports whether the last write failed: no commit has succeeded
// since.
func (h WriteHealth) Failing() bool {
	return !h.LastFailure.IsZero() && !h.LastOK.After(h.LastFailure)
}

// WriteHealth returns what the store knows of its recent writes.
func (s *Store) WriteHealth() WriteHealth {
	return s.health.snapshot()
}

// WriteHealthChanged receives a value (at most one waits) whenever the
// store's writes start or stop failing, so that a health check can react
// at once instead of at its next tick.
func (s *Store) WriteHealthChanged() <-chan struct{} { return s.health.changed }

func (h *writeHealth) snapshot() WriteHealth {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.snapshotLocked()
}

func (h *writeHealth) snapshotLocked() WriteHealth {
	return WriteHealth{Failures: h.failures, LastFailure: h.lastFail, LastOK: h.lastOK, LastErr: h.lastErr,
		Full: h.full, Refused: h.refused, Since: h.outageStart}
}

// failing reports whether writes are failing now.
func (h *writeHealth) failing() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.snapshotLocked().Failing()
}

func (h *writeHealth) poke() {
	select {
	case h.changed <- struct{}{}:
	default:
	}
}

// ok records a commit that wrote. Ending an outage of refusals for a full
// disk logs how many there were.
func (h *writeHealth) ok() {
	h.mu.Lock()
	was := h.snapshotLocked().Failing()
	h.lastOK = h.now()
	refused, since := h.refused, h.outageStart
	if refused > 0 {
		h.refused, h.unlogged, h.outageStart = 0, 0, time.Time{}
		if h.flush != nil {
			h.flush.Stop()
		}
		h.flushPending = false
	}
	h.mu.Unlock()
	if refused > 0 {
		h.log.Info("store: writes succeed again after the disk was full", "refused", refused, "for", h.lastOK.Sub(since).Round(time.Second))
	}
	if was {
		h.poke()
	}
}

func (h *writeHealth) failed(err error) {
	h.mu.Lock()
	was := h.snapshotLocked().Failing()
	h.failures++
	h.lastFail, h.lastErr = h.now(), err
	h.full = errors.Is(err, model.ErrStorageFull)
	h.mu.Unlock()
	if !was {
		h.poke()
	}
}

// refusedFull counts one operation refused because the disk is full. The
// first of a window is logged at once, with the refusals since the last
// line; the rest of the window are counted and logged together when it
// ends.
func (h *writeHealth) refusedFull(err error) {
	h.mu.Lock()
	now := h.now()
	if h.refused == 0 {
		h.outageStart = now
	}
	h.refused++
	h.unlogged++
	if h.lastLine.IsZero() || now.Sub(h.lastLine) >= h.every {
		n, total := h.unlogged, h.refused
		h.unlogged, h.lastLine = 0, now
		h.mu.Unlock()
		h.logFull(n, total, err)
		return
	}
	if !h.flushPending {
		h.flushPending = true
		wait := h.every - now.Sub(h.lastLine)
		h.flush = time.AfterFunc(wait, func() { h.flushFull(err) })
	}
	h.mu.Unlock()
}

// flushFull logs the refusals counted since the last line, if any are
// left when the window ends.
func (h *writeHealth) flushFull(err error) {
	h.mu.Lock()
	if !h.flushPending {
		h.mu.Unlock()
		return
	}
	h.flushPending = false
	n, total := h.unlogged, h.refused
	if n == 0 {
		h.mu.Unlock()
		return
	}
	h.unlogged, h.lastLine = 0, h.now()
	h.mu.Unlock()
	h.logFull(n, total, err)
}

func (h *writeHealth) logFull(n, total int64, err error) {
	h.log.Error("store: writes refused: the disk is full", "refused", n, "refused_total", total,
		"window", h.every, "err", err)
}

// stop ends the timer of a pending line (at Close), logging what it held.
func (h *writeHealth) stop() {
	h.mu.Lock()
	pending := h.flushPending
	if h.flush != nil {
		h.flush.Stop()
	}
	err := h.lastErr
	h.mu.Unlock()
	if pending {
		h.flushFull(err)
	}
}

// storageFault reports whether err is SQLite failing to store, rather
// than refusing an operation.
func storageFault(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return errors.Is(err, model.ErrStorageFull)
	}
	switch se.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CORRUPT,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_NOMEM:
		return true
	}
	return false
}

// diskFull reports whether err says the disk is full: SQLite's result code
// SQLITE_FULL (primary code, whatever the extended one), or the system's
// ENOSPC from writing a file. It looks at codes, never at error text.
func diskFull(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return true
	}
	return errors.Is(err, syscall.ENOSPC)
}

// classify wraps an error that says the disk is full in
// model.ErrStorageFull, so that callers above the store recognise it with
// errors.Is; any other error is returned as it is.
func classify(err error) error {
	if err == nil || errors.Is(err, model.ErrStorageFull) || !diskFull(err) {
		return err
	}
	return fmt.Errorf("%w: %w", model.ErrStorageFull, err)
}
