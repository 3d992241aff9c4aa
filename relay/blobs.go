package relay

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// uploadTimeout bounds how long one attachment upload may take.
const uploadTimeout = 15 * time.Minute

// blobOverhead is how much larger than its file an encrypted attachment
// may be: one 16-byte tag per 64 KiB chunk, and a chunk for an empty file.
func blobOverhead(size int64) int64 { return (size/65536 + 2) * 16 }

func (r *Relay) putBlob(w http.ResponseWriter, req *http.Request) error {
	c, _ := web.CallerOf(req.Context())
	user := c.User
	if ct := req.Header.Get("Content-Type"); ct != "application/octet-stream" {
		return protocol.Errorf(protocol.CodeUnsupportedType, "upload the encrypted attachment as application/octet-stream")
	}
	pol, err := r.dir.loadPolicy(req.Context())
	if err != nil {
		return protocol.Internal(err)
	}
	limit := int64(pol.AttachmentMaxBytes)
	limit += blobOverhead(limit)
	tooBig := protocol.Errorf(protocol.CodeTooLarge,
		"the attachment is larger than the %s the policy allows", model.HumanBytes(int64(pol.AttachmentMaxBytes)))
	if req.ContentLength > limit {
		return tooBig // refused before a byte is read
	}
	rate, burst := int64(pol.AttachmentRateBytes), max(int64(pol.AttachmentRateBytes), limit)
	if ok, first := r.uploads.allow(user, max(req.ContentLength, 0), rate, burst, time.Now()); !ok {
		if first {
			r.log.Warn("attachment upload rate limit reached", "user", user, "bytes_per_minute", rate)
		}
		return protocol.Errorf(protocol.CodeRateLimited,
			"you are sending attachments faster than your practice allows (%s a minute); wait a minute and try again", model.HumanBytes(rate))
	}
	req.Body = http.MaxBytesReader(w, req.Body, limit)
	// The server has no whole-request timeout (the relay's WebSockets live
	// long); an upload gets a generous one of its own.
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(uploadTimeout))
	body := &countingReader{r: req.Body}
	quota := model.BlobQuota{Bytes: int64(pol.AttachmentQuotaBytes), Count: pol.AttachmentQuotaCount}
	b, err := r.store.PutBlob(req.Context(), user, body, limit, time.Now().Add(pol.Retention).UnixMilli(), quota)
	r.uploads.spend(user, body.n, rate, burst, time.Now())
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, model.ErrLimit):
		r.log.Warn("attachment quota reached", "user", user, "quota_bytes", quota.Bytes, "quota_count", quota.Count)
		return protocol.Errorf(protocol.CodeLimitReached, "%s", capitalise(model.ReasonOf(err, "you have stored as many attachments as your practice allows")))
	case errors.Is(err, model.ErrTooLarge), errors.As(err, &mbe):
		return tooBig
	case err != nil:
		return protocol.Internal(err)
	}
	r.log.Info("blob stored", "user", user, "blob", b.ID, "bytes", b.Size)
	return web.WriteJSON(w, http.StatusCreated, map[string]any{"id": b.ID, "size": b.Size})
}

func (r *Relay) getBlob(w http.ResponseWriter, req *http.Request) error {
	b, f, err := r.store.OpenBlob(req.Context(), req.PathValue("id"))
	if errors.Is(err, model.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "no such attachment (it may have expired)")
	}
	if err != nil {
		return protocol.Internal(err)
	}
	defer f.Close()
	// A download may take longer than the server's read timeout allows a
	// request, but not for ever: a reader that stalls is cut off.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(uploadTimeout))
	rc.SetWriteDeadline(time.Now().Add(uploadTimeout))
	// Ciphertext is never a document: a browser sent here saves it, and
	// nothing in it could run even if one tried to render it.
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="attachment.bin"`)
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.Header().Set("Content-Length", strconv.FormatInt(b.Size, 10))
	// The id names immutable bytes; only the signed-in user's browser may keep them.
	w.Header().Set("Cache-Control", "private, max-age=31536000, immutable")
	io.Copy(w, f) // a client that goes away mid-download is not an error of ours
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// capitalise makes a store's reason, written to follow a colon, a
// sentence of its own.
func capitalise(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:] + "."
}
