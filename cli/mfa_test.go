package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/store"
)

func TestUserMFAReset(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, _, err := runCLI(t, "long enough password 1\n", "user", "add", "--data", dir, "--username", "olga", "--display", "Olga", "--role", "staff", "--admin", "owner", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := st.UserByName(ctx, "olga")
	if err := st.StartTOTP(ctx, u.ID, "JBSWY3DPEHPK3PXP"); err != nil {
		t.Fatal(err)
	}
	if err := st.ConfirmTOTP(ctx, u.ID, 1, [][]byte{[]byte("a"), []byte("b")}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSessionFrom(ctx, []byte("tok"), u.ID, 1<<60, "totp", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	st.Close()

	if _, _, err := runCLI(t, "", "user", "mfa-reset", "--data", dir); err == nil {
		t.Fatal("no --username accepted")
	}
	if _, _, err := runCLI(t, "", "user", "mfa-reset", "--data", dir, "--username", "nobody"); err == nil {
		t.Fatal("an unknown user accepted")
	}
	out, _, err := runCLI(t, "", "user", "mfa-reset", "--data", dir, "--username", "olga")
	if err != nil || !strings.Contains(out, "authenticator app: true") || !strings.Contains(out, "1 session(s) ended") {
		t.Fatalf("reset: %v %q", err, out)
	}

	st, err = store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if m, _ := st.MFAStatusOf(ctx, u.ID); m.Has() || m.RecoveryLeft != 0 {
		t.Fatalf("after reset: %+v", m)
	}
	entries, _, err := st.QueryAudit(ctx, store.AuditQuery{Action: "mfa.reset"})
	if err != nil || len(entries) != 1 || entries[0].Target != "user:1" || !strings.Contains(entries[0].Detail, `"via":"cli"`) {
		t.Fatalf("audit: %v %+v", err, entries)
	}
}
