package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/curbside-health/curbside/model"
)

// logBuf is a log handler's output, safe to read while the store writes.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the lines that contain every one of want.
func (l *logBuf) lines(want ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, ln := range strings.Split(l.b.String(), "\n") {
		for _, w := range want {
			if !strings.Contains(ln, w) {
				continue next
			}
		}
		out = append(out, ln)
	}
	return out
}

// setMaxPages caps the database at n pages (0: its size now), so that a
// write needing one more page fails with SQLITE_FULL as on a full disk.
func setMaxPages(t *testing.T, s *Store, n int64) {
	t.Helper()
	err := s.submit(context.Background(), func(tx *sql.Tx) error {
		if n == 0 {
			if err := tx.QueryRow(`PRAGMA page_count`).Scan(&n); err != nil {
				return err
			}
		}
		_, err := tx.Exec(fmt.Sprintf(`PRAGMA max_page_count = %d`, n))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func bigMsg(id string, from, fromDev, to, toDev int64) *model.NewMessage {
	m := newMsg(id, from, fromDev, []int64{to}, []int64{toDev})
	m.Raw = bytes.Repeat([]byte(id[:1]), 64<<10)
	sum := sha256.Sum256(m.Raw)
	m.Digest = sum[:]
	return m
}

// A write the disk cannot hold (SQLite's SQLITE_FULL, here from a page cap)
// is refused with model.ErrStorageFull around SQLite's own error; the
// store's writes are failing, with Full set; the refusals are logged in
// one ERROR line with their count, not one each; and once there is room
// the same write succeeds, the health recovers and a line says how many
// were refused.
func TestStorageFullIsRecognisedAndRecovers(t *testing.T) {
	logs := &logBuf{}
	s, err := Open(context.Background(), t.TempDir(), Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	alice, bob := addUser(t, s, "alice"), addUser(t, s, "bob")
	addDevice(t, s, alice, 1)
	addDevice(t, s, bob, 2)
	select { // drain: nothing has changed yet
	case <-s.WriteHealthChanged():
		t.Fatal("health changed before any write failed")
	default:
	}

	setMaxPages(t, s, 0)
	const refusals = 5
	for i := range refusals {
		_, err := s.Accept(ctx, bigMsg(fmt.Sprintf("full-%02d-xxxxxxxxxxxx", i), alice, 1, bob, 2))
		if !errors.Is(err, model.ErrStorageFull) {
			t.Fatalf("accept on a full database: %v, want ErrStorageFull", err)
		}
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_FULL {
			t.Fatalf("the cause %v is not SQLite's SQLITE_FULL", err)
		}
	}
	h := s.WriteHealth()
	if !h.Failing() || !h.Full || h.Refused != refusals || h.Since.IsZero() {
		t.Fatalf("health after refusals: failing %v full %v refused %d since %v", h.Failing(), h.Full, h.Refused, h.Since)
	}
	select {
	case <-s.WriteHealthChanged():
	default:
		t.Fatal("the first failure did not signal a change of health")
	}
	if got := logs.lines("level=ERROR", "writes refused: the disk is full"); len(got) != 1 || !strings.Contains(got[0], "refused=1 ") {
		t.Fatalf("ERROR lines for %d refusals within a minute: %q, want one with refused=1", refusals, got)
	}

	// An empty transaction commits even on a full disk: it is no sign of
	// recovery.
	if err := s.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if !s.WriteHealth().Failing() {
		t.Fatal("an empty transaction counted as a recovered write")
	}

	setMaxPages(t, s, 1<<30)
	if _, err := s.Accept(ctx, bigMsg("full-00-xxxxxxxxxxxx", alice, 1, bob, 2)); err != nil {
		t.Fatalf("accept once there is room: %v", err)
	}
	if h := s.WriteHealth(); h.Failing() || h.Refused != 0 {
		t.Fatalf("health after recovery: failing %v refused %d", h.Failing(), h.Refused)
	}
	select {
	case <-s.WriteHealthChanged():
	default:
		t.Fatal("the recovery did not signal a change of health")
	}
	if got := logs.lines("level=INFO", "writes succeed again", fmt.Sprintf("refused=%d ", refusals)); len(got) != 1 {
		t.Fatalf("no recovery line with refused=%d:\n%s", refusals, strings.Join(logs.lines("store:"), "\n"))
	}
	if items, err := s.Pending(ctx, 2, 0, 10); err != nil || len(items) != 1 {
		t.Fatalf("bob's queue after recovery: %d items, %v", len(items), err)
	}
}

// The refusal line is written once a window: the first refusal at once,
// the rest of the window together when it ends, with their count and the
// outage's total.
func TestStorageFullLogOncePerWindow(t *testing.T) {
	logs := &logBuf{}
	h := newWriteHealth(slog.New(slog.NewTextHandler(logs, nil)))
	now := time.Unix(1000, 0)
	h.now = func() time.Time { return now }
	h.every = time.Hour // the timer never fires during the test; flushFull stands in for it
	cause := fmt.Errorf("%w: %w", model.ErrStorageFull, syscall.ENOSPC)
	for range 7 {
		h.refusedFull(cause)
	}
	if got := logs.lines("writes refused"); len(got) != 1 || !strings.Contains(got[0], "refused=1 ") {
		t.Fatalf("after 7 refusals in a window: %q", got)
	}
	h.flushFull(cause) // the window ends
	got := logs.lines("writes refused")
	if len(got) != 2 || !strings.Contains(got[1], "refused=6 ") || !strings.Contains(got[1], "refused_total=7 ") {
		t.Fatalf("at the end of the window: %q", got)
	}
	h.flushFull(cause) // nothing more to say
	now = now.Add(2 * time.Hour)
	h.refusedFull(cause)
	if got := logs.lines("writes refused"); len(got) != 3 || !strings.Contains(got[2], "refused_total=8 ") {
		t.Fatalf("a refusal in a later window: %q", got)
	}
	h.ok()
	if got := logs.lines("writes succeed again", "refused=8 "); len(got) != 1 {
		t.Fatalf("no recovery line with the outage's count: %q", logs.lines(""))
	}
	h.stop()
}

// A full disk is recognised by SQLite's result code or the system's errno,
// however it is wrapped, and never by the words of an error.
func TestDiskFullClassification(t *testing.T) {
	s, _ := openTest(t)
	// A real SQLite error of another kind: a constraint.
	constraint := s.submit(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO users (id) VALUES (NULL), (1), (1)`)
		return err
	})
	var se *sqlite.Error
	if !errors.As(constraint, &se) {
		t.Fatalf("expected a SQLite error, got %v", constraint)
	}
	tests := []struct {
		name string
		err  error
		full bool
	}{
		{"ENOSPC writing a file", &fs.PathError{Op: "write", Path: "blobs/x", Err: syscall.ENOSPC}, true},
		{"ENOSPC wrapped", fmt.Errorf("upload: %w", &os.LinkError{Op: "rename", Err: syscall.ENOSPC}), true},
		{"already classified", fmt.Errorf("%w: %w", model.ErrStorageFull, syscall.ENOSPC), true},
		{"the words alone", errors.New("database or disk is full (13)"), false},
		{"ENOSPC's words alone", errors.New("no space left on device"), false},
		{"another errno", &fs.PathError{Op: "write", Err: syscall.EIO}, false},
		{"another SQLite code", constraint, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.err)
			if errors.Is(got, model.ErrStorageFull) != tt.full {
				t.Fatalf("classify(%v) = %v: storage full %v, want %v", tt.err, got, !tt.full, tt.full)
			}
			if tt.err != nil && !errors.Is(got, tt.err) {
				t.Fatalf("classify(%v) lost its cause", tt.err)
			}
		})
	}
}
