package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/curbside-health/curbside/model"
)

// putBlob uploads a small blob for user that expires in an hour.
func putBlob(t *testing.T, s *Store, user int64, quota model.BlobQuota) (*model.Blob, error) {
	t.Helper()
	return s.PutBlob(context.Background(), user, strings.NewReader("ciphertext of an attachment"), 1<<20, time.Now().Add(time.Hour).UnixMilli(), quota)
}

func mustPutBlob(t *testing.T, s *Store, user int64) string {
	t.Helper()
	b, err := putBlob(t, s, user, model.BlobQuota{})
	if err != nil {
		t.Fatal(err)
	}
	return b.ID
}

// blobStored reports whether a blob's row can be opened and whether its
// file is on disk.
func blobStored(t *testing.T, s *Store, id string) (row, file bool) {
	t.Helper()
	_, f, err := s.OpenBlob(context.Background(), id)
	switch {
	case err == nil:
		f.Close()
		row = true
	case !errors.Is(err, model.ErrNotFound):
		t.Fatal(err)
	}
	_, err = os.Stat(s.blobPath(id))
	return row, err == nil
}

// sweepBlobs sweeps with the grace over for blobs stored before cutoff.
func sweepBlobs(t *testing.T, s *Store, cutoff time.Time) (expired, unreferenced int) {
	t.Helper()
	expired, unreferenced, err := s.SweepBlobs(context.Background(), time.Now().UnixMilli(), cutoff.UnixMilli(), 100)
	if err != nil {
		t.Fatal(err)
	}
	return expired, unreferenced
}

// TestBlobGrace: a blob a message names outlives the grace; a blob no
// message names is kept within the grace and deleted, row and file, after
// it.
func TestBlobGrace(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	alice, bob := addUser(t, s, "alice"), addUser(t, s, "bob")
	addDevice(t, s, bob, 21)
	sent, parked := mustPutBlob(t, s, alice), mustPutBlob(t, s, alice)
	m := newMsg("BLOBGRACE00000000001", alice, 11, []int64{bob}, []int64{21})
	m.Env.Blobs = []string{sent}
	if _, err := s.Accept(ctx, m); err != nil {
		t.Fatal(err)
	}

	// Within the grace (every blob stored after the cutoff), both stay.
	if exp, unref := sweepBlobs(t, s, time.Now().Add(-time.Hour)); exp+unref != 0 {
		t.Fatalf("within the grace: %d expired, %d unreferenced deleted", exp, unref)
	}
	for _, id := range []string{sent, parked} {
		if row, file := blobStored(t, s, id); !row || !file {
			t.Fatalf("blob %s within the grace: row %v, file %v", id, row, file)
		}
	}

	// Past the grace, the parked one goes, row and file; the sent one stays.
	if exp, unref := sweepBlobs(t, s, time.Now().Add(time.Hour)); exp != 0 || unref != 1 {
		t.Fatalf("past the grace: %d expired, %d unreferenced deleted, want 0 and 1", exp, unref)
	}
	if row, file := blobStored(t, s, parked); row || file {
		t.Fatalf("parked blob past the grace: row %v, file %v", row, file)
	}
	if row, file := blobStored(t, s, sent); !row || !file {
		t.Fatalf("sent blob past the grace: row %v, file %v", row, file)
	}
	// A referenced blob still ends at its expiry.
	if exp, unref, err := s.SweepBlobs(ctx, time.Now().Add(2*time.Hour).UnixMilli(), time.Now().UnixMilli(), 100); err != nil || exp != 1 || unref != 0 {
		t.Fatalf("at expiry: %d expired, %d unreferenced, %v", exp, unref, err)
	}
	if row, file := blobStored(t, s, sent); row || file {
		t.Fatalf("sent blob past its expiry: row %v, file %v", row, file)
	}
}

// TestAcceptRefusesBlobsNotTheSenders: a message naming another user's
// blob, an unknown id or an expired blob of the sender is refused whole
// with ErrBlobGone, and the other user's blob does not become referenced.
func TestAcceptRefusesBlobsNotTheSenders(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	alice, bob := addUser(t, s, "alice"), addUser(t, s, "bob")
	addDevice(t, s, bob, 21)
	own, bobs := mustPutBlob(t, s, alice), mustPutBlob(t, s, bob)
	expired, err := s.PutBlob(ctx, alice, strings.NewReader("old"), 1<<20, time.Now().Add(-time.Second).UnixMilli(), model.BlobQuota{})
	if err != nil {
		t.Fatal(err)
	}
	for name, ids := range map[string][]string{
		"another user's blob": {own, bobs},
		"an unknown id":       {strings.Repeat("ab", 16)},
		"an expired blob":     {expired.ID},
	} {
		m := newMsg("BLOBREFUSED000000001", alice, 11, []int64{bob}, []int64{21})
		m.Env.Blobs = ids
		if _, err := s.Accept(ctx, m); !errors.Is(err, model.ErrBlobGone) || model.ReasonOf(err, "") == "" {
			t.Errorf("%s: %v, want ErrBlobGone with a reason", name, err)
		}
	}
	if items, err := s.Pending(ctx, 21, 0, 10); err != nil || len(items) != 0 {
		t.Fatalf("a refused message was queued: %d items, %v", len(items), err)
	}
	// Nothing of the refused sends stuck: the id is free, and neither
	// alice's blob nor bob's was marked referenced by them.
	if _, err := s.Accept(ctx, newMsg("BLOBREFUSED000000001", alice, 11, []int64{bob}, []int64{21})); err != nil {
		t.Fatalf("the id after the refusals: %v", err)
	}
	if _, unref := sweepBlobs(t, s, time.Now().Add(time.Hour)); unref != 2 {
		t.Fatalf("%d unreferenced blobs swept, want alice's and bob's", unref)
	}
	for _, id := range []string{own, bobs} {
		if row, _ := blobStored(t, s, id); row {
			t.Errorf("blob %s was kept: a refused message referenced it", id)
		}
	}
}

// TestAcceptBlobsInABatch: messages accepted together in one group commit
// each mark their own blobs, and one that names a blob not its sender's
// fails alone.
func TestAcceptBlobsInABatch(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	alice, bob := addUser(t, s, "alice"), addUser(t, s, "bob")
	addDevice(t, s, bob, 21)
	bobs := mustPutBlob(t, s, bob)
	const n = 8
	ids := make([]string, n)
	errs := make(chan error, n)
	results := make([]error, n)
	for i := range n {
		ids[i] = mustPutBlob(t, s, alice)
		m := newMsg(fmt.Sprintf("BLOBBATCH%011d", i), alice, 11, []int64{bob}, []int64{21})
		m.Env.Blobs = []string{ids[i]}
		if i == n/2 {
			m.Env.Blobs = append(m.Env.Blobs, bobs)
		}
		if err := s.AcceptAsync(ctx, m, func(_ model.AcceptResult, err error) { results[i] = err; errs <- err }); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		<-errs
	}
	for i, err := range results {
		if want := i == n/2; errors.Is(err, model.ErrBlobGone) != want || (!want && err != nil) {
			t.Errorf("message %d: %v", i, err)
		}
	}
	sweepBlobs(t, s, time.Now().Add(time.Hour))
	for i, id := range ids {
		if row, _ := blobStored(t, s, id); row != (i != n/2) {
			t.Errorf("blob of message %d: stored %v after the sweep", i, row)
		}
	}
}

// TestBlobQuotaAfterSweep: blobs the sweep deletes no longer count against
// their uploader's quota.
func TestBlobQuotaAfterSweep(t *testing.T) {
	s, _ := openTest(t)
	alice := addUser(t, s, "alice")
	quota := model.BlobQuota{Count: 2}
	for range 2 {
		if _, err := putBlob(t, s, alice, quota); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := putBlob(t, s, alice, quota); !errors.Is(err, model.ErrLimit) {
		t.Fatalf("a third blob over a quota of 2: %v", err)
	}
	sweepBlobs(t, s, time.Now().Add(time.Hour))
	if _, err := putBlob(t, s, alice, quota); err != nil {
		t.Fatalf("after the parked blobs were swept: %v", err)
	}
}
