package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/curbside-health/curbside/model"
)

// blobDir is the folder under the data directory that holds attachment
// ciphertext, one file per blob.
const blobDir = "blobs"

func (s *Store) blobPath(id string) string {
	return filepath.Join(filepath.Dir(s.path), blobDir, id)
}

// PutBlob streams at most limit bytes from r into a new blob owned by user.
// The file is written under a temporary name, synced and renamed, and only
// then recorded, so a crash leaves no half blob that the database names.
//
// A blob that would take the user's unexpired blobs past quota is refused
// with a model.ErrLimit refusal: checked before reading (a user already at
// the quota sends nothing to disk), and again, with the blob's real size,
// in the transaction that records it.
func (s *Store) PutBlob(ctx context.Context, user int64, r io.Reader, limit, expiresAt int64, quota model.BlobQuota) (*model.Blob, error) {
	var count int
	var bytes int64
	if err := s.read.QueryRowContext(ctx, stmtBlobUsage, user, nowMS()).Scan(&count, &bytes); err != nil {
		return nil, err
	}
	if err := checkQuota(quota, count, bytes, 0); err != nil {
		return nil, err
	}
	raw := make([]byte, 16)
	rand.Read(raw)
	b := &model.Blob{ID: hex.EncodeToString(raw), User: user, ExpiresAt: expiresAt}
	dir := filepath.Join(filepath.Dir(s.path), blobDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, s.fileFault(err)
	}
	tmp, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return nil, s.fileFault(err)
	}
	defer os.Remove(tmp.Name()) // harmless after the rename
	n, err := io.Copy(tmp, io.LimitReader(r, limit+1))
	if err == nil && n > limit {
		err = model.Refuse(model.ErrTooLarge, "more than %d bytes", limit)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, s.fileFault(err)
	}
	if err := os.Rename(tmp.Name(), s.blobPath(b.ID)); err != nil {
		return nil, s.fileFault(err)
	}
	b.Size = n
	err = s.submit(ctx, func(tx *sql.Tx) error {
		var count int
		var bytes int64
		if err := tx.QueryRow(stmtBlobUsage, user, nowMS()).Scan(&count, &bytes); err != nil {
			return err
		}
		if err := checkQuota(quota, count, bytes, n); err != nil {
			return err
		}
		// The grace for a message to name the blob starts once it is
		// stored, however long the upload took.
		b.CreatedAt = nowMS()
		_, err := tx.Exec(`INSERT INTO blobs (id, user_id, size, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`, b.ID, user, n, b.CreatedAt, b.ExpiresAt)
		return err
	})
	if err != nil {
		os.Remove(s.blobPath(b.ID))
		return nil, err
	}
	return b, nil
}

// fileFault classifies a failure to write an attachment's file: ENOSPC
// is the disk being full, which counts as a failed write and a refusal
// like SQLITE_FULL does (model.ErrStorageFull). Anything else, the reader
// going away included, is returned as it is.
func (s *Store) fileFault(err error) error {
	if err = classify(err); errors.Is(err, model.ErrStorageFull) {
		s.health.failed(err)
		s.health.refusedFull(err)
	}
	return err
}

// stmtBlobUsage counts a user's unexpired blobs and their bytes.
const stmtBlobUsage = `SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs WHERE user_id = ? AND expires_at > ?`

// checkQuota refuses one more blob of size bytes (0: not known yet) beside
// count blobs of used bytes.
func checkQuota(q model.BlobQuota, count int, used, size int64) error {
	switch {
	case q.Count > 0 && count+1 > q.Count:
		return model.Refuse(model.ErrLimit, "you already have %d attachments stored, the most your practice allows; older ones are removed as they expire", count)
	case q.Bytes > 0 && used+size > q.Bytes:
		return model.Refuse(model.ErrLimit, "your stored attachments would take more than the %s your practice allows; older ones are removed as they expire", model.HumanBytes(q.Bytes))
	case q.Bytes > 0 && size == 0 && used >= q.Bytes:
		return model.Refuse(model.ErrLimit, "your stored attachments already take the %s your practice allows; older ones are removed as they expire", model.HumanBytes(q.Bytes))
	}
	return nil
}

// OpenBlob opens an unexpired blob for reading.
func (s *Store) OpenBlob(ctx context.Context, id string) (*model.Blob, io.ReadCloser, error) {
	if !model.ValidBlobID(id) {
		return nil, nil, model.ErrNotFound
	}
	var b model.Blob
	err := s.read.QueryRowContext(ctx, `SELECT id, user_id, size, created_at, expires_at FROM blobs WHERE id = ? AND expires_at > ?`, id, nowMS()).
		Scan(&b.ID, &b.User, &b.Size, &b.CreatedAt, &b.ExpiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, model.ErrNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(s.blobPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, model.ErrNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	return &b, f, nil
}

// SweepBlobs deletes blobs, rows and files: up to batch that expired by
// now, and up to batch that no message referenced and were stored before
// unreferencedBefore (the policy's blob_grace ago). It reports how many of
// each it deleted; a quota counts only the rows left.
func (s *Store) SweepBlobs(ctx context.Context, now, unreferencedBefore int64, batch int) (expired, unreferenced int, err error) {
	var ids []string
	err = s.submit(ctx, func(tx *sql.Tx) error {
		ids = ids[:0]
		var err error
		if ids, err = deleteBlobRows(tx, ids, `DELETE FROM blobs WHERE id IN
			(SELECT id FROM blobs WHERE expires_at <= ? LIMIT ?) RETURNING id`, now, batch); err != nil {
			return err
		}
		expired = len(ids)
		ids, err = deleteBlobRows(tx, ids, `DELETE FROM blobs WHERE id IN
			(SELECT id FROM blobs WHERE referenced = 0 AND created_at < ? LIMIT ?) RETURNING id`, unreferencedBefore, batch)
		unreferenced = len(ids) - expired
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	// The rows are gone first: a blob whose file outlives its row is never
	// served, and one whose removal fails here is only left on disk.
	for _, id := range ids {
		if err := os.Remove(s.blobPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return expired, unreferenced, err
		}
	}
	return expired, unreferenced, nil
}

// deleteBlobRows runs a DELETE … RETURNING id and appends the ids to ids.
func deleteBlobRows(tx *sql.Tx, ids []string, query string, args ...any) ([]string, error) {
	rows, err := tx.Query(query, args...)
	if err != nil {
		return ids, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
