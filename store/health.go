package store

import (
	"errors"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// writeHealth records whether the writer's transactions are reaching the
// disk: a failed begin or commit, or an operation failing for a reason of
// the storage itself (I/O error, disk full, read-only or corrupt file),
// counts as a failed write; a refused operation (a duplicate, a limit) does
// not, since the disk took it fine.
type writeHealth struct {
	mu       sync.Mutex
	failures int64
	lastFail time.Time
	lastOK   time.Time
	lastErr  error
}

// WriteHealth is what the store knows of its recent writes.
type WriteHealth struct {
	Failures    int64     // failed writes since the store opened
	LastFailure time.Time // zero: none
	LastOK      time.Time // the last commit that succeeded
	LastErr     error     // the cause of the last failure (for the log, never a client)
}

// Failing reports whether the last write failed: no commit has succeeded
// since.
func (h WriteHealth) Failing() bool {
	return !h.LastFailure.IsZero() && !h.LastOK.After(h.LastFailure)
}

// WriteHealth returns what the store knows of its recent writes.
func (s *Store) WriteHealth() WriteHealth {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	return WriteHealth{Failures: s.health.failures, LastFailure: s.health.lastFail, LastOK: s.health.lastOK, LastErr: s.health.lastErr}
}

func (h *writeHealth) ok() {
	h.mu.Lock()
	h.lastOK = time.Now()
	h.mu.Unlock()
}

func (h *writeHealth) failed(err error) {
	h.mu.Lock()
	h.failures++
	h.lastFail, h.lastErr = time.Now(), err
	h.mu.Unlock()
}

// storageFault reports whether err is SQLite failing to store, rather
// than refusing an operation.
func storageFault(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CORRUPT,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_NOMEM:
		return true
	}
	return false
}
