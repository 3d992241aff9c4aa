package e2e

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

// TestAttackParkedUploads: a user who uploads blobs that no message ever
// names (data parked on the server, bounded until now only by the quota
// and the retention age) finds them deleted, rows and files, once the
// policy's blob_grace has passed, and the quota they took is free again.
// An attachment sent in a message still downloads and opens; a message
// naming someone else's blob, to keep it alive or claim it, is refused
// with attachment_gone.
func TestAttackParkedUploads(t *testing.T) {
	ts := limitedServer(t, []string{"blob_grace=3s", "attachment_quota_count=3", "attachment_rate_bytes=1099511627776"}, nil)
	for _, u := range []string{"mallory", "alice", "bob"} {
		ts.addUser(t, u, "staff")
	}
	m, a, b := ts.device(t, "mallory"), ts.device(t, "alice"), ts.device(t, "bob")
	tokM, tokB := tokenOf(t, m), tokenOf(t, b)
	ctx := ctxT(t)

	// Mallory parks data: three uploads, as many as her quota allows.
	var parked []string
	for range 3 {
		att, err := m.UploadAttachment(ctx, bytes.NewReader(make([]byte, 4096)), "parked.bin", "application/octet-stream")
		if err != nil {
			t.Fatal(err)
		}
		parked = append(parked, att.Blob)
	}
	if st, code := upload(t, ts, tokM, 1000); st != 403 || code != protocol.CodeLimitReached {
		t.Fatalf("a fourth parked upload: %d %s, want limit_reached", st, code)
	}

	// Alice sends bob an attachment the proper way, uploaded right before
	// the message that names it (connected first, well within the grace).
	ca, cb := connect(t, a), connect(t, b)
	ib := newInbox(t, cb)
	plain := make([]byte, 2*e2ee.ChunkSize+123)
	rand.Read(plain)
	att, err := a.UploadAttachment(ctx, bytes.NewReader(plain), "ecg.pdf", "application/pdf")
	if err != nil {
		t.Fatal(err)
	}
	acc, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Plaintext: &e2ee.Plaintext{Type: e2ee.TypeText, Text: "ECG attached", Attachments: []e2ee.Attachment{*att}}})
	if err != nil {
		t.Fatal(err)
	}
	got := ib.message(acc.ID)

	// Mallory names alice's blob in a message of her own: refused, and the
	// refusal says so in words.
	cm := connect(t, m)
	_, err = cm.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Plaintext: &e2ee.Plaintext{Type: e2ee.TypeText, Text: "mine now", Attachments: []e2ee.Attachment{*att}}})
	if client.ErrorCode(err) != protocol.CodeAttachmentGone {
		t.Fatalf("a message naming another user's blob: %v, want attachment_gone", err)
	}

	// The sweep runs every 1.5 s under this grace: wait until the parked
	// uploads are gone.
	blobURL := func(id string) string { return ts.URL + "/api/v1/blobs/" + id }
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range parked {
		for {
			res, _ := httpDo(t, "GET", blobURL(id), tokB, "", nil)
			if res.StatusCode == 404 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("parked blob %s is still served (%d) long after its grace", id, res.StatusCode)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if _, err := os.Stat(filepath.Join(ts.Data, "blobs", id)); !os.IsNotExist(err) {
			t.Errorf("parked blob %s: its file is still on disk (%v)", id, err)
		}
	}

	// The sent attachment outlived the grace: bob downloads and opens it.
	res, ct := httpDo(t, "GET", blobURL(got.Plaintext.Attachments[0].Blob), tokB, "", nil)
	if res.StatusCode != 200 {
		t.Fatalf("the sent attachment after the sweep: %d %s", res.StatusCode, ct)
	}
	if opened, err := e2ee.DecryptAttachment(&got.Plaintext.Attachments[0], ct); err != nil || !bytes.Equal(opened, plain) {
		t.Fatalf("the sent attachment does not open: %v", err)
	}
	// The deletions freed mallory's quota, and the log counted them.
	if st, code := upload(t, ts, tokM, 1000); st != 201 {
		t.Fatalf("an upload once the parked ones were deleted: %d %s", st, code)
	}
	if !regexp.MustCompile(`attachments deleted.*unreferenced=[1-9]`).MatchString(serverLog(t, ts)) {
		t.Error("the sweep did not log how many unreferenced attachments it deleted")
	}
}
