package relay

import (
	"slices"
	"testing"

	"github.com/coder/websocket"

	"github.com/curbside-health/curbside/protocol"
)

// Messages queued while a device was offline arrive in order when it
// connects; an acknowledged one is not sent again on the next connection,
// the unacknowledged ones are.
func TestCatchUpOnConnect(t *testing.T) {
	st := directoryStore()
	tr := startRelay(t, st)
	a := tr.dial(alice, aliceA)
	var envs []*protocol.Envelope
	for range 5 {
		env := aliceToBob()
		a.sendOK(env)
		envs = append(envs, env)
	}
	queued := st.queued(bobA)
	if len(queued) != 5 {
		t.Fatalf("bob's device has %v queued, want 5 items", queued)
	}

	b := tr.dial(bob, bobA)
	got := b.nextN(5)
	for i, f := range got {
		wantMsg(t, f, envs[i])
	}
	if !slices.Equal(seqsOf(got), queued) {
		t.Fatalf("delivered seqs %v, want the queue %v in order", seqsOf(got), queued)
	}

	// Ack the first two (with a ref, so the ok says they are deleted), and
	// leave without acking the rest.
	b.writeJSON(map[string]any{"type": protocol.TAck, "seqs": []int64{got[0].Seq, got[1].Seq}, "ref": "ack-1"})
	if f := b.next(); f.Type != protocol.TOK || f.Ref != "ack-1" {
		t.Fatalf("got %s, want ok for ack-1", f)
	}
	if q := st.queued(bobA); !slices.Equal(q, queued[2:]) {
		t.Fatalf("after ack the queue is %v, want %v", q, queued[2:])
	}
	for i := range 2 {
		if r := a.next(); r.Type != protocol.TReceipt || r.Kind != protocol.ReceiptDelivered || r.Msg != envs[i].ID {
			t.Fatalf("sender got %s, want delivered receipt of %s", r, envs[i].ID)
		}
	}
	b.close()
	eventually(t, "bob's first session ends", func() bool { return tr.sessionOf(bobA) == nil })

	b = tr.dial(bob, bobA)
	again := b.nextN(3)
	for i, f := range again {
		wantMsg(t, f, envs[2+i])
	}
	if !slices.Equal(seqsOf(again), queued[2:]) {
		t.Fatalf("after reconnecting got seqs %v, want the unacked %v", seqsOf(again), queued[2:])
	}
	tr.waitLive(bobA)
	b.noFrame()

	// A message sent now arrives live, after the caught-up ones.
	live := aliceToBob()
	a.sendOK(live)
	f := b.next()
	wantMsg(t, f, live)
	if f.Seq <= queued[4] {
		t.Fatalf("live seq %d not after the caught-up %d", f.Seq, queued[4])
	}
}

// An ack without a ref is silent; the delivered receipt it causes reaches
// the sender's connected device as a queued event, and the sender's ack of
// that event empties its queue.
func TestAckReceiptReachesSender(t *testing.T) {
	st := directoryStore()
	tr := startRelay(t, st)
	a := tr.dial(alice, aliceA)
	b := tr.dial(bob, bobA)
	tr.waitLive(bobA)
	env := aliceToBob()
	a.sendOK(env)
	m := b.next()
	wantMsg(t, m, env)

	b.writeJSON(map[string]any{"type": protocol.TAck, "seqs": []int64{m.Seq}})
	r := a.next()
	if r.Type != protocol.TReceipt || r.Msg != env.ID || r.Kind != protocol.ReceiptDelivered || r.User != bob || r.Device != bobA || r.Seq <= 0 {
		t.Fatalf("sender got %s, want a delivered receipt from %d/%d", r, bob, bobA)
	}
	if q := st.queued(aliceA); !slices.Equal(q, []int64{r.Seq}) {
		t.Fatalf("sender's queue %v, want the receipt %d", q, r.Seq)
	}
	b.noFrame() // the ack had no ref: no ok frame

	a.writeJSON(map[string]any{"type": protocol.TAck, "seqs": []int64{r.Seq}, "ref": "ack-r"})
	if f := a.next(); f.Type != protocol.TOK || f.Ref != "ack-r" {
		t.Fatalf("got %s, want ok", f)
	}
	if q := st.queued(aliceA); len(q) != 0 {
		t.Fatalf("sender's queue after ack: %v", q)
	}
}

// signedFrame is a receipt (or, with kind "", a recall) frame with the
// signed part a client adds. The relay does not verify the signature
// (clients do), so a recognisable filler stands in for it.
func signedFrame(typ, msg, kind, conv, ref string) map[string]any {
	sig := make([]byte, protocol.SignatureBytes)
	sig[0] = 7
	f := map[string]any{"type": typ, "msg": msg, "conv": conv, "at": 1234, "sig": sig, "ref": ref}
	if kind != "" {
		f["kind"] = kind
	}
	return f
}

// Receipts, recalls and details travel through the relay with the store's
// refusals turned into error frames that carry the store's reason.
func TestReceiptRecallDetails(t *testing.T) {
	st := directoryStore()
	tr := startRelay(t, st)
	a := tr.dial(alice, aliceA)
	b := tr.dial(bob, bobA)
	c := tr.dial(carol, carolA)
	tr.waitLive(bobA)
	env := aliceToBob()
	a.sendOK(env)
	wantMsg(t, b.next(), env)

	// A receipt naming another conversation than the message's is refused.
	b.writeJSON(signedFrame(protocol.TReceipt, env.ID, protocol.ReceiptRead, "g:77", "read-0"))
	wantError(t, b.next(), protocol.CodeForbidden, "read-0")

	b.writeJSON(signedFrame(protocol.TReceipt, env.ID, protocol.ReceiptRead, env.Conv, "read-1"))
	if f := b.next(); f.Type != protocol.TOK || f.Ref != "read-1" {
		t.Fatalf("got %s, want ok", f)
	}
	got2 := []frame{a.next(), a.next()}
	kinds := []string{got2[0].Kind, got2[1].Kind}
	if !slices.Equal(kinds, []string{protocol.ReceiptDelivered, protocol.ReceiptRead}) {
		t.Fatalf("sender got receipts %v, want delivered then read", kinds)
	}
	// The read receipt carries the device's attestation as it was sent;
	// the implied delivered one is the server's own, unsigned.
	if r := got2[1]; r.Conv != env.Conv || r.At != 1234 || len(r.Sig) != protocol.SignatureBytes || r.Sig[0] != 7 || r.User != bob || r.Device != bobA {
		t.Fatalf("read receipt %+v does not carry the signed attestation", r)
	}
	if len(got2[0].Sig) != 0 {
		t.Fatalf("the implied delivered receipt carries a signature %x", got2[0].Sig)
	}
	// A signed delivered receipt is passed on once, beside the server's.
	b.writeJSON(signedFrame(protocol.TReceipt, env.ID, protocol.ReceiptDelivered, env.Conv, "dlv-1"))
	if f := b.next(); f.Type != protocol.TOK {
		t.Fatalf("got %s, want ok", f)
	}
	if r := a.next(); r.Kind != protocol.ReceiptDelivered || len(r.Sig) != protocol.SignatureBytes {
		t.Fatalf("sender got %+v, want the signed delivered receipt", r)
	}
	b.writeJSON(signedFrame(protocol.TReceipt, env.ID, protocol.ReceiptDelivered, env.Conv, "dlv-2"))
	if f := b.next(); f.Type != protocol.TOK {
		t.Fatalf("got %s, want ok", f)
	}

	// Acknowledging a message that did not ask for it, and a receipt from
	// someone who is not a recipient, are refused with the store's words.
	b.writeJSON(signedFrame(protocol.TReceipt, env.ID, protocol.ReceiptAcknowledged, env.Conv, "ack-2"))
	f := b.next()
	wantError(t, f, protocol.CodeForbidden, "ack-2")
	if f.Message != "this message did not request acknowledgement" {
		t.Fatalf("message %q, want the store's reason", f.Message)
	}
	c.writeJSON(signedFrame(protocol.TReceipt, env.ID, protocol.ReceiptRead, env.Conv, "read-c"))
	wantError(t, c.next(), protocol.CodeForbidden, "read-c")

	// Only the sender may recall or ask for details.
	b.writeJSON(signedFrame(protocol.TRecall, env.ID, "", env.Conv, "recall-b"))
	wantError(t, b.next(), protocol.CodeForbidden, "recall-b")
	b.writeJSON(map[string]any{"type": protocol.TDetails, "msg": env.ID, "ref": "details-b"})
	wantError(t, b.next(), protocol.CodeForbidden, "details-b")
	a.writeJSON(map[string]any{"type": protocol.TDetails, "msg": "no-such-message-0", "ref": "details-x"})
	wantError(t, a.next(), protocol.CodeNotFound, "details-x")

	a.writeJSON(map[string]any{"type": protocol.TDetails, "msg": env.ID, "ref": "details-a"})
	d := a.next()
	if d.Type != protocol.TDetails || d.Ref != "details-a" || d.Msg != env.ID || len(d.Recipients) != 1 ||
		d.Recipients[0].User != bob || d.Recipients[0].Read == 0 || d.Recipients[0].Delivered == 0 {
		t.Fatalf("details %s", d)
	}

	a.writeJSON(signedFrame(protocol.TRecall, env.ID, "", env.Conv, "recall-a"))
	if f := a.next(); f.Type != protocol.TOK || f.Ref != "recall-a" {
		t.Fatalf("got %s, want ok", f)
	}
	if f := b.next(); f.Type != protocol.TRecall || f.Msg != env.ID || f.Seq <= 0 || f.User != alice || f.Device != aliceA || f.Conv != env.Conv || len(f.Sig) != protocol.SignatureBytes {
		t.Fatalf("recipient got %+v, want a signed recall of %s", f, env.ID)
	}
	// Bob's offline second device gets the read receipt (it was read
	// elsewhere) and the recall, not the message.
	b2 := tr.dial(bob, bobB)
	got := b2.nextN(2)
	if got[0].Type != protocol.TReceipt || got[0].Kind != protocol.ReceiptRead || got[0].Msg != env.ID ||
		got[1].Type != protocol.TRecall || got[1].Msg != env.ID || got[0].Seq >= got[1].Seq {
		t.Fatalf("offline device got %s, want the read receipt then the recall", typesOf(got))
	}
	tr.waitLive(bobB)
	b2.noFrame()
}

// A device that connects again replaces its older session, which is closed
// with the replaced code; the new one gets the queue.
func TestReconnectReplacesSession(t *testing.T) {
	st := directoryStore()
	tr := startRelay(t, st)
	a := tr.dial(alice, aliceA)
	old := tr.dial(bob, bobA)
	env := aliceToBob()
	a.sendOK(env)
	wantMsg(t, old.next(), env)

	b := tr.dial(bob, bobA)
	if code := old.waitEnd(); code != websocket.StatusCode(protocol.CloseReplaced) {
		t.Fatalf("old session closed with %d, want %d", code, protocol.CloseReplaced)
	}
	wantMsg(t, b.next(), env) // not acked, so sent again
	if n := tr.r.Online(); n != 2 {
		t.Fatalf("online %d, want 2", n)
	}
}
