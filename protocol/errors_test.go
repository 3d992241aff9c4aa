package protocol

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"strconv"
	"testing"
)

// TestCatalogueCoversEveryCode reads errors.go and checks that every Code
// constant has a status and words in the catalogue, so a code added
// without them fails here rather than reaching a client as a 500.
func TestCatalogueCoversEveryCode(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(x ast.Node) bool {
		vs, ok := x.(*ast.ValueSpec)
		if !ok || vs.Type == nil || len(vs.Values) != 1 {
			return true
		}
		if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
			return true
		}
		lit := vs.Values[0].(*ast.BasicLit)
		code, _ := strconv.Unquote(lit.Value)
		n++
		info, ok := catalogue[Code(code)]
		if !ok {
			t.Errorf("%s (%q) is not in the catalogue", vs.Names[0].Name, code)
			return true
		}
		if http.StatusText(info.status) == "" || info.message == "" {
			t.Errorf("%s: status %d, message %q", code, info.status, info.message)
		}
		return true
	})
	if n != len(catalogue) || n < 20 {
		t.Fatalf("%d code constants, %d catalogue entries", n, len(catalogue))
	}
	if Code("no_such_code").Status() != http.StatusInternalServerError {
		t.Fatal("an unknown code is not answered as a server fault")
	}
}
