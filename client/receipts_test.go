package client

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

// signedEvent is a queued receipt (or, with kind RecallKind, a recall)
// signed by key as device dev of user.
func signedEvent(seq int64, kind, msg, conv string, user, dev int64, key ed25519.PrivateKey) protocol.Event {
	typ := protocol.TReceipt
	if kind == protocol.RecallKind {
		typ, kind = protocol.TRecall, ""
	}
	ev := protocol.Event{Type: typ, Seq: seq, Msg: msg, User: user, Device: dev, Kind: kind, TS: 1_700_000_000_000,
		Conv: conv, At: 1_700_000_000_123}
	ev.Sig = ed25519.Sign(key, ev.Attestation().SignedBytes())
	return ev
}

// The server (or whoever edits its queue) can withhold a receipt or a
// recall, not make one: events that no device signed, or that a device
// other than the one they name signed, or that were changed after signing,
// never reach the application; a signed one does.
func TestEventsMustBeSigned(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 1)
	conv := protocol.DirectConv(1, 2)
	const msg = "message-of-alice-0001"
	bobDev, bobKey := bob.devices[0].ID(), bob.devices[0].SignKey()

	good := signedEvent(1, protocol.ReceiptRead, msg, conv, 2, bobDev, bobKey)
	unsigned := protocol.Event{Type: protocol.TReceipt, Seq: 2, Msg: msg, User: 2, Device: bobDev, Kind: protocol.ReceiptRead, TS: 5}
	byAnother := signedEvent(3, protocol.ReceiptAcknowledged, msg, conv, 2, bobDev, alice.devices[0].SignKey())
	altered := signedEvent(4, protocol.ReceiptRead, msg, conv, 2, bobDev, bobKey)
	altered.Kind = protocol.ReceiptAcknowledged // read, signed; acknowledged, claimed
	serverDelivered := protocol.Event{Type: protocol.TReceipt, Seq: 5, Msg: msg, User: 2, Device: bobDev, Kind: protocol.ReceiptDelivered, TS: 5}
	forgedRecall := protocol.Event{Type: protocol.TRecall, Seq: 6, Msg: msg, TS: 5}
	recall := signedEvent(7, protocol.RecallKind, msg, conv, 1, alice.devices[0].ID(), alice.devices[0].SignKey())

	acks := make(chan []int64, 1)
	url := newRelay(t, newDirectory(alice, bob), alice, 0, func(p *relayPeer) {
		for _, ev := range []protocol.Event{good, unsigned, byAnother, altered, serverDelivered, forgedRecall, recall} {
			p.send(ev)
		}
		acks <- p.drainAcks()
	})
	ctx := context.Background()
	conn, err := clientFor(t, url, alice, 0).Connect(ctx, AutoAck())
	if err != nil {
		t.Fatal(err)
	}
	ev := <-conn.Events()
	if ev.Type != protocol.TReceipt || ev.Seq != 1 || ev.Kind != protocol.ReceiptRead || ev.User != 2 || ev.Device != bobDev ||
		ev.Conv != conv || ev.At.UnixMilli() != good.At || ev.ServerAt.UnixMilli() != good.TS {
		t.Fatalf("first event %+v; want bob's signed read receipt", ev)
	}
	if ev := <-conn.Events(); ev.Type != protocol.TRecall || ev.Seq != 7 || ev.User != 1 {
		t.Fatalf("second event %+v; want the signed recall (seq 7): none between may pass", ev)
	}
	want := map[int64]error{2: ErrUnsignedEvent, 3: ErrBadEventSignature, 4: ErrBadEventSignature, 6: ErrUnsignedEvent}
	for range 4 {
		var ee *EventError
		err := <-conn.Errors()
		if !errors.As(err, &ee) || !errors.Is(err, want[ee.Seq]) {
			t.Fatalf("error %v; want an EventError for one of %v", err, want)
		}
		delete(want, ee.Seq)
	}
	conn.Close()
	if got := <-acks; len(got) != 7 {
		t.Fatalf("acked %v; want all seven (the bad ones too, so they do not come again)", got)
	}
	select {
	case err := <-conn.Errors():
		if err != nil {
			t.Fatalf("one more error %v: the server's own unsigned delivered receipt is dropped quietly", err)
		}
	default:
	}
}

// Receipts and recalls this client makes are signed by its device over
// the protocol's canonical bytes, and a message from someone else that the
// application acks gets a signed delivered receipt.
func TestReceiptsAreSigned(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 1)
	m := seal(t, alice, bob, "hello")
	frames := make(chan *protocol.ClientFrame, 16)
	url := newRelay(t, newDirectory(alice, bob), bob, 0, func(p *relayPeer) {
		p.msg(1, m)
		for f := p.read(); f != nil; f = p.read() {
			frames <- f
			if f.Ref != "" {
				p.send(map[string]string{"type": protocol.TOK, "ref": f.Ref})
			}
		}
		close(frames)
	})
	ctx := context.Background()
	conn, err := clientFor(t, url, bob, 0).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := <-conn.Messages()
	conn.Ack(in.Seq)
	if err := conn.Receipt(ctx, in.ID, in.Conv, protocol.ReceiptRead); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	var kinds []string
	for f := range frames {
		if f.Type != protocol.TReceipt {
			continue
		}
		a := protocol.Attestation{Kind: f.Kind, Msg: f.Msg, Conv: f.Conv, At: f.At, User: 2, Device: bob.devices[0].ID()}
		if f.Msg != m.ID || f.Conv != m.Conv || !ed25519.Verify(bob.devices[0].SignPublic(), a.SignedBytes(), f.Sig) {
			t.Fatalf("receipt %+v is not bob's device's signature over the attestation", f)
		}
		kinds = append(kinds, f.Kind)
	}
	slices.Sort(kinds)
	if !slices.Equal(kinds, []string{protocol.ReceiptDelivered, protocol.ReceiptRead}) {
		t.Fatalf("receipts %v; want a signed delivered (on ack) and read", kinds)
	}
}

// Times: an envelope signed as created longer ago than the retention
// window is refused as a replay even after its id has left the seen set,
// a version 1 envelope is opened only from before this device's upgrade
// and within the drain period, and a server time far from the signed one
// is flagged.
func TestSignedTimes(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 1)
	now := time.Now().UnixMilli()
	old := sealAt(t, alice, bob, "an old message", now-8*24*3600*1000)
	v1 := sealV1(t, alice, bob, "sent before the upgrade", now-3600*1000)
	fresh := sealAt(t, alice, bob, "now", now)

	url := newRelay(t, newDirectory(alice, bob), bob, 0, func(p *relayPeer) {
		p.msg(1, old)
		p.msg(2, v1)
		p.msg(3, fresh) // ts 2023: far from created
		p.drainAcks()
	}, func(p *relayPeer) {
		p.msg(4, v1)
		p.drainAcks()
	})
	ctx := context.Background()
	c := clientFor(t, url, bob, 0, WithSeenIDs(1))
	c.v2Since = now
	conn, err := c.Connect(ctx, AutoAck())
	if err != nil {
		t.Fatal(err)
	}
	if err := <-conn.Errors(); !errors.Is(err, ErrTooOld) {
		t.Fatalf("an 8-day-old envelope: %v; want ErrTooOld", err)
	}
	if in := <-conn.Messages(); in.ID != v1.ID || in.Version != 1 {
		t.Fatalf("got %+v; want the v1 message, made before the upgrade, opened", in)
	}
	if in := <-conn.Messages(); in.ID != fresh.ID || !in.ServerTimeDiffers || in.Created.UnixMilli() != fresh.Created {
		t.Fatalf("got %+v; want the fresh message flagged: the server's time is years off", in)
	}
	conn.Close()

	// After the drain period no version 1 envelope opens.
	c.v2Since = time.Now().UnixMilli() - protocol.V1DrainMs - 1
	c.seen = newSeenSet(1)
	conn, err = c.Connect(ctx, AutoAck())
	if err != nil {
		t.Fatal(err)
	}
	if err := <-conn.Errors(); !errors.Is(err, ErrVersion1) {
		t.Fatalf("a v1 envelope after the drain period: %v; want ErrVersion1", err)
	}
	conn.Close()
}

// sealAt is seal with the given created time.
func sealAt(t *testing.T, from, to *account, text string, created int64) *protocol.Envelope {
	t.Helper()
	var rs []e2ee.Recipient
	for _, d := range to.devices {
		rs = append(rs, e2ee.Recipient{User: to.user.ID, Device: d.ID(), Enc: d.EncPublic()})
	}
	body, _ := (&e2ee.Plaintext{Type: e2ee.TypeText, Text: text}).Marshal()
	env, err := e2ee.Seal(protocol.Envelope{Conv: protocol.DirectConv(from.user.ID, to.user.ID),
		From: protocol.Party{User: from.user.ID, Device: from.devices[0].ID()}, Created: created}, rs, body, from.devices[0].SignKey())
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// sealV1 builds a version 1 envelope, as a client before the upgrade
// sealed it: no commitment, the v1 labels.
func sealV1(t *testing.T, from, to *account, text string, created int64) *protocol.Envelope {
	t.Helper()
	e := &protocol.Envelope{V: 1, Suite: protocol.SuiteX25519AES256, ID: e2ee.NewID(), Conv: protocol.DirectConv(from.user.ID, to.user.ID),
		From: protocol.Party{User: from.user.ID, Device: from.devices[0].ID()}, Created: created}
	key := make([]byte, 32)
	rand.Read(key)
	pub, err := hpke.DHKEM(ecdh.X25519()).NewPublicKey(to.devices[0].EncPublic())
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := hpke.Seal(pub, hpke.HKDFSHA256(), hpke.AES256GCM(), protocol.KeyInfo(e.ID, to.devices[0].ID()), key)
	if err != nil {
		t.Fatal(err)
	}
	e.Keys = []protocol.SealedKey{{User: to.user.ID, Device: to.devices[0].ID(), Sealed: sealed}}
	e.Nonce = make([]byte, 12)
	rand.Read(e.Nonce)
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	body, _ := (&e2ee.Plaintext{Type: e2ee.TypeText, Text: text}).Marshal()
	e.Body = gcm.Seal(nil, e.Nonce, body, e.HeaderBytes())
	e.Sig = ed25519.Sign(from.devices[0].SignKey(), e.SignedBytes())
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	return e
}

// A server of a newer protocol version refuses this client with
// update_required before any hello: Connect returns a typed error that
// UpdateRequired recognises, with the catalogue's words.
func TestConnectUpdateRequired(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	srv := newDirectoryServer(t, newDirectory(alice), func(mux *http.ServeMux) {
		mux.HandleFunc("GET /api/v1/relay", func(w http.ResponseWriter, r *http.Request) {
			ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{protocol.Subprotocol}})
			if err != nil {
				return
			}
			b, _ := json.Marshal(protocol.ErrorFrame{Type: protocol.TError, Code: protocol.CodeUpdateRequired, Message: protocol.CodeUpdateRequired.Message()})
			ws.Write(r.Context(), websocket.MessageText, b)
			ws.Close(protocol.CloseUpdateRequired, "update")
		})
	})
	_, err := clientFor(t, srv.URL, alice, 0).Connect(context.Background())
	var e *Error
	if !UpdateRequired(err) || !errors.As(err, &e) || e.Message != "This version of Curbside is out of date. Reload the page to update it." {
		t.Fatalf("Connect: %v; want an update_required *Error", err)
	}
	if UpdateRequired(errors.New("other")) {
		t.Fatal("UpdateRequired of an unrelated error")
	}
}

// A server that re-queues a message the device already handled, after
// more messages than the seen set's count have come since, is still
// caught: within the retention window no id is forgotten.
func TestReplayAfterTheSeenCountIsDropped(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 1)
	m1, m2, m3 := seal(t, alice, bob, "first"), seal(t, alice, bob, "second"), seal(t, alice, bob, "third")
	acks := make(chan []int64, 1)
	url := newRelay(t, newDirectory(alice, bob), bob, 0, func(p *relayPeer) {
		p.msg(1, m1)
		p.msg(2, m2)
		var got []int64
		for f := p.read(); f != nil && len(got) < 2; f = p.read() {
			if f.Type == protocol.TAck {
				got = append(got, f.Seqs...)
			}
		}
		p.msg(3, m1) // the replay, after the count of one has been passed
		p.msg(4, m3)
		acks <- append(got, p.drainAcks()...)
	})
	conn, err := clientFor(t, url, bob, 0, WithSeenIDs(1)).Connect(context.Background(), AutoAck())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 3 {
		ids = append(ids, (<-conn.Messages()).ID)
	}
	conn.Close()
	if !slices.Equal(ids, []string{m1.ID, m2.ID, m3.ID}) {
		t.Fatalf("delivered %v; want first, second, third once each (the replay of first dropped)", ids)
	}
	if got := <-acks; !slices.Contains(got, 3) {
		t.Fatalf("acked %v; the replay must be acked as a duplicate", got)
	}
}
