package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/replica"
	"github.com/curbside-health/curbside/server"
	"github.com/curbside-health/curbside/store"
)

// replicaInterval is the tests' --replica-sync-interval.
const replicaInterval = 250 * time.Millisecond

// TestReplicaWholeDiskLoss replicates to a directory, loses the whole
// data directory to SIGKILL and rm -rf, restores it with the binary, and
// checks that nothing accepted before the last sync was lost.
func TestReplicaWholeDiskLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	dir := t.TempDir()
	wholeDiskLoss(t, "file://"+dir, dir)
}

// TestReplicaS3WholeDiskLoss is the same against an S3-compatible server
// (versitygw, POSIX backend) on loopback.
func TestReplicaS3WholeDiskLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	endpoint, dir := startVersityGW(t)
	wholeDiskLoss(t, "s3://curbside-backup/practice?endpoint="+endpoint+"&region=us-east-1", dir)
}

// TestReplicaLagHealthz: /healthz answers 503 naming the replication
// while the S3 replica cannot be reached for longer than --replica-max-lag,
// and 200 again once it can.
func TestReplicaLagHealthz(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary and versitygw")
	}
	gw := newVersityGW(t)
	url := "s3://curbside-backup/practice?endpoint=" + gw.endpoint() + "&region=us-east-1"
	data := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	startProcArgs(t, data, base, http.DefaultClient, "--listen", addr, "--replica", url,
		"--replica-sync-interval", replicaInterval.String(), "--replica-max-lag", "2s")
	waitReplicated(t, url, time.Now().Add(-time.Minute), "")

	waitHealthz := func(what string, ok func(code int, body map[string]any) bool) map[string]any {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			code, body := getHealthz(t, base)
			if ok(code, body) {
				return body
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(data, "server.log"))
				t.Fatalf("%s: /healthz still %d %v\n%s", what, code, body, log)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	gw.stop()
	body := waitHealthz("the replica unreachable", func(code int, body map[string]any) bool { return code == http.StatusServiceUnavailable })
	reason, _ := body["reason"].(string)
	if body["status"] != "failing" || !strings.HasPrefix(reason, "replication: ") || !strings.Contains(reason, "behind (more than 2s)") {
		t.Errorf("/healthz with the replica unreachable: %v", body)
	}
	checks, _ := body["checks"].([]any)
	if len(checks) != 1 || checks[0].(map[string]any)["check"] != "replication" {
		t.Errorf("/healthz's failing checks: %v", checks)
	}
	// A sync waits out the S3 client's retries before it fails.
	waitLog(t, filepath.Join(data, "server.log"), "replication failed")

	gw.start()
	waitHealthz("the replica back", func(code int, _ map[string]any) bool { return code == http.StatusOK })
	waitLog(t, filepath.Join(data, "server.log"), "replication works again")
}

// waitLog waits until the log at path holds want, or fails.
func waitLog(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		log, _ := os.ReadFile(path)
		if strings.Contains(string(log), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log does not say %q:\n%s", want, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func wholeDiskLoss(t *testing.T, url, replicaDir string) {
	const marker = "PHI-MARKER-replica-Jane-Roe-1971"
	data := t.TempDir()
	addr := freeAddr(t)
	args := []string{"--listen", addr, "--replica", url, "--replica-sync-interval", replicaInterval.String()}
	srv := startProcArgs(t, data, "http://"+addr, http.DefaultClient, args...)
	ts := &testServer{URL: "http://" + addr, Data: data}
	ts.addUser(t, "alice", "staff")
	ts.addUser(t, "bob", "staff")
	alice, bob := ts.device(t, "alice"), ts.device(t, "bob")
	ctx := ctxT(t)
	ca := connect(t, alice)

	// Phase 1: messages and an attachment, then wait until the replica
	// has synced past them.
	plain := make([]byte, 2*e2ee.ChunkSize+123)
	rand.Read(plain)
	copy(plain, marker+" attachment")
	att, err := alice.UploadAttachment(ctx, bytes.NewReader(plain), "ecg.bin", "application/octet-stream")
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	must := map[string]string{}
	acc, err := ca.Send(ctx, client.Outgoing{To: []int64{bob.User().ID}, Plaintext: &e2ee.Plaintext{Type: e2ee.TypeText, Text: marker + " with attachment", Attachments: []e2ee.Attachment{*att}}})
	if err != nil {
		t.Fatal(err)
	}
	withAtt := acc.ID
	must[acc.ID] = marker + " with attachment"
	for i := range 20 {
		text := fmt.Sprintf("%s %d", marker, i)
		acc, err := ca.Send(ctx, client.Outgoing{To: []int64{bob.User().ID}, Text: text})
		if err != nil {
			t.Fatal(err)
		}
		must[acc.ID] = text
	}
	waitReplicated(t, url, before, att.Blob)

	// Phase 2: sending goes on up to the kill; what was accepted more
	// than one sync interval before it (and half a second for the upload
	// on a loaded machine) must survive too.
	type sent struct {
		id string
		at time.Time
	}
	var mu sync.Mutex
	var phase2 []sent
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			acc, err := ca.Send(sctx, client.Outgoing{To: []int64{bob.User().ID}, Text: fmt.Sprintf("late %d", i)})
			cancel()
			if err != nil {
				return
			}
			mu.Lock()
			phase2 = append(phase2, sent{acc.ID, time.Now()})
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(2 * time.Second)
	killedAt := time.Now()
	srv.kill()
	close(stop)
	<-done
	mu.Lock()
	for _, s := range phase2 {
		if killedAt.Sub(s.at) > replicaInterval+500*time.Millisecond {
			must[s.id] = ""
		}
	}
	t.Logf("%d messages accepted; %d of them more than a sync interval before SIGKILL", len(phase2)+21, len(must))
	mu.Unlock()

	// The disk is gone.
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary(t), "restore", "--replica", url, "--data", data).CombinedOutput()
	if err != nil {
		t.Fatalf("curbside restore: %v\n%s", err, out)
	}
	t.Logf("curbside restore:\n%s", out)
	if strings.Contains(string(out), "\r") {
		t.Errorf("restore into a pipe drew progress lines:\n%q", out)
	}
	for _, want := range []string{"newest transaction", "attachments", "database:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("restore's summary lacks %q:\n%s", want, out)
		}
	}
	// A directory that holds a database is refused.
	if out, err := exec.Command(binary(t), "restore", "--replica", url, "--data", data).CombinedOutput(); err == nil || !strings.Contains(string(out), "already holds a database") {
		t.Errorf("restore over a database: %v\n%s", err, out)
	}
	if out, err := curbside(t, "", "audit", "verify", "--data", data); err != nil {
		t.Fatalf("audit verify after restore: %v\n%s", err, out)
	}
	// What the replica restores to (the database, its WAL, the blobs and
	// keys) holds no plaintext either.
	scanForMarker(t, data, marker)

	startProcArgs(t, data, "http://"+addr, http.DefaultClient, args...)
	in := newInbox(t, connect(t, bob))
	in.waitFor(fmt.Sprintf("all %d messages accepted before the last sync", len(must)), func(ms []client.Incoming, _ []client.Event) bool {
		n := 0
		for _, m := range ms {
			if _, ok := must[m.ID]; ok {
				n++
			}
		}
		return n == len(must)
	})
	m := in.message(withAtt)
	if m.Plaintext == nil || len(m.Plaintext.Attachments) != 1 {
		t.Fatalf("the restored message has no attachment: %+v", m.Plaintext)
	}
	res, got := httpDo(t, "GET", ts.URL+"/api/v1/blobs/"+att.Blob, tokenOf(t, bob), "", nil)
	if res.StatusCode != 200 {
		t.Fatalf("restored attachment: %d", res.StatusCode)
	}
	if opened, err := e2ee.DecryptAttachment(&m.Plaintext.Attachments[0], got); err != nil || !bytes.Equal(opened, plain) {
		t.Fatalf("restored attachment does not open: %v", err)
	}
	scanForMarker(t, replicaDir, marker)
	scanLTXForMarker(t, replicaDir, marker, "alice")
}

// waitReplicated waits until the replica holds a transaction newer than
// after and the blob, or fails.
// (Replica times may be whole seconds, so a sync in after's second counts.)
func waitReplicated(t *testing.T, url string, after time.Time, blob string) {
	t.Helper()
	ctx := ctxT(t)
	rt, err := replica.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		newest, err := rt.Newest(ctx)
		m, merr := replica.ReadManifest(ctx, rt.Files)
		// Some stores (S3's LastModified) keep times to the second only.
		if err == nil && merr == nil && !newest.Before(after.Truncate(time.Second)) {
			if _, ok := m.Files["blobs/"+blob]; ok || blob == "" {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	newest, err := rt.Newest(ctx)
	t.Fatalf("the replica %s did not sync within 15s: newest %v (%v), want after %v", url, newest, err, after)
}

// TestRestorePointInTime restores the state as of a moment between two
// changes, each a user and an attachment: the older are there, the newer
// are not, and nothing is reported missing.
func TestRestorePointInTime(t *testing.T) {
	url := "file://" + t.TempDir()
	ts := startServerWith(t, t.TempDir(), "127.0.0.1:0", func(c *server.Config) {
		c.Replica, c.ReplicaSyncInterval = url, replicaInterval
	})
	before := time.Now()
	ts.addUser(t, "alice", "staff")
	alice := ts.device(t, "alice")
	older, err := alice.UploadAttachment(ctxT(t), strings.NewReader("older ciphertext"), "older.txt", "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	waitReplicated(t, url, before, older.Blob)
	time.Sleep(1100 * time.Millisecond) // replica times are to the second on some stores
	at := time.Now()
	time.Sleep(1100 * time.Millisecond)
	before = time.Now()
	ts.addUser(t, "carol", "staff")
	newer, err := alice.UploadAttachment(ctxT(t), strings.NewReader("newer ciphertext"), "newer.txt", "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	waitReplicated(t, url, before, newer.Blob)
	ts.stop()

	past := t.TempDir()
	out, err := curbside(t, "", "restore", "--replica", url, "--data", past, "--timestamp", at.UTC().Format(time.RFC3339Nano))
	if err != nil {
		t.Fatalf("restore --timestamp: %v\n%s", err, out)
	}
	// The newer attachment is on the replica but not in that state: not
	// restored, and not reported missing either.
	if !strings.Contains(out, "of them 1 attachments") || strings.Contains(out, "missing") {
		t.Errorf("restore --timestamp's summary:\n%s", out)
	}
	now := t.TempDir()
	if out, err := curbside(t, "", "restore", "--replica", url, "--data", now); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	} else if !strings.Contains(out, "of them 2 attachments") || strings.Contains(out, "missing") {
		t.Errorf("restore's summary:\n%s", out)
	}
	for dir, want := range map[string]map[string]bool{past: {older.Blob: true, newer.Blob: false}, now: {older.Blob: true, newer.Blob: true}} {
		for blob, present := range want {
			if got := fileExists(filepath.Join(dir, "blobs", blob)); got != present {
				t.Errorf("restore into %s: attachment %s present %v, want %v", filepath.Base(dir), blob, got, present)
			}
		}
	}
	for dir, want := range map[string]map[string]bool{past: {"alice": true, "carol": false}, now: {"alice": true, "carol": true}} {
		st, err := store.Open(context.Background(), dir, store.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		for name, present := range want {
			_, err := st.UserByName(context.Background(), name)
			if (err == nil) != present {
				t.Errorf("restore into %s: user %s present %v, want %v", filepath.Base(dir), name, err == nil, present)
			}
		}
		st.Close()
	}
	if out, err := curbside(t, "", "restore", "--replica", url, "--data", t.TempDir(), "--timestamp", "2001-01-01T00:00:00Z"); err == nil {
		t.Errorf("restore to before the replica began succeeded:\n%s", out)
	}
}

// TestRestoreProgress: restore shows its progress on a terminal (a pty
// from script(1)), a line per step rewritten in place, and none when its
// output is a pipe; the summary is the same either way.
func TestRestoreProgress(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) (util-linux) is missing: no terminal to restore onto")
	}
	url := "file://" + t.TempDir()
	ts := startServerWith(t, t.TempDir(), "127.0.0.1:0", func(c *server.Config) {
		c.Replica, c.ReplicaSyncInterval = url, replicaInterval
	})
	before := time.Now()
	ts.addUser(t, "alice", "staff")
	att, err := ts.device(t, "alice").UploadAttachment(ctxT(t), strings.NewReader("ciphertext please"), "note.txt", "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	waitReplicated(t, url, before, att.Blob)
	ts.stop()

	piped, err := exec.Command(binary(t), "restore", "--replica", url, "--data", t.TempDir()).CombinedOutput()
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, piped)
	}
	if strings.Contains(string(piped), "\r") || strings.Contains(string(piped), "/s") {
		t.Errorf("restore into a pipe shows progress:\n%q", piped)
	}
	cmd := binary(t) + " restore --replica " + url + " --data " + filepath.Join(t.TempDir(), "data")
	tty, err := exec.Command(script, "-qec", cmd, "/dev/null").CombinedOutput()
	if err != nil {
		t.Fatalf("restore on a terminal: %v\n%q", err, tty)
	}
	t.Logf("on a terminal: %q", tty)
	for _, want := range []string{"\rdatabase: ", "\rfiles: ", " of ", "1 files", "/s, "} {
		if !strings.Contains(string(tty), want) {
			t.Errorf("restore on a terminal: no %q in\n%q", want, tty)
		}
	}
	for _, want := range []string{"newest transaction", "attachments"} {
		if !strings.Contains(string(piped), want) || !strings.Contains(string(tty), want) {
			t.Errorf("the summary lacks %q:\npiped %q\nterminal %q", want, piped, tty)
		}
	}
}

// TestDrill passes on a good replica, and fails, saying why, on a
// damaged one; each run is a report in the data directory and an audit
// entry.
func TestDrill(t *testing.T) {
	rdir := t.TempDir()
	url := "file://" + rdir
	ts := startServerWith(t, t.TempDir(), "127.0.0.1:0", func(c *server.Config) {
		c.Replica, c.ReplicaSyncInterval = url, replicaInterval
	})
	before := time.Now()
	ts.addUser(t, "alice", "staff")
	a := ts.device(t, "alice")
	att, err := a.UploadAttachment(ctxT(t), strings.NewReader("ciphertext please"), "note.txt", "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	waitReplicated(t, url, before, att.Blob)

	out, err := curbside(t, "", "drill", "--replica", url, "--data", ts.Data)
	if err != nil {
		t.Fatalf("drill of a good replica: %v\n%s", err, out)
	}
	for _, want := range []string{"PASSED", "integrity check", "audit chain", "same history as the live audit log", "counts"} {
		if !strings.Contains(out, want) {
			t.Errorf("drill report lacks %q:\n%s", want, out)
		}
	}
	last, err := replica.LastReport(ts.Data)
	if err != nil || last == nil || !last.OK {
		t.Fatalf("last report: %+v %v", last, err)
	}
	ts.stop()

	// Damage the attachment's copy: the drill must fail and say which.
	blob := filepath.Join(rdir, "files", "blobs", att.Blob)
	if err := os.WriteFile(blob, []byte("not the ciphertext"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = curbside(t, "", "drill", "--replica", url, "--data", ts.Data)
	if err == nil || !strings.Contains(out, "FAILED") || !strings.Contains(out, att.Blob) {
		t.Fatalf("drill of a replica with a damaged attachment: %v\n%s", err, out)
	}
	// Damage the database's copy: every LTX file loses its middle.
	ltxs, _ := filepath.Glob(filepath.Join(rdir, "db", "ltx", "*", "*.ltx"))
	if len(ltxs) == 0 {
		t.Fatal("no LTX files in the replica")
	}
	for _, p := range ltxs {
		b, _ := os.ReadFile(p)
		for i := len(b) / 3; i < 2*len(b)/3; i++ {
			b[i] ^= 0xff
		}
		os.WriteFile(p, b, 0o600)
	}
	out, err = curbside(t, "", "drill", "--replica", url, "--data", ts.Data)
	if err == nil || !strings.Contains(out, "FAILED") || !strings.Contains(out, "restore") {
		t.Fatalf("drill of a replica with a damaged database: %v\n%s", err, out)
	}
	last, _ = replica.LastReport(ts.Data)
	if last == nil || last.OK || len(last.Problems) == 0 {
		t.Fatalf("the last report does not say the drill failed: %+v", last)
	}
	st, err := store.Open(context.Background(), ts.Data, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, _, err := st.QueryAudit(context.Background(), store.AuditQuery{Action: "backup.drill"})
	if err != nil || len(entries) != 3 {
		t.Fatalf("audit entries of the drills: %d %v", len(entries), err)
	}
	if entries[0].Outcome != store.OutcomeFail {
		b, _ := json.Marshal(entries[0])
		t.Errorf("the newest drill entry is %s", b)
	}
}

// startVersityGW runs versitygw with its POSIX backend in a temporary
// directory on a loopback port, with a bucket curbside-backup, and sets
// the AWS credentials in the environment; it returns the endpoint and the
// backend's directory.
func startVersityGW(t *testing.T) (string, string) {
	gw := newVersityGW(t)
	return gw.endpoint(), gw.dir
}

// versityGW is a versitygw process that a test can stop and start again
// on the same address and backend directory.
type versityGW struct {
	t         *testing.T
	bin, addr string
	dir       string
	log       string
	cmd       *exec.Cmd
}

const versityKey, versitySecret = "curbsidetest", "curbsidetestsecret"

// newVersityGW starts versitygw as startVersityGW says and returns it.
func newVersityGW(t *testing.T) *versityGW {
	t.Helper()
	gw := &versityGW{t: t, bin: tool(t, "versitygw", "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"),
		addr: freeAddr(t), dir: t.TempDir(), log: filepath.Join(t.TempDir(), "versitygw.log")}
	gw.start()
	t.Cleanup(gw.stop)
	// Litestream's S3 client brings its own HTTP client, which the AWS
	// SDK cannot give a CA bundle: without TLS here, none is needed.
	if v, ok := os.LookupEnv("AWS_CA_BUNDLE"); ok {
		os.Unsetenv("AWS_CA_BUNDLE")
		t.Cleanup(func() { os.Setenv("AWS_CA_BUNDLE", v) })
	}
	t.Setenv("AWS_ACCESS_KEY_ID", versityKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", versitySecret)
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(versityKey, versitySecret, "")))
	if err != nil {
		t.Fatal(err)
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(gw.endpoint()), true })
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("curbside-backup")}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return gw
}

func (gw *versityGW) endpoint() string { return "http://" + gw.addr }

// start runs versitygw and waits until it listens.
func (gw *versityGW) start() {
	t := gw.t
	t.Helper()
	logf, err := os.OpenFile(gw.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	gw.cmd = exec.Command(gw.bin, "--access", versityKey, "--secret", versitySecret, "--port", gw.addr, "posix", gw.dir)
	gw.cmd.Stdout, gw.cmd.Stderr = logf, logf
	if err := gw.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("tcp", gw.addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(gw.log)
			t.Fatalf("versitygw did not listen on %s:\n%s", gw.addr, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop kills versitygw, if it runs.
func (gw *versityGW) stop() {
	if gw.cmd != nil {
		gw.cmd.Process.Kill()
		gw.cmd.Wait()
		gw.cmd = nil
	}
}
