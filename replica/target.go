package replica

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"
	lss3 "github.com/benbjohnson/litestream/s3"
)

// A replica location holds two parts side by side: Litestream's LTX files
// of the database under db/, and the data directory's other files under
// files/ with the manifest that lists them.
const (
	dbPrefix    = "db"
	filesPrefix = "files"
)

// Target is a replica location: Litestream's replica client for the
// database and Objects for the files, both for one URL.
type Target struct {
	// URL is the location as the operator gave it, less anything secret:
	// safe to log and to show in the console.
	URL   string
	DB    litestream.ReplicaClient
	Files Objects
}

// Open parses a replica URL, file:///path or
// s3://bucket/path?endpoint=…&region=…, and returns its clients. S3
// credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the
// AWS shared credentials file, never from the URL (which the process list
// and the console would show).
func Open(ctx context.Context, raw string) (*Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("replica URL %q: %v", raw, err)
	}
	if u.User != nil {
		return nil, fmt.Errorf("replica URL: put no credentials in it; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment (or use ~/.aws/credentials)")
	}
	t := &Target{URL: Redact(raw)}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("replica URL %q: a file replica is file:///absolute/path (three slashes)", raw)
		}
		if !filepath.IsAbs(u.Path) {
			return nil, fmt.Errorf("replica URL %q: want an absolute path, e.g. file:///mnt/backup/curbside", raw)
		}
		root := filepath.Clean(u.Path)
		t.DB = file.NewReplicaClient(filepath.Join(root, dbPrefix))
		t.Files = dirObjects{root: filepath.Join(root, filesPrefix)}
	case "s3":
		if u.Host == "" {
			return nil, fmt.Errorf("replica URL %q: name the bucket, e.g. s3://backups/curbside?endpoint=https://s3.example.org&region=us-east-1", raw)
		}
		base := strings.Trim(u.Path, "/")
		dbu := *u
		dbu.Path = "/" + path.Join(base, dbPrefix)
		c, err := litestream.NewReplicaClientFromURL(dbu.String())
		if err != nil {
			return nil, fmt.Errorf("replica URL %q: %v", t.URL, err)
		}
		sc, ok := c.(*lss3.ReplicaClient)
		if !ok {
			return nil, fmt.Errorf("replica URL %q: not an S3 location", t.URL)
		}
		t.DB = sc
		if t.Files, err = newS3Objects(ctx, sc, path.Join(base, filesPrefix)); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("replica URL %q: want file:///path or s3://bucket/path", raw)
	}
	return t, nil
}

// Redact returns the URL without user information and without query
// values that carry keys (SSE-C), for logs and the console.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	q := u.Query()
	for k := range q {
		if lk := strings.ToLower(k); strings.Contains(lk, "customer-key") || strings.Contains(lk, "customerkey") || strings.Contains(lk, "secret") {
			q.Set(k, "REDACTED")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Newest returns when the newest transaction reached the replica's
// database (zero: it holds none).
func (t *Target) Newest(ctx context.Context) (time.Time, error) {
	_, updated, err := litestream.NewReplicaWithClient(nil, t.DB).TimeBounds(ctx)
	return updated, err
}
