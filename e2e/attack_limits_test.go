package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/server"
)

// limitedServer starts a server on a fresh data directory with the given
// policy values set first and cfg changed by tune.
func limitedServer(t *testing.T, policy []string, tune func(*server.Config)) *testServer {
	t.Helper()
	dir := t.TempDir()
	if len(policy) > 0 {
		if out, err := curbside(t, "", append([]string{"policy", "set", "--data", dir}, policy...)...); err != nil {
			t.Fatalf("policy set: %v\n%s", err, out)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{DataDir: dir, Listener: ln, Logger: slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if tune != nil {
		tune(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{URL: "http://" + ln.Addr().String(), Data: dir, cancel: cancel, done: make(chan error, 1), log: logf}
	ready := make(chan struct{})
	cfg.Ready = func(net.Addr) { close(ready) }
	go func() { ts.done <- server.Run(ctx, cfg) }()
	select {
	case <-ready:
	case err := <-ts.done:
		t.Fatalf("server did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start within 10s")
	}
	t.Cleanup(ts.stop)
	return ts
}

// serverLog returns what the server has logged so far.
func serverLog(t *testing.T, ts *testServer) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ts.Data, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// errorCode reads the code of an API error body.
func errorCode(body []byte) protocol.Code {
	var e struct {
		Error struct {
			Code protocol.Code `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(body, &e)
	return e.Error.Code
}

// TestAttackSlowBodiesHoldConnections: connections that send their
// headers and then trickle a body, with no sign-in, can neither hold more
// than the per-address cap nor stay open past the read timeout, the cap is
// logged at WARN, and /healthz still answers another address throughout.
func TestAttackSlowBodiesHoldConnections(t *testing.T) {
	const perIP, attackers = 8, 24
	ts := limitedServer(t, nil, func(c *server.Config) { c.MaxConnsPerIP = perIP; c.ReadTimeout = 2 * time.Second })
	addr := strings.TrimPrefix(ts.URL, "http://")
	type held struct {
		c net.Conn
		r *bufio.Reader
	}
	var conns []held
	for range attackers {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /api/v1/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", addr)
		conns = append(conns, held{c, bufio.NewReader(c)})
	}
	// Every attacking connection ends within a bound far above the read
	// timeout: refused at once with 503 past the cap, or cut off once the
	// read timeout passes. Without either it would stay open for good.
	refused := 0
	for _, h := range conns {
		h.c.SetReadDeadline(time.Now().Add(30 * time.Second))
		res, err := http.ReadResponse(h.r, nil)
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == 503 && errorCode(body) == protocol.CodeTooManyFromAddress {
				refused++
				continue
			}
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("a connection trickling its body was still open 30 s later")
		}
	}
	if refused < attackers-perIP {
		t.Fatalf("%d of %d connections refused, want at least %d past the per-address cap of %d", refused, attackers, attackers-perIP, perIP)
	}
	if !strings.Contains(serverLog(t, ts), "level=WARN msg=\"connection limit for one address reached") {
		t.Fatal("the per-address cap was not logged at WARN")
	}
	// Another address on the same machine is not held up by the first.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
	res, err := hc.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatalf("/healthz from another address: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("/healthz from another address: %d", res.StatusCode)
	}
}

// TestAttackTotalConnectionCap: connections from several addresses, each
// under the per-address cap, together reach the total cap: the next one,
// from an address that holds only one, is refused with
// too_many_connections and the catalogue's words, the cap is logged at
// WARN once however often it is hit, and a slot given back is served
// again.
func TestAttackTotalConnectionCap(t *testing.T) {
	const total, perIP = 4, 3
	ts := limitedServer(t, nil, func(c *server.Config) { c.MaxConns = total; c.MaxConnsPerIP = perIP })
	addr := strings.TrimPrefix(ts.URL, "http://")
	from := func(ip net.IP) *net.Dialer {
		return &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 10 * time.Second}
	}
	one, two := net.IPv4(127, 0, 0, 1), net.IPv4(127, 0, 0, 2)
	// Each held connection sends its headers and the start of a body, and
	// so stays open within the read timeout (30 s).
	var held []net.Conn
	hold := func(ip net.IP) {
		c, err := from(ip).Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST /api/v1/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", addr)
		held = append(held, c)
	}
	// healthz asks for /healthz on a connection of its own from ip.
	healthz := func(ip net.IP) (int, []byte) {
		c, err := from(ip).Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", addr)
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("/healthz from %v: %v", ip, err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, body
	}
	for range perIP {
		hold(one)
	}
	hold(two) // total connections now, none of its address over perIP
	var code int
	var body []byte
	for i := range 3 {
		code, body = healthz(two)
		if code != http.StatusServiceUnavailable || errorCode(body) != protocol.CodeTooManyConnections {
			t.Fatalf("connection %d past the total cap: %d %s, want 503 %s", i, code, body, protocol.CodeTooManyConnections)
		}
	}
	var e struct{ Error struct{ Message string } }
	json.Unmarshal(body, &e)
	if want := protocol.CodeTooManyConnections.Message(); e.Error.Message != want {
		t.Fatalf("the refusal says %q, want the catalogue's %q", e.Error.Message, want)
	}
	if n := strings.Count(serverLog(t, ts), "level=WARN msg=\"connection limit reached"); n != 1 {
		t.Fatalf("the total cap was logged at WARN %d times, want once", n)
	}
	if strings.Contains(serverLog(t, ts), "connection limit for one address reached") {
		t.Fatal("no address was over its own cap, yet the per-address cap was logged")
	}
	// A held connection closes: its slot is served again.
	held[0].Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := healthz(two)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz after a slot was given back: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAttackIdleKeepAliveHoldsConnection: a kept-alive connection that
// asks for nothing more is closed by the server once the idle timeout
// passes, so idle connections cannot hold slots of the caps for good. The
// idle timeout here (1 s) is far below the read timeout (30 s), which Go
// would otherwise use for the idle wait, and the bound of the wait (10 s)
// between the two, so the test fails if the idle timeout is not applied.
func TestAttackIdleKeepAliveHoldsConnection(t *testing.T) {
	ts := limitedServer(t, nil, func(c *server.Config) { c.IdleTimeout = time.Second })
	addr := strings.TrimPrefix(ts.URL, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Close {
		t.Fatalf("/healthz: %d, close %v: want 200 on a kept-alive connection", res.StatusCode, res.Close)
	}
	// Nothing more is asked: the server closes the connection.
	if _, err := r.ReadByte(); err != io.EOF {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("an idle kept-alive connection was still open 10 s later")
		}
		t.Fatalf("reading the idle connection: %v, want the server to close it (EOF)", err)
	}
}

// upload posts n random bytes as an attachment and returns the status and
// error code.
func upload(t *testing.T, ts *testServer, token string, n int) (int, protocol.Code) {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	res, body := httpDo(t, "POST", ts.URL+"/api/v1/blobs", token, "application/octet-stream", bytes.NewReader(b))
	return res.StatusCode, errorCode(body)
}

// TestAttackAttachmentStorageFlood: a user cannot store more attachments
// than the policy's per-user count and bytes allow; past either, the
// upload is refused with limit_reached, and another user is unaffected.
func TestAttackAttachmentStorageFlood(t *testing.T) {
	ts := limitedServer(t, []string{"attachment_quota_count=5", "attachment_quota_bytes=2097152", "attachment_rate_bytes=1099511627776"}, nil)
	ts.addUser(t, "patient", "patient")
	ts.addUser(t, "bob", "staff")
	tok, tokB := tokenOf(t, ts.device(t, "patient")), tokenOf(t, ts.device(t, "bob"))
	for i := range 5 {
		if st, code := upload(t, ts, tok, 1000); st != 201 {
			t.Fatalf("upload %d within the quota: %d %s", i, st, code)
		}
	}
	if st, code := upload(t, ts, tok, 1000); st != 403 || code != protocol.CodeLimitReached {
		t.Fatalf("upload past the count quota: %d %s, want 403 limit_reached", st, code)
	}
	for range 2 {
		if st, _ := upload(t, ts, tokB, 1<<20); st != 201 {
			t.Fatalf("bob's upload within his quota: %d", st)
		}
	}
	if st, code := upload(t, ts, tokB, 1<<20); st != 403 || code != protocol.CodeLimitReached {
		t.Fatalf("upload past the byte quota: %d %s, want 403 limit_reached", st, code)
	}
	if !strings.Contains(serverLog(t, ts), "attachment quota reached") {
		t.Fatal("the quota was not logged")
	}
}

// TestAttackAttachmentUploadBurst: one user uploading as fast as the
// connection allows is held to the policy's upload rate: after a burst,
// uploads are refused with rate_limited, and another user still uploads.
func TestAttackAttachmentUploadBurst(t *testing.T) {
	ts := limitedServer(t, []string{"attachment_max_bytes=262144", "attachment_rate_bytes=1048576"}, nil)
	ts.addUser(t, "patient", "patient")
	ts.addUser(t, "bob", "staff")
	tok, tokB := tokenOf(t, ts.device(t, "patient")), tokenOf(t, ts.device(t, "bob"))
	stored, limited := 0, 0
	for range 12 {
		switch st, code := upload(t, ts, tok, 200<<10); {
		case st == 201:
			stored++
		case st == 429 && code == protocol.CodeRateLimited:
			limited++
		default:
			t.Fatalf("upload: %d %s", st, code)
		}
	}
	// 1 MiB a minute: five 200 KiB uploads fit the burst; twelve in a row
	// cannot all be taken however fast this machine is.
	if stored > 6 || limited == 0 {
		t.Fatalf("%d of 12 uploads of 200 KiB stored, %d refused: the 1 MiB a minute rate did not hold", stored, limited)
	}
	if st, _ := upload(t, ts, tokB, 200<<10); st != 201 {
		t.Fatalf("another user's upload: %d", st)
	}
}

// TestAttackQueueFloodOfflineDevice: a sender cannot fill an offline
// device's queue past the policy's cap. The message past it is refused
// with queue_full, and every message accepted before is still delivered.
func TestAttackQueueFloodOfflineDevice(t *testing.T) {
	ts := limitedServer(t, []string{"queue_max_per_device=100"}, nil)
	ts.addUser(t, "alice", "staff")
	ts.addUser(t, "bob", "staff")
	a, b := ts.device(t, "alice"), ts.device(t, "bob")
	ca := connect(t, a)
	ctx := ctxT(t)
	for i := range 100 {
		if _, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: fmt.Sprint("flood ", i)}); err != nil {
			t.Fatalf("message %d within the cap: %v", i, err)
		}
	}
	_, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: "one too many"})
	var e *client.Error
	if !errors.As(err, &e) || e.Code != protocol.CodeQueueFull {
		t.Fatalf("message past the cap: %v, want queue_full", err)
	}
	in := newInbox(t, connect(t, b))
	in.waitFor("all 100 accepted messages", func(msgs []client.Incoming, _ []client.Event) bool { return len(msgs) >= 100 })
}

// TestAttackSessionFlood: signing in again and again cannot pile up
// sessions: past the policy's cap, sign-in is refused with limit_reached.
func TestAttackSessionFlood(t *testing.T) {
	ts := limitedServer(t, []string{"sessions_max_per_user=3"}, nil)
	ts.addUser(t, "alice", "staff")
	b, _ := json.Marshal(map[string]string{"username": "alice", "password": password})
	for i := range 4 {
		res, err := http.Post(ts.URL+"/api/v1/login", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch {
		case i < 3 && res.StatusCode != 200:
			t.Fatalf("sign-in %d within the cap: %d %s", i, res.StatusCode, body)
		case i == 3 && (res.StatusCode != 403 || errorCode(body) != protocol.CodeLimitReached):
			t.Fatalf("sign-in past the cap: %d %s, want 403 limit_reached", res.StatusCode, body)
		}
	}
}

// TestAttackDeviceFlood: one user cannot register devices without end:
// past the policy's cap, registration is refused with limit_reached.
func TestAttackDeviceFlood(t *testing.T) {
	ts := limitedServer(t, []string{"devices_max_per_user=2"}, nil)
	ts.addUser(t, "alice", "staff")
	ts.device(t, "alice")
	ts.device(t, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.Login(ctx, ts.URL, "alice", password, "third device")
	if err == nil || !strings.Contains(err.Error(), string(protocol.CodeLimitReached)) {
		t.Fatalf("third device: %v, want limit_reached", err)
	}
}
