// Package store is Curbside's SQLite store: the directory (users, groups,
// devices, sessions), the security policy, and the relay's store-and-forward
// queue.
//
// There is one write connection. Writes are submitted as operations to a
// single writer goroutine, which runs every operation waiting at that moment
// in one transaction and commits once (group commit): with
// synchronous=FULL each commit costs an fsync, and sharing it among many
// concurrent writers is what lets a message be "accepted" only once it is on
// disk without capping throughput at one fsync per message. Reads go to a
// separate pool of read-only connections, which WAL lets run concurrently
// with the writer.
//
// The relay depends on a narrow interface (relay.Store) rather than on this
// package's SQL, so another backend can be added without touching the relay.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/curbside-health/curbside/model"
	_ "modernc.org/sqlite" // the only SQLite driver: Litestream requires it
)

// DBFile is the database's file name inside the data directory.
const DBFile = "curbside.db"

// maxBatch bounds how many operations share one transaction, so one commit
// cannot grow without bound under a flood of writes.
const maxBatch = 512

// Store is an open Curbside database.
type Store struct {
	path     string
	write    *sql.DB // exactly one connection, owned by the writer goroutine
	read     *sql.DB
	log      *slog.Logger
	ops      chan *op
	closed   chan struct{}
	done     chan struct{}
	mu       sync.RWMutex // guards isClosed against concurrent submit
	isClosed bool

	stmts [numStmts]*sql.Stmt
	// The statements bound to the writer's current transaction.
	boundTx *sql.Tx
	bound   [numStmts]*sql.Stmt
	notify  model.Notifier

	commits, committedOps atomic.Int64

	seqMu   sync.Mutex
	lastSeq int64 // last queue seq handed out; the writer alone advances it

	// depth bounds each device's queued items, for the queue cap; only
	// the writer goroutine uses it.
	depth depthBounds

	health *writeHealth

	replicatedOpt bool // Options.Replicated
}

// op is one write operation. fn runs inside the batch's transaction; if it
// fails, the batch is rolled back and its operations are retried one per
// transaction, so one bad operation cannot fail its neighbours. done runs
// once the operation's fate is known (committed: nil), on the writer
// goroutine and in submission order; it must not block. The relay relies on
// that order to hand new queue items to connected devices, and replies to
// senders, in the order they were stored.
type op struct {
	fn   func(tx *sql.Tx) error
	done func(error)
}

// Options configures Open.
type Options struct {
	Logger *slog.Logger
	// ReadOnly opens only the read pool and starts no writer (for reports
	// and checks against a live server's data).
	ReadOnly bool
	// Replicated leaves the WAL's checkpoints to Litestream, which
	// replicates the database: SQLite's automatic checkpoint is off on the
	// write connection, and Close does not checkpoint. A database that
	// Litestream has replicated (its state folder is beside it) is treated
	// so by every Open, the command line's included.
	Replicated bool
}

func dsn(path string, readOnly, replicated bool) string {
	q := url.Values{}
	for _, p := range []string{
		"busy_timeout(10000)",
		"journal_mode(WAL)",
		"synchronous(FULL)", // accepted means on disk
		"foreign_keys(1)",
		"secure_delete(FAST)", // overwrite deleted ciphertext within its page
		"cache_size(-16000)",  // 16 MB page cache per connection
	} {
		q.Add("_pragma", p)
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	if replicated && !readOnly {
		q.Add("_pragma", "wal_autocheckpoint(0)")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Open opens (creating if needed) the database in dir and migrates it.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	path := filepath.Join(dir, DBFile)
	s := &Store{path: path, log: opts.Logger, depth: depthBounds{}, ops: make(chan *op, 4*maxBatch),
		closed: make(chan struct{}), done: make(chan struct{}), health: newWriteHealth(opts.Logger), replicatedOpt: opts.Replicated}

	var err error
	if !opts.ReadOnly {
		s.write, err = sql.Open("sqlite", dsn(path, false, s.replicated()))
		if err != nil {
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
		s.write.SetMaxOpenConns(1)
		s.write.SetMaxIdleConns(1)
		s.write.SetConnMaxLifetime(0)
		s.write.SetConnMaxIdleTime(0)
		if err := migrate(ctx, s.write); err != nil {
			s.write.Close()
			return nil, err
		}
		if err := s.write.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM queue`).Scan(&s.lastSeq); err != nil {
			s.write.Close()
			return nil, fmt.Errorf("store: read queue position: %w", err)
		}
		// Seqs must never repeat for a device, even after the items that
		// held the highest ones were acknowledged and deleted. Starting from
		// the clock in microseconds guarantees that across restarts without
		// a table to keep the high-water mark in.
		s.lastSeq = max(s.lastSeq, time.Now().UnixMicro())
		if err := s.prepare(); err != nil {
			s.write.Close()
			return nil, err
		}
	}
	s.read, err = sql.Open("sqlite", dsn(path, true, false))
	if err != nil {
		if s.write != nil {
			s.write.Close()
		}
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s.read.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)*2))
	s.read.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)*2))
	if opts.ReadOnly {
		if err := checkVersion(ctx, s.read); err != nil {
			s.read.Close()
			return nil, err
		}
		close(s.done)
		return s, nil
	}
	go s.writer()
	return s, nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close stops the writer after the operations already submitted, and closes
// the database.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.isClosed {
		s.mu.Unlock()
		return nil
	}
	s.isClosed = true
	close(s.closed)
	s.mu.Unlock()
	<-s.done
	s.health.stop()
	var errs []error
	if s.write != nil {
		for _, st := range s.stmts {
			if st != nil {
				st.Close()
			}
		}
		// Checkpoint so a cleanly stopped server leaves a compact
		// database; unless Litestream replicates it, which checkpoints
		// itself and must see every WAL frame before it is gone.
		if !s.replicated() {
			if _, err := s.write.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
				errs = append(errs, err)
			}
		}
		errs = append(errs, s.write.Close())
	}
	errs = append(errs, s.read.Close())
	return errors.Join(errs...)
}

// submit queues fn for the writer and waits until its transaction has
// committed (or failed).
func (s *Store) submit(ctx context.Context, fn func(tx *sql.Tx) error) error {
	ch := make(chan error, 1)
	if err := s.submitAsync(ctx, fn, func(err error) { ch <- err }); err != nil {
		return err
	}
	// Once submitted, the operation will run whatever the context says:
	// waiting for it keeps "returned" and "committed" the same thing.
	return <-ch
}

// submitAsync queues fn for the writer and returns at once; done is called
// on the writer goroutine when the operation has committed or failed. An
// error return means fn was not queued and done will not be called. The
// audit entries ctx carries (WithAudit) are appended in fn's transaction,
// after fn, so they commit with it or not at all.
func (s *Store) submitAsync(ctx context.Context, fn func(tx *sql.Tx) error, done func(error)) error {
	o := &op{fn: withPending(ctx, fn), done: done}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.isClosed || s.write == nil {
		return model.ErrClosed
	}
	select {
	case s.ops <- o:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats reports how many transactions the writer has committed and how
// many operations they carried: their ratio is the mean group-commit size.
func (s *Store) Stats() (commits, ops int64) { return s.commits.Load(), s.committedOps.Load() }

// Barrier waits until every operation submitted before it has committed or
// failed.
func (s *Store) Barrier(ctx context.Context) error {
	return s.submit(ctx, func(*sql.Tx) error { return nil })
}

func (s *Store) writer() {
	defer close(s.done)
	batch := make([]*op, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case o := <-s.ops:
			batch = append(batch, o)
		case <-s.closed:
			// Drain what was submitted before Close.
			for {
				select {
				case o := <-s.ops:
					batch = append(batch, o)
					if len(batch) == maxBatch {
						s.run(batch)
						batch = batch[:0]
					}
				default:
					if len(batch) > 0 {
						s.run(batch)
					}
					return
				}
			}
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case o := <-s.ops:
				batch = append(batch, o)
			default:
				break fill
			}
		}
		s.run(batch)
	}
}

// run executes a batch in one transaction; on failure it falls back to one
// transaction per operation so only the failing ones report an error.
func (s *Store) run(batch []*op) {
	seqBefore := s.currentSeq()
	err := s.tx(func(tx *sql.Tx) error {
		for _, o := range batch {
			if err := o.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.commits.Add(1)
		s.committedOps.Add(int64(len(batch)))
		for _, o := range batch {
			o.done(nil)
		}
		return
	}
	s.setSeq(seqBefore) // the rolled-back batch's seqs were never stored
	if len(batch) == 1 {
		s.finish(batch[0], err)
		return
	}
	if !errors.Is(err, model.ErrStorageFull) {
		// Each operation's own failure reaches its caller, which reports
		// it; this says why a batch was split. (A full disk refuses every
		// operation alike; those refusals are counted and logged once a
		// minute instead.)
		s.log.Warn("write batch rolled back; retrying its operations one per transaction", "ops", len(batch), "err", err)
	}
	for _, o := range batch {
		seq := s.currentSeq()
		err := s.tx(o.fn)
		if err != nil {
			s.setSeq(seq)
		}
		s.finish(o, err)
	}
}

// finish reports an operation's outcome to its caller, counting it first
// if the disk was full.
func (s *Store) finish(o *op, err error) {
	if errors.Is(err, model.ErrStorageFull) {
		s.health.refusedFull(err)
	}
	o.done(err)
}

// tx runs fn in one transaction on the write connection. An error that
// says the disk is full comes back wrapped in model.ErrStorageFull. While
// writes are failing, only a commit that changed rows counts as their
// recovery: an empty transaction commits even on a full disk.
func (s *Store) tx(fn func(tx *sql.Tx) error) error {
	tx, err := s.write.Begin()
	if err != nil {
		err = classify(err)
		s.health.failed(err)
		return fmt.Errorf("store: begin: %w", err)
	}
	probe := s.health.failing()
	var before int64
	if probe {
		before = totalChanges(tx)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		err = classify(err)
		if storageFault(err) {
			s.health.failed(err)
		}
		return err
	}
	wrote := !probe || totalChanges(tx) > before
	if err := tx.Commit(); err != nil {
		err = classify(err)
		s.health.failed(err)
		return fmt.Errorf("store: commit: %w", err)
	}
	if wrote {
		s.health.ok()
	}
	return nil
}

// totalChanges is SQLite's count of rows the write connection has
// changed; -1 if it cannot be read.
func totalChanges(tx *sql.Tx) int64 {
	var n int64 = -1
	tx.QueryRow(`SELECT total_changes()`).Scan(&n)
	return n
}

// nextSeq hands out the next queue seq. Only operations running on the
// writer goroutine call it, so seqs are assigned in commit order.
func (s *Store) nextSeq() int64 {
	s.seqMu.Lock()
	defer s.seqMu.Unlock()
	s.lastSeq++
	return s.lastSeq
}

func (s *Store) currentSeq() int64 {
	s.seqMu.Lock()
	defer s.seqMu.Unlock()
	return s.lastSeq
}

func (s *Store) setSeq(v int64) {
	s.seqMu.Lock()
	s.lastSeq = v
	s.seqMu.Unlock()
}

// nowMS is the store's clock in milliseconds since the Unix epoch.
func nowMS() int64 { return time.Now().UnixMilli() }

// ReadDB returns the read-only pool (query_only connections), for checks
// and reports that read tables directly.
func (s *Store) ReadDB() *sql.DB { return s.read }
