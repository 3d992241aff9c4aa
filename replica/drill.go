package replica

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/store"
)

// DrillsDir is the folder of the data directory that holds drill reports.
const DrillsDir = "drills"

// DrillOptions configures Drill.
type DrillOptions struct {
	Target *Target
	// Live is the live database, for the comparison (a read-only open
	// will do); nil skips it.
	Live *store.Store
	// TempDir is where the copy is restored (and removed after); empty:
	// the system's temporary folder.
	TempDir  string
	Progress *Progress
	Logger   *slog.Logger
}

// DrillReport is what a drill found, step by step.
type DrillReport struct {
	Replica  string    `json:"replica"`
	Started  time.Time `json:"started"`
	Took     Duration  `json:"took"`
	OK       bool      `json:"ok"`
	Steps    []Step    `json:"steps"`
	Restored *Restored `json:"restored,omitempty"`
	// Counts are rows per table: restored copy, then live database.
	Counts map[string][2]int64 `json:"counts,omitempty"`
	// Problems says in words what failed; empty when OK.
	Problems []string `json:"problems,omitempty"`
}

// Step is one timed step of a drill.
type Step struct {
	Name   string   `json:"name"`
	OK     bool     `json:"ok"`
	Took   Duration `json:"took"`
	Detail string   `json:"detail,omitempty"`
}

// Duration is a time.Duration that reads as text in JSON ("1.2s").
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).Round(time.Millisecond).String())
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// Drill restores the replica into a temporary directory and checks the
// copy: SQLite's integrity check, the audit chain, that the copy's audit
// head is an entry of the live chain (so the copy is this practice's
// history, not another's or a forked one), that every attachment it names
// came back, and its row counts beside the live ones. The copy is removed
// after. A drill that cannot run at all is a report that failed, not an
// error.
func Drill(ctx context.Context, opts DrillOptions) *DrillReport {
	rep := &DrillReport{Replica: opts.Target.URL, Started: time.Now().UTC()}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	step := func(name string, fn func() (string, error)) bool {
		began := time.Now()
		detail, err := fn()
		s := Step{Name: name, OK: err == nil, Took: Duration(time.Since(began)), Detail: detail}
		if err != nil {
			s.Detail = err.Error()
			rep.Problems = append(rep.Problems, name+": "+err.Error())
		}
		rep.Steps = append(rep.Steps, s)
		return err == nil
	}
	defer func() {
		rep.Took = Duration(time.Since(rep.Started))
		rep.OK = len(rep.Problems) == 0
	}()

	tmp, err := os.MkdirTemp(opts.TempDir, "curbside-drill-")
	if err != nil {
		step("restore", func() (string, error) { return "", fmt.Errorf("make a temporary directory: %w", err) })
		return rep
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "data")
	if !step("restore", func() (string, error) {
		res, err := Restore(ctx, opts.Target, dir, RestoreOptions{Progress: opts.Progress, Logger: log})
		if err != nil {
			return "", err
		}
		rep.Restored = res
		return fmt.Sprintf("database %s (transaction %s of %s), %d files (%s), %d attachments", model.HumanBytes(res.DBBytes), res.TXID,
			res.NewestTx.UTC().Format(time.RFC3339), res.Files, model.HumanBytes(res.FileBytes), res.Blobs), nil
	}) {
		return rep
	}
	st, err := store.Open(ctx, dir, store.Options{ReadOnly: true})
	if err != nil {
		step("open the copy", func() (string, error) { return "", err })
		return rep
	}
	defer st.Close()
	step("integrity check", func() (string, error) {
		bad, err := st.IntegrityCheck(ctx)
		if err != nil {
			return "", err
		}
		if len(bad) > 0 {
			return "", fmt.Errorf("SQLite finds the copy damaged: %s", strings.Join(bad[:min(len(bad), 5)], "; "))
		}
		return "ok", nil
	})
	var head *store.AuditVerify
	step("audit chain", func() (string, error) {
		v, err := st.VerifyAudit(ctx)
		if err != nil {
			return "", err
		}
		if !v.OK {
			return "", fmt.Errorf("the copy's audit chain breaks at entry %d: %s", v.FirstBad, v.Problem)
		}
		head = v
		return fmt.Sprintf("%d entries verify, head %d", v.Entries, v.HeadSeq), nil
	})
	step("attachments", func() (string, error) {
		res := rep.Restored
		if len(res.MissingBlobs) > 0 {
			return "", fmt.Errorf("%d attachments the copy names are not on the replica (first %s)", len(res.MissingBlobs), res.MissingBlobs[0])
		}
		return fmt.Sprintf("%d restored, each checked against its SHA-256", res.Blobs), nil
	})
	if opts.Live == nil {
		return rep
	}
	if head != nil && head.HeadSeq > 0 {
		step("same history as the live audit log", func() (string, error) {
			h, err := opts.Live.AuditHashAt(ctx, head.HeadSeq)
			if errors.Is(err, model.ErrNotFound) {
				return "entry pruned from the live log since; not compared", nil
			}
			if err != nil {
				return "", err
			}
			if fmt.Sprintf("%x", h) != head.HeadHash {
				return "", fmt.Errorf("the copy's audit entry %d differs from the live one: the replica is not this server's history", head.HeadSeq)
			}
			return fmt.Sprintf("entry %d matches", head.HeadSeq), nil
		})
	}
	step("counts", func() (string, error) {
		got, err := st.Counts(ctx)
		if err != nil {
			return "", err
		}
		live, err := opts.Live.Counts(ctx)
		if err != nil {
			return "", err
		}
		rep.Counts = map[string][2]int64{}
		var parts []string
		for _, t := range store.CountedTables {
			rep.Counts[t] = [2]int64{got[t], live[t]}
			parts = append(parts, fmt.Sprintf("%s %d/%d", t, got[t], live[t]))
		}
		// Rows come and go (queued ciphertext is deleted once
		// delivered), so the counts are shown, not required equal; but
		// a copy with no users of a live server that has some is not a
		// copy of it.
		if got["users"] == 0 && live["users"] > 0 {
			return "", fmt.Errorf("the copy has no users; the live database has %d", live["users"])
		}
		return "restored/live: " + strings.Join(parts, ", "), nil
	})
	return rep
}

// Text is the report as an operator reads it.
func (r *DrillReport) Text() string {
	var b bytes.Buffer
	result := "PASSED"
	if !r.OK {
		result = "FAILED"
	}
	fmt.Fprintf(&b, "Restore drill %s\nreplica:  %s\nstarted:  %s\ntook:     %s\n\n", result, r.Replica, r.Started.Format(time.RFC3339), time.Duration(r.Took).Round(time.Millisecond))
	tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
	for _, s := range r.Steps {
		mark := "ok"
		if !s.OK {
			mark = "FAILED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, mark, time.Duration(s.Took).Round(time.Millisecond), s.Detail)
	}
	tw.Flush()
	if len(r.Counts) > 0 {
		b.WriteString("\nrows     restored    live\n")
		names := make([]string, 0, len(r.Counts))
		for n := range r.Counts {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(&b, "%-8s %9d %7d\n", n, r.Counts[n][0], r.Counts[n][1])
		}
	}
	if len(r.Problems) > 0 {
		b.WriteString("\nproblems:\n")
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "- %s\n", p)
		}
	}
	return b.String()
}

// WriteReport writes the report into dataDir's drills folder as text and
// JSON, named by its start time, and returns the JSON file's path.
func WriteReport(dataDir string, r *DrillReport) (string, error) {
	dir := filepath.Join(dataDir, DrillsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	base := filepath.Join(dir, "drill-"+r.Started.Format("20060102T150405Z"))
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(base+".txt", []byte(r.Text()), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(base+".json", append(j, '\n'), 0o600); err != nil {
		return "", err
	}
	return base + ".json", nil
}

// LastReport reads the newest drill report in dataDir; nil if there is
// none.
func LastReport(dataDir string) (*DrillReport, error) {
	names, err := filepath.Glob(filepath.Join(dataDir, DrillsDir, "drill-*.json"))
	if err != nil || len(names) == 0 {
		return nil, err
	}
	sort.Strings(names)
	b, err := os.ReadFile(names[len(names)-1])
	if err != nil {
		return nil, err
	}
	var r DrillReport
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("drill report %s: %w", filepath.Base(names[len(names)-1]), err)
	}
	return &r, nil
}

// AuditEntry is the audit log's record of a drill.
func (r *DrillReport) AuditEntry(actor string) *store.AuditEntry {
	outcome := store.OutcomeOK
	if !r.OK {
		outcome = store.OutcomeFail
	}
	d := map[string]any{"replica": r.Replica, "took": time.Duration(r.Took).Round(time.Millisecond).String()}
	if r.Restored != nil {
		d["txid"], d["db_bytes"], d["files"] = r.Restored.TXID, r.Restored.DBBytes, r.Restored.Files
	}
	if len(r.Problems) > 0 {
		d["problems"] = r.Problems
	}
	b, _ := json.Marshal(d)
	return &store.AuditEntry{ActorName: actor, Action: "backup.drill", Target: "replica", Outcome: outcome, Detail: string(b)}
}
