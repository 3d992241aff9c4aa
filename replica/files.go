package replica

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/curbside-health/curbside/store"
)

// manifestName is the object that lists the files the replica holds.
const manifestName = "MANIFEST.json"

// maxUploadsPerWrite bounds the uploads between two writes of the
// manifest, so a crash during a long first sync loses little of the record.
const maxUploadsPerWrite = 256

// Manifest lists the data directory's files on the replica. It is written
// after the objects it names are stored, and before the objects it no
// longer names are deleted (their names wait in Deleting until they are),
// so it never names an object that is not there.
type Manifest struct {
	Version  int                  `json:"version"`
	Updated  int64                `json:"updated"` // ms
	Files    map[string]FileEntry `json:"files"`
	Deleting []string             `json:"deleting,omitempty"`
}

// FileEntry is one file of the manifest.
type FileEntry struct {
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime"` // ns since the epoch, of the local file when it was stored
	Mode    uint32 `json:"mode"`  // permission bits
	SHA256  string `json:"sha256"`
}

// Synced reports whether a path of the data directory (slash-separated,
// relative) goes to the replica. Everything does except the database and
// its WAL and shared memory (Litestream replicates those), hidden files and
// folders (Litestream's own state, uploads in progress), logs, and
// temporary files: so a file a later version adds to the data directory is
// backed up without a change here. The blobs are already ciphertext and
// are copied as they are.
func Synced(rel string) bool {
	first, _, _ := strings.Cut(rel, "/")
	switch {
	case first == store.DBFile || strings.HasPrefix(first, store.DBFile+"-") || strings.HasPrefix(first, store.DBFile+"."):
		return false
	case first == "lost+found":
		return false
	}
	for _, part := range strings.Split(rel, "/") {
		if strings.HasPrefix(part, ".") {
			return false
		}
	}
	return !strings.HasSuffix(rel, ".log") && !strings.HasSuffix(rel, ".tmp")
}

// immutable reports whether files under rel never change once written
// (blobs), so a sync need not stat them again.
func immutable(rel string) bool { return strings.HasPrefix(rel, "blobs/") }

// FileSync copies the data directory's files to the replica's Objects and
// deletes there what was deleted here. One pass is Sync; the replicator
// runs it on the sync interval.
type FileSync struct {
	dir string
	obj Objects

	mu  sync.Mutex // one pass at a time
	man *Manifest  // nil until read from the replica
}

// NewFileSync returns a sync of dir's files to obj.
func NewFileSync(dir string, obj Objects) *FileSync { return &FileSync{dir: dir, obj: obj} }

// SyncResult is what one pass did.
type SyncResult struct {
	Uploaded, Deleted int
	Bytes             int64 // uploaded
	Files             int   // on the replica after the pass
}

// Sync makes the replica's files match the data directory's.
func (f *FileSync) Sync(ctx context.Context) (SyncResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var res SyncResult
	dirty := false
	if f.man == nil {
		m, err := ReadManifest(ctx, f.obj)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return res, err
		}
		if m == nil {
			// A new replica gets its manifest at once, empty or not, so
			// a restore can tell "no files" from "not synced yet".
			m, dirty = &Manifest{Version: 1, Files: map[string]FileEntry{}}, true
		}
		f.man = m
	}
	m := f.man
	local := map[string]bool{}
	var changed []string
	err := filepath.WalkDir(f.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil // gone while we walked (a swept blob)
			}
			return err
		}
		rel, _ := filepath.Rel(f.dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if !Synced(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		local[rel] = true
		e, ok := m.Files[rel]
		if ok && immutable(rel) {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, os.ErrNotExist) {
			delete(local, rel)
			return nil
		} else if err != nil {
			return err
		}
		if !ok || e.Size != info.Size() || e.ModTime != info.ModTime().UnixNano() || e.Mode != uint32(info.Mode().Perm()) {
			changed = append(changed, rel)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("replica: read the data directory: %w", err)
	}
	sort.Strings(changed)
	for i, rel := range changed {
		e, n, err := f.upload(ctx, rel, m.Files[rel])
		if errors.Is(err, os.ErrNotExist) {
			delete(local, rel)
			continue
		}
		if err != nil {
			return res, err
		}
		m.Files[rel] = e
		dirty = true
		if n > 0 {
			res.Uploaded++
			res.Bytes += n
		}
		if (i+1)%maxUploadsPerWrite == 0 {
			if err := f.writeManifest(ctx); err != nil {
				return res, err
			}
			dirty = false
		}
	}
	for rel := range m.Files {
		if !local[rel] {
			delete(m.Files, rel)
			m.Deleting = append(m.Deleting, rel)
			dirty = true
		}
	}
	if dirty {
		if err := f.writeManifest(ctx); err != nil {
			return res, err
		}
	}
	if len(m.Deleting) > 0 {
		sort.Strings(m.Deleting)
		for _, rel := range m.Deleting {
			if err := f.obj.Delete(ctx, rel); err != nil {
				return res, err
			}
			res.Deleted++
		}
		m.Deleting = nil
		if err := f.writeManifest(ctx); err != nil {
			return res, err
		}
	}
	res.Files = len(m.Files)
	return res, nil
}

// upload stores one file and returns its entry and the bytes sent (0 when
// only its time or mode changed, not its content).
func (f *FileSync) upload(ctx context.Context, rel string, old FileEntry) (FileEntry, int64, error) {
	fh, err := os.Open(filepath.Join(f.dir, filepath.FromSlash(rel)))
	if err != nil {
		return FileEntry{}, 0, err
	}
	defer fh.Close()
	info, err := fh.Stat()
	if err != nil {
		return FileEntry{}, 0, err
	}
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return FileEntry{}, 0, err
	}
	e := FileEntry{Size: n, ModTime: info.ModTime().UnixNano(), Mode: uint32(info.Mode().Perm()), SHA256: hex.EncodeToString(h.Sum(nil))}
	if e.SHA256 == old.SHA256 && e.Size == old.Size {
		return e, 0, nil
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return FileEntry{}, 0, err
	}
	if err := f.obj.Put(ctx, rel, io.NewSectionReader(fh, 0, n), n); err != nil {
		return FileEntry{}, 0, err
	}
	return e, n, nil
}

func (f *FileSync) writeManifest(ctx context.Context) error {
	f.man.Updated = time.Now().UnixMilli()
	b, err := json.Marshal(f.man)
	if err != nil {
		return err
	}
	return f.obj.Put(ctx, manifestName, bytes.NewReader(b), int64(len(b)))
}

// ReadManifest reads the replica's manifest; a replica with none is
// os.ErrNotExist.
func ReadManifest(ctx context.Context, obj Objects) (*Manifest, error) {
	r, err := obj.Get(ctx, manifestName)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(r, 1<<30)).Decode(&m); err != nil {
		return nil, fmt.Errorf("replica: the manifest of files is damaged: %w", err)
	}
	if m.Files == nil {
		m.Files = map[string]FileEntry{}
	}
	for name := range m.Files {
		if !validName(name) || !Synced(name) {
			return nil, fmt.Errorf("replica: the manifest names %q, which is not a data directory file", name)
		}
	}
	return &m, nil
}

// restoreFiles writes every file the manifest lists into dir, checking
// each one's size and SHA-256, and reports how many and their bytes.
func restoreFiles(ctx context.Context, obj Objects, m *Manifest, dir string, prog *Progress) (int, int64, error) {
	names := make([]string, 0, len(m.Files))
	for name := range m.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	var total int64
	for _, name := range names {
		e := m.Files[name]
		if err := restoreFile(ctx, obj, name, e, dir, prog); err != nil {
			return 0, total, err
		}
		total += e.Size
		prog.file()
	}
	return len(names), total, nil
}

func restoreFile(ctx context.Context, obj Objects, name string, e FileEntry, dir string, prog *Progress) error {
	r, err := obj.Get(ctx, name)
	if err != nil {
		return fmt.Errorf("replica: file %s is listed but cannot be read: %w", name, err)
	}
	defer r.Close()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	h := sha256.New()
	if err := writeFileAtomic(p, io.TeeReader(prog.reader(r), h), e.Size); err != nil {
		return fmt.Errorf("replica: file %s: %w", name, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != e.SHA256 {
		os.Remove(p)
		return fmt.Errorf("replica: file %s is damaged: its SHA-256 is %s, the manifest says %s", name, got, e.SHA256)
	}
	mode := os.FileMode(e.Mode) & 0o777
	if mode == 0 {
		mode = 0o600
	}
	if err := os.Chmod(p, mode); err != nil {
		return err
	}
	t := time.Unix(0, e.ModTime)
	return os.Chtimes(p, t, t)
}

// blobName is the manifest name of an attachment blob.
func blobName(id string) string { return path.Join("blobs", id) }
