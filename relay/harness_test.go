package relay

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/protocol"
)

// waitTimeout only keeps a broken test from hanging; no test's outcome
// depends on how quickly something happens within it.
const waitTimeout = 20 * time.Second

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// The directory every test starts from.
const (
	alice, aliceA, aliceB = 1, 11, 12 // two devices
	bob, bobA, bobB       = 2, 21, 22 // two devices
	carol, carolA         = 3, 31
	dave                  = 4 // exists, no active device
	erin, erinA           = 5, 51
	nobody                = 9 // no such user

	staffGroup = 100 // alice, bob, carol
	otherGroup = 101 // bob, carol: not alice
	daveGroup  = 102 // alice, bob, dave
	noGroup    = 199 // no such group
)

func directoryStore() *fakeStore {
	st := newFakeStore()
	st.addUser(alice, "alice", aliceA, aliceB)
	st.addUser(bob, "bob", bobA, bobB)
	st.addUser(carol, "carol", carolA)
	st.addUser(dave, "dave")
	st.addUser(erin, "erin", erinA)
	st.setGroup(staffGroup, carol, alice, bob)
	st.setGroup(otherGroup, bob, carol)
	st.setGroup(daveGroup, alice, bob, dave)
	return st
}

// testGuard admits a request as the user and device its test headers name,
// as the server's guard does after checking the session.
type testGuard struct{}

func (testGuard) Admit(r *http.Request, access web.Access) (*http.Request, error) {
	u, _ := strconv.ParseInt(r.Header.Get("X-Test-User"), 10, 64)
	d, _ := strconv.ParseInt(r.Header.Get("X-Test-Device"), 10, 64)
	if u == 0 {
		return nil, protocol.CodeUnauthorized.Err()
	}
	c := web.Caller{User: u, Device: d}
	if tok := r.Header.Get("X-Test-Session"); tok != "" {
		c.Session = sha256Sum([]byte(tok))
	}
	return r.WithContext(web.WithCaller(r.Context(), c)), nil
}

type testRelay struct {
	t       *testing.T
	st      *fakeStore
	r       *Relay
	srv     *httptest.Server
	sockBuf int // when set, the relay's socket send buffer, in bytes
}

type relayOpt func(*testRelay, *Config)

func withConfig(f func(*Config)) relayOpt { return func(_ *testRelay, c *Config) { f(c) } }

// withSmallSockets shrinks the relay's TCP send buffers, so a device that
// does not read stalls the relay's writes after a few frames. (The
// device's receive buffer keeps its size: a tiny receive window makes
// loopback TCP crawl once the device reads again.)
func withSmallSockets() relayOpt { return func(tr *testRelay, _ *Config) { tr.sockBuf = 4096 } }

// startRelay serves a relay over st through the real route table behind
// testGuard.
func startRelay(t *testing.T, st *fakeStore, opts ...relayOpt) *testRelay {
	t.Helper()
	tr := &testRelay{t: t, st: st}
	cfg := Config{Store: st}
	for _, o := range opts {
		o(tr, &cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr.r = r
	mux := http.NewServeMux()
	web.Mount(mux, slog.New(slog.DiscardHandler), testGuard{}, r.Routes())
	tr.srv = httptest.NewUnstartedServer(mux)
	if tr.sockBuf > 0 {
		tr.srv.Listener = smallBufListener{tr.srv.Listener, tr.sockBuf}
	}
	tr.srv.Start()
	t.Cleanup(func() {
		r.Close()
		tr.srv.Close()
		st.Close()
	})
	return tr
}

type smallBufListener struct {
	net.Listener
	size int
}

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(l.size)
	}
	return c, err
}

// testConn is a device's WebSocket to the relay. A reader goroutine decodes
// every server frame; presence and devices frames are kept apart, since
// they come and go with other devices and are best effort.
type testConn struct {
	t            *testing.T
	ws           *websocket.Conn
	user, device int64

	frames   chan frame
	presence chan frame
	devices  chan frame
	start    chan struct{}
	ended    chan struct{} // closed when the reader stops
	endErr   error         // why; read after ended
	once     sync.Once
}

type frame struct {
	protocol.ServerFrame
	raw []byte
}

func (f frame) String() string { return string(f.raw) }

// dial connects a device and checks the hello frame.
func (tr *testRelay) dial(user, device int64) *testConn {
	tr.t.Helper()
	c := tr.dialPaused(user, device)
	c.startReading()
	return c
}

// dialPaused connects a device whose reader does not start until
// startReading: until then the relay's frames stay in the socket.
func (tr *testRelay) dialPaused(user, device int64) *testConn {
	tr.t.Helper()
	c, err := tr.tryDial(user, device)
	if err != nil {
		tr.t.Fatalf("dial %d/%d: %v", user, device, err)
	}
	return c
}

func (tr *testRelay) tryDial(user, device int64) (*testConn, error) {
	return tr.tryDialSession(user, device, "")
}

// tryDialSession dials as a device signed in under the session token tok
// (empty: none).
func (tr *testRelay) tryDialSession(user, device int64, tok string) (*testConn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	h := http.Header{}
	if tok != "" {
		h.Set("X-Test-Session", tok)
	}
	h.Set("X-Test-User", strconv.FormatInt(user, 10))
	h.Set("X-Test-Device", strconv.FormatInt(device, 10))
	opts := &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}, HTTPHeader: h}
	ws, _, err := websocket.Dial(ctx, tr.srv.URL+"/api/v1/relay", opts)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(4 * protocol.MaxFrameBytes)
	c := &testConn{t: tr.t, ws: ws, user: user, device: device,
		frames: make(chan frame, 4096), presence: make(chan frame, 4096), devices: make(chan frame, 4096),
		start: make(chan struct{}), ended: make(chan struct{})}
	go c.readLoop()
	tr.t.Cleanup(func() { c.close() })
	return c, nil
}

func (c *testConn) startReading() {
	c.t.Helper()
	c.once.Do(func() { close(c.start) })
	h := c.next()
	if h.Type != protocol.THello || h.User != c.user || h.Device != c.device || h.Protocol != protocol.Version {
		c.t.Fatalf("device %d: first frame %s, want hello for %d/%d", c.device, h, c.user, c.device)
	}
}

func (c *testConn) readLoop() {
	defer close(c.ended)
	<-c.start
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.endErr = err
			return
		}
		var f frame
		f.raw = data
		if typ != websocket.MessageText {
			f.Type = "(binary)"
		} else if err := json.Unmarshal(data, &f.ServerFrame); err != nil {
			f.Type = "(undecodable)"
		}
		if f.Type == protocol.TPresence {
			c.presence <- f
			continue
		}
		if f.Type == protocol.TDevices {
			c.devices <- f
			continue
		}
		c.frames <- f
	}
}

func (c *testConn) close() {
	c.once.Do(func() { close(c.start) })
	c.ws.Close(websocket.StatusNormalClosure, "")
}

// next returns the next frame other than presence.
func (c *testConn) next() frame {
	c.t.Helper()
	select {
	case f := <-c.frames:
		return f
	case <-c.ended:
		// Frames read before the end are still in the channel.
		select {
		case f := <-c.frames:
			return f
		default:
		}
		c.t.Fatalf("device %d: connection ended while waiting for a frame: %v", c.device, c.endErr)
	case <-time.After(waitTimeout):
		c.t.Fatalf("device %d: no frame within %v", c.device, waitTimeout)
	}
	return frame{}
}

// nextN returns the next n frames other than presence.
func (c *testConn) nextN(n int) []frame {
	c.t.Helper()
	out := make([]frame, n)
	for i := range out {
		out[i] = c.next()
	}
	return out
}

// noFrame checks that no frame other than presence is waiting now.
func (c *testConn) noFrame() {
	c.t.Helper()
	select {
	case f := <-c.frames:
		c.t.Fatalf("device %d: unexpected frame %s", c.device, f)
	default:
	}
}

// waitEnd waits until the relay ends the connection and returns its close
// status (-1: closed without a close frame).
func (c *testConn) waitEnd() websocket.StatusCode {
	c.t.Helper()
	select {
	case <-c.ended:
		return websocket.CloseStatus(c.endErr)
	case <-time.After(waitTimeout):
		c.t.Fatalf("device %d: connection still open after %v", c.device, waitTimeout)
		return 0
	}
}

func (c *testConn) write(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("device %d: write: %v", c.device, err)
	}
}

func (c *testConn) writeJSON(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.write(b)
}

// send sends env in a send frame.
func (c *testConn) send(env *protocol.Envelope) {
	c.t.Helper()
	c.writeJSON(map[string]any{"type": protocol.TSend, "env": env})
}

// sendOK sends env and checks it is accepted.
func (c *testConn) sendOK(env *protocol.Envelope) frame {
	c.t.Helper()
	c.send(env)
	f := c.next()
	wantAccepted(c.t, f, env.ID, false)
	return f
}

func wantAccepted(t *testing.T, f frame, id string, dup bool) {
	t.Helper()
	if f.Type != protocol.TAccepted || f.ID != id || f.Dup != dup || f.TS <= 0 {
		t.Fatalf("got %s, want accepted %s (dup %v)", f, id, dup)
	}
}

func wantError(t *testing.T, f frame, code protocol.Code, ref string) {
	t.Helper()
	if f.Type != protocol.TError || f.Code != code || f.Ref != ref || f.Message == "" {
		t.Fatalf("got %s, want error %s with ref %q", f, code, ref)
	}
}

// wantMsg checks that f is a queued message carrying env byte for byte.
func wantMsg(t *testing.T, f frame, env *protocol.Envelope) {
	t.Helper()
	raw, _ := json.Marshal(env)
	if f.Type != protocol.TMsg || f.Seq <= 0 || !bytes.Equal(f.Env, raw) {
		t.Fatalf("got %s, want msg with envelope %s", f, env.ID)
	}
}

// eventually waits until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not so after %v", what, waitTimeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sessionOf returns the relay's session of a device, if connected.
func (tr *testRelay) sessionOf(device int64) *session {
	tr.r.mu.RLock()
	defer tr.r.mu.RUnlock()
	return tr.r.sessions[device]
}

// catchingUp reports whether a connected device's session is reading its
// queue from the store rather than taking live items.
func (tr *testRelay) catchingUp(device int64) (catchUp, connected bool) {
	s := tr.sessionOf(device)
	if s == nil {
		return false, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.catchUp, true
}

// waitLive waits until a device's session has finished its first catch-up
// pass and takes live items.
func (tr *testRelay) waitLive(device int64) {
	tr.t.Helper()
	eventually(tr.t, fmt.Sprintf("device %d takes live items", device), func() bool {
		cu, ok := tr.catchingUp(device)
		return ok && !cu
	})
}

// Envelopes. The relay checks shapes and routing, not cryptography, so the
// sealed keys, nonce, body and signature are filler of the right sizes.

func party(user, device int64) protocol.Party { return protocol.Party{User: user, Device: device} }

var idSeq struct {
	sync.Mutex
	n int
}

// newID returns a fresh, valid message id.
func newID(tag string) string {
	idSeq.Lock()
	defer idSeq.Unlock()
	idSeq.n++
	return fmt.Sprintf("%s-%016d", tag, idSeq.n)
}

func newEnv(conv string, from protocol.Party, to ...protocol.Party) *protocol.Envelope {
	e := &protocol.Envelope{
		V: protocol.EnvelopeVersion, Suite: protocol.SuiteX25519AES256, ID: newID("m"), Conv: conv, From: from,
		Created: time.Now().UnixMilli(), Commit: make([]byte, protocol.CommitBytesLen), Nonce: make([]byte, protocol.NonceBytes),
		Body: bytes.Repeat([]byte{0xb0}, 32), Sig: make([]byte, protocol.SignatureBytes),
	}
	for _, p := range to {
		e.Keys = append(e.Keys, protocol.SealedKey{User: p.User, Device: p.Device, Sealed: make([]byte, protocol.SealedKeyBytes)})
	}
	return e
}

// aliceToBob is a correctly addressed direct message from alice's first
// device: bob's two devices and alice's other one.
func aliceToBob() *protocol.Envelope {
	return newEnv(protocol.DirectConv(alice, bob), party(alice, aliceA), party(bob, bobA), party(bob, bobB), party(alice, aliceB))
}

func seqsOf(fs []frame) []int64 {
	out := make([]int64, len(fs))
	for i, f := range fs {
		out[i] = f.Seq
	}
	return out
}

func typesOf(fs []frame) string {
	ts := make([]string, len(fs))
	for i, f := range fs {
		ts[i] = f.Type
		if f.Ref != "" {
			ts[i] += "(" + f.Ref + ")"
		} else if f.ID != "" {
			ts[i] += "(" + f.ID + ")"
		}
	}
	return strings.Join(ts, " ")
}
