package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

// pqDevice signs a user in with a device that lists an X-Wing key, approved
// by an earlier device of the user's if it has one, as ts.device does.
func (ts *testServer) pqDevice(t *testing.T, name string) *client.Client {
	t.Helper()
	return ts.device(t, name, client.WithPostQuantum(true))
}

// storedEnvelope reads message id's envelope as the server stored it.
func storedEnvelope(t *testing.T, db *sql.DB, id string) *protocol.Envelope {
	t.Helper()
	var raw []byte
	if err := db.QueryRow(`SELECT env FROM messages WHERE msg_id = ?`, id).Scan(&raw); err != nil {
		t.Fatalf("message %s in the database: %v", id, err)
	}
	env, err := protocol.ParseEnvelope(raw)
	if err != nil {
		t.Fatalf("stored envelope %s: %v", id, err)
	}
	return env
}

// TestPostQuantumNegotiation: two devices that list X-Wing keys exchange
// suite-2 envelopes, whose sealed keys in the database are X-Wing's; a
// message that also goes to a device without one is suite 1, which both
// open; and once that device adds its X-Wing key at its next
// connect (a rotation), it receives suite 2 too, without a key-change
// warning to anyone.
func TestPostQuantumNegotiation(t *testing.T) {
	ts := newTestServer(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		ts.addUser(t, u, "staff")
	}
	a, b := ts.pqDevice(t, "alice"), ts.pqDevice(t, "bob")
	c := ts.device(t, "carol") // no X-Wing key
	ctx := ctxT(t)
	ca, cb, cc := connect(t, a), connect(t, b), connect(t, c)
	ib, ic := newInbox(t, cb), newInbox(t, cc)
	ia := newInbox(t, ca)

	acc, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: "suite 2 to bob"})
	if err != nil {
		t.Fatal(err)
	}
	if m := ib.message(acc.ID); m.Text != "suite 2 to bob" || m.Suite != protocol.SuiteXWingAES256 {
		t.Fatalf("bob reads %q of suite %d; want suite 2 between devices listing X-Wing keys", m.Text, m.Suite)
	}
	reply, err := cb.Send(ctx, client.Outgoing{To: []int64{a.User().ID}, Text: "suite 2 back"})
	if err != nil {
		t.Fatal(err)
	}
	if m := ia.message(reply.ID); m.Text != "suite 2 back" || m.Suite != protocol.SuiteXWingAES256 {
		t.Fatalf("alice reads %q of suite %d", m.Text, m.Suite)
	}

	// A set with carol's device, which lists no X-Wing key: suite 1.
	mixed, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID, c.User().ID}, Text: "to both"})
	if err != nil {
		t.Fatal(err)
	}
	if m := ic.message(mixed.ID); m.Text != "to both" || m.Suite != protocol.SuiteX25519AES256 {
		t.Fatalf("carol reads %q of suite %d; want suite 1 for a set with a device without an X-Wing key", m.Text, m.Suite)
	}
	// Bob lists an X-Wing key, yet opens it: one of the devices it is
	// sealed to (carol's) lists none, so suite 1 was the strongest suite.
	if m := ib.message(mixed.ID); m.Text != "to both" {
		t.Fatalf("bob reads %q", m.Text)
	}

	// Carol's device adds its X-Wing key at its next connect.
	state := filepath.Join(t.TempDir(), "carol.json")
	if err := c.Save(state); err != nil {
		t.Fatal(err)
	}
	cc.Close()
	c2, err := client.Load(state, client.WithPostQuantum(true))
	if err != nil {
		t.Fatal(err)
	}
	cc2 := connect(t, c2)
	ic2 := newInbox(t, cc2)
	if c2.RetiredKeys() != 1 {
		t.Fatalf("carol's device after connecting with post-quantum on: %d retired keys, want 1 (a rotation that added the X-Wing key)", c2.RetiredKeys())
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		a.Refresh(c.User().ID)
		if _, err := a.SafetyNumber(ctx, c.User().ID); err != nil {
			t.Fatal(err)
		}
		if d, ok := pinned(a, c.User().ID, c2.DeviceID()); ok && len(d.PQ) == protocol.XWingPublicKeyBytes {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("alice never saw carol's X-Wing key")
		}
		time.Sleep(50 * time.Millisecond)
	}
	now2, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID, c.User().ID}, Text: "to both, suite 2"})
	if err != nil {
		t.Fatal(err)
	}
	if m := ic2.message(now2.ID); m.Text != "to both, suite 2" || m.Suite != protocol.SuiteXWingAES256 {
		t.Fatalf("carol reads %q of suite %d; want suite 2 once she lists an X-Wing key", m.Text, m.Suite)
	}
	if m := ib.message(now2.ID); m.Text != "to both, suite 2" {
		t.Fatalf("bob reads %q", m.Text)
	}
	if kc := a.KeyChanges(); len(kc) != 0 {
		t.Fatalf("alice was warned of a key change for carol's new X-Wing key: %v", kc)
	}
}

// pinned returns device dev of user uid as c's pinned list gives it.
func pinned(c *client.Client, uid, dev int64) (protocol.ListedDevice, bool) {
	for _, p := range c.Pins() {
		if p.User == uid && p.List != nil {
			return p.List.Find(dev)
		}
	}
	return protocol.ListedDevice{}, false
}

// TestPostQuantumDowngradeRefused plays a server that downgrades: it swaps
// a queued suite-2 message for a suite-1 one of the same sender (sealed and
// signed with the sender's own keys, as a sender that was shown a list
// without bob's X-Wing key would have), and bob's device refuses it; one
// made before bob's device listed its key still opens. A server that
// serves bob's list with the X-Wing keys stripped is refused by a sender
// that checks it: the list's signature covers them.
func TestPostQuantumDowngradeRefused(t *testing.T) {
	ts := newTestServer(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		ts.addUser(t, u, "staff")
	}
	a, b0 := ts.pqDevice(t, "alice"), ts.pqDevice(t, "bob")
	ctx := ctxT(t)
	db := openDB(t, ts)
	// Bob's device listed its X-Wing key ten minutes ago, as its state
	// says.
	listed := time.Now().Add(-10 * time.Minute).UnixMilli()
	bobState := filepath.Join(t.TempDir(), "bob.json")
	if err := b0.Save(bobState); err != nil {
		t.Fatal(err)
	}
	editState(t, bobState, func(st map[string]any) {
		if st["pq_since"] == nil {
			t.Fatal("bob's state has no pq_since")
		}
		st["pq_since"] = listed
	})
	b, err := client.Load(bobState, client.WithPostQuantum(true))
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "alice.json")
	if err := a.Save(state); err != nil {
		t.Fatal(err)
	}
	aliceKeys := stateKeys(t, state)[0]
	bobDev, ok := pinned(a, b.User().ID, b.DeviceID())
	if !ok {
		// alice has not looked bob up yet
		if _, err := a.SafetyNumber(ctx, b.User().ID); err != nil {
			t.Fatal(err)
		}
		bobDev, _ = pinned(a, b.User().ID, b.DeviceID())
	}

	// Two messages queued for bob while he is away, then forged.
	ca := connect(t, a)
	var ids []string
	for _, text := range []string{"downgraded", "made before bob listed his key"} {
		acc, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: text})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, acc.ID)
		env := storedEnvelope(t, db, acc.ID)
		if env.Suite != protocol.SuiteXWingAES256 {
			t.Fatalf("alice to bob, both listing X-Wing keys: suite %d, want %d", env.Suite, protocol.SuiteXWingAES256)
		}
		for _, k := range env.Keys {
			if len(k.Sealed) != 1168 { // protocol.XWingSealedKeyBytes, as the spec fixes it
				t.Fatalf("sealed key for device %d is %d bytes in the database, want an X-Wing key of 1,168", k.Device, len(k.Sealed))
			}
		}
	}
	forge := func(id, text string, created int64) {
		t.Helper()
		orig := storedEnvelope(t, db, id)
		body, err := (&e2ee.Plaintext{Type: e2ee.TypeText, Text: text}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		env, err := e2ee.Seal(protocol.Envelope{ID: id, Conv: orig.Conv, From: orig.From, Created: created, Suite: protocol.SuiteX25519AES256},
			[]e2ee.Recipient{{User: b.User().ID, Device: bobDev.ID, Enc: bobDev.Enc}}, body, aliceKeys.SignKey())
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(env)
		if _, err := db.Exec(`UPDATE messages SET env = ? WHERE msg_id = ?`, raw, id); err != nil {
			t.Fatal(err)
		}
	}
	forge(ids[0], "downgraded", time.Now().UnixMilli())
	forge(ids[1], "made before bob listed his key", listed-protocol.ClockSkewMs-1000)

	cb := connect(t, b)
	ib := newInbox(t, cb)
	if m := ib.message(ids[1]); m.Text != "made before bob listed his key" {
		t.Fatalf("bob reads %q", m.Text)
	}
	ib.waitFor("bob refusing the downgraded message", func([]client.Incoming, []client.Event) bool {
		for _, e := range ib.errs {
			var me *client.MessageError
			if errors.As(e, &me) && me.ID == ids[0] && errors.Is(e, client.ErrDowngrade) {
				return true
			}
		}
		return false
	})
	if n := ib.count(ids[0]); n != 0 {
		t.Fatalf("bob shows the downgraded message %d times", n)
	}

	// The server strips the X-Wing keys from bob's stored list.
	var raw []byte
	if err := db.QueryRow(`SELECT list FROM device_lists WHERE user_id = ?`, b.User().ID).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	var list protocol.DeviceList
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	if !list.HasPQ() {
		t.Fatal("bob's stored list has no X-Wing key")
	}
	for i := range list.Devices {
		list.Devices[i].PQ = nil
	}
	stripped, _ := json.Marshal(&list)
	if _, err := db.Exec(`UPDATE device_lists SET list = ? WHERE user_id = ?`, stripped, b.User().ID); err != nil {
		t.Fatal(err)
	}
	c := ts.device(t, "carol") // has never seen bob's list
	cc := connect(t, c)
	_, err = cc.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: "to a stripped list"})
	if !errors.Is(err, client.ErrUntrustedKeys) {
		t.Fatalf("send to bob's list with the X-Wing keys stripped: %v, want ErrUntrustedKeys", err)
	}
}

// editState rewrites a saved client state through edit.
func editState(t *testing.T, path string, edit func(map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var st map[string]any
	if err := d.Decode(&st); err != nil {
		t.Fatal(err)
	}
	edit(st)
	if b, err = json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPostQuantumApprovedDevice: a second device is listed by the device
// that approves it without an X-Wing key (the approval carries none), and
// adds its own at its first connect by a rotation; then what bob sends
// alice is suite 2 to both her devices.
func TestPostQuantumApprovedDevice(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "alice", "staff")
	ts.addUser(t, "bob", "staff")
	a1 := ts.pqDevice(t, "alice")
	a2 := ts.pqDevice(t, "alice")
	b := ts.pqDevice(t, "bob")
	ctx := ctxT(t)
	ca2 := connect(t, a2)
	if a2.RetiredKeys() != 1 {
		t.Fatalf("the approved device after its first connect: %d retired keys; want 1 (the rotation that listed its X-Wing key)", a2.RetiredKeys())
	}
	ca1 := connect(t, a1)
	i1, i2 := newInbox(t, ca1), newInbox(t, ca2)
	cb := connect(t, b)
	b.Refresh(a1.User().ID)
	acc, err := cb.Send(ctx, client.Outgoing{To: []int64{a1.User().ID}, Text: "to both of alice's devices"})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []*inbox{i1, i2} {
		if m := in.message(acc.ID); m.Suite != protocol.SuiteXWingAES256 {
			t.Fatalf("alice's device reads suite %d; want 2", m.Suite)
		}
	}
	if kc := b.KeyChanges(); len(kc) != 0 {
		t.Fatalf("bob was warned of a key change: %v", kc)
	}
}

// TestPostQuantumCLI: `client login --post-quantum` makes a device that
// lists an X-Wing key and keeps the choice in its state file; two such
// devices exchange suite 2.
func TestPostQuantumCLI(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "alice", "staff")
	ts.addUser(t, "bob", "staff")
	dir := t.TempDir()
	var cs []*client.Client
	for _, u := range []string{"alice", "bob"} {
		state := filepath.Join(dir, u+".json")
		if out, err := curbside(t, password+"\n", "client", "login", "--server", ts.URL, "--username", u, "--password-stdin", "--state", state, "--post-quantum"); err != nil {
			t.Fatalf("client login --post-quantum %s: %v\n%s", u, err, out)
		}
		editState(t, state, func(st map[string]any) {
			if st["post_quantum"] != true || st["pq_since"] == nil {
				t.Fatalf("%s's state after --post-quantum: post_quantum %v, pq_since %v", u, st["post_quantum"], st["pq_since"])
			}
		})
		c, err := client.Load(state)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	ctx := ctxT(t)
	ca, cb := connect(t, cs[0]), connect(t, cs[1])
	ib := newInbox(t, cb)
	acc, err := ca.Send(ctx, client.Outgoing{To: []int64{cs[1].User().ID}, Text: "from the CLI"})
	if err != nil {
		t.Fatal(err)
	}
	if m := ib.message(acc.ID); m.Suite != protocol.SuiteXWingAES256 {
		t.Fatalf("between two --post-quantum devices: suite %d", m.Suite)
	}
}
