package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/curbside-health/curbside/console"
	"github.com/curbside-health/curbside/store"
)

func runAudit(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usagef("usage: curbside audit verify|export|list --data DIR [flags]")
	}
	switch args[0] {
	case "verify":
		return auditVerify(ctx, env, args[1:])
	case "export":
		return auditExport(ctx, env, args[1:])
	case "list":
		return auditList(ctx, env, args[1:])
	}
	return usagef("unknown audit subcommand %q (want verify, export or list)", args[0])
}

// openReadOnly opens the store in dir without a writer, so the audit
// commands work beside a running server and can change nothing. It
// refuses a directory with no database rather than creating one.
func openReadOnly(ctx context.Context, dir string) (*store.Store, error) {
	path := filepath.Join(dir, store.DBFile)
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s: check --data (or CURBSIDE_DATA)", path)
		}
		return nil, err
	}
	return store.Open(ctx, dir, store.Options{ReadOnly: true})
}

// auditFilters adds the filter flags shared by export and list.
type auditFilters struct {
	from, to, action, q *string
}

func (f *auditFilters) query() (store.AuditQuery, error) {
	var q store.AuditQuery
	if *f.from != "" {
		d, err := console.ParseDay(*f.from)
		if err != nil {
			return q, usagef("--from: %v", err)
		}
		q.From = d.UnixMilli()
	}
	if *f.to != "" {
		d, err := console.ParseDay(*f.to)
		if err != nil {
			return q, usagef("--to: %v", err)
		}
		q.To = d.AddDate(0, 0, 1).UnixMilli() // the whole of that day
	}
	if q.From != 0 && q.To != 0 && q.To <= q.From {
		return q, usagef("--to is before --from")
	}
	q.Action, q.Text = *f.action, *f.q
	return q, nil
}

func auditVerify(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "audit verify")
	data := dataFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("audit verify takes no arguments (got %q)", fs.Arg(0))
	}
	st, err := openReadOnly(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.VerifyAudit(ctx)
	if err != nil {
		return fmt.Errorf("read the audit log: %w", err)
	}
	if !v.OK {
		fmt.Fprintf(env.Stdout, "audit log does NOT verify: %d entries checked before the first bad one; head %d %s\n", v.Entries, v.HeadSeq, v.HeadHash)
		return fmt.Errorf("entry %d: %s", v.FirstBad, v.Problem)
	}
	fmt.Fprintf(env.Stdout, "audit log verified: %d entries, head %d %s\n", v.Entries, v.HeadSeq, v.HeadHash)
	if v.BaseSeq > 0 {
		fmt.Fprintf(env.Stdout, "entries up to %d were deleted at the retention age; the chain is checked from there\n", v.BaseSeq)
	}
	return nil
}

func auditExport(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "audit export")
	data := dataFlag(fs)
	f := auditFilters{
		from:   fs.String("from", "", "first day to export, YYYY-MM-DD (UTC)"),
		to:     fs.String("to", "", "last day to export, YYYY-MM-DD (UTC), inclusive"),
		action: fs.String("action", "", "only actions starting with this, e.g. login. or user.offboard"),
		q:      fs.String("q", "", "only entries whose actor, action, target or detail contain this"),
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("audit export takes no arguments (got %q); it writes CSV to standard output", fs.Arg(0))
	}
	q, err := f.query()
	if err != nil {
		return err
	}
	st, err := openReadOnly(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := console.WriteAuditCSV(ctx, st, env.Stdout, q)
	if err != nil {
		return fmt.Errorf("export stopped after %d entries: %w", n, err)
	}
	fmt.Fprintf(env.Stderr, "exported %d audit entries\n", n)
	return nil
}

func auditList(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "audit list")
	data := dataFlag(fs)
	limit := fs.Int("limit", 50, fmt.Sprintf("how many of the newest entries to show (1-%d)", store.MaxAuditPage))
	f := auditFilters{
		from:   fs.String("from", "", "from this day, YYYY-MM-DD (UTC)"),
		to:     fs.String("to", "", "up to this day, YYYY-MM-DD (UTC), inclusive"),
		action: fs.String("action", "", "only actions starting with this"),
		q:      fs.String("q", "", "only entries whose actor, action, target or detail contain this"),
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("audit list takes no arguments (got %q)", fs.Arg(0))
	}
	if *limit < 1 || *limit > store.MaxAuditPage {
		return usagef("--limit: 1 to %d", store.MaxAuditPage)
	}
	q, err := f.query()
	if err != nil {
		return err
	}
	q.Limit = *limit
	st, err := openReadOnly(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	entries, _, err := st.QueryAudit(ctx, q)
	if err != nil {
		return fmt.Errorf("read the audit log: %w", err)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME (UTC)\tACTOR\tACTION\tTARGET\tOUTCOME\tIP\tDETAIL")
	// Oldest first, so the newest line is the last on screen.
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		actor := e.ActorName
		if actor == "" {
			actor = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, time.UnixMilli(e.At).UTC().Format("2006-01-02 15:04:05"),
			oneLine(actor), e.Action, oneLine(e.Target), e.Outcome, e.IP, oneLine(e.Detail))
	}
	return tw.Flush()
}

// oneLine keeps a table row on one line whatever a field holds.
func oneLine(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", " ").Replace(s)
}
