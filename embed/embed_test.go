package embed

import (
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/curbside-health/curbside/internal/web"
)

func testHandler(t *testing.T, index string) (*Handler, *httptest.Server) {
	t.Helper()
	fsys := fstest.MapFS{
		"index.html":           {Data: []byte(index)},
		"sw.js":                {Data: []byte(`const shell = ["__ASSETS__/app.js"];`)},
		"manifest.webmanifest": {Data: []byte(`{"icons":[{"src":"__ASSETS__/icon.png"}]}`)},
		"app.js":               {Data: []byte(strings.Repeat("export const x = 1;\n", 100))},
		"icon.png":             {Data: []byte{0x89, 'P', 'N', 'G'}},
	}
	h, err := New(fsys)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	web.Mount(mux, slog.New(slog.DiscardHandler), nil, h.Routes())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return h, srv
}

func get(t *testing.T, url string, gz bool) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r io.Reader = res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	b, _ := io.ReadAll(r)
	return res, string(b)
}

func TestServesVersionedAssets(t *testing.T) {
	h, srv := testHandler(t, `<script type="module" src="__ASSETS__/app.js"></script>`)
	res, body := get(t, srv.URL+"/", false)
	want := `<script type="module" src="` + strings.TrimSuffix(h.Prefix(), "/") + `/app.js"></script>`
	if res.StatusCode != 200 || body != want || res.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("index: %d %q %q", res.StatusCode, body, res.Header.Get("Cache-Control"))
	}
	res, body = get(t, srv.URL+h.Prefix()+"app.js", true)
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") ||
		res.Header.Get("Content-Encoding") != "gzip" || !strings.HasPrefix(body, "export const x") ||
		!strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("asset: %d %v", res.StatusCode, res.Header)
	}
	if res, _ := get(t, srv.URL+"/assets/0000000000000000/app.js", false); res.StatusCode != 404 {
		t.Fatalf("another version's asset: %d", res.StatusCode)
	}
	if res, _ := get(t, srv.URL+h.Prefix()+"../../etc/passwd", false); res.StatusCode == 200 {
		t.Fatalf("path escape: %d", res.StatusCode)
	}
	res, body = get(t, srv.URL+"/sw.js", false)
	if !strings.Contains(body, h.Prefix()+"app.js") || res.Header.Get("Service-Worker-Allowed") != "/" {
		t.Fatalf("sw.js: %q %v", body, res.Header)
	}
	if res, _ := get(t, srv.URL+"/manifest.webmanifest", false); res.Header.Get("Content-Type") != "application/manifest+json" {
		t.Fatalf("manifest type %q", res.Header.Get("Content-Type"))
	}
	if res, _ := get(t, srv.URL+"/nope.html", false); res.StatusCode != 404 {
		t.Fatalf("unknown root path: %d", res.StatusCode)
	}
}

func TestVersionFollowsContent(t *testing.T) {
	a, _ := testHandler(t, "one")
	b, _ := testHandler(t, "two")
	c, _ := testHandler(t, "one")
	if a.Prefix() == b.Prefix() || a.Prefix() != c.Prefix() {
		t.Fatalf("prefixes %s %s %s", a.Prefix(), b.Prefix(), c.Prefix())
	}
}
