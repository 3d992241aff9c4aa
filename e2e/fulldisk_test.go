package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/protocol"
)

// smallDisk mounts a tmpfs of size under a temporary directory and
// returns it. It needs root: without it, or when the mount fails, the test
// is skipped, except in CI (env CI set), where running as root it must
// work and fails instead.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	ci := os.Getenv("CI") != ""
	if os.Geteuid() != 0 {
		t.Skip("a full disk is simulated with a tmpfs, which needs root to mount (CI runs this as root)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		if ci {
			t.Fatalf("mount a %s tmpfs: %v\n%s", size, err, out)
		}
		t.Skipf("cannot mount a tmpfs here (%v: %s); CI runs this as root", err, bytes.TrimSpace(out))
	}
	// Registered after TempDir's own clean-up, so it runs first.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", dir, err, out)
		}
	})
	return dir
}

// fill writes path until the disk says ENOSPC, leaving no byte free.
func fill(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n int64
	for _, chunk := range []int{1 << 20, 4 << 10, 1} {
		buf := bytes.Repeat([]byte{0xA5}, chunk)
		for {
			w, err := f.Write(buf)
			n += int64(w)
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			if err != nil {
				t.Fatalf("fill %s: %v", path, err)
			}
		}
	}
	return n
}

// getHealthz returns /healthz's status and answer.
func getHealthz(t *testing.T, base string) (int, map[string]any) {
	t.Helper()
	res, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(res.Body)
	json.Unmarshal(b, &out)
	return res.StatusCode, out
}

// writesAlert returns the console's active alert "writes", or nil.
func writesAlert(t *testing.T, base, token string) map[string]any {
	t.Helper()
	code, out, raw := bearer(t, "GET", base+"/api/v1/admin/email", token, nil)
	if code != 200 {
		t.Fatalf("GET /api/v1/admin/email: %d %s", code, raw)
	}
	al, _ := out["alerts"].([]any)
	for _, a := range al {
		if a := a.(map[string]any); a["key"] == "writes" {
			return a
		}
	}
	return nil
}

// logLines returns the lines of the log at path that match re.
func logLines(t *testing.T, path string, re *regexp.Regexp) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if re.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// countAttr reads the integer attribute name=N of a log line.
func countAttr(t *testing.T, line, name string) int {
	t.Helper()
	m := regexp.MustCompile(`\b` + name + `=(\d+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no %s= in %q", name, line)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestFullDisk: the real binary with its data directory on a 20 MB tmpfs,
// filled to the last byte. Sends, an ack and an attachment upload are
// refused with storage_full in the catalogue's words; the refusals are
// logged in one ERROR line a minute with their count, not one each;
// /healthz answers 503 with the reason; the console lists the "writes"
// alert, and it is mailed to the administrator (mailpit). Once the filler is deleted, with nothing restarted: the refused
// messages sent again are accepted, /healthz answers 200, the alert
// clears, a line counts the refusals, and every message accepted (before,
// during and after) reaches the recipient exactly once.
func TestFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary on a tmpfs")
	}
	disk := smallDisk(t, "20m")
	data := filepath.Join(disk, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "server.log") // off the full disk
	addr := freeAddr(t)
	base := "http://" + addr
	startProcLog(t, data, logPath, base, http.DefaultClient, "--listen", addr)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("server log:\n%s", b)
		}
	})
	ts := &testServer{URL: base, Data: data}
	ts.addUser(t, "alice", "staff")
	ts.addUser(t, "bob", "staff")
	ts.addUser(t, "root", "admin")
	if out, err := curbside(t, "", "policy", "set", "--data", data, "mfa_required="); err != nil {
		t.Fatalf("policy set: %v\n%s", err, out)
	}
	_, token := webLogin(t, ts, "root")
	// Email is set up, so the alert is mailed to root as well.
	mp := startMailpit(t)
	ts.setEmail(t, token, "root", "root@example.org")
	ts.setupEmail(t, token, mp, smtpPass)
	alice, bob := ts.device(t, "alice"), ts.device(t, "bob")
	ctx := ctxT(t)
	cn := connect(t, alice)
	to := []int64{bob.User().ID}

	// Accepted while there is room; bob is offline, so they wait queued.
	accepted := map[string]bool{}
	for i := range 5 {
		acc, err := cn.Send(ctx, client.Outgoing{To: to, Text: fmt.Sprintf("before the disk filled %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		accepted[acc.ID] = true
	}
	if code, _ := getHealthz(t, base); code != 200 {
		t.Fatalf("/healthz before the disk filled: %d", code)
	}

	filler := filepath.Join(disk, "filler")
	t.Logf("filler of %d bytes", fill(t, filler))
	start := time.Now()

	// Sends are refused with storage_full. (One that SQLite can still fit
	// into its log's free room is accepted, and then must be delivered.)
	var kept []client.Outgoing
	for i := 0; len(kept) < 10; i++ {
		if i == 200 {
			t.Fatalf("200 sends on a full disk, %d refused", len(kept))
		}
		out := client.Outgoing{ID: fmt.Sprintf("full-disk-message-%04d", i), To: to, Text: fmt.Sprintf("while the disk was full %d", i)}
		acc, err := cn.Send(ctx, out)
		var e *client.Error
		switch {
		case err == nil:
			accepted[acc.ID] = true
		case client.StorageFull(err) && errors.As(err, &e):
			if e.Message != protocol.CodeStorageFull.Message() || e.Ref != out.ID {
				t.Fatalf("refusal %+v: want the catalogue's words and the message's id as ref", e)
			}
			kept = append(kept, out)
		default:
			t.Fatalf("send on a full disk: %v, want storage_full", err)
		}
	}

	// An attachment upload is refused the same way (ENOSPC writing it).
	_, err := alice.UploadAttachment(ctx, bytes.NewReader(bytes.Repeat([]byte("x"), 256<<10)), "scan.pdf", "application/pdf")
	var he *client.Error
	if !client.StorageFull(err) || !errors.As(err, &he) || he.Status != http.StatusInsufficientStorage {
		t.Fatalf("upload on a full disk: %v, want 507 storage_full", err)
	}

	// Bob connects and receives what was queued for him (reads still
	// work), but his acks are refused: the error names the ack and its
	// seqs.
	bcn := connect(t, bob)
	in := newInbox(t, bcn)
	var ackErr *client.Error
	for deadline := time.Now().Add(30 * time.Second); ackErr == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no refused ack reported to bob's client")
		}
		in.mu.Lock()
		for _, err := range in.errs {
			var e *client.Error
			if errors.As(err, &e) && e.Code == protocol.CodeStorageFull && len(e.Seqs) > 0 {
				ackErr = e
			}
		}
		in.mu.Unlock()
	}
	if !strings.HasPrefix(ackErr.Ref, "ack:") || ackErr.Ref != "ack:"+strconv.FormatInt(ackErr.Seqs[0], 10) {
		t.Fatalf("a refused ack named %q for seqs %v", ackErr.Ref, ackErr.Seqs)
	}

	// /healthz says why it is failing.
	code, hz := getHealthz(t, base)
	if reason, _ := hz["reason"].(string); code != http.StatusServiceUnavailable || hz["status"] != "failing" || !strings.Contains(reason, "writes: the disk is full") {
		t.Fatalf("/healthz on a full disk: %d %v", code, hz)
	}
	// The console lists the alert.
	var alert map[string]any
	for deadline := time.Now().Add(30 * time.Second); alert == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the console lists no writes alert")
		}
		alert = writesAlert(t, base, token)
	}
	if title, _ := alert["title"].(string); !strings.Contains(title, "disk is full") {
		t.Fatalf("alert %v: want one that says the disk is full", alert)
	}
	if detail, _ := alert["detail"].(string); !strings.Contains(detail, "Free space") {
		t.Fatalf("alert %v: want one that says what to do", alert)
	}
	// And mails it to the administrator, in the same words, with nothing
	// of the messages (the mail is queued in memory, not on the full disk).
	m := mp.await(t, "root@example.org", "the disk is full")
	if !strings.Contains(m.Text, "Free space") {
		t.Fatalf("the writes alert's mail does not say what to do:\n%s", m.Text)
	}
	for _, text := range []string{"before the disk filled", "while the disk was full", "Alice Test", "Bob Test"} {
		if strings.Contains(m.Raw, text) || strings.Contains(m.Text, text) {
			t.Fatalf("the writes alert's mail carries %q:\n%s", text, m.Raw)
		}
	}

	// One ERROR line a minute for the refusals, with their count, and no
	// line per refused frame or request.
	refusedLines := logLines(t, logPath, regexp.MustCompile(`level=ERROR .*writes refused: the disk is full`))
	minutes := int(time.Since(start) / time.Minute)
	if len(refusedLines) < 1 || len(refusedLines) > 1+minutes {
		t.Fatalf("%d ERROR lines for %d refused sends in %d whole minutes:\n%s", len(refusedLines), len(kept), minutes, strings.Join(refusedLines, "\n"))
	}
	if countAttr(t, refusedLines[0], "refused") < 1 {
		t.Fatalf("the first line counts no refusal: %s", refusedLines[0])
	}
	if n := len(logLines(t, logPath, regexp.MustCompile(`msg="frame failed"|msg="request failed".*storage_full`))); n != 0 {
		t.Fatalf("%d lines logged per refused frame or request", n)
	}

	// Free the space. Nothing is restarted.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for _, out := range kept {
		acc, err := cn.Send(ctx, out)
		if err != nil {
			t.Fatalf("resend of %s once there is room: %v", out.ID, err)
		}
		if acc.Dup {
			t.Fatalf("%s was answered dup: it had been stored although refused", out.ID)
		}
		accepted[acc.ID] = true
	}
	if code, hz := getHealthz(t, base); code != 200 || hz["status"] != "ok" {
		t.Fatalf("/healthz after space was freed: %d %v", code, hz)
	}
	for deadline := time.Now().Add(30 * time.Second); writesAlert(t, base, token) != nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the writes alert did not clear after space was freed")
		}
	}
	rec := logLines(t, logPath, regexp.MustCompile(`level=INFO .*writes succeed again after the disk was full`))
	if len(rec) != 1 || countAttr(t, rec[0], "refused") < len(kept)+2 { // the sends, the upload, at least one ack
		t.Fatalf("recovery lines %q: want one counting at least %d refusals", rec, len(kept)+2)
	}
	if _, err := alice.UploadAttachment(ctx, bytes.NewReader(bytes.Repeat([]byte("x"), 256<<10)), "scan.pdf", "application/pdf"); err != nil {
		t.Fatalf("upload once there is room: %v", err)
	}

	// Everything accepted reaches bob, once each; his refused acks go
	// again with his next ack and on his next connection.
	in.waitFor(fmt.Sprintf("all %d accepted messages", len(accepted)), func(ms []client.Incoming, _ []client.Event) bool {
		n := 0
		for _, m := range ms {
			if accepted[m.ID] {
				n++
			}
		}
		return n == len(accepted)
	})
	bcn.Close()
	bcn2 := connect(t, bob)
	in2 := newInbox(t, bcn2)
	probe, err := cn.Send(ctx, client.Outgoing{To: to, Text: "after"})
	if err != nil {
		t.Fatal(err)
	}
	in2.waitFor("the message sent after", func(ms []client.Incoming, _ []client.Event) bool {
		for _, m := range ms {
			if m.ID == probe.ID {
				return true
			}
		}
		return false
	})
	in.mu.Lock()
	seen := map[string]int{}
	for _, m := range in.msgs {
		seen[m.ID]++
	}
	in.mu.Unlock()
	in2.mu.Lock()
	for _, m := range in2.msgs {
		seen[m.ID]++
	}
	in2.mu.Unlock()
	for id := range accepted {
		if seen[id] != 1 {
			t.Errorf("accepted message %s reached bob's application %d times", id, seen[id])
		}
	}
}
