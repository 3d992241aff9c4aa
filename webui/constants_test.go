package webui

import (
	"bytes"
	"os"
	"testing"
)

// TestConstantsCurrent fails when the committed constants.js is not what
// the Go constants generate now.
func TestConstantsCurrent(t *testing.T) {
	got, err := os.ReadFile(ConstantsFile)
	if err != nil {
		t.Fatalf("%s: %v; run `go generate ./webui`", ConstantsFile, err)
	}
	if want := Constants(); !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: it differs from what the Go constants generate; run `go generate ./webui` and commit the result", ConstantsFile)
	}
}
