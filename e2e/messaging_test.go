package e2e

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/protocol"
)

// TestDirectMessageAcrossDevices: a message reaches every device of the
// recipient and the sender's other device; receipts flow back with server
// times; details show them.
func TestDirectMessageAcrossDevices(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "alice", "staff")
	ts.addUser(t, "bob", "staff")
	a1, a2 := ts.device(t, "alice"), ts.device(t, "alice")
	b1, b2 := ts.device(t, "bob"), ts.device(t, "bob")
	ctx := ctxT(t)
	ca1, ca2, cb1, cb2 := connect(t, a1), connect(t, a2), connect(t, b1), connect(t, b2)
	ia1, ia2, ib1, ib2 := newInbox(t, ca1), newInbox(t, ca2), newInbox(t, cb1), newInbox(t, cb2)

	before := time.Now().Add(-time.Second)
	acc, err := ca1.Send(ctx, client.Outgoing{To: []int64{b1.User().ID}, Text: "Room 4 is ready", Flags: protocol.FlagAckRequested})
	if err != nil {
		t.Fatal(err)
	}
	if acc.Dup || acc.SentAt.Before(before) {
		t.Fatalf("accepted: %+v", acc)
	}
	for name, in := range map[string]*inbox{"bob's first device": ib1, "bob's second device": ib2, "alice's other device": ia2} {
		m := in.message(acc.ID)
		if m.Text != "Room 4 is ready" || m.FromUser != a1.User().ID || m.FromDevice != a1.DeviceID() || !m.AckRequested() {
			t.Errorf("%s got %+v", name, m)
		}
		if !m.SentAt.Equal(acc.SentAt) || m.Conv != protocol.DirectConv(a1.User().ID, b1.User().ID) {
			t.Errorf("%s: sent_at %v conv %s, want %v and the direct conversation", name, m.SentAt, m.Conv, acc.SentAt)
		}
	}
	if n := ia1.count(acc.ID); n != 0 {
		t.Errorf("the sending device got its own message back %d times", n)
	}

	// Delivered is signed by bob's device when it acks; the server's own
	// delivered record (made by the ack) reaches no application.
	for _, in := range []*inbox{ia1, ia2} {
		if ev := in.event(protocol.TReceipt, acc.ID, protocol.ReceiptDelivered); ev.User != b1.User().ID || ev.Conv != acc.Conv || ev.ServerAt.Before(acc.SentAt) {
			t.Errorf("delivered receipt %+v", ev)
		}
	}
	if err := cb1.Receipt(ctx, acc.ID, acc.Conv, protocol.ReceiptRead); err != nil {
		t.Fatal(err)
	}
	if err := cb1.Receipt(ctx, acc.ID, acc.Conv, protocol.ReceiptAcknowledged); err != nil {
		t.Fatal(err)
	}
	read := ia1.event(protocol.TReceipt, acc.ID, protocol.ReceiptRead)
	ackd := ia1.event(protocol.TReceipt, acc.ID, protocol.ReceiptAcknowledged)
	// Bob's other device learns the message was read elsewhere.
	ib2.event(protocol.TReceipt, acc.ID, protocol.ReceiptRead)

	d, err := ca1.Details(ctx, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Sent != acc.SentAt.UnixMilli() || !d.AckRequested || len(d.Recipients) != 1 {
		t.Fatalf("details %+v", d)
	}
	r := d.Recipients[0]
	if r.User != b1.User().ID || r.Delivered == 0 || r.Read != read.ServerAt.UnixMilli() || r.Acknowledged != ackd.ServerAt.UnixMilli() {
		t.Fatalf("recipient status %+v; read at %v, acknowledged at %v", r, read.ServerAt, ackd.ServerAt)
	}
	// Only the sender sees details, and only recipients send receipts.
	if _, err := cb1.Details(ctx, acc.ID); client.ErrorCode(err) != protocol.CodeForbidden {
		t.Errorf("details for a recipient: %v", err)
	}
	if err := ca2.Receipt(ctx, acc.ID, acc.Conv, protocol.ReceiptRead); client.ErrorCode(err) != protocol.CodeForbidden {
		t.Errorf("read receipt from the sender: %v", err)
	}
	// A message without the ack flag cannot be acknowledged.
	plain, err := ca1.Send(ctx, client.Outgoing{To: []int64{b1.User().ID}, Text: "no ack needed"})
	if err != nil {
		t.Fatal(err)
	}
	ib1.message(plain.ID)
	if err := cb1.Receipt(ctx, plain.ID, plain.Conv, protocol.ReceiptAcknowledged); client.ErrorCode(err) != protocol.CodeForbidden {
		t.Errorf("acknowledging a message that did not ask: %v", err)
	}
}

// TestGroupAndBroadcast checks the conversation rules the relay enforces.
func TestGroupAndBroadcast(t *testing.T) {
	ts := newTestServer(t)
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		ts.addUser(t, u, "staff")
	}
	if out, err := curbside(t, "", "group", "add", "--data", ts.Data, "--name", "nurses", "--add", "alice,bob,carol"); err != nil {
		t.Fatalf("group add: %v %s", err, out)
	}
	a, b, c, d := ts.device(t, "alice"), ts.device(t, "bob"), ts.device(t, "carol"), ts.device(t, "dave")
	ctx := ctxT(t)
	ca, cb, cc, cd := connect(t, a), connect(t, b), connect(t, c), connect(t, d)
	ia, ib, ic, id := newInbox(t, ca), newInbox(t, cb), newInbox(t, cc), newInbox(t, cd)

	g, err := a.GroupByName(ctx, "nurses")
	if err != nil {
		t.Fatal(err)
	}
	acc, err := ca.Send(ctx, client.Outgoing{Conv: protocol.GroupConv(g.ID), Text: "handover at 7"})
	if err != nil {
		t.Fatal(err)
	}
	ib.message(acc.ID)
	ic.message(acc.ID)
	// Dave is not a member: he cannot post to the group.
	_, err = cd.Send(ctx, client.Outgoing{Conv: protocol.GroupConv(g.ID), To: []int64{a.User().ID}, Text: "let me in"})
	if code := client.ErrorCode(err); code != protocol.CodeForbidden {
		t.Fatalf("non-member posting to the group: %v (code %q)", err, code)
	}

	// A broadcast reaches everyone named; replies go to the owner only.
	bc, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID, c.User().ID, d.User().ID}, Text: "fire drill at noon"})
	if err != nil {
		t.Fatal(err)
	}
	mb := ib.message(bc.ID)
	ic.message(bc.ID)
	id.message(bc.ID)
	if conv, _ := protocol.ParseConv(mb.Conv); conv.Kind != protocol.Broadcast || conv.Owner != a.User().ID {
		t.Fatalf("broadcast conversation %q", mb.Conv)
	}
	reply, err := cb.Send(ctx, client.Outgoing{Conv: mb.Conv, To: []int64{a.User().ID}, Text: "noted", ReplyTo: bc.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got := ia.message(reply.ID); got.ReplyTo != bc.ID {
		t.Errorf("reply_to = %q", got.ReplyTo)
	}
	_, err = cb.Send(ctx, client.Outgoing{Conv: mb.Conv, To: []int64{c.User().ID}, Text: "reply-all"})
	if client.ErrorCode(err) != protocol.CodeForbidden {
		t.Fatalf("reply to another recipient of a broadcast: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	if ic.count(reply.ID) != 0 {
		t.Error("carol received bob's reply to the broadcast owner")
	}
}

// TestOfflineDeliveryInOrderWithoutDuplicates: messages for an offline
// device wait, arrive in order on reconnect, and a resend is not a second
// message.
func TestOfflineDeliveryInOrderWithoutDuplicates(t *testing.T) {
	_, a, b, ctx := aliceAndBob(t)
	ca := connect(t, a)
	var ids []string
	var resend client.Outgoing
	for i := range 20 {
		out := client.Outgoing{To: []int64{b.User().ID}, Text: fmt.Sprintf("vitals %02d", i)}
		if i == 5 {
			out.ID = "resend-me-0000000000"
			resend = out
		}
		acc, err := ca.Send(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, acc.ID)
	}
	again, err := ca.Send(ctx, resend)
	if err != nil || !again.Dup {
		t.Fatalf("resend: %+v %v; want dup", again, err)
	}
	// The same id with different content is refused, not merged.
	_, err = ca.Send(ctx, client.Outgoing{ID: resend.ID, To: resend.To, Text: "something else"})
	if client.ErrorCode(err) != protocol.CodeIDReused {
		t.Fatalf("reused id: %v", err)
	}

	// Bob comes online for the first time now.
	cb := connect(t, b)
	ib := newInbox(t, cb)
	ib.waitFor("20 messages", func(ms []client.Incoming, _ []client.Event) bool { return len(ms) >= 20 })
	// Another message after the backlog must come after it.
	last, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: "vitals 20"})
	if err != nil {
		t.Fatal(err)
	}
	ib.message(last.ID)
	ib.mu.Lock()
	got := make([]string, len(ib.msgs))
	for i, m := range ib.msgs {
		got[i] = m.ID
	}
	ib.mu.Unlock()
	if want := append(slices.Clone(ids), last.ID); !slices.Equal(got, want) {
		t.Fatalf("bob received\n%v\nwant, in order and once each,\n%v", got, want)
	}

	// Reconnecting delivers nothing again: everything was acked.
	cb.Close()
	cb2 := connect(t, b)
	ib2 := newInbox(t, cb2)
	probe, _ := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: "probe"})
	ib2.message(probe.ID)
	if n := len(ib2.msgs); n != 1 {
		t.Fatalf("after reconnect bob got %d messages, want only the probe", n)
	}
}

// TestRecall: the undelivered copy is deleted, a delivered one is recalled.
func TestRecall(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "alice", "staff")
	ts.addUser(t, "bob", "staff")
	a, b1, b2 := ts.device(t, "alice"), ts.device(t, "bob"), ts.device(t, "bob")
	ctx := ctxT(t)
	ca, cb1 := connect(t, a), connect(t, b1)
	ib1 := newInbox(t, cb1)
	acc, err := ca.Send(ctx, client.Outgoing{To: []int64{b1.User().ID}, Text: "wrong patient, sorry"})
	if err != nil {
		t.Fatal(err)
	}
	ib1.message(acc.ID)
	if err := ca.Recall(ctx, acc.ID, acc.Conv); err != nil {
		t.Fatal(err)
	}
	ib1.event(protocol.TRecall, acc.ID, "")
	// Bob's second device was offline: it gets the recall, never the message.
	cb2 := connect(t, b2)
	ib2 := newInbox(t, cb2)
	ib2.event(protocol.TRecall, acc.ID, "")
	if ib2.count(acc.ID) != 0 {
		t.Fatal("an offline device received a recalled message")
	}
	if d, err := ca.Details(ctx, acc.ID); err != nil || !d.Recalled {
		t.Fatalf("details after recall: %+v %v", d, err)
	}
	if err := cb1.Recall(ctx, acc.ID, acc.Conv); client.ErrorCode(err) != protocol.CodeForbidden {
		t.Fatalf("recall by a recipient: %v", err)
	}
}

// TestExpiry: a message not delivered within the retention period is never
// delivered.
func TestExpiry(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "alice", "staff")
	ts.addUser(t, "bob", "staff")
	if out, err := curbside(t, "", "policy", "set", "--data", ts.Data, "retention=3s"); err != nil {
		t.Fatalf("policy set: %v %s", err, out)
	}
	a, b := ts.device(t, "alice"), ts.device(t, "bob")
	ctx := ctxT(t)
	ca := connect(t, a)
	old, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: "this will expire"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3500 * time.Millisecond)
	cb := connect(t, b)
	ib := newInbox(t, cb)
	// The queue is delivered in order, so once a fresh message has arrived
	// the expired one would have come before it.
	fresh, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: "this will not"})
	if err != nil {
		t.Fatal(err)
	}
	ib.message(fresh.ID)
	if ib.count(old.ID) != 0 {
		t.Fatal("an expired message was delivered")
	}
}

// TestPresence: contacts see each other's status and going offline.
func TestPresence(t *testing.T) {
	_, a, b, ctx := aliceAndBob(t)
	ca, cb := connect(t, a), connect(t, b)
	ia, ib := newInbox(t, ca), newInbox(t, cb)
	acc, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	ib.message(acc.ID)
	status := func(in *inbox, user int64, want string) {
		in.waitFor(fmt.Sprintf("presence %d %s", user, want), func(_ []client.Incoming, evs []client.Event) bool {
			for i := len(evs) - 1; i >= 0; i-- {
				if evs[i].Type == protocol.TPresence && evs[i].User == user {
					return evs[i].Status == want
				}
			}
			return false
		})
	}
	// They became contacts with that message: each is told the other's
	// presence now, not at its next change.
	status(ia, b.User().ID, protocol.PresenceAvailable)
	status(ib, a.User().ID, protocol.PresenceAvailable)
	if err := cb.SetPresence(ctx, protocol.PresenceDND); err != nil {
		t.Fatal(err)
	}
	status(ia, b.User().ID, protocol.PresenceDND)
	cb.Close()
	status(ia, b.User().ID, protocol.PresenceOffline)
	// A new connection is told its contacts' presence right away.
	cb2 := connect(t, b)
	ib2 := newInbox(t, cb2)
	status(ib2, a.User().ID, protocol.PresenceAvailable)
}

// TestServerAddedDeviceIsRefused: a device the server adds on its own is
// not in the user's signed list, and the sender's client refuses it.
func TestServerAddedDeviceIsRefused(t *testing.T) {
	ts, a, b, ctx := aliceAndBob(t)
	ca := connect(t, a)
	if _, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: "first"}); err != nil {
		t.Fatal(err)
	}
	// A malicious server (or anyone with the database) adds a device it
	// holds the keys of.
	injectDevice(t, ts.Data, b.User().ID)
	ts.restart(t)
	ca = connect(t, a)
	_, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: "second"})
	if !errors.Is(err, client.ErrUntrustedKeys) {
		t.Fatalf("send after the server added a device: %v, want ErrUntrustedKeys", err)
	}
}

// TestResendAfterDevicesChanged: a byte-identical resend of an accepted
// message is a duplicate even after the recipient added a device, not a
// devices_changed error that would make the client reseal a second copy.
func TestResendAfterDevicesChanged(t *testing.T) {
	ts, a, b, ctx := aliceAndBob(t)
	ca := connect(t, a)
	p, err := a.Prepare(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: "sent once"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := ca.SendPrepared(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	ts.device(t, "bob") // bob's new phone
	again, err := ca.SendPrepared(ctx, p)
	if err != nil || !again.Dup || !again.SentAt.Equal(first.SentAt) {
		t.Fatalf("resend after bob added a device: %+v %v; want dup with the first time", again, err)
	}
}
