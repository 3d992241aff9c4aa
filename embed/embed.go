// Package embed serves Curbside's web assets (the PWA and, later, the
// admin console) from an fs.FS compiled into the binary.
//
// Every asset is served under /assets/<version>/, where version is a hash
// of all the assets: the path changes whenever any file does, so assets can
// be cached forever (immutable) and relative imports between ES modules
// keep working with no build step. The few documents that must keep a fixed
// URL (/, /sw.js, /manifest.webmanifest) are served with no-cache and have
// the literal __ASSETS__ replaced by the versioned prefix.
package embed

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/curbside-health/curbside/internal/web"
)

// Placeholder is replaced by the versioned asset prefix in root documents.
const Placeholder = "__ASSETS__"

// rootDocs are served at fixed URLs: URL path → file in the FS.
var rootDocs = map[string]string{
	"/":                     "index.html",
	"/sw.js":                "sw.js",
	"/manifest.webmanifest": "manifest.webmanifest",
	"/admin/":               "admin/index.html", // the admin console
	"/welcome":              "welcome.html",     // invitation and first-run set-up
}

type asset struct {
	body  []byte
	ctype string

	// The gzip form is made on first request, not at start-up: compressing
	// every asset would add a tenth of a second to each start.
	gzOnce sync.Once
	gz     []byte // nil when compressing does not pay
}

func (a *asset) gzipped() []byte {
	a.gzOnce.Do(func() {
		if !compressible(a.ctype) || len(a.body) <= 512 {
			return
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(a.body)
		zw.Close()
		if buf.Len() < len(a.body)*9/10 {
			a.gz = buf.Bytes()
		}
	})
	return a.gz
}

// Handler serves the assets of one FS.
type Handler struct {
	prefix string // "/assets/<version>/"
	assets map[string]*asset
	roots  map[string]*asset
}

// New reads every file of fsys and prepares it for serving.
func New(fsys fs.FS) (*Handler, error) {
	files := map[string][]byte{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		files[p] = b
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("embed: read assets: %w", err)
	}
	if _, ok := files["index.html"]; !ok {
		return nil, fmt.Errorf("embed: the assets have no index.html")
	}
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, p := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(files[p]))
		h.Write(files[p])
	}
	version := hex.EncodeToString(h.Sum(nil))[:16]
	s := &Handler{prefix: "/assets/" + version + "/", assets: map[string]*asset{}, roots: map[string]*asset{}}
	for p, b := range files {
		s.assets[p] = newAsset(p, b)
	}
	for url, file := range rootDocs {
		if b, ok := files[file]; ok {
			s.roots[url] = newAsset(file, bytes.ReplaceAll(b, []byte(Placeholder), []byte(strings.TrimSuffix(s.prefix, "/"))))
		}
	}
	return s, nil
}

func newAsset(name string, body []byte) *asset {
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".webmanifest":
		ctype = "application/manifest+json"
	case ".mjs", ".js":
		ctype = "text/javascript; charset=utf-8"
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	return &asset{body: body, ctype: ctype}
}

func compressible(ctype string) bool {
	for _, p := range []string{"text/", "application/javascript", "application/json", "application/manifest+json", "image/svg+xml"} {
		if strings.HasPrefix(ctype, p) {
			return true
		}
	}
	return false
}

// Prefix returns the versioned asset path, e.g. "/assets/0123abcd/".
func (s *Handler) Prefix() string { return s.prefix }

// Routes lists the asset routes: the versioned assets and the pages (the
// app, the console, the welcome page) that load them. All are public.
func (s *Handler) Routes() []web.Route {
	rs := []web.Route{{Pattern: "GET /assets/", Access: web.Public, Handler: http.HandlerFunc(s.serveAsset)}}
	roots := make([]string, 0, len(s.roots))
	for url := range s.roots {
		roots = append(roots, url)
	}
	sort.Strings(roots)
	for _, url := range roots {
		if strings.HasSuffix(url, "/") {
			rs = append(rs, web.Route{Pattern: "GET " + url + "{$}", Access: web.Public, Handler: http.HandlerFunc(s.serveRoot)})
			if url != "/" {
				rs = append(rs, web.Route{Pattern: "GET " + strings.TrimSuffix(url, "/"), Access: web.Public,
					Handler: http.RedirectHandler(url, http.StatusMovedPermanently)})
			}
		} else {
			rs = append(rs, web.Route{Pattern: "GET " + url, Access: web.Public, Handler: http.HandlerFunc(s.serveRoot)})
		}
	}
	return rs
}

func (s *Handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, s.prefix)
	a := s.assets[name]
	if !ok || a == nil {
		// An old version's asset is not served as the new one: a page
		// that asks for it reloads rather than mixing versions.
		http.Error(w, "no such asset", http.StatusNotFound)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	write(w, r, a)
}

func (s *Handler) serveRoot(w http.ResponseWriter, r *http.Request) {
	a := s.roots[r.URL.Path]
	if a == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	if r.URL.Path == "/sw.js" {
		w.Header().Set("Service-Worker-Allowed", "/")
	}
	write(w, r, a)
}

func write(w http.ResponseWriter, r *http.Request, a *asset) {
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Add("Vary", "Accept-Encoding")
	body := a.body
	if acceptsGzip(r) {
		if gz := a.gzipped(); gz != nil {
			h.Set("Content-Encoding", "gzip")
			body = gz
		}
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if strings.TrimSpace(strings.SplitN(part, ";", 2)[0]) == "gzip" {
			return true
		}
	}
	return false
}
