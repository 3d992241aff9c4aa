package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

// UploadAttachment encrypts a file with a fresh key and uploads the
// ciphertext as a blob. The Attachment it returns goes into a message's
// Plaintext.Attachments; sending that message names the blob in the
// envelope's blobs list, which keeps it: a blob no message names within
// the policy's blob_grace is deleted (PROTOCOL.md section 8).
func (c *Client) UploadAttachment(ctx context.Context, file io.Reader, name, mime string) (*e2ee.Attachment, error) {
	var ct bytes.Buffer
	att, err := e2ee.EncryptAttachment(&ct, file)
	if err != nil {
		return nil, err
	}
	att.Name, att.MIME = name, mime
	var up struct {
		ID   string `json:"id"`
		Size int64  `json:"size"`
	}
	if err := c.api.send(ctx, http.MethodPost, "/api/v1/blobs", "application/octet-stream", &ct, &up); err != nil {
		return nil, err
	}
	if !protocol.ValidBlobID(up.ID) {
		return nil, fmt.Errorf("upload: the server's answer has no blob id")
	}
	att.Blob = up.ID
	return att, nil
}

// ownBlobs lists the blobs a message's attachments use that this user
// uploaded for it, each once: those of a new message's attachments. A
// forwarded message's attachments are the original sender's blobs, which
// the original message keeps, so it names none.
func ownBlobs(pt *e2ee.Plaintext) []string {
	if pt.Forwarded != nil || len(pt.Attachments) == 0 {
		return nil
	}
	out := make([]string, 0, len(pt.Attachments))
	for _, a := range pt.Attachments {
		dup := false
		for _, b := range out {
			dup = dup || b == a.Blob
		}
		if !dup {
			out = append(out, a.Blob)
		}
	}
	return out
}
