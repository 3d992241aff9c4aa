package bench

import (
	"context"
	"testing"
)

// TestRestoreSmoke runs the restore-and-drill figures on an 8 MiB
// database, so the harness is known to work without the 1 GB run.
func TestRestoreSmoke(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := SynthDB(ctx, dir, 8<<20); err != nil {
		t.Fatal(err)
	}
	res, err := TimeRestore(ctx, dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !res.DrillOK || res.DBBytes < 8<<20 {
		t.Fatalf("restore of the synthetic database: %+v", res)
	}
}
