package replica

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func write(t *testing.T, dir, rel, body string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestFileSync: new files go up, deleted ones come down, and what is not
// the replica's (the database, Litestream's state, uploads in progress,
// logs) never goes.
func TestFileSync(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, rel := range []string{"curbside.db", "curbside.db-wal", ".curbside.db-litestream/ltx/0/x.ltx", "blobs/.upload-123", "server.log",
		"secret.key", "certs/acme/site.key", "blobs/aa", "blobs/bb", "drills/drill-1.json"} {
		write(t, dir, rel, "content of "+rel)
	}
	obj := NewMemObjects()
	fs := NewFileSync(dir, obj)
	res, err := fs.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{manifestName, "blobs/aa", "blobs/bb", "certs/acme/site.key", "drills/drill-1.json", "secret.key"}
	if got := obj.Names(); !reflect.DeepEqual(got, want) {
		t.Fatalf("replica holds %v, want %v", got, want)
	}
	if res.Uploaded != 5 || res.Files != 5 {
		t.Errorf("first pass: %+v", res)
	}
	if res, _ := fs.Sync(ctx); res.Uploaded != 0 || res.Deleted != 0 {
		t.Errorf("a pass with nothing new did %+v", res)
	}
	os.Remove(filepath.Join(dir, "blobs", "aa"))
	write(t, dir, "secret.key", "a new key, longer than the old one")
	res, err = fs.Sync(ctx)
	if err != nil || res.Uploaded != 1 || res.Deleted != 1 {
		t.Fatalf("second pass: %+v %v", res, err)
	}
	m, err := ReadManifest(ctx, obj)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Files["blobs/aa"]; ok || len(m.Deleting) != 0 {
		t.Errorf("manifest after a delete: %+v", m)
	}

	// A restore brings back each file with its mode, and refuses one
	// whose content does not match its hash.
	out := t.TempDir()
	if _, _, err := restoreFiles(ctx, obj, m, out, nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "secret.key")); string(b) != "a new key, longer than the old one" {
		t.Errorf("restored secret.key: %q", b)
	}
	obj.m["certs/acme/site.key"] = []byte("tampered")
	if _, _, err := restoreFiles(ctx, obj, m, t.TempDir(), nil); err == nil {
		t.Error("a damaged file restored without complaint")
	}
}

// TestFileSyncFailure: an unreachable store fails the pass and the next
// pass, once it is back, catches up.
func TestFileSyncFailure(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write(t, dir, "blobs/cc", "x")
	obj := NewMemObjects()
	obj.Fail = os.ErrDeadlineExceeded
	fs := NewFileSync(dir, obj)
	if _, err := fs.Sync(ctx); err == nil {
		t.Fatal("sync to an unreachable store succeeded")
	}
	obj.Fail = nil
	if res, err := fs.Sync(ctx); err != nil || res.Files != 1 {
		t.Fatalf("after recovery: %+v %v", res, err)
	}
}

func TestSyncedAndNames(t *testing.T) {
	for rel, want := range map[string]bool{"secret.key": true, "certs/a/b": true, "blobs/ab": true, "curbside.db": false, "curbside.db-shm": false,
		"curbside.db.tmp": false, ".curbside.db-litestream/x": false, "blobs/.upload-1": false, "server.log": false} {
		if Synced(rel) != want {
			t.Errorf("Synced(%q) = %v", rel, !want)
		}
	}
	for name, want := range map[string]bool{"blobs/ab": true, "../etc/passwd": false, "/abs": false, "a/../../b": false, "": false, "a\\b": false} {
		if validName(name) != want {
			t.Errorf("validName(%q) = %v", name, !want)
		}
	}
	if got := Redact("s3://b/p?endpoint=http://x&sse-customer-key=SECRET"); got == "" || strings.Contains(got, "SECRET") {
		t.Errorf("Redact kept the key: %s", got)
	}
}
