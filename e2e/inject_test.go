package e2e

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"
)

// injectDevice writes an active device for user straight into the
// database, as a compromised server could, without any signed list naming
// it.
func injectDevice(t *testing.T, dir string, user int64) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "curbside.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = db.ExecContext(context.Background(), `INSERT INTO devices (id, user_id, name, enc_key, sign_key, created_at, last_seen)
		VALUES (4242, ?, 'injected', zeroblob(32), zeroblob(32), 0, 0)`, user)
	if err != nil {
		t.Fatal(err)
	}
}
