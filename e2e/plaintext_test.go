package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/protocol"
)

// TestNoPlaintextOnServer runs direct, group and broadcast traffic with
// receipts, a recall and the CLI, all carrying a marker, and then searches
// every file under the data directory (database, WAL, shared memory, the
// server's debug log) for the marker in plain, hex and base64 form: while
// the server runs, and again after it has stopped and checkpointed.
func TestNoPlaintextOnServer(t *testing.T) {
	const marker = "PHI-MARKER-Jane-Doe-1962-03-14"
	ts := newTestServer(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		ts.addUser(t, u, "staff")
	}
	if _, err := curbside(t, "", "group", "add", "--data", ts.Data, "--name", "ward", "--add", "alice,bob,carol"); err != nil {
		t.Fatal(err)
	}
	a, b, c := ts.device(t, "alice"), ts.device(t, "bob"), ts.device(t, "carol")
	ctx := ctxT(t)
	ca, cb, cc := connect(t, a), connect(t, b), connect(t, c)
	ib, ic := newInbox(t, cb), newInbox(t, cc)
	g, err := a.GroupByName(ctx, "ward")
	if err != nil {
		t.Fatal(err)
	}
	var ids, convs []string
	for _, out := range []client.Outgoing{
		{To: []int64{b.User().ID}, Text: marker + " direct", Flags: protocol.FlagAckRequested},
		{Conv: protocol.GroupConv(g.ID), Text: marker + " group"},
		{To: []int64{b.User().ID, c.User().ID}, Text: marker + " broadcast"},
	} {
		acc, err := ca.Send(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		ids, convs = append(ids, acc.ID), append(convs, acc.Conv)
	}
	m := ib.message(ids[0])
	if m.Text != marker+" direct" {
		t.Fatalf("bob read %q: the marker must reach the recipient intact", m.Text)
	}
	ic.message(ids[1])
	cb.Receipt(ctx, ids[0], convs[0], protocol.ReceiptRead)
	cb.Receipt(ctx, ids[0], convs[0], protocol.ReceiptAcknowledged)
	// One message stays undelivered (carol's copy of a recalled one is
	// deleted; bob's second device never connects), so ciphertext is on
	// disk when we look.
	ts.device(t, "bob")
	pending, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: marker + " pending"})
	if err != nil {
		t.Fatal(err)
	}
	ca.Recall(ctx, ids[2], convs[2])

	// The CLI path too.
	state := filepath.Join(t.TempDir(), "alice.json")
	if out, err := curbside(t, password+"\n", "client", "login", "--server", ts.URL, "--username", "alice", "--password-stdin", "--state", state); err != nil {
		t.Fatalf("client login: %v %s", err, out)
	}
	approveState(t, state, a)
	if out, err := curbside(t, "", "client", "send", "--state", state, "--to", "bob", marker+" cli"); err != nil {
		t.Fatalf("client send: %v %s", err, out)
	}
	if _, err := ca.Details(ctx, pending.ID); err != nil {
		t.Fatal(err)
	}

	scanForMarker(t, ts.Data, marker)
	ts.stop()
	scanForMarker(t, ts.Data, marker)
}

func scanForMarker(t *testing.T, dir, marker string) {
	t.Helper()
	forms := map[string][]byte{
		"plain":  []byte(marker),
		"hex":    []byte(hex.EncodeToString([]byte(marker))),
		"base64": []byte(base64.StdEncoding.EncodeToString([]byte(marker))[:len(marker)]),
		"utf-16": []byte(strings.Join(strings.Split(marker, ""), "\x00")),
	}
	var files int
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		files++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for form, needle := range forms {
			if bytes.Contains(bytes.ToLower(data), bytes.ToLower(needle)) {
				t.Errorf("%s holds the marker (%s form)", path, form)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 2 {
		t.Fatalf("scanned only %d files under %s; the database and log should be there", files, dir)
	}
}
