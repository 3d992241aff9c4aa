package webui

import (
	"io/fs"
	"path"
	"regexp"
	"strings"
	"testing"
)

// staticImport matches the specifier of a static import or export … from
// statement, once block comments (whose JSDoc examples import by package
// name) are taken out by blockComment.
var (
	staticImport = regexp.MustCompile(`(?m)^\s*(?:import|export)\b[^;"]*?\bfrom\s*"([^"]+)"`)
	blockComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
)

// TestImportsResolveInEmbed: every static import of every served module,
// the vendored packages' included, names a file that is in the embedded
// app. The browser resolves nothing else under the CSP (no import map), and
// go:embed silently leaves out files whose names start with "_" or ".",
// so a vendored file that kept such a name would load in a test server
// that reads the folder and fail in the real binary.
func TestImportsResolveInEmbed(t *testing.T) {
	app := App()
	checked := 0
	err := fs.WalkDir(app, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".mjs")) || p == "sw.js" {
			return err
		}
		src, err := fs.ReadFile(app, p)
		if err != nil {
			return err
		}
		for _, m := range staticImport.FindAllStringSubmatch(blockComment.ReplaceAllString(string(src), ""), -1) {
			spec := m[1]
			if !strings.HasPrefix(spec, "./") && !strings.HasPrefix(spec, "../") {
				t.Errorf("%s imports %q: a bare specifier, which the browser cannot resolve without an import map", p, spec)
				continue
			}
			target := path.Join(path.Dir(p), spec)
			if _, err := fs.Stat(app, target); err != nil {
				t.Errorf("%s imports %q: %s is not in the embedded app", p, spec, target)
			}
			checked++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The X-Wing package's graph (mlkem, @hpke/dhkem-x25519) is part of it.
	for _, f := range []string{"vendor/mlkem@2.7.0/esm/dnt.shims.js", "vendor/mlkem@2.7.0/esm/src/sha3/u64.js", "js/xwing.js"} {
		if _, err := fs.Stat(app, f); err != nil {
			t.Errorf("%s is not embedded", f)
		}
	}
	if checked < 100 {
		t.Fatalf("only %d imports checked; the pattern no longer matches the modules", checked)
	}
}
