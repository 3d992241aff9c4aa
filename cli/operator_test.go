package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/store"
)

// TestOperatorChangesAudited: every change made from the command line is
// in the audit log, by the operator, with what changed.
func TestOperatorChangesAudited(t *testing.T) {
	dir := t.TempDir()
	const pw = "a long passphrase 1\n"
	for _, args := range [][]string{
		{"user", "add", "--data", dir, "--username", "ann", "--display", "Ann", "--password-stdin"},
		{"user", "passwd", "--data", dir, "--username", "ann", "--password-stdin"},
		{"user", "state", "--data", dir, "--username", "ann", "--set", "locked"},
		{"group", "add", "--data", dir, "--name", "Nurses", "--add", "ann"},
		{"policy", "set", "--data", dir, "retention=48h"},
	} {
		if _, stderr, err := runCLI(t, pw, args...); err != nil {
			t.Fatalf("%v: %v %s", args, err, stderr)
		}
	}
	st, err := store.Open(context.Background(), dir, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, _, err := st.QueryAudit(context.Background(), store.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.ActorName != operatorName || !strings.Contains(e.Detail, `"via":"cli"`) {
			t.Errorf("entry %d (%s) by %q: %s", e.Seq, e.Action, e.ActorName, e.Detail)
		}
		got = append(got, e.Action)
	}
	want := "policy.update group.members group.create user.state user.password_set user.create" // newest first
	if strings.Join(got, " ") != want {
		t.Fatalf("audited actions %q; want %q", strings.Join(got, " "), want)
	}
	if !strings.Contains(entries[0].Detail, `"retention":{"from":"168h0m0s","to":"48h0m0s"}`) {
		t.Fatalf("policy entry detail %s", entries[0].Detail)
	}
	if v, err := st.VerifyAudit(context.Background()); err != nil || !v.OK {
		t.Fatalf("verify: %+v %v", v, err)
	}
}
