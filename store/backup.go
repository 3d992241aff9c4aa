package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/curbside-health/curbside/model"
)

// What the replica's restore drill reads: the attachments a database names,
// row counts to compare a restored copy with the live one, an audit entry's
// hash to prove the copy is a prefix of the live history, and SQLite's own
// integrity check.

// litestreamMeta is the folder Litestream keeps beside a database it
// replicates (its LTX files waiting to go, its position).
func litestreamMeta(dbPath string) string {
	return filepath.Join(filepath.Dir(dbPath), "."+filepath.Base(dbPath)+"-litestream")
}

// replicated reports whether Litestream has replicated this database: then
// it owns the checkpoints, and a checkpoint of ours that restarts the WAL
// would make it copy the whole database again.
func (s *Store) replicated() bool {
	if s.replicatedOpt {
		return true
	}
	_, err := os.Stat(litestreamMeta(s.path))
	return err == nil
}

// BlobIDs lists the ids of the attachments the database records.
func (s *Store) BlobIDs(ctx context.Context) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id FROM blobs ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// CountedTables are the tables Counts counts, in the order a report shows.
var CountedTables = []string{"users", "devices", "groups", "sessions", "messages", "queue", "blobs", "audit"}

// Counts returns the number of rows of each of CountedTables.
func (s *Store) Counts(ctx context.Context) (map[string]int64, error) {
	out := make(map[string]int64, len(CountedTables))
	for _, t := range CountedTables {
		var n int64
		// The names are the constants above, never input.
		if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("store: count %s: %w", t, err)
		}
		out[t] = n
	}
	return out, nil
}

// AuditHashAt returns the hash of the audit entry seq; model.ErrNotFound
// if there is none (pruned, or not written yet).
func (s *Store) AuditHashAt(ctx context.Context, seq int64) ([]byte, error) {
	var h []byte
	err := s.read.QueryRowContext(ctx, `SELECT hash FROM audit WHERE seq = ?`, seq).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.ErrNotFound
	}
	return h, err
}

// IntegrityCheck runs SQLite's PRAGMA integrity_check and returns its
// findings: nil when the database is sound.
func (s *Store) IntegrityCheck(ctx context.Context) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		if !strings.EqualFold(line, "ok") {
			out = append(out, line)
		}
	}
	return out, rows.Err()
}
