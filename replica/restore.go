package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"

	"github.com/curbside-health/curbside/store"
)

// RestoreOptions configures Restore.
type RestoreOptions struct {
	// Timestamp, if set, restores the state as of that time (the newest
	// transaction at or before it); zero: the newest state.
	Timestamp time.Time
	Progress  *Progress
	Logger    *slog.Logger
}

// Restored says what a restore wrote.
type Restored struct {
	Dir       string    `json:"-"`
	DBBytes   int64     `json:"db_bytes"`
	TXID      string    `json:"txid"`
	NewestTx  time.Time `json:"newest_tx"` // when the newest restored transaction reached the replica
	Files     int       `json:"files"`     // files besides the database, blobs included
	FileBytes int64     `json:"file_bytes"`
	Blobs     int       `json:"blobs"`
	// MissingBlobs are attachments the database names that the replica
	// does not hold (expired and swept after the restored moment, with a
	// point-in-time restore).
	MissingBlobs []string      `json:"missing_blobs,omitempty"`
	DBTook       time.Duration `json:"db_took"`
	FilesTook    time.Duration `json:"files_took"`
}

// ErrNotEmpty is the refusal of a restore into a directory that holds
// something.
var ErrNotEmpty = errors.New("replica: the directory is not empty")

// Restore writes the replica's database and files into dir, which must be
// empty or absent.
func Restore(ctx context.Context, t *Target, dir string, opts RestoreOptions) (*Restored, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := checkEmpty(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	res := &Restored{Dir: dir}
	began := time.Now()
	plan, err := litestream.CalcRestorePlan(ctx, t.DB, 0, opts.Timestamp, log)
	if err != nil {
		if errors.Is(err, litestream.ErrTxNotAvailable) || errors.Is(err, litestream.ErrNoSnapshots) {
			if !opts.Timestamp.IsZero() {
				return nil, fmt.Errorf("the replica %s holds no state as early as %s: choose a later --timestamp", t.URL, opts.Timestamp.UTC().Format(time.RFC3339))
			}
			return nil, fmt.Errorf("the replica %s holds no database: check the URL (and that a server has replicated there)", t.URL)
		}
		return nil, fmt.Errorf("read the replica %s: %w", t.URL, err)
	}
	var total int64
	for _, info := range plan {
		total += info.Size
	}
	last := plan[len(plan)-1]
	res.TXID, res.NewestTx = last.MaxTXID.String(), last.CreatedAt
	dbPath := filepath.Join(dir, store.DBFile)
	opts.Progress.Begin("database", total)
	ldb := litestream.NewDB(dbPath)
	ldb.SetLogger(quiet(log.With("part", "litestream")))
	r := litestream.NewReplicaWithClient(ldb, countingClient{t.DB, opts.Progress})
	ro := litestream.NewRestoreOptions()
	ro.OutputPath, ro.TXID, ro.IntegrityCheck = dbPath, last.MaxTXID, litestream.IntegrityCheckQuick
	err = r.Restore(ctx, ro)
	opts.Progress.End()
	if err != nil {
		return nil, fmt.Errorf("restore the database from %s: %w", t.URL, err)
	}
	// Litestream creates the file with the umask's mode; the database
	// is as private as the rest of the data directory.
	if err := os.Chmod(dbPath, 0o600); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(dbPath); err == nil {
		res.DBBytes = fi.Size()
	}
	res.DBTook = time.Since(began)

	began = time.Now()
	m, err := ReadManifest(ctx, t.Files)
	if errors.Is(err, os.ErrNotExist) {
		log.Warn("the replica holds no files besides the database", "replica", t.URL)
		m, err = &Manifest{Files: map[string]FileEntry{}}, nil
	}
	if err != nil {
		return nil, err
	}
	named, err := blobIDs(ctx, dir)
	if err != nil {
		return nil, err
	}
	// Attachments: those the restored database names (a point-in-time
	// restore must not bring back newer ones). Other files: as they are.
	want := &Manifest{Files: map[string]FileEntry{}}
	for name, e := range m.Files {
		if !immutable(name) {
			want.Files[name] = e
		}
	}
	for _, id := range named {
		if e, ok := m.Files[blobName(id)]; ok {
			want.Files[blobName(id)] = e
			res.Blobs++
		} else {
			res.MissingBlobs = append(res.MissingBlobs, id)
		}
	}
	var fileTotal int64
	for _, e := range want.Files {
		fileTotal += e.Size
	}
	opts.Progress.Begin("files", fileTotal)
	res.Files, res.FileBytes, err = restoreFiles(ctx, t.Files, want, dir, opts.Progress)
	opts.Progress.End()
	if err != nil {
		return nil, err
	}
	res.FilesTook = time.Since(began)
	return res, nil
}

// checkEmpty refuses a directory that holds a database, or anything.
func checkEmpty(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Name() == store.DBFile || strings.HasPrefix(e.Name(), store.DBFile+"-") {
			return fmt.Errorf("%w: %s already holds a database; restore into a new, empty directory (or move this one aside first)", ErrNotEmpty, dir)
		}
	}
	if len(ents) > 0 {
		return fmt.Errorf("%w: %s holds %s and more; restore into a new, empty directory", ErrNotEmpty, dir, ents[0].Name())
	}
	return nil
}

// blobIDs lists the attachments the database in dir names.
func blobIDs(ctx context.Context, dir string) ([]string, error) {
	st, err := store.Open(ctx, dir, store.Options{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("open the restored database: %w", err)
	}
	defer st.Close()
	return st.BlobIDs(ctx)
}

// countingClient counts the LTX bytes a restore reads, for its progress.
type countingClient struct {
	litestream.ReplicaClient
	p *Progress
}

func (c countingClient) OpenLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, offset, size int64) (io.ReadCloser, error) {
	rc, err := c.ReplicaClient.OpenLTXFile(ctx, level, minTXID, maxTXID, offset, size)
	if err != nil || c.p == nil {
		return rc, err
	}
	return struct {
		io.Reader
		io.Closer
	}{c.p.reader(rc), rc}, nil
}
