// Package replica keeps a practice's data safe off the machine: it
// replicates the database continuously with Litestream (as a library) and
// copies the data directory's other files (attachment ciphertext, the
// secret key, certificates) beside it; it restores both into an empty
// directory, to the newest state or to a point in time; and it runs restore
// drills that prove a replica restores.
//
// A replica location (Target) is a file:// directory or an S3 bucket
// prefix. Litestream owns the database's checkpoints while it replicates
// (the store turns its own off, see store.Options.Replicated); one loop
// here drives Litestream's sync (WAL to LTX files, LTX files to the
// replica) and the files' sync on the same interval, so "synced at T"
// means everything committed before T is on the replica.
package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/curbside-health/curbside/store"
	"github.com/superfly/ltx"
)

// Defaults for Options.
const (
	// DefaultSyncInterval is how often the database and files are synced:
	// what a whole-disk loss can cost, plus the upload's own time.
	DefaultSyncInterval = time.Second
	// DefaultRetention is how long the replica keeps history to restore
	// to a point in time: snapshots older than this are deleted.
	DefaultRetention = 72 * time.Hour
	// DefaultSnapshotInterval is how often a full snapshot is written, so
	// a restore replays at most this much history.
	DefaultSnapshotInterval = 24 * time.Hour
	// DefaultVerifyEvery is how often a sync also reads the replica's
	// position from the replica itself (Litestream's SyncStatus). A sync
	// with nothing new to send sends nothing, so without this an idle
	// server would not notice its replica is unreachable, or emptied.
	DefaultVerifyEvery = time.Minute
	// MaxAge is the oldest a replica may be before the server raises an
	// alert: the HIPAA Security Rule's 2025 proposal asks for backups no
	// older than 48 hours.
	MaxAge = 48 * time.Hour
)

// Options configures Start.
type Options struct {
	URL              string
	SyncInterval     time.Duration // 0: DefaultSyncInterval
	Retention        time.Duration // 0: DefaultRetention
	SnapshotInterval time.Duration // 0: DefaultSnapshotInterval
	VerifyEvery      time.Duration // 0: DefaultVerifyEvery
	Logger           *slog.Logger
}

// Replicator replicates one data directory to one replica location.
type Replicator struct {
	target   *Target
	dir      string
	db       *litestream.DB
	ls       *litestream.Store
	files    *FileSync
	log      *slog.Logger
	interval time.Duration
	verify   time.Duration
	started  time.Time

	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	st       Status
	verified time.Time // the last sync that read the replica's own position
}

// Status is what the console shows of replication.
type Status struct {
	URL          string `json:"url"`           // without credentials
	SyncInterval int64  `json:"sync_interval"` // ms
	// LastSync is when the newest complete sync began (ms): everything
	// committed and every file written before it is on the replica. Until
	// the first sync of this process it is when the replica last received
	// anything (its newest LTX file or manifest), as read at the start, so
	// a restart does not make an old replica look new. 0: the replica
	// holds nothing yet.
	LastSync int64 `json:"last_sync"`
	// Created is when the replica's oldest history still held was written
	// (ms), as read at the start; or the first sync, for a new replica. 0:
	// the replica holds nothing yet.
	Created int64 `json:"created,omitempty"`
	// LagMS is how far behind the replica may be now: the time since
	// LastSync (since the start, while the replica holds nothing).
	LagMS      int64  `json:"lag_ms"`
	LocalTXID  string `json:"local_txid,omitempty"`
	RemoteTXID string `json:"remote_txid,omitempty"`
	// InSync is true when the replica holds the database's newest
	// transaction: Litestream's SyncStatus (read from the replica) at the
	// start and every VerifyEvery, its cached positions after other syncs.
	InSync bool `json:"in_sync"`
	Files  int  `json:"files"` // files on the replica besides the database
	// Error is the last sync's failure, if it failed; ErrorSince when
	// syncs began to fail (ms).
	Error      string `json:"error,omitempty"`
	ErrorSince int64  `json:"error_since,omitempty"`
	Stale      bool   `json:"stale"` // older than MaxAge
}

// Start opens the replica location and replicates dataDir's database
// (already open, in WAL mode) and files to it until Close.
func Start(ctx context.Context, dataDir string, opts Options) (*Replicator, error) {
	t, err := Open(ctx, opts.URL)
	if err != nil {
		return nil, err
	}
	return StartTarget(ctx, dataDir, t, opts)
}

// StartTarget is Start with the location already opened (tests pass
// in-memory objects).
func StartTarget(ctx context.Context, dataDir string, t *Target, opts Options) (*Replicator, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	interval := cmp(opts.SyncInterval, DefaultSyncInterval)
	db := litestream.NewDB(filepath.Join(dataDir, store.DBFile))
	// This package drives the syncs (see run); Litestream's own timers
	// would only race it.
	db.MonitorInterval = 0
	r := litestream.NewReplicaWithClient(db, t.DB)
	r.MonitorEnabled = false
	db.Replica = r
	ls := litestream.NewStore([]*litestream.DB{db}, litestream.DefaultCompactionLevels)
	ls.Logger = quiet(log.With("part", "litestream"))
	db.SetLogger(ls.Logger)
	t.DB.SetLogger(ls.Logger)
	ls.SnapshotInterval = cmp(opts.SnapshotInterval, DefaultSnapshotInterval)
	ls.SnapshotRetention = cmp(opts.Retention, DefaultRetention)
	if err := ls.Open(ctx); err != nil {
		return nil, fmt.Errorf("replica %s: %w", t.URL, err)
	}
	rep := &Replicator{target: t, dir: dataDir, db: db, ls: ls, files: NewFileSync(dataDir, t.Files), log: log,
		interval: interval, verify: cmp(opts.VerifyEvery, DefaultVerifyEvery), started: time.Now(), done: make(chan struct{})}
	rep.st = Status{URL: t.URL, SyncInterval: interval.Milliseconds()}
	runCtx, cancel := context.WithCancel(context.Background())
	rep.cancel = cancel
	go rep.run(runCtx)
	return rep, nil
}

func cmp(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// URL is the location, without credentials.
func (r *Replicator) URL() string { return r.target.URL }

func (r *Replicator) run(ctx context.Context) {
	defer close(r.done)
	r.seed(ctx)
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		r.SyncOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// seedTimeout bounds the reads of the replica's state at the start, so an
// unreachable replica delays the first sync (which then fails and says
// why) by no more than this.
const seedTimeout = 10 * time.Second

// seed reads what the replica holds before the first sync: when it last
// received anything, its oldest history, and Litestream's SyncStatus (the
// remote position, read from the replica itself). Without it a restart
// would count the replica's age from the start.
func (r *Replicator) seed(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, seedTimeout)
	defer cancel()
	created, newest, err := litestream.NewReplicaWithClient(nil, r.target.DB).TimeBounds(ctx)
	if err != nil {
		r.log.Warn("replica: its newest transaction's time is unreadable; the first sync will tell", "replica", r.target.URL, "err", err)
	}
	if m, err := ReadManifest(ctx, r.target.Files); err == nil && m.Updated > 0 {
		if t := time.UnixMilli(m.Updated); t.After(newest) {
			newest = t
		}
	}
	ss, sserr := r.db.SyncStatus(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st.LastSync == 0 && !newest.IsZero() {
		r.st.LastSync = newest.UnixMilli()
	}
	if r.st.Created == 0 && !created.IsZero() {
		r.st.Created = created.UnixMilli()
	}
	if sserr == nil {
		if ss.LocalTXID > 0 {
			r.st.LocalTXID = ss.LocalTXID.String()
		}
		if ss.RemoteTXID > 0 {
			r.st.RemoteTXID = ss.RemoteTXID.String()
		}
		r.st.InSync = ss.InSync
	}
}

// SyncOnce syncs the database and then the files, now, and records the
// outcome in the status. Every VerifyEvery, and at every sync while syncs
// fail, it also reads the replica's position from the replica (verify).
func (r *Replicator) SyncOnce(ctx context.Context) error {
	began := time.Now()
	r.mu.Lock()
	verify := r.st.Error != "" || began.Sub(r.verified) >= r.verify
	r.mu.Unlock()
	err := r.db.SyncAndWait(ctx)
	var res SyncResult
	if err == nil {
		res, err = r.files.Sync(ctx)
	}
	var ss litestream.SyncStatus
	if err == nil && verify {
		ss, err = r.verifyRemote(ctx)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil && verify {
		r.verified = began
	}
	if err != nil {
		if r.st.Error == "" {
			r.st.ErrorSince = began.UnixMilli()
			r.log.Error("replication failed; retrying every sync interval", "replica", r.target.URL, "err", err)
		}
		r.st.Error, r.st.InSync = err.Error(), false
		return err
	}
	if r.st.Error != "" {
		r.log.Info("replication works again", "replica", r.target.URL, "failing_since", time.UnixMilli(r.st.ErrorSince).UTC().Format(time.RFC3339))
	}
	r.st.Error, r.st.ErrorSince = "", 0
	r.st.LastSync = began.UnixMilli()
	if r.st.Created == 0 {
		r.st.Created = r.st.LastSync
	}
	r.st.Files = res.Files
	local, remote := ltx.TXID(0), r.db.Replica.Pos().TXID
	if pos, err := r.db.Pos(); err == nil {
		local = pos.TXID
		r.st.LocalTXID = local.String()
	}
	r.st.RemoteTXID = remote.String()
	r.st.InSync = local > 0 && local == remote
	if verify {
		r.st.RemoteTXID, r.st.InSync = ss.RemoteTXID.String(), ss.InSync
	}
	if res.Uploaded > 0 || res.Deleted > 0 {
		r.log.Debug("replica files synced", "uploaded", res.Uploaded, "deleted", res.Deleted, "bytes", res.Bytes, "files", res.Files)
	}
	return nil
}

// verifyRemote asks the replica itself for its position (Litestream's
// SyncStatus lists its level 0), which fails while it cannot be reached.
// A replica behind what was sent to it was emptied or rolled back outside
// the server: that fails too, and Litestream's cached position is dropped
// so the next sync works from what the replica holds.
func (r *Replicator) verifyRemote(ctx context.Context) (litestream.SyncStatus, error) {
	ss, err := r.db.SyncStatus(ctx)
	if err != nil {
		return ss, fmt.Errorf("read the replica's position: %w", err)
	}
	if sent := r.db.Replica.Pos().TXID; ss.RemoteTXID < sent {
		r.db.Replica.SetPos(ltx.Pos{})
		return ss, fmt.Errorf("the replica holds transactions up to %s but %s were sent to it: it was emptied or changed outside the server", ss.RemoteTXID, sent)
	}
	return ss, nil
}

// Status reports the replication's state now.
func (r *Replicator) Status() Status {
	r.mu.Lock()
	st := r.st
	r.mu.Unlock()
	since := r.started
	if st.LastSync > 0 {
		since = time.UnixMilli(st.LastSync)
	}
	st.LagMS = time.Since(since).Milliseconds()
	st.Stale = time.Since(since) > MaxAge
	return st
}

// Close stops the loop, syncs one last time (Litestream's final sync of
// the database, then the files) and releases the database.
func (r *Replicator) Close(ctx context.Context) error {
	r.cancel()
	<-r.done
	_, ferr := r.files.Sync(ctx)
	err := r.ls.Close(ctx)
	return errors.Join(err, ferr)
}

// Target is the replica location.
func (r *Replicator) Target() *Target { return r.target }
