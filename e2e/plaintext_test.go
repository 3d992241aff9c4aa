package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/superfly/ltx"

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

// scanForMarker searches every file under dir for the marker (markerForm)
// and fails if one holds it, or if dir holds fewer than two files.
func scanForMarker(t *testing.T, dir, marker string) {
	t.Helper()
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
		if form := markerForm(data, marker); form != "" {
			t.Errorf("%s holds the marker (%s form)", path, form)
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

// markerForm says in which form data holds the marker: plain, hex,
// base64 or UTF-16, case aside; "" when in none.
func markerForm(data []byte, marker string) string {
	forms := map[string][]byte{
		"plain":  []byte(marker),
		"hex":    []byte(hex.EncodeToString([]byte(marker))),
		"base64": []byte(base64.StdEncoding.EncodeToString([]byte(marker))[:len(marker)]),
		"utf-16": []byte(strings.Join(strings.Split(marker, ""), "\x00")),
	}
	lower := bytes.ToLower(data)
	for form, needle := range forms {
		if bytes.Contains(lower, bytes.ToLower(needle)) {
			return form
		}
	}
	return ""
}

// scanLTXForMarker decodes every LTX file under dir (a replica's database
// history: its pages are LZ4-compressed, so the raw scan cannot read
// them) and scans each page, every version the replica keeps, for the
// marker. It fails unless some page holds want, a plaintext the database
// does keep (a user name), which shows the pages were read.
func scanLTXForMarker(t *testing.T, dir, marker, want string) {
	t.Helper()
	var files, pages int
	seen := false
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasSuffix(path, ".ltx") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		dec := ltx.NewDecoder(f)
		if err := dec.DecodeHeader(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		files++
		data := make([]byte, dec.Header().PageSize)
		for {
			var hdr ltx.PageHeader
			if err := dec.DecodePage(&hdr, data); err == io.EOF {
				break
			} else if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			pages++
			if form := markerForm(data, marker); form != "" {
				t.Errorf("%s page %d holds the marker (%s form)", path, hdr.Pgno, form)
			}
			seen = seen || bytes.Contains(data, []byte(want))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 || !seen {
		t.Fatalf("decoded %d LTX files (%d pages) under %s, and no page holds %q: the scan did not read the database", files, pages, dir, want)
	}
	t.Logf("decoded %d LTX files, %d pages: no marker", files, pages)
}
