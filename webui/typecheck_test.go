package webui

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"
)

// TestEveryModuleIsChecked: tsc (webui/tsconfig.json) checks only the
// modules that opt in with // @ts-check, so that the vendored packages are
// read for their types but not checked. Every module of the app must opt
// in; a new one without the line would go unchecked.
func TestEveryModuleIsChecked(t *testing.T) {
	app := App()
	n := 0
	err := fs.WalkDir(app, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p == "vendor" {
			return fs.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".js") {
			return nil
		}
		b, err := fs.ReadFile(app, p)
		if err != nil {
			return err
		}
		n++
		head, _, _ := bytes.Cut(b, []byte("\n\n"))
		if !bytes.Contains(append(head, '\n'), []byte("// @ts-check\n")) {
			t.Errorf("%s has no // @ts-check in its opening comment, so tsc does not check it", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("found only %d modules; is the app embedded?", n)
	}
}
