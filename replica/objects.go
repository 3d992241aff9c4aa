package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Objects is where the data directory's files other than the database go
// on the replica: named objects, written whole, read whole, deleted. A name
// is a slash-separated path relative to the replica's files prefix
// ("blobs/ab12…", "certs/acme/…", "secret.key"). There is a directory
// implementation (file:// replicas), an S3 one, and an in-memory one for
// tests, as Litestream has for the database's own client.
type Objects interface {
	// Put stores the size bytes read from r under name, replacing what was
	// there; the object is whole or absent, never half written.
	Put(ctx context.Context, name string, r io.ReadSeeker, size int64) error
	// Get opens name for reading; a missing object is os.ErrNotExist.
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	// Delete removes name; a missing object is not an error.
	Delete(ctx context.Context, name string) error
}

// validName reports whether name is a clean relative slash path, so no
// object can be written or read outside the replica's prefix (a manifest
// from a damaged replica names only what its prefix holds).
func validName(name string) bool {
	return name != "" && !strings.HasPrefix(name, "/") && path.Clean(name) == name &&
		name != ".." && !strings.HasPrefix(name, "../") && !strings.Contains(name, "\\")
}

// dirObjects keeps objects as files under a directory.
type dirObjects struct{ root string }

func (d dirObjects) path(name string) (string, error) {
	if !validName(name) {
		return "", fmt.Errorf("replica: bad object name %q", name)
	}
	return filepath.Join(d.root, filepath.FromSlash(name)), nil
}

func (d dirObjects) Put(ctx context.Context, name string, r io.ReadSeeker, size int64) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return writeFileAtomic(p, r, size)
}

func (d dirObjects) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

func (d dirObjects) Delete(ctx context.Context, name string) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// writeFileAtomic writes size bytes from r to p under a temporary name,
// syncs and renames it, so p is either the old file or the whole new one.
func writeFileAtomic(p string, r io.Reader, size int64) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // harmless after the rename
	n, err := io.Copy(tmp, r)
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("replica: %s: wrote %d bytes, want %d", p, n, size)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return err
	}
	return syncDir(filepath.Dir(p))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// MemObjects is an in-memory Objects, for tests.
type MemObjects struct {
	mu sync.Mutex
	m  map[string][]byte
	// Fail, if set, is returned by every call (an unreachable store).
	Fail error
}

// NewMemObjects returns an empty in-memory store.
func NewMemObjects() *MemObjects { return &MemObjects{m: map[string][]byte{}} }

func (m *MemObjects) Put(ctx context.Context, name string, r io.ReadSeeker, size int64) error {
	if m.Fail != nil {
		return m.Fail
	}
	if !validName(name) {
		return fmt.Errorf("replica: bad object name %q", name)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.m[name] = b
	m.mu.Unlock()
	return nil
}

func (m *MemObjects) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if m.Fail != nil {
		return nil, m.Fail
	}
	m.mu.Lock()
	b, ok := m.m[name]
	m.mu.Unlock()
	if !ok {
		return nil, os.ErrNotExist
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *MemObjects) Delete(ctx context.Context, name string) error {
	if m.Fail != nil {
		return m.Fail
	}
	m.mu.Lock()
	delete(m.m, name)
	m.mu.Unlock()
	return nil
}

// Names lists the objects held, sorted.
func (m *MemObjects) Names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.m))
	for k := range m.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
