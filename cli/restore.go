package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/replica"
)

// replicaFlag adds --replica, from CURBSIDE_REPLICA by default.
func replicaFlag(fs interface {
	String(name, value, usage string) *string
}) *string {
	return fs.String("replica", envOr("replica", ""), "the replica's URL: file:///path or s3://bucket/path?endpoint=URL&region=R (env CURBSIDE_REPLICA)")
}

// timestampLayouts are what --timestamp takes, tried in order; a time
// without a zone is UTC.
var timestampLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"}

func parseTimestamp(s string) (time.Time, error) {
	for _, l := range timestampLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef("--timestamp %q: want a time such as 2026-03-14T09:30:00Z (RFC 3339; without a zone, UTC)", s)
}

// progressTo returns the progress reporter for w: on a terminal, lines
// rewritten in place; otherwise none, so logs and pipes stay clean.
func progressTo(w io.Writer) *replica.Progress {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return replica.NewProgress(w)
}

func runRestore(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "restore")
	url := replicaFlag(fs)
	data := fs.String("data", envOr("data", ""), "the empty directory to restore into; it becomes the server's --data (env CURBSIDE_DATA)")
	ts := fs.String("timestamp", "", "restore the state as of this time (RFC 3339, e.g. 2026-03-14T09:30:00Z); default: the newest")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("restore takes no arguments (got %q)", fs.Arg(0))
	}
	if *url == "" {
		return usagef("restore needs --replica URL (or CURBSIDE_REPLICA): the location the server replicated to")
	}
	if *data == "" {
		return usagef("restore needs --data DIR: a new, empty directory to restore into")
	}
	var at time.Time
	if *ts != "" {
		var err error
		if at, err = parseTimestamp(*ts); err != nil {
			return err
		}
	}
	t, err := replica.Open(ctx, *url)
	if err != nil {
		return usagef("--replica: %v", err)
	}
	began := time.Now()
	res, err := replica.Restore(ctx, t, *data, replica.RestoreOptions{Timestamp: at, Progress: progressTo(env.Stderr)})
	if errors.Is(err, replica.ErrNotEmpty) {
		return usagef("--data: %v", err)
	}
	if err != nil {
		return err
	}
	w := env.Stdout
	fmt.Fprintf(w, "restored %s into %s in %s\n", t.URL, *data, time.Since(began).Round(time.Millisecond))
	fmt.Fprintf(w, "database:    %s, newest transaction %s (%s)\n", model.HumanBytes(res.DBBytes), res.NewestTx.UTC().Format(time.RFC3339), res.TXID)
	fmt.Fprintf(w, "files:       %d (%s), of them %d attachments\n", res.Files, model.HumanBytes(res.FileBytes), res.Blobs)
	if n := len(res.MissingBlobs); n > 0 {
		fmt.Fprintf(w, "missing:     %d attachments the database names are not on the replica (removed after that time); they show as expired\n", n)
	}
	fmt.Fprintf(w, "next:        curbside serve --data %s (with --replica to go on replicating; after a --timestamp restore, to a new location)\n", *data)
	return nil
}
