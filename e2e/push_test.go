package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/protocol"
)

// pushService is npm web-push-testing, a Web Push service run on loopback:
// it hands out subscriptions, decrypts what is pushed to them with the
// subscription's private key (as a browser would), and lists it. In front
// of it a recording proxy keeps the headers of every push, which
// web-push-testing does not report.
type pushService struct {
	t     *testing.T
	base  string // web-push-testing's own API
	proxy string // where subscriptions point: the recording proxy

	mu      sync.Mutex
	headers map[string][]http.Header // by client hash
}

func startPushService(t *testing.T) *pushService {
	t.Helper()
	bin, _ := filepath.Abs("../webui/test/node_modules/web-push-testing/src/bin/server.js")
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node"
	} else if _, err := os.Stat(bin); err != nil {
		missing = "webui/test/node_modules/web-push-testing (run: cd webui/test && npm ci)"
	}
	if missing != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("the push tests cannot run: %s is missing; .ci/run installs it", missing)
		}
		t.Skipf("push tests skipped: %s is missing", missing)
	}
	port := freeAddr(t)[len("127.0.0.1:"):]
	cmd := exec.Command("node", bin, port)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("web-push-testing:\n%s", out.String())
		}
	})
	ps := &pushService{t: t, base: "http://127.0.0.1:" + port, headers: map[string][]http.Header{}}
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Post(ps.base+"/status", "application/json", nil)
		if err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("web-push-testing did not start: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	target, _ := url.Parse(ps.base)
	rp := httputil.NewSingleHostReverseProxy(target)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps.mu.Lock()
		hash := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		ps.headers[hash] = append(ps.headers[hash], r.Header.Clone())
		ps.mu.Unlock()
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	ps.proxy = "http://" + ln.Addr().String()
	return ps
}

func (ps *pushService) call(path string, in, out any) int {
	ps.t.Helper()
	b, _ := json.Marshal(in)
	res, err := http.Post(ps.base+path, "application/json", bytes.NewReader(b))
	if err != nil {
		ps.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode == 200 {
		if err := json.Unmarshal(body, out); err != nil {
			ps.t.Fatalf("%s: %v: %s", path, err, body)
		}
	}
	return res.StatusCode
}

// subscribe makes a subscription for the device behind c and registers it
// with the server, as the PWA does after PushManager.subscribe.
func (ps *pushService) subscribe(ctx context.Context, c *client.Client) string {
	ps.t.Helper()
	key, err := c.PushKey(ctx)
	if err != nil || key == "" {
		ps.t.Fatalf("the server offers no VAPID key: %q %v", key, err)
	}
	var res struct {
		Data struct {
			Endpoint string `json:"endpoint"`
			Keys     struct {
				P256DH string `json:"p256dh"`
				Auth   string `json:"auth"`
			} `json:"keys"`
			ClientHash string `json:"clientHash"`
		} `json:"data"`
	}
	if code := ps.call("/subscribe", map[string]string{"userVisibleOnly": "true", "applicationServerKey": key}, &res); code != 200 {
		ps.t.Fatalf("subscribe: %d", code)
	}
	var sub client.PushSubscription
	u, _ := url.Parse(res.Data.Endpoint)
	sub.Endpoint = ps.proxy + u.Path
	sub.Keys.P256DH, sub.Keys.Auth = res.Data.Keys.P256DH, res.Data.Keys.Auth
	if err := c.SubscribePush(ctx, sub); err != nil {
		ps.t.Fatalf("register the subscription: %v", err)
	}
	return res.Data.ClientHash
}

// received returns the decrypted payloads pushed to a subscription.
func (ps *pushService) received(hash string) []string {
	ps.t.Helper()
	var res struct {
		Data struct {
			Messages []string `json:"messages"`
		} `json:"data"`
	}
	if code := ps.call("/get-notifications", map[string]string{"clientHash": hash}, &res); code != 200 {
		ps.t.Fatalf("get-notifications: %d", code)
	}
	return res.Data.Messages
}

func (ps *pushService) waitFor(hash string, n int) []string {
	ps.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := ps.received(hash)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			ps.t.Fatalf("waited for %d pushes, have %d: %q", n, len(got), got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (ps *pushService) headersOf(hash string) []http.Header {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return slices.Clone(ps.headers[hash])
}

// TestPushWakesOfflineDevices drives the real binary with a push service
// on loopback: a message for an offline device wakes it with exactly one
// push however many wait (until it connects again), an urgent one is sent
// with Urgency high, do-not-disturb holds back all but urgent ones, a
// subscription the push service calls gone is removed, the VAPID key and
// the subscriptions made with it survive a restart, and no push carries a
// word of any message, or a name.
func TestPushWakesOfflineDevices(t *testing.T) {
	const marker = "PHI-MARKER-push-Jane-Doe-1962-03-14"
	ps := startPushService(t)
	data, addr := t.TempDir(), freeAddr(t)
	srv := startProc(t, data, addr, "--push-allow-loopback")
	ts := &testServer{URL: "http://" + addr, Data: data}
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		ts.addUser(t, u, "staff")
	}
	a, b, c, d := ts.device(t, "alice"), ts.device(t, "bob"), ts.device(t, "carol"), ts.device(t, "dave")
	ctx := ctxT(t)
	hb, hc, hd := ps.subscribe(ctx, b), ps.subscribe(ctx, c), ps.subscribe(ctx, d)
	ca := connect(t, a)
	ia := newInbox(t, ca) // alice sees carol's presence: they have written to each other
	send := func(to *client.Client, text string, flags uint32) {
		t.Helper()
		if _, err := ca.Send(ctx, client.Outgoing{To: []int64{to.User().ID}, Text: marker + " " + text, Flags: flags}); err != nil {
			t.Fatal(err)
		}
	}

	// Two messages for bob, offline: one push. A message for carol after
	// them shows that bob's second was decided (decisions keep order).
	send(b, "first", 0)
	send(b, "second", 0)
	send(c, "to carol", 0)
	ps.waitFor(hc, 1)
	got := ps.waitFor(hb, 1)
	if len(got) != 1 {
		t.Fatalf("bob got %d pushes for two messages, want 1: %q", len(got), got)
	}
	p := decodePush(t, got[0])
	if p.Urgent || p.Conv != protocol.DirectConv(a.User().ID, b.User().ID) {
		t.Fatalf("push %+v: want a normal one for the conversation with alice", p)
	}
	if h := ps.headersOf(hb)[0]; h.Get("Urgency") != "normal" {
		t.Fatalf("a normal message pushed with Urgency %q", h.Get("Urgency"))
	}

	// An urgent message is pushed even so, with Urgency high and a short TTL.
	send(b, "urgent", protocol.FlagUrgent)
	got = ps.waitFor(hb, 2)
	if !decodePush(t, got[1]).Urgent {
		t.Fatalf("the urgent push says %s", got[1])
	}
	if h := ps.headersOf(hb)[1]; h.Get("Urgency") != "high" || h.Get("TTL") != "300" {
		t.Fatalf("urgent push headers: Urgency %q TTL %q", h.Get("Urgency"), h.Get("TTL"))
	}

	// Carol connects (reads her message), chooses do-not-disturb and
	// leaves: a normal message waits without a push, an urgent one wakes
	// her (the default policy lets urgent ones through).
	cc := connect(t, c)
	newInbox(t, cc).waitFor("carol's message", func(ms []client.Incoming, _ []client.Event) bool { return len(ms) == 1 })
	if err := cc.SetPresence(ctx, protocol.PresenceDND); err != nil {
		t.Fatal(err)
	}
	cc.Close()
	ia.waitFor("carol offline", func(_ []client.Incoming, evs []client.Event) bool {
		for _, e := range evs {
			if e.Type == protocol.TPresence && e.User == c.User().ID && e.Status == protocol.PresenceOffline {
				return true
			}
		}
		return false
	})
	send(c, "while on dnd", 0)
	send(c, "urgent on dnd", protocol.FlagUrgent)
	got = ps.waitFor(hc, 2)
	if len(got) != 2 || !decodePush(t, got[1]).Urgent {
		t.Fatalf("carol on do-not-disturb got %q: want the earlier push and the urgent one only", got)
	}

	// The push service says dave's subscription expired: the next push
	// gets 410, and the server forgets the subscription.
	if code := ps.call("/expire-subscription/"+hd, map[string]string{}, nil); code != 200 {
		t.Fatalf("expire: %d", code)
	}
	send(d, "for dave", 0)
	deadline := time.Now().Add(20 * time.Second)
	for {
		on, err := d.PushSubscribed(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !on {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a subscription answered 410 was kept")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The VAPID keys are in the database: after a restart the server
	// offers the same public key, and a subscription made before it still
	// takes pushes signed with the private key (web-push-testing checks the
	// signature against the key the subscription was made with).
	key, err := a.PushKey(ctx)
	if err != nil || key == "" {
		t.Fatalf("VAPID key before the restart: %q %v", key, err)
	}
	srv.kill()
	startProc(t, data, addr, "--push-allow-loopback")
	if after, err := a.PushKey(ctx); err != nil || after != key {
		t.Fatalf("VAPID key after the restart %q (%v), before %q", after, err, key)
	}
	before := len(ps.received(hb))
	ca = connect(t, a)
	send(b, "after the restart", 0)
	got = ps.waitFor(hb, before+1)
	if p := decodePush(t, got[before]); p.Urgent || p.Conv != protocol.DirectConv(a.User().ID, b.User().ID) {
		t.Fatalf("push after the restart %+v: want a normal one for the conversation with alice", p)
	}
	if on, err := b.PushSubscribed(ctx); err != nil || !on {
		t.Fatalf("bob's subscription after the restart: %v %v", on, err)
	}

	// No push said anything of what was written, or by whom.
	for _, h := range []string{hb, hc, hd} {
		for _, m := range ps.received(h) {
			for _, banned := range []string{"PHI-MARKER", "Jane", "alice", "Alice", "bob", "carol", "dave"} {
				if strings.Contains(m, banned) {
					t.Errorf("a push carries %q: %s", banned, m)
				}
			}
		}
	}
	scanForMarker(t, data, marker)
}

// decodePush parses a payload and checks it holds the PHI-free fields and
// nothing else.
func decodePush(t *testing.T, s string) (p struct {
	V      int    `json:"v"`
	Type   string `json:"type"`
	Urgent bool   `json:"urgent"`
	Conv   string `json:"conv"`
}) {
	t.Helper()
	var fields map[string]any
	if err := json.Unmarshal([]byte(s), &fields); err != nil {
		t.Fatalf("push payload %q: %v", s, err)
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if fmt.Sprint(keys) != "[conv type urgent v]" {
		t.Fatalf("push payload has fields %v, want exactly conv, type, urgent, v", keys)
	}
	json.Unmarshal([]byte(s), &p)
	if p.V != 1 || p.Type != "message" {
		t.Fatalf("push payload %s", s)
	}
	return p
}
