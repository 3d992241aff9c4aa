package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

// The tests here drive a Conn against a scripted relay peer: a WebSocket
// endpoint that plays exactly the frames a test needs (redeliveries, forged
// envelopes, devices_changed), which the real server produces only under
// races. End-to-end tests against the real server live with the server.

// relayPeer is one scripted relay connection.
type relayPeer struct {
	t  *testing.T
	ws *websocket.Conn
}

func (p *relayPeer) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		p.t.Error(err)
		return
	}
	if err := p.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		p.t.Error(err)
	}
}

// read returns the next client frame, checked by the protocol's own decoder
// as the server checks it; nil when the client has closed.
func (p *relayPeer) read() *protocol.ClientFrame {
	_, data, err := p.ws.Read(context.Background())
	if err != nil {
		return nil
	}
	f, err := protocol.DecodeClientFrame(data)
	if err != nil {
		p.t.Errorf("the client sent a frame the server would reject: %v\n%s", err, data)
		return nil
	}
	return f
}

// drainAcks reads until the client closes and returns the seqs acked.
func (p *relayPeer) drainAcks() []int64 {
	var seqs []int64
	for f := p.read(); f != nil; f = p.read() {
		if f.Type == protocol.TAck {
			seqs = append(seqs, f.Seqs...)
		}
	}
	slices.Sort(seqs)
	return seqs
}

func (p *relayPeer) msg(seq int64, env *protocol.Envelope) {
	raw, _ := json.Marshal(env)
	p.send(protocol.MsgFrame{Type: protocol.TMsg, Seq: seq, TS: 1_700_000_000_000 + seq, Env: raw})
}

// newRelay serves a directory and a relay endpoint whose connections run
// script in turn (the first connection the first script, and so on).
func newRelay(t *testing.T, d *directory, me *account, device int, scripts ...func(p *relayPeer)) string {
	t.Helper()
	next := make(chan func(*relayPeer), len(scripts))
	for _, s := range scripts {
		next <- s
	}
	srv := newDirectoryServer(t, d, func(mux *http.ServeMux) {
		mux.HandleFunc("GET /api/v1/relay", func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer token-"+me.user.Username {
				http.Error(w, `{"error":{"code":"unauthorized","message":"no session"}}`, http.StatusUnauthorized)
				return
			}
			ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{protocol.Subprotocol}})
			if err != nil {
				t.Error(err)
				return
			}
			defer ws.CloseNow()
			p := &relayPeer{t: t, ws: ws}
			p.send(protocol.Hello{Type: protocol.THello, Protocol: protocol.Version, User: me.user.ID,
				Device: me.devices[device].ID(), ServerTime: time.Now().UnixMilli()})
			select {
			case s := <-next:
				s(p)
			default:
				t.Error("more connections than scripts")
			}
		})
	})
	return srv.URL
}

func seal(t *testing.T, from *account, to *account, text string) *protocol.Envelope {
	t.Helper()
	var rs []e2ee.Recipient
	for _, d := range to.devices {
		rs = append(rs, e2ee.Recipient{User: to.user.ID, Device: d.ID(), Enc: d.EncPublic()})
	}
	body, _ := (&e2ee.Plaintext{Type: e2ee.TypeText, Text: text}).Marshal()
	env, err := e2ee.Seal(protocol.Envelope{Conv: protocol.DirectConv(from.user.ID, to.user.ID),
		From:    protocol.Party{User: from.user.ID, Device: from.devices[0].ID()},
		Created: time.Now().UnixMilli(), Flags: protocol.FlagAckRequested}, rs, body, from.devices[0].SignKey())
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestConnReceiveDedupeAndAck(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 1)
	m1, m3 := seal(t, alice, bob, "first"), seal(t, alice, bob, "third")
	forged := seal(t, alice, bob, "forged")
	forged.Body[0] ^= 1

	acks1, acks2 := make(chan []int64, 1), make(chan []int64, 1)
	url := newRelay(t, newDirectory(alice, bob), bob, 0,
		func(p *relayPeer) {
			p.msg(1, m1)
			p.msg(2, m1) // a redelivery while the first is still in hand
			p.msg(3, forged)
			p.msg(4, m3)
			acks1 <- p.drainAcks()
		},
		func(p *relayPeer) {
			p.msg(5, m1) // acknowledged last time: a duplicate
			p.msg(6, m3) // never acknowledged last time: must come again
			acks2 <- p.drainAcks()
		})
	ctx := context.Background()
	c := clientFor(t, url, bob, 0)
	conn, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h := conn.Hello(); h.Device != bob.devices[0].ID() {
		t.Fatalf("hello %+v", h)
	}
	got := <-conn.Messages()
	if got.ID != m1.ID || got.Text != "first" || got.FromUsername != "alice" || got.Seq != 1 || !got.AckRequested() ||
		got.SentAt.UnixMilli() != 1_700_000_000_001 || got.Created.UnixMilli() != m1.Created {
		t.Fatalf("first message: %+v", got)
	}
	var me *MessageError
	if err := <-conn.Errors(); !errors.As(err, &me) || me.ID != forged.ID || !errors.Is(err, e2ee.ErrSignature) {
		t.Fatalf("forged message: %v; want a MessageError wrapping ErrSignature", err)
	}
	if got := <-conn.Messages(); got.ID != m3.ID || got.Seq != 4 {
		t.Fatalf("second message: %+v; want %s at seq 4 (the redelivery of %s dropped)", got, m3.ID, m1.ID)
	}
	conn.Ack(1) // handled m1; m3 is left unacknowledged, as after a crash
	conn.Close()
	if acks := <-acks1; !slices.Equal(acks, []int64{1, 2, 3}) {
		t.Fatalf("acked %v; want 1 (by the caller), 2 (duplicate) and 3 (forged), not 4", acks)
	}
	if !errors.Is(conn.Err(), ErrClosed) {
		t.Fatalf("Err after Close = %v", conn.Err())
	}

	// Across a restart the seen set keeps m1 out and lets m3 through.
	path := filepath.Join(t.TempDir(), "bob.json")
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	c2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	conn2, err := c2.Connect(ctx, AutoAck())
	if err != nil {
		t.Fatal(err)
	}
	if got := <-conn2.Messages(); got.ID != m3.ID || got.Seq != 6 {
		t.Fatalf("after restart: %+v; want %s again", got, m3.ID)
	}
	conn2.Close()
	if acks := <-acks2; !slices.Equal(acks, []int64{5, 6}) {
		t.Fatalf("acked %v after restart; want 5 (duplicate) and 6 (auto)", acks)
	}
	if _, ok := <-conn2.Messages(); ok {
		t.Fatal("Messages still open after Close")
	}
}

func TestConnSendResealsOnDevicesChanged(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 1)
	d := newDirectory(alice, bob)
	var phone *e2ee.DeviceKeys
	sent := make(chan *protocol.Envelope, 2)
	url := newRelay(t, d, alice, 0, func(p *relayPeer) {
		f := p.read()
		if f == nil || f.Type != protocol.TSend {
			t.Errorf("first frame %+v; want send", f)
			return
		}
		sent <- f.Envelope
		// Bob adds a phone between alice's key fetch and her send.
		d.mu.Lock()
		phone = bob.addDevice(t)
		active := bob.activeIDs()
		d.mu.Unlock()
		p.send(protocol.ErrorFrame{Type: protocol.TError, Code: protocol.CodeDevicesChanged, Ref: f.Ref,
			Message: "devices changed", Devices: map[string][]int64{"2": active}})
		f = p.read()
		if f == nil || f.Type != protocol.TSend {
			t.Errorf("second frame %+v; want send", f)
			return
		}
		sent <- f.Envelope
		p.send(protocol.Accepted{Type: protocol.TAccepted, ID: f.Envelope.ID, TS: 777})
		p.drainAcks()
	})
	var changes []KeyChange
	c := clientFor(t, url, alice, 0, WithKeyChangeHandler(func(k KeyChange) { changes = append(changes, k) }))
	conn, err := c.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	acc, err := conn.Send(context.Background(), Outgoing{To: []int64{2}, Text: "reseal me"})
	if err != nil {
		t.Fatal(err)
	}
	first, second := <-sent, <-sent
	if acc.ID != first.ID || second.ID != first.ID || acc.SentAt.UnixMilli() != 777 {
		t.Fatalf("accepted %+v; first %s second %s; want one id throughout", acc, first.ID, second.ID)
	}
	if len(first.Keys) != 1 || len(second.Keys) != 2 {
		t.Fatalf("sealed to %d then %d devices; want 1 then 2", len(first.Keys), len(second.Keys))
	}
	pt, err := e2ee.Open(second, alice.devices[0].SignPublic(), phone)
	if err != nil || !json.Valid(pt) {
		t.Fatalf("bob's new phone cannot open the resend: %v", err)
	}
	if len(changes) != 1 || !slices.Equal(changes[0].Added, []int64{phone.ID()}) {
		t.Fatalf("key changes %+v; want bob's phone reported", changes)
	}
}

func TestConnRefusesADeviceTheServerInvented(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 1)
	intruder, _ := e2ee.GenerateDeviceKeys()
	d := newDirectory(alice, bob)
	// The directory reports the invented device active; bob's signed list
	// does not hold it, so the client never seals to it.
	d.override[2] = &keysResponse{User: bob.user, List: bob.list, Active: append(bob.activeIDs(), intruder.ID())}
	url := newRelay(t, d, alice, 0, func(p *relayPeer) {
		for f := p.read(); f != nil; f = p.read() {
			if f.Type != protocol.TSend {
				continue
			}
			for _, k := range f.Envelope.Keys {
				if k.Device == intruder.ID() {
					t.Error("sealed to a device not in the signed list")
				}
			}
			p.send(protocol.ErrorFrame{Type: protocol.TError, Code: protocol.CodeDevicesChanged, Ref: f.Ref,
				Devices: map[string][]int64{"2": append(bob.activeIDs(), intruder.ID())}})
		}
	})
	c := clientFor(t, url, alice, 0)
	conn, err := c.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = conn.Send(context.Background(), Outgoing{To: []int64{2}, Text: "x"})
	var ue *UntrustedKeysError
	if !errors.As(err, &ue) || ue.User != 2 || ErrorCode(err) != protocol.CodeDevicesChanged {
		t.Fatalf("Send: %v; want an UntrustedKeysError about bob wrapping devices_changed", err)
	}
}

func TestConnRequests(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	msg := "some-message-id-0001"
	url := newRelay(t, newDirectory(alice), alice, 0, func(p *relayPeer) {
		for f := p.read(); f != nil; f = p.read() {
			switch f.Type {
			case protocol.TReceipt:
				p.send(protocol.ErrorFrame{Type: protocol.TError, Code: protocol.CodeForbidden, Ref: f.Ref, Message: "not yours"})
			case protocol.TDetails:
				p.send(protocol.Details{Type: protocol.TDetails, Ref: f.Ref, Msg: f.Msg, Conv: "d:1:2", Sent: 5,
					Recalled: true, Recipients: []protocol.RecipientStatus{{User: 2, Read: 9}}})
			case protocol.TRecall, protocol.TPresence:
				// Success of a frame with a ref is confirmed with ok.
				p.send(map[string]string{"type": protocol.TOK, "ref": f.Ref})
			}
		}
	})
	c := clientFor(t, url, alice, 0)
	ctx := context.Background()
	conn, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Receipt(ctx, msg, "d:1:2", protocol.ReceiptRead); ErrorCode(err) != protocol.CodeForbidden {
		t.Fatalf("Receipt: %v; want the server's forbidden", err)
	}
	if err := conn.Recall(ctx, msg, "d:1:2"); err != nil {
		t.Fatalf("Recall: %v", err)
	}
	if err := conn.SetPresence(ctx, protocol.PresenceAway); err != nil {
		t.Fatalf("SetPresence: %v", err)
	}
	det, err := conn.Details(ctx, msg)
	if err != nil || det.Msg != msg || !det.Recalled || len(det.Recipients) != 1 || det.Recipients[0].Read != 9 {
		t.Fatalf("Details = %+v, %v", det, err)
	}
}

func TestConnectRejections(t *testing.T) {
	alice := newAccount(t, 1, "alice", 2)
	url := newRelay(t, newDirectory(alice), alice, 1, func(p *relayPeer) { p.drainAcks() })
	// The session is bound to alice's other device.
	if _, err := clientFor(t, url, alice, 0).Connect(context.Background()); err == nil {
		t.Fatal("connected a session bound to another device")
	}
	stranger := clientFor(t, url, alice, 0)
	stranger.api.token = "wrong"
	if _, err := stranger.Connect(context.Background()); ErrorCode(err) != protocol.CodeUnauthorized {
		t.Fatalf("bad token: %v; want unauthorized", err)
	}
}

func TestRawReceiveAcksWithoutDecrypting(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 1)
	acks := make(chan []int64, 1)
	url := newRelay(t, newDirectory(alice, bob), bob, 0, func(p *relayPeer) {
		for i := int64(1); i <= 3; i++ {
			p.msg(i, seal(t, alice, bob, "load "+strconv.FormatInt(i, 10)))
		}
		acks <- p.drainAcks()
	})
	got := make(chan RawFrame, 3)
	conn, err := clientFor(t, url, bob, 0).Connect(context.Background(), RawReceive(func(f RawFrame) { got <- f }))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if f := <-got; f.Seq != int64(i) || f.Type != protocol.TMsg || len(f.Env) == 0 {
			t.Fatalf("raw frame %d: %+v", i, f)
		}
	}
	conn.Close()
	if a := <-acks; !slices.Equal(a, []int64{1, 2, 3}) {
		t.Fatalf("acked %v", a)
	}
}

// A server whose disk is full: a send is refused with storage_full, which
// the caller recognises with StorageFull, and the same message sent again
// once there is room is accepted. A refused ack is reported with its seqs,
// which go again with the next ack.
func TestConnStorageFull(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 1)
	m1, m2 := seal(t, bob, alice, "one"), seal(t, bob, alice, "two")
	full := protocol.ErrorFrame{Type: protocol.TError, Code: protocol.CodeStorageFull, Message: protocol.CodeStorageFull.Message()}
	acks := make(chan []int64, 1)
	url := newRelay(t, newDirectory(alice, bob), alice, 0, func(p *relayPeer) {
		f := p.read() // the send: refused
		e := full
		e.Ref = f.Ref
		p.send(e)
		f = p.read() // the same send again: accepted
		p.send(protocol.Accepted{Type: protocol.TAccepted, ID: f.Envelope.ID, TS: 1})
		p.msg(1, m1)
		f = p.read() // its ack: refused
		if f.Type != protocol.TAck || !slices.Equal(f.Seqs, []int64{1}) {
			t.Errorf("want the ack of 1, got %+v", f)
		}
		e = full
		e.Ref, e.Seqs = "ack:1", f.Seqs
		p.send(e)
		p.msg(2, m2)
		acks <- p.drainAcks()
	})
	ctx := context.Background()
	conn, err := clientFor(t, url, alice, 0).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	out := Outgoing{ID: "storage-full-0001", To: []int64{bob.user.ID}, Text: "hello"}
	if _, err := conn.Send(ctx, out); !StorageFull(err) {
		t.Fatalf("send on a full disk: %v, want storage_full", err)
	}
	if _, err := conn.Send(ctx, out); err != nil {
		t.Fatalf("the same message sent again: %v", err)
	}
	if got := <-conn.Messages(); got.Seq != 1 {
		t.Fatalf("got %+v", got)
	}
	conn.Ack(1)
	var e *Error
	if err := <-conn.Errors(); !errors.As(err, &e) || !StorageFull(err) || e.Ref != "ack:1" || !slices.Equal(e.Seqs, []int64{1}) {
		t.Fatalf("a refused ack reported as %v (%+v)", err, e)
	}
	if got := <-conn.Messages(); got.Seq != 2 {
		t.Fatalf("got %+v", got)
	}
	conn.Ack(2)
	conn.Close()
	if got := <-acks; !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("acked after the refusal: %v, want 1 again with 2", got)
	}
}

// TestConnRefusesAmbiguousJSON: a server that sends a frame or an envelope
// that another parser (the web app's JSON.parse) could read differently —
// a key twice, a key in another case than its field's — gets it refused,
// even when the signature would verify over what encoding/json reads.
func TestConnRefusesAmbiguousJSON(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 1)
	m1, m2 := seal(t, alice, bob, "first"), seal(t, alice, bob, "second")
	raw, _ := json.Marshal(m1)
	conv := `"conv":"` + m1.Conv + `"`
	// encoding/json keeps the last conv, the one m1 was signed over.
	twice := strings.Replace(string(raw), conv, `"conv":"g:5",`+conv, 1)
	// encoding/json would take CONV for conv; JSON.parse would not.
	variant := strings.Replace(string(raw), conv, `"conv":"g:5","CONV":"`+m1.Conv+`"`, 1)
	acks := make(chan []int64, 1)
	url := newRelay(t, newDirectory(alice, bob), bob, 0,
		func(p *relayPeer) {
			write := func(s string) {
				if err := p.ws.Write(context.Background(), websocket.MessageText, []byte(s)); err != nil {
					t.Error(err)
				}
			}
			write(`{"type":"msg","seq":1,"ts":1700000000001,"env":` + twice + `}`)
			write(`{"type":"msg","seq":2,"SEQ":7,"ts":1700000000002,"env":` + string(raw) + `}`)
			p.msg(3, m2)
			write(`{"type":"msg","seq":4,"ts":1700000000004,"env":` + variant + `}`)
			acks <- p.drainAcks()
		})
	conn, err := clientFor(t, url, bob, 0).Connect(context.Background(), AutoAck())
	if err != nil {
		t.Fatal(err)
	}
	// A fault anywhere in a frame refuses the frame whole: its seq cannot
	// be trusted either, so it is not acknowledged.
	var se *protocol.StrictError
	if err := <-conn.Errors(); !errors.As(err, &se) || se.Key != "conv" || se.Path != "/env" {
		t.Fatalf("envelope with conv twice: %v; want a StrictError naming conv", err)
	}
	if err := <-conn.Errors(); !errors.As(err, &se) || se.Key != "SEQ" {
		t.Fatalf("frame with SEQ: %v; want a StrictError naming SEQ", err)
	}
	if got := <-conn.Messages(); got.ID != m2.ID || got.Seq != 3 {
		t.Fatalf("got %+v; want only the second message, at seq 3", got)
	}
	// A frame that is sound but carries an envelope that is not is a
	// message that cannot be opened: reported with its seq, and acked.
	var me *MessageError
	if err := <-conn.Errors(); !errors.As(err, &me) || me.Seq != 4 || !errors.As(err, &se) || se.Key != "CONV" {
		t.Fatalf("envelope with CONV: %v; want a MessageError naming CONV", err)
	}
	conn.Close()
	if got := <-acks; !slices.Equal(got, []int64{3, 4}) {
		t.Fatalf("acked %v; want 3 and 4", got)
	}
}
