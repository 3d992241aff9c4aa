package replica

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/litestream/file"
	"github.com/curbside-health/curbside/store"
)

// putFails is a store that reads but refuses writes.
type putFails struct{ Objects }

func (putFails) Put(context.Context, string, io.ReadSeeker, int64) error {
	return errors.New("the replica's storage refuses writes")
}

// TestStatusAfterRestart: a server restarted while its replica fails
// reports the replica's age from what the replica holds, not from the
// start, and its oldest history for the drill schedule.
func TestStatusAfterRestart(t *testing.T) {
	ctx := context.Background()
	dir, rdir := t.TempDir(), t.TempDir()
	st, err := store.Open(ctx, dir, store.Options{Replicated: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Audit(ctx, &store.AuditEntry{Action: "user.create", Target: "alice"}); err != nil {
		t.Fatal(err)
	}
	first, err := Start(ctx, dir, Options{URL: "file://" + rdir, SyncInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	s1 := first.Status()
	if !s1.InSync || s1.Created == 0 || s1.LastSync == 0 {
		t.Fatalf("after a sync: %+v", s1)
	}
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	synced := time.Now()

	t2 := &Target{URL: "file://" + rdir, DB: file.NewReplicaClient(filepath.Join(rdir, dbPrefix)), Files: putFails{dirObjects{root: filepath.Join(rdir, filesPrefix)}}}
	if err := st.Audit(ctx, &store.AuditEntry{Action: "user.create", Target: "bob"}); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "blobs/ab12", "ciphertext")
	restarted := time.Now()
	second, err := StartTarget(ctx, dir, t2, Options{SyncInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close(ctx)
	var s2 Status
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if s2 = second.Status(); s2.Error != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first sync after the restart did not fail: %+v", s2)
		}
	}
	if s2.LastSync == 0 || s2.LastSync > synced.UnixMilli() {
		t.Errorf("after a restart with failing syncs: last sync %d, want the replica's own time (by %d, before the restart at %d)", s2.LastSync, synced.UnixMilli(), restarted.UnixMilli())
	}
	if s2.LagMS < restarted.Sub(time.UnixMilli(s2.LastSync)).Milliseconds() {
		t.Errorf("lag %d ms counts from the restart, not from the replica's last sync", s2.LagMS)
	}
	if s2.Created == 0 || s2.Created > synced.UnixMilli() {
		t.Errorf("created %d, want the replica's oldest history (by %d)", s2.Created, synced.UnixMilli())
	}
	if s2.RemoteTXID != s1.RemoteTXID {
		t.Errorf("remote position %s, want %s as the replica holds", s2.RemoteTXID, s1.RemoteTXID)
	}
}

// TestVerifyEmptiedReplica: a replica emptied behind the server's back
// fails the next verifying sync, saying so, and the one after sends the
// database's history again.
func TestVerifyEmptiedReplica(t *testing.T) {
	ctx := context.Background()
	dir, rdir := t.TempDir(), t.TempDir()
	st, err := store.Open(ctx, dir, store.Options{Replicated: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Audit(ctx, &store.AuditEntry{Action: "user.create", Target: "alice"}); err != nil {
		t.Fatal(err)
	}
	rep, err := Start(ctx, dir, Options{URL: "file://" + rdir, SyncInterval: time.Hour, VerifyEvery: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Close(ctx)
	rep.cancel() // this test drives the syncs
	<-rep.done
	if err := rep.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	sent := rep.Status().RemoteTXID
	if err := os.RemoveAll(filepath.Join(rdir, dbPrefix)); err != nil {
		t.Fatal(err)
	}
	err = rep.SyncOnce(ctx)
	if err == nil || !strings.Contains(err.Error(), "emptied or changed outside the server") {
		t.Fatalf("sync after the replica was emptied: %v", err)
	}
	if s := rep.Status(); s.Error == "" || s.InSync {
		t.Errorf("status after the replica was emptied: %+v", s)
	}
	if err := rep.SyncOnce(ctx); err != nil {
		t.Fatalf("the sync after: %v", err)
	}
	if s := rep.Status(); s.Error != "" || !s.InSync || s.RemoteTXID != sent {
		t.Errorf("status once sent again: %+v, want in sync at %s", s, sent)
	}
	newest, err := (&Target{DB: file.NewReplicaClient(filepath.Join(rdir, dbPrefix))}).Newest(ctx)
	if err != nil || newest.IsZero() {
		t.Errorf("the replica holds no database again: %v %v", newest, err)
	}
}
