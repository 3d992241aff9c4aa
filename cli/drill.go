package cli

import (
	"context"
	"fmt"

	"github.com/curbside-health/curbside/replica"
)

func runDrill(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "drill")
	url := replicaFlag(fs)
	data := dataFlag(fs)
	tmp := fs.String("temp", "", "where to restore the copy (removed after); default: the system's temporary folder")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("drill takes no arguments (got %q)", fs.Arg(0))
	}
	if *url == "" {
		return usagef("drill needs --replica URL (or CURBSIDE_REPLICA): the location the server replicates to")
	}
	t, err := replica.Open(ctx, *url)
	if err != nil {
		return usagef("--replica: %v", err)
	}
	// The live database, read-only, for the comparison: the drill works
	// beside a running server.
	live, err := openReadOnly(ctx, *data)
	if err != nil {
		return err
	}
	rep := replica.Drill(ctx, replica.DrillOptions{Target: t, Live: live, TempDir: *tmp, Progress: progressTo(env.Stderr)})
	live.Close()
	fmt.Fprint(env.Stdout, rep.Text())
	path, err := replica.WriteReport(*data, rep)
	if err != nil {
		return fmt.Errorf("the drill ran but its report was not written into %s: %w", *data, err)
	}
	fmt.Fprintf(env.Stdout, "\nreport: %s (and .txt)\n", path)
	st, err := openStore(ctx, *data)
	if err != nil {
		return fmt.Errorf("the drill is not in the audit log: %w", err)
	}
	e := rep.AuditEntry(operatorName)
	err = st.Audit(ctx, e)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("the drill is not in the audit log: %w", err)
	}
	if !rep.OK {
		return fmt.Errorf("the restore drill failed: %v; fix the replica (see the report) and run curbside drill again", rep.Problems)
	}
	return nil
}
