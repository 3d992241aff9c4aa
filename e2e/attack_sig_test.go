package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/protocol"
)

// injectEvent queues ev for device straight in the database, as a
// compromised server could, after everything queued so far.
func injectEvent(t *testing.T, dir string, device, seq int64, ev protocol.Event) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "curbside.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b, _ := json.Marshal(ev)
	_, err = db.ExecContext(context.Background(), `INSERT INTO queue (device_id, seq, kind, message, event, expires_at) VALUES (?, ?, 2, NULL, ?, ?)`,
		device, seq, b, time.Now().Add(time.Hour).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
}

// TestForgedReceiptsAndRecallsAreIgnored plays a server that makes up
// receipts and a recall: written into the sender's queue, unsigned or
// signed by no device of the user they name. The sender's client drops
// every one of them (and says so), and shows only what bob's device
// signed; the message bob sent alice is not recalled.
func TestForgedReceiptsAndRecallsAreIgnored(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "alice", "staff")
	ts.addUser(t, "bob", "staff")
	a, b := ts.device(t, "alice"), ts.device(t, "bob")
	ctx := ctxT(t)
	ca, cb := connect(t, a), connect(t, b)
	ia, ib := newInbox(t, ca), newInbox(t, cb)

	acc, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: "Bed 4 needs a drip", Flags: protocol.FlagAckRequested})
	if err != nil {
		t.Fatal(err)
	}
	ib.message(acc.ID)
	ia.event(protocol.TReceipt, acc.ID, protocol.ReceiptDelivered) // bob's device signed it
	fromBob, err := cb.Send(ctx, client.Outgoing{To: []int64{a.User().ID}, Text: "Done"})
	if err != nil {
		t.Fatal(err)
	}
	ia.message(fromBob.ID)
	ca.Close()

	// While alice is away, bob reads the message (a genuine, signed
	// receipt), and the server queues its own inventions after it.
	if err := cb.Receipt(ctx, acc.ID, acc.Conv, protocol.ReceiptRead); err != nil {
		t.Fatal(err)
	}
	bobID, bobDev, aliceDev := b.User().ID, b.DeviceID(), a.DeviceID()
	now := time.Now().UnixMilli()
	forged := []protocol.Event{
		// Acknowledged, unsigned: the v1 shape of a receipt.
		{Type: protocol.TReceipt, Msg: acc.ID, User: bobID, Device: bobDev, Kind: protocol.ReceiptAcknowledged, TS: now},
		// Acknowledged, with a signature bob's device never made.
		{Type: protocol.TReceipt, Msg: acc.ID, User: bobID, Device: bobDev, Kind: protocol.ReceiptAcknowledged, TS: now,
			Conv: acc.Conv, At: now, Sig: make([]byte, protocol.SignatureBytes)},
		// A recall of bob's message that bob never sent.
		{Type: protocol.TRecall, Msg: fromBob.ID, User: bobID, Device: bobDev, TS: now, Conv: fromBob.Conv, At: now, Sig: make([]byte, protocol.SignatureBytes)},
	}
	for i, ev := range forged {
		injectEvent(t, ts.Data, aliceDev, 1<<40+int64(i), ev)
	}

	ca2 := connect(t, a)
	ia2 := newInbox(t, ca2)
	read := ia2.event(protocol.TReceipt, acc.ID, protocol.ReceiptRead)
	if read.User != bobID || read.Device != bobDev || read.Conv != acc.Conv {
		t.Fatalf("genuine read receipt %+v", read)
	}
	// Each forgery is reported as dropped.
	deadline := time.Now().Add(15 * time.Second)
	for {
		ia2.mu.Lock()
		n := 0
		for _, err := range ia2.errs {
			var ee *client.EventError
			if errors.As(err, &ee) && ee.Seq >= 1<<40 {
				n++
			}
		}
		ia2.mu.Unlock()
		if n == len(forged) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d forged events reported; errors %v", n, len(forged), ia2.errs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A genuine acknowledgement after them: once it is in, everything
	// before it has been handled.
	if err := cb.Receipt(ctx, acc.ID, acc.Conv, protocol.ReceiptAcknowledged); err != nil {
		t.Fatal(err)
	}
	ack := ia2.event(protocol.TReceipt, acc.ID, protocol.ReceiptAcknowledged)
	ia2.mu.Lock()
	defer ia2.mu.Unlock()
	acks := 0
	for _, ev := range ia2.events {
		if ev.Type == protocol.TRecall {
			t.Fatalf("a forged recall reached the application: %+v", ev)
		}
		if ev.Type == protocol.TReceipt && ev.Kind == protocol.ReceiptAcknowledged {
			acks++
		}
	}
	if acks != 1 || ack.Device != bobDev {
		t.Fatalf("%d acknowledged receipts reached the application; want bob's one", acks)
	}
}
