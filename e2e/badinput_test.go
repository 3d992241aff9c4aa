package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/protocol"
)

// tokenOf returns a client's session token, read from its saved state as
// another program using the same device would.
func tokenOf(t *testing.T, c *client.Client) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.json")
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var st struct {
		Token string `json:"token"`
	}
	json.Unmarshal(b, &st)
	return st.Token
}

// rawConn opens the relay WebSocket with no client logic on top.
func rawConn(t *testing.T, ts *testServer, token string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, res, err := websocket.Dial(ctx, strings.Replace(ts.URL, "http", "ws", 1)+"/api/v1/relay", &websocket.DialOptions{
		HTTPHeader:   http.Header{"Authorization": {"Bearer " + token}},
		Subprotocols: []string{protocol.Subprotocol},
	})
	if err != nil {
		code := 0
		if res != nil {
			code = res.StatusCode
		}
		t.Fatalf("dial relay: %v (HTTP %d)", err, code)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}

// readUntil reads frames until one has the given type.
func readUntil(t *testing.T, ws *websocket.Conn, typ string) protocol.ServerFrame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for a %s frame: %v", typ, err)
		}
		var f protocol.ServerFrame
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("server sent invalid JSON %q", b)
		}
		if f.Type == typ {
			return f
		}
	}
}

func write(t *testing.T, ws *websocket.Conn, typ websocket.MessageType, b []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ws.Write(ctx, typ, b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// TestBadInput: each kind of bad input gets a clear error frame (or a clean
// close) and the session, the server and accepted messages survive.
func TestBadInput(t *testing.T) {
	ts, a, b, ctx := aliceAndBob(t)
	ws := rawConn(t, ts, tokenOf(t, a))
	readUntil(t, ws, protocol.THello)

	cases := []struct {
		name  string
		frame string
		code  protocol.Code
	}{
		{"not JSON", `{"type":`, protocol.CodeBadFrame},
		{"unknown type", `{"type":"launch","ref":"r1"}`, protocol.CodeBadFrame},
		{"unknown field", `{"type":"ack","seqs":[1],"admin":true}`, protocol.CodeBadFrame},
		{"bad envelope", `{"type":"send","env":{"v":9}}`, protocol.CodeBadEnvelope},
		{"bad conversation", `{"type":"send","env":` + envJSON(t, a, b, func(e *protocol.Envelope) { e.Conv = "x:1" }) + `}`, protocol.CodeBadEnvelope},
		{"someone else's device", `{"type":"send","env":` + envJSON(t, a, b, func(e *protocol.Envelope) { e.From.Device++ }) + `}`, protocol.CodeForbidden},
		{"not in the conversation", `{"type":"send","env":` + envJSON(t, a, b, func(e *protocol.Envelope) { e.Conv = protocol.DirectConv(b.User().ID, 999) }) + `}`, protocol.CodeForbidden},
		// Answered like a user the participation rules hide, so that ids
		// cannot be walked.
		{"unknown recipient", `{"type":"send","env":` + envJSON(t, a, b, func(e *protocol.Envelope) {
			e.Conv = protocol.BroadcastConv(a.User().ID, "x")
			e.Keys[0].User = 999
		}) + `}`, protocol.CodeNotReachable},
		{"stale devices", `{"type":"send","env":` + envJSON(t, a, b, func(e *protocol.Envelope) { e.Keys[0].Device = 12345 }) + `}`, protocol.CodeDevicesChanged},
		{"unsigned recall", `{"type":"recall","msg":"nosuchmessage0000000"}`, protocol.CodeBadFrame},
		{"unknown message", `{"type":"recall","msg":"nosuchmessage0000000","conv":"d:1:2","at":1,"sig":"` + strings.Repeat("A", 86) + `=="}`, protocol.CodeNotFound},
	}
	for _, tc := range cases {
		write(t, ws, websocket.MessageText, []byte(tc.frame))
		f := readUntil(t, ws, protocol.TError)
		if f.Code != tc.code || f.Message == "" {
			t.Errorf("%s: error frame %+v, want code %s with a message", tc.name, f, tc.code)
		}
	}
	write(t, ws, websocket.MessageBinary, []byte{0, 1, 2})
	if f := readUntil(t, ws, protocol.TError); f.Code != protocol.CodeBadFrame {
		t.Errorf("binary frame: %+v", f)
	}
	// The session still works after all that.
	write(t, ws, websocket.MessageText, []byte(`{"type":"presence","status":"away","ref":"still-here"}`))
	if f := readUntil(t, ws, protocol.TOK); f.Ref != "still-here" {
		t.Fatalf("ok frame %+v", f)
	}

	// A frame over the limit closes the connection with 1009, and nothing
	// else is harmed.
	write(t, ws, websocket.MessageText, []byte(`{"type":"send","env":"`+strings.Repeat("A", protocol.MaxFrameBytes)+`"}`))
	var err error
	for err == nil { // frames already on their way (presence) come first
		_, _, err = ws.Read(ctx)
	}
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("oversized frame: %v, want close 1009", err)
	}

	// A connection dropped in the middle of a frame.
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /api/v1/relay HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: curbside.v1\r\nAuthorization: Bearer %s\r\n\r\n", tokenOf(t, a))
	buf := make([]byte, 512)
	conn.Read(buf)
	conn.Write([]byte{0x81, 0xFE, 0x10, 0x00, 1, 2, 3, 4, 'x'}) // header says 4096 bytes; send one
	// Half-close and wait for the server to hang up: by then it has
	// registered and dropped this session, so it cannot replace the
	// connection made for the same device below.
	conn.(*net.TCPConn).CloseWrite()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, conn)
	conn.Close()

	// Unauthenticated and device-less sessions are refused before upgrade.
	for name, token := range map[string]string{"no token": "", "bad token": "garbage"} {
		_, res, err := websocket.Dial(ctx, strings.Replace(ts.URL, "http", "ws", 1)+"/api/v1/relay", &websocket.DialOptions{
			HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}, Subprotocols: []string{protocol.Subprotocol}})
		if err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %v, want 401", name, err)
		}
	}

	// Through it all, the server kept working for everyone.
	ca, cb := connect(t, a), connect(t, b)
	ib := newInbox(t, cb)
	acc, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: "still working"})
	if err != nil {
		t.Fatal(err)
	}
	ib.message(acc.ID)
}

// envJSON seals a real direct message from a to b and lets mutate change
// it before encoding.
func envJSON(t *testing.T, a, b *client.Client, mutate func(*protocol.Envelope)) string {
	t.Helper()
	p, err := a.Prepare(ctxT(t), client.Outgoing{To: []int64{b.User().ID}, Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	e := *p.Env
	e.Keys = append([]protocol.SealedKey(nil), e.Keys...)
	mutate(&e)
	raw, _ := json.Marshal(&e)
	return string(raw)
}

// TestForgedSignatureIsDropped: the relay does not check signatures, so a
// forged envelope is accepted and delivered; the recipient's client refuses
// it, reports it, and acknowledges it so it is not delivered forever.
func TestForgedSignatureIsDropped(t *testing.T) {
	_, a, b, ctx := aliceAndBob(t)
	ca := connect(t, a)
	p, err := a.Prepare(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: "tampered"})
	if err != nil {
		t.Fatal(err)
	}
	env := *p.Env
	env.Sig = append([]byte(nil), env.Sig...)
	env.Sig[0] ^= 0xff
	raw, _ := json.Marshal(&env)
	p.Frame = []byte(`{"type":"send","env":` + string(raw) + `}`)
	if _, err := ca.SendPrepared(ctx, p); err != nil {
		t.Fatal(err)
	}
	cb := connect(t, b)
	select {
	case err := <-cb.Errors():
		var me *client.MessageError
		if !errors.As(err, &me) || me.ID != p.ID {
			t.Fatalf("error %v, want a MessageError for %s", err, p.ID)
		}
	case m := <-cb.Messages():
		t.Fatalf("forged message delivered to the application: %+v", m)
	case <-time.After(10 * time.Second):
		t.Fatal("no error for the forged message")
	}
	// It was acknowledged: a new connection does not get it again.
	cb.Close()
	cb2 := connect(t, b)
	ib := newInbox(t, cb2)
	probe, _ := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: "probe"})
	ib.message(probe.ID)
	ib.mu.Lock()
	defer ib.mu.Unlock()
	if len(ib.errs) != 0 || len(ib.msgs) != 1 {
		t.Fatalf("after reconnect: messages %v errors %v", texts(ib.msgs), ib.errs)
	}
}

// TestSlowConsumer: a device that does not read while thousands of
// messages arrive for it costs the server nothing it cannot bound, and
// loses nothing: once it reads, every message is there.
func TestSlowConsumer(t *testing.T) {
	ts, a, b, ctx := aliceAndBob(t)
	ca := connect(t, a)
	ws := rawConn(t, ts, tokenOf(t, b)) // connected, never reading (for now)

	const n = 2000
	body := strings.Repeat("x", 1000)
	want := map[string]bool{}
	for i := range n {
		p, err := a.Prepare(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: fmt.Sprintf("%04d %s", i, body)})
		if err != nil {
			t.Fatal(err)
		}
		if i < n-1 {
			errc := make(chan error, 1)
			if err := ca.SendPreparedAsync(p, func(_ client.Accepted, err error) { errc <- err }); err != nil {
				t.Fatal(err)
			}
			go func() {
				if err := <-errc; err != nil {
					t.Error(err)
				}
			}()
		} else if _, err := ca.SendPrepared(ctx, p); err != nil {
			t.Fatal(err)
		}
		want[p.ID] = true
	}
	// Now read everything; the server may have disconnected the stalled
	// reader, in which case a reconnect gets the rest from the queue.
	got := map[string]bool{}
	for len(got) < n {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, data, err := ws.Read(rctx)
		cancel()
		if err != nil {
			ws = rawConn(t, ts, tokenOf(t, b))
			continue
		}
		var f protocol.ServerFrame
		json.Unmarshal(data, &f)
		if f.Type != protocol.TMsg {
			continue
		}
		var env protocol.Envelope
		json.Unmarshal(f.Env, &env)
		got[env.ID] = true
		ack, _ := json.Marshal(protocol.ClientFrame{Type: protocol.TAck, Seqs: []int64{f.Seq}})
		ws.Write(ctx, websocket.MessageText, ack)
	}
	for id := range want {
		if !got[id] {
			t.Fatalf("message %s was lost", id)
		}
	}
}
