package e2e

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

// Someone who has only alice's password signs in and sets up a device.
// It is a request, not a device: nobody seals to it, nothing is queued for
// it, the relay will not take it, and it cannot approve itself.
func TestPasswordAloneAddsNoListener(t *testing.T) {
	ts, alice, bob, ctx := aliceAndBob(t)
	ia := newInbox(t, connect(t, alice))
	cb := connect(t, bob)

	thief, err := client.Login(ctx, ts.URL, "alice", password, "not alice's")
	if err != nil {
		t.Fatal(err)
	}
	if !thief.Pending() {
		t.Fatal("a device set up with the password alone was registered at once")
	}
	// Bob's next message is sealed to alice's one device, and reaches it.
	bob.Refresh(alice.User().ID)
	p, err := bob.Prepare(ctx, client.Outgoing{To: []int64{alice.User().ID}, Text: "for alice only"})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range p.Env.Keys {
		if k.Device == thief.DeviceID() {
			t.Fatal("bob sealed the message to the thief's device")
		}
	}
	acc, err := cb.SendPrepared(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	ia.message(acc.ID)
	db := openDB(t, ts)
	var queued int
	if err := db.QueryRow(`SELECT count(*) FROM queue WHERE device_id = ?`, thief.DeviceID()).Scan(&queued); err != nil || queued != 0 {
		t.Fatalf("queued for the thief's device: %d %v", queued, err)
	}
	// The relay refuses the session, and the device routes too: the thief
	// cannot answer its own request to approve itself.
	tok := tokenOf(t, thief)
	_, res, err := websocket.Dial(ctx, strings.Replace(ts.URL, "http", "ws", 1)+"/api/v1/relay", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}}, Subprotocols: []string{protocol.Subprotocol}})
	if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("relay for a pending device: %v %v", res, err)
	}
	if code, body := apiPost(t, ts, tok, "/api/v1/devices/requests/"+itoa(thief.DeviceID())+"/answer", `{"nonce":"`+strings.Repeat("A", 43)+`="}`); code != http.StatusForbidden {
		t.Fatalf("a pending device answers its own request: %d %s", code, body)
	}
	// Alice's device sees the request, and denies it.
	reqs, err := alice.DeviceRequests(ctx)
	if err != nil || len(reqs) != 1 || reqs[0].ID != thief.DeviceID() {
		t.Fatalf("alice's requests: %+v %v", reqs, err)
	}
	if err := alice.Deny(ctx, thief.DeviceID()); err != nil {
		t.Fatal(err)
	}
	if _, err := thief.Approval(ctx); !errors.Is(err, client.ErrDenied) {
		t.Fatalf("the denied device: %v; want ErrDenied", err)
	}
}

// A malicious server (here: an edit of its database) adds a device of its
// own to alice's account, in a list that device signed itself. The list
// is well formed and its signature verifies, but no device bob had seen in
// alice's list signed it: bob refuses to seal to alice, and says why.
func TestServerCannotSignADeviceIn(t *testing.T) {
	ts, alice, bob, ctx := aliceAndBob(t)
	if _, err := bob.SafetyNumber(ctx, alice.User().ID); err != nil { // bob pins alice's list
		t.Fatal(err)
	}
	intruder, _ := e2ee.GenerateDeviceKeys()
	db := openDB(t, ts)
	var raw []byte
	if err := db.QueryRow(`SELECT list FROM device_lists WHERE user_id = ?`, alice.User().ID).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	var list protocol.DeviceList
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	list.Version++
	list.Devices = append(list.Devices, intruder.Listed())
	if err := e2ee.SignDeviceList(&list, intruder); err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(intruder.SignPublic(), list.SignedBytes(), list.Sig) {
		t.Fatal("the forged list does not even verify")
	}
	forged, _ := json.Marshal(&list)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO devices (id, user_id, name, enc_key, sign_key, created_at, last_seen) VALUES (?, ?, 'server', ?, ?, 0, 0)`,
			[]any{intruder.ID(), alice.User().ID, intruder.EncPublic(), intruder.SignPublic()}},
		{`UPDATE device_lists SET version = ?, list = ? WHERE user_id = ?`, []any{list.Version, forged, alice.User().ID}},
	} {
		if _, err := db.Exec(q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	ts = ts.restart(t)
	cb := connect(t, bob)
	bob.Refresh(alice.User().ID)
	_, err := cb.Send(ctx, client.Outgoing{To: []int64{alice.User().ID}, Text: "would reach the server"})
	var ue *client.UntrustedKeysError
	if !errors.As(err, &ue) || ue.User != alice.User().ID || !strings.Contains(err.Error(), "signed itself in") {
		t.Fatalf("send to alice with a self-signed device in her list: %v; want the keys refused, saying why", err)
	}
}

func openDB(t *testing.T, ts *testServer) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(ts.Data, "curbside.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func apiPost(t *testing.T, ts *testServer, token, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, ts.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	n, _ := res.Body.Read(buf)
	b.Write(buf[:n])
	return res.StatusCode, b.String()
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
