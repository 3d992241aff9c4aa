package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/curbside-health/curbside/replica"
	"github.com/curbside-health/curbside/store"
)

// LagSampler samples how far a replica is behind now, every interval,
// until Stop: the time since the newest transaction on the replica was
// written there. Under a saturating load that is the data a whole-disk loss
// would cost at that moment.
type LagSampler struct {
	mu      sync.Mutex
	samples []time.Duration
	errs    int
	stop    chan struct{}
	done    chan struct{}
}

// SampleLag starts sampling the replica at url.
func SampleLag(ctx context.Context, url string, every time.Duration) (*LagSampler, error) {
	t, err := replica.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	s := &LagSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tk.C:
			}
			newest, err := t.Newest(ctx)
			s.mu.Lock()
			if err != nil || newest.IsZero() {
				s.errs++
			} else {
				s.samples = append(s.samples, time.Since(newest))
			}
			s.mu.Unlock()
		}
	}()
	return s, nil
}

// Stop ends sampling and returns the samples, ascending.
func (s *LagSampler) Stop() []time.Duration {
	close(s.stop)
	<-s.done
	sort.Slice(s.samples, func(i, j int) bool { return s.samples[i] < s.samples[j] })
	return s.samples
}

// fillerRow is the size of one row of SynthDB's filler: a ciphertext-like
// blob of random bytes (incompressible, as queued ciphertext is).
const fillerRow = 64 << 10

// SynthDB makes a Curbside database in dir of about size bytes: the real
// schema (store.Open migrates it), a few audit entries, and the bulk in a
// table of random 64 KiB rows. It stands for a large practice's database
// in the restore and drill timings: what those cost is reading and writing
// pages, whatever the rows mean.
func SynthDB(ctx context.Context, dir string, size int64) error {
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		return err
	}
	for i := range 3 {
		if err := st.Audit(ctx, &store.AuditEntry{ActorName: "bench", Action: "bench.fill", Target: fmt.Sprint(i), Outcome: store.OutcomeOK}); err != nil {
			st.Close()
			return err
		}
	}
	if err := st.Close(); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, store.DBFile)+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS bench_filler (id INTEGER PRIMARY KEY, body BLOB NOT NULL)`); err != nil {
		return err
	}
	row := make([]byte, fillerRow)
	for done := int64(0); done < size; {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for i := 0; i < 256 && done < size; i++ {
			rand.Read(row)
			if _, err := tx.ExecContext(ctx, `INSERT INTO bench_filler (body) VALUES (?)`, row); err != nil {
				tx.Rollback()
				return err
			}
			done += fillerRow
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	_, err = db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// RestoreTimes are the figures of one restore-and-drill run.
type RestoreTimes struct {
	DBBytes     int64
	InitialSync time.Duration // the first full replication of the database
	Restore     time.Duration // curbside restore into an empty directory
	Drill       time.Duration // a whole drill: restore, checks, comparison
	DrillOK     bool
	Problems    []string
}

// TimeRestore replicates the database in dir to a file replica under
// scratch, then times a restore of it and a drill against it.
func TimeRestore(ctx context.Context, dir, scratch string) (*RestoreTimes, error) {
	url := "file://" + filepath.Join(scratch, "replica")
	res := &RestoreTimes{}
	began := time.Now()
	rep, err := replica.Start(ctx, dir, replica.Options{URL: url})
	if err != nil {
		return nil, err
	}
	if err := rep.SyncOnce(ctx); err != nil {
		rep.Close(ctx)
		return nil, err
	}
	if err := rep.Close(ctx); err != nil {
		return nil, err
	}
	res.InitialSync = time.Since(began)
	t, err := replica.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	began = time.Now()
	r, err := replica.Restore(ctx, t, filepath.Join(scratch, "restored"), replica.RestoreOptions{})
	if err != nil {
		return nil, err
	}
	res.Restore, res.DBBytes = time.Since(began), r.DBBytes
	live, err := store.Open(ctx, dir, store.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer live.Close()
	began = time.Now()
	d := replica.Drill(ctx, replica.DrillOptions{Target: t, Live: live, TempDir: scratch})
	res.Drill, res.DrillOK, res.Problems = time.Since(began), d.OK, d.Problems
	return res, nil
}
