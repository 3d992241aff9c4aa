// Package e2e holds Curbside's end-to-end tests: the real server on a
// loopback port (in process, or as the built binary when a test must kill
// it), real clients with real keys, and checks of what reached the disk.
//
// The attack suite is here too: attack_*_test.go, each test named
// TestAttack<what the attacker tried>, with its browser cases in
// webui/test/attack.mjs and sig.mjs. Two attacks are met below this level,
// where they can be measured exactly: receivers that never read, whose
// relay buffers must stay bounded in bytes (relay
// TestOutBufferBoundedInBytes), and an action recorded apart from its audit
// entry (store TestAuditInActionTx and TestAuditRefusedRollsBackAction,
// console TestConsoleAuditInActionTx).
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/curbside-health/curbside/cli"
	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/server"
)

// password is every test user's password; long enough for the default policy.
const password = "correct horse battery staple"

// testServer is a Curbside server running in this process on a loopback
// port, logging at debug level to server.log in its data directory.
type testServer struct {
	URL  string
	Data string

	cancel context.CancelFunc
	done   chan error
	log    *os.File
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	return startServerIn(t, t.TempDir(), "127.0.0.1:0")
}

// restart stops the server and starts it again on the same address and
// data, as a new process would: nothing cached survives.
func (ts *testServer) restart(t *testing.T) *testServer {
	t.Helper()
	ts.stop()
	return startServerIn(t, ts.Data, strings.TrimPrefix(ts.URL, "http://"))
}

func startServerIn(t *testing.T, dir, addr string) *testServer {
	t.Helper()
	return startServerWith(t, dir, addr, nil)
}

// startServerWith is startServerIn with edit applied to the configuration
// first (shorter check intervals, an SMTP password from the environment).
func startServerWith(t *testing.T, dir, addr string, edit func(*server.Config)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		os.MkdirAll(dir, 0o700)
		if logf, err = os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{URL: "http://" + ln.Addr().String(), Data: dir, cancel: cancel, done: make(chan error, 1), log: logf}
	ready := make(chan struct{})
	cfg := server.Config{
		DataDir:  dir,
		Listener: ln,
		Logger:   slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Ready:    func(net.Addr) { close(ready) },
	}
	if edit != nil {
		edit(&cfg)
	}
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

func (ts *testServer) stop() {
	if ts.cancel == nil {
		return
	}
	ts.cancel()
	<-ts.done
	ts.log.Close()
	ts.cancel = nil
}

// aliceAndBob starts a server with two staff users, alice and bob, each
// with one registered device.
func aliceAndBob(t *testing.T) (*testServer, *client.Client, *client.Client, context.Context) {
	t.Helper()
	ts := newTestServer(t)
	ts.addUser(t, "alice", "staff")
	ts.addUser(t, "bob", "staff")
	return ts, ts.device(t, "alice"), ts.device(t, "bob"), ctxT(t)
}

// curbside runs the CLI in process, as a user would type it.
func curbside(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := cli.Run(context.Background(), "test", args, strings.NewReader(stdin), &out, &errb)
	if err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}

func (ts *testServer) addUser(t *testing.T, name, role string) {
	t.Helper()
	if out, err := curbside(t, password+"\n", "user", "add", "--data", ts.Data, "--username", name,
		"--display", strings.ToUpper(name[:1])+name[1:]+" Test", "--role", role, "--password-stdin"); err != nil {
		t.Fatalf("user add %s: %v\n%s", name, err, out)
	}
}

// devicesOf holds every device the harness set up, by data directory and
// username, so that a user's next device is approved by an earlier one.
var devicesOf sync.Map // string → []*client.Client

// device signs a user in and registers a new device. A user's second and
// later devices are approved by an earlier device, as a person would:
// the earlier device answers, the new one shows its code, and the code is
// entered on the earlier one.
// Options are passed to client.Login.
func (ts *testServer) device(t *testing.T, name string, opts ...client.Option) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Login(ctx, ts.URL, name, password, "test device", opts...)
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	key := ts.Data + "\x00" + name
	prev, _ := devicesOf.Load(key)
	earlier, _ := prev.([]*client.Client)
	if c.Pending() {
		approveWithAny(t, ctx, c, earlier)
	}
	devicesOf.Store(key, append(earlier, c))
	return c
}

// approveWithAny approves the pending device c with the newest of earlier
// that is still an active device.
func approveWithAny(t *testing.T, ctx context.Context, c *client.Client, earlier []*client.Client) {
	t.Helper()
	for i := len(earlier) - 1; i >= 0; i-- {
		e := earlier[i]
		if _, err := e.DeviceRequests(ctx); err != nil {
			continue
		}
		st, err := c.Approval(ctx)
		if err != nil {
			t.Fatalf("approval of %s's new device: %v", c.User().Username, err)
		}
		if st.Code == "" {
			continue // another device answered; try the next
		}
		if _, err := e.Approve(ctx, st.Code); err != nil {
			t.Fatalf("approving %s's new device: %v", c.User().Username, err)
		}
		if st, err := c.Approval(ctx); err != nil || !st.Approved {
			t.Fatalf("%s's new device after approval: %+v %v", c.User().Username, st, err)
		}
		return
	}
	t.Fatalf("no earlier device of %s could approve the new one", c.User().Username)
}

func connect(t *testing.T, c *client.Client) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cn, err := c.Connect(ctx)
	if err != nil {
		t.Fatalf("connect %s: %v", c.User().Username, err)
	}
	t.Cleanup(func() { cn.Close() })
	return cn
}

// inbox collects what a connection receives, acking as it goes.
type inbox struct {
	t  *testing.T
	cn *client.Conn

	mu     sync.Mutex
	msgs   []client.Incoming
	events []client.Event
	errs   []error
	wake   chan struct{}
}

func newInbox(t *testing.T, cn *client.Conn) *inbox {
	in := &inbox{t: t, cn: cn, wake: make(chan struct{}, 1)}
	go func() {
		for {
			select {
			case m, ok := <-cn.Messages():
				if !ok {
					return
				}
				in.mu.Lock()
				in.msgs = append(in.msgs, m)
				in.mu.Unlock()
				cn.Ack(m.Seq)
			case e, ok := <-cn.Events():
				if !ok {
					return
				}
				in.mu.Lock()
				in.events = append(in.events, e)
				in.mu.Unlock()
				if e.Seq > 0 {
					cn.Ack(e.Seq)
				}
			case err, ok := <-cn.Errors():
				if !ok {
					return
				}
				in.mu.Lock()
				in.errs = append(in.errs, err)
				in.mu.Unlock()
			case <-cn.Done():
				return
			}
			select {
			case in.wake <- struct{}{}:
			default:
			}
		}
	}()
	return in
}

// waitFor waits until cond holds over what the inbox has, or fails.
func (in *inbox) waitFor(what string, cond func(msgs []client.Incoming, events []client.Event) bool) {
	in.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		in.mu.Lock()
		ok := cond(in.msgs, in.events)
		in.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-in.wake:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			in.mu.Lock()
			defer in.mu.Unlock()
			in.t.Fatalf("timed out waiting for %s; have %d messages %s, events %s, errors %v", what, len(in.msgs), texts(in.msgs), eventKinds(in.events), in.errs)
		}
	}
}

func (in *inbox) message(id string) *client.Incoming {
	in.t.Helper()
	var found *client.Incoming
	in.waitFor("message "+id, func(msgs []client.Incoming, _ []client.Event) bool {
		for i := range msgs {
			if msgs[i].ID == id {
				found = &msgs[i]
				return true
			}
		}
		return false
	})
	return found
}

func (in *inbox) event(typ, msg, kind string) *client.Event {
	in.t.Helper()
	var found *client.Event
	in.waitFor(fmt.Sprintf("%s %s %s", typ, kind, msg), func(_ []client.Incoming, evs []client.Event) bool {
		for i := range evs {
			if evs[i].Type == typ && evs[i].Msg == msg && (kind == "" || evs[i].Kind == kind) {
				found = &evs[i]
				return true
			}
		}
		return false
	})
	return found
}

func (in *inbox) count(id string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for _, m := range in.msgs {
		if m.ID == id {
			n++
		}
	}
	return n
}

func texts(ms []client.Incoming) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return out
}

func eventKinds(es []client.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Type + ":" + e.Kind + ":" + e.Msg
	}
	return out
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// approveState approves the pending device of the CLI state file state
// with the earlier device approver: approver answers, `client devices`
// on the new device shows the code, and approver is given it.
func approveState(t *testing.T, state string, approver *client.Client) {
	t.Helper()
	ctx := ctxT(t)
	if _, err := approver.DeviceRequests(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := curbside(t, "", "client", "devices", "--state", state)
	if err != nil {
		t.Fatalf("client devices on the new device: %v %s", err, out)
	}
	var st struct {
		State, Code string
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.State != "pending" || len(st.Code) != 6 {
		t.Fatalf("client devices on the new device: %q %v", out, err)
	}
	if _, err := approver.Approve(ctx, st.Code); err != nil {
		t.Fatal(err)
	}
	if out, err := curbside(t, "", "client", "devices", "--state", state); err != nil || !strings.Contains(out, `"state":"active"`) {
		t.Fatalf("client devices after approval: %v %s", err, out)
	}
}
