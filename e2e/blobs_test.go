package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/e2ee"
)

func httpDo(t *testing.T, method, url, token, ctype string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// TestAttachmentBlobs: an attachment encrypted by the Go client goes up as
// ciphertext, comes down byte for byte, opens only with its key, and every
// bad upload gets a clear error.
func TestAttachmentBlobs(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "alice", "staff")
	ts.addUser(t, "bob", "staff")
	a, b := ts.device(t, "alice"), ts.device(t, "bob")
	tokA, tokB := tokenOf(t, a), tokenOf(t, b)

	plain := make([]byte, 3*e2ee.ChunkSize+1000)
	rand.Read(plain)
	copy(plain, "PHI-MARKER-attachment")
	var ct bytes.Buffer
	att, err := e2ee.EncryptAttachment(&ct, bytes.NewReader(plain))
	if err != nil {
		t.Fatal(err)
	}
	res, body := httpDo(t, "POST", ts.URL+"/api/v1/blobs", tokA, "application/octet-stream", bytes.NewReader(ct.Bytes()))
	var up struct {
		ID   string `json:"id"`
		Size int64  `json:"size"`
	}
	json.Unmarshal(body, &up)
	if res.StatusCode != 201 || len(up.ID) != 32 || up.Size != int64(ct.Len()) {
		t.Fatalf("upload: %d %s", res.StatusCode, body)
	}
	att.Blob = up.ID

	// Bob fetches it (the id and key would reach him inside a message).
	res, got := httpDo(t, "GET", ts.URL+"/api/v1/blobs/"+up.ID, tokB, "", nil)
	if res.StatusCode != 200 || !bytes.Equal(got, ct.Bytes()) {
		t.Fatalf("download: %d, %d bytes", res.StatusCode, len(got))
	}
	// A blob is data, never a document of the origin: saved, not rendered,
	// sandboxed with no sources even if something rendered it.
	for h, want := range map[string]string{
		"Content-Type":            "application/octet-stream",
		"Content-Disposition":     `attachment; filename="attachment.bin"`,
		"Content-Security-Policy": "default-src 'none'; sandbox",
		"X-Content-Type-Options":  "nosniff",
	} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("download: %s is %q, want %q", h, got, want)
		}
	}
	opened, err := e2ee.DecryptAttachment(att, got)
	if err != nil || !bytes.Equal(opened, plain) {
		t.Fatalf("decrypt: %v", err)
	}

	// The attachment reference travels end to end inside a message.
	ctx := ctxT(t)
	ca, cb := connect(t, a), connect(t, b)
	ib := newInbox(t, cb)
	acc, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Plaintext: &e2ee.Plaintext{Type: e2ee.TypeText, Text: "ECG attached", Attachments: []e2ee.Attachment{*att}}})
	if err != nil {
		t.Fatal(err)
	}
	m := ib.message(acc.ID)
	if m.Plaintext == nil || len(m.Plaintext.Attachments) != 1 || m.Plaintext.Attachments[0].Blob != up.ID {
		t.Fatalf("received plaintext %+v", m.Plaintext)
	}

	// Bad requests.
	if out, err := curbside(t, "", "policy", "set", "--data", ts.Data, "attachment_max_bytes=2048"); err != nil {
		t.Fatal(err, out)
	}
	ts = ts.restart(t) // the relay reads policy within 5 s; a restart makes it now
	for name, tc := range map[string]struct {
		method, path, token, ctype string
		body                       []byte
		want                       int
	}{
		"too large":     {"POST", "/api/v1/blobs", tokA, "application/octet-stream", make([]byte, 10000), 413},
		"not signed in": {"POST", "/api/v1/blobs", "", "application/octet-stream", []byte("x"), 401},
		"wrong type":    {"POST", "/api/v1/blobs", tokA, "multipart/form-data", []byte("x"), 415},
		"unknown blob":  {"GET", "/api/v1/blobs/" + strings.Repeat("0", 32), tokA, "", nil, 404},
		"bad blob id":   {"GET", "/api/v1/blobs/..%2f..%2fcurbside.db", tokA, "", nil, 404},
		"no session":    {"GET", "/api/v1/blobs/" + up.ID, "", "", nil, 401},
	} {
		res, body := httpDo(t, tc.method, ts.URL+tc.path, tc.token, tc.ctype, bytes.NewReader(tc.body))
		if res.StatusCode != tc.want || !bytes.Contains(body, []byte(`"code"`)) {
			t.Errorf("%s: %d %s, want %d with an error code", name, res.StatusCode, body, tc.want)
		}
	}
	// A chunked upload with no length is cut off at the limit too.
	pr, pw := io.Pipe()
	go func() { pw.Write(make([]byte, 10000)); pw.Close() }()
	if res, body := httpDo(t, "POST", ts.URL+"/api/v1/blobs", tokA, "application/octet-stream", pr); res.StatusCode != 413 {
		t.Errorf("chunked oversized upload: %d %s", res.StatusCode, body)
	}
	scanForMarker(t, ts.Data, "PHI-MARKER-attachment")
}
