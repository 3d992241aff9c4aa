package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

func setPolicy(t *testing.T, ts *testServer, kv ...string) {
	t.Helper()
	if out, err := curbside(t, "", append([]string{"policy", "set", "--data", ts.Data}, kv...)...); err != nil {
		t.Fatalf("policy set %v: %v\n%s", kv, err, out)
	}
}

// listedEnc returns the encryption key that c's pins give device dev of
// user uid.
func listedEnc(t *testing.T, c *client.Client, uid, dev int64) []byte {
	t.Helper()
	for _, p := range c.Pins() {
		if p.User == uid {
			if d, ok := p.List.Find(dev); ok {
				return d.Enc
			}
		}
	}
	t.Fatalf("no pinned key for device %d of user %d", dev, uid)
	return nil
}

// stateKeys reads every private key a saved state holds: the device's
// keys and each retired encryption key, as someone who copied the file
// would.
func stateKeys(t *testing.T, path string) []*e2ee.DeviceKeys {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Keys    []byte `json:"keys"`
		Retired []struct {
			Enc []byte `json:"enc"`
		} `json:"retired"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	k, err := e2ee.UnmarshalDeviceKeys(st.Keys)
	if err != nil {
		t.Fatal(err)
	}
	out := []*e2ee.DeviceKeys{k}
	for _, r := range st.Retired {
		old, err := k.WithEnc(r.Enc)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, old)
	}
	return out
}

// opensWith reports whether any of keys opens env.
func opensWith(env *protocol.Envelope, sender ed25519.PublicKey, keys []*e2ee.DeviceKeys) bool {
	for _, k := range keys {
		if _, err := e2ee.Open(env, sender, k); err == nil {
			return true
		}
	}
	return false
}

// Forward secrecy: alice's device rotates its encryption key at connect
// once the key is older than key_rotation. A message sealed to the old key
// before the rotation still opens (the retired key is kept), one sealed
// after opens with the new key, and bob is not warned of a key change
// (the safety number, over both keys, moves alike for both). Once the
// retention time has passed since
// the rotation, the old key is deleted: alice's whole state, copied then,
// cannot open the message sealed before, which a copy made before the
// deletion could.
func TestKeyRotationForwardSecrecy(t *testing.T) {
	ts, alice, bob, ctx := aliceAndBob(t)
	aid, adev := alice.User().ID, alice.DeviceID()
	state := filepath.Join(t.TempDir(), "alice.json")
	if err := alice.Save(state); err != nil {
		t.Fatal(err)
	}
	safety, err := bob.SafetyNumber(ctx, aid)
	if err != nil {
		t.Fatal(err)
	}
	oldEnc := listedEnc(t, bob, aid, adev)
	cb := connect(t, bob)
	ib := newInbox(t, cb)

	// Sealed to alice's first key while she is offline.
	before, err := bob.Prepare(ctx, client.Outgoing{To: []int64{aid}, Text: "sealed before the rotation"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cb.SendPrepared(ctx, before); err != nil {
		t.Fatal(err)
	}
	bobSign := ed25519.PublicKey(nil)
	for _, p := range bob.Pins() {
		if p.User == bob.User().ID {
			d, _ := p.List.Find(bob.DeviceID())
			bobSign = d.Sign
		}
	}

	// A short retention, in force when the key is retired: the retired key
	// is kept for the longest retention seen since its retirement.
	setPolicy(t, ts, "key_rotation=1s", "retention=3s")
	created := alice.KeyCreated()
	for time.Now().UnixMilli()-created < 1100 {
		time.Sleep(100 * time.Millisecond)
	}
	ca := connect(t, alice) // the key is older than key_rotation: it rotates
	ia := newInbox(t, ca)
	if alice.RetiredKeys() != 1 || alice.KeyCreated() == created {
		t.Fatalf("after connecting with a key older than key_rotation: %d retired keys, key made at %d (was %d); want a rotation", alice.RetiredKeys(), alice.KeyCreated(), created)
	}
	if m := ia.message(before.ID); m.Text != "sealed before the rotation" {
		t.Fatalf("the message sealed before the rotation reads %q", m.Text)
	}

	// Bob hears of the new list (a devices frame) and seals to the new key.
	deadline := time.Now().Add(15 * time.Second)
	for bytes.Equal(listedEnc(t, bob, aid, adev), oldEnc) {
		if time.Now().After(deadline) {
			t.Fatal("bob never saw alice's new key")
		}
		time.Sleep(50 * time.Millisecond)
		bob.Refresh(aid)
		if _, err := bob.SafetyNumber(ctx, aid); err != nil {
			t.Fatal(err)
		}
	}
	after, err := bob.Prepare(ctx, client.Outgoing{To: []int64{aid}, Text: "sealed after the rotation"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cb.SendPrepared(ctx, after); err != nil {
		t.Fatal(err)
	}
	if m := ia.message(after.ID); m.Text != "sealed after the rotation" {
		t.Fatalf("the message sealed after the rotation reads %q", m.Text)
	}
	if kc := bob.KeyChanges(); len(kc) != 0 {
		t.Fatalf("bob was warned of a key change for alice's rotation: %v", kc)
	}
	// The safety number covers both keys of each device, so it moves with
	// the rotation, alike on both sides.
	n, err := bob.SafetyNumber(ctx, aid)
	if err != nil || n == safety {
		t.Fatalf("the safety number after a rotation: %q %v; was %q", n, err, safety)
	}
	if m, err := alice.SafetyNumber(ctx, bob.User().ID); err != nil || m != n {
		t.Fatalf("alice's safety number %q (%v) is not bob's %q", m, err, n)
	}
	_ = ib

	// What a thief who copies alice's state now gets opens the old message.
	early := stateKeys(t, state)
	if !opensWith(before.Env, bobSign, early) {
		t.Fatal("alice's state before the deletion does not open the message sealed before the rotation")
	}

	// The retention time passes after the rotation; at the next connect
	// the retired key is deleted (and, key_rotation being 1s, the key
	// rotates again).
	setPolicy(t, ts, "retention=1s") // lowered now: the 3 s seen at the rotation still hold
	time.Sleep(3200 * time.Millisecond)
	ca.Close()
	connect(t, alice)
	if err := alice.Save(state); err != nil {
		t.Fatal(err)
	}
	late := stateKeys(t, state)
	for _, k := range late {
		for _, e := range early[1:] {
			if bytes.Equal(k.EncPublic(), e.EncPublic()) {
				t.Fatal("the key retired by the first rotation is still in alice's state")
			}
		}
	}
	if opensWith(before.Env, bobSign, late) {
		t.Fatal("alice's state after the old key's deletion opens the message sealed before the rotation")
	}
	if !opensWith(after.Env, bobSign, late) {
		t.Fatal("alice's state no longer opens the message sealed to the key still kept")
	}
}

// The server takes a rotation only from the device itself, changing only
// its own key, at most once per hour (with the default key_rotation); a
// list whose new key the server wrote in is refused by peers; a list in
// which another of the user's devices gives this one a new key warns.
func TestKeyRotationRefusals(t *testing.T) {
	ts, alice, bob, ctx := aliceAndBob(t)
	alice2 := ts.device(t, "alice")
	aid := alice.User().ID
	if _, err := bob.SafetyNumber(ctx, aid); err != nil {
		t.Fatal(err)
	}
	if err := alice.RotateKey(ctx); err != nil {
		t.Fatalf("first rotation: %v", err)
	}
	err := alice.RotateKey(ctx)
	if client.ErrorCode(err) != protocol.CodeRateLimited || !strings.Contains(err.Error(), "every 1h0m0s") {
		t.Fatalf("a second rotation within the hour: %v; want rate_limited saying how often", err)
	}
	bob.Refresh(aid)
	if _, err := bob.SafetyNumber(ctx, aid); err != nil {
		t.Fatal(err)
	}
	if kc := bob.KeyChanges(); len(kc) != 0 {
		t.Fatalf("a rotation warned bob: %v", kc)
	}

	// Lists the route refuses, sent on alice's session.
	path := filepath.Join(t.TempDir(), "alice.json")
	if err := alice.Save(path); err != nil {
		t.Fatal(err)
	}
	keys := stateKeys(t, path)[0]
	path2 := filepath.Join(t.TempDir(), "alice2.json")
	if err := alice2.Save(path2); err != nil {
		t.Fatal(err)
	}
	keys2 := stateKeys(t, path2)[0]
	token := tokenOf(t, alice)
	db := openDB(t, ts)
	current := func() protocol.DeviceList {
		var raw []byte
		if err := db.QueryRow(`SELECT list FROM device_lists WHERE user_id = ?`, aid).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		var l protocol.DeviceList
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	fresh, _ := e2ee.GenerateDeviceKeysPQ()
	for _, c := range []struct {
		name   string
		rekey  int64
		pqOf   int64 // a device given an X-Wing key
		signer *e2ee.DeviceKeys
		want   int
	}{
		{"another device's key", alice2.DeviceID(), 0, keys, http.StatusConflict},
		{"another device's X-Wing key", alice.DeviceID(), alice2.DeviceID(), keys, http.StatusConflict},
		{"signed by another device", alice.DeviceID(), 0, keys2, http.StatusBadRequest},
		{"no new key", 0, 0, keys, http.StatusConflict},
		{"an X-Wing key without a new X25519 key", 0, alice.DeviceID(), keys, http.StatusConflict},
	} {
		l := current()
		l.Version++
		l.Devices = slices.Clone(l.Devices)
		for i := range l.Devices {
			if l.Devices[i].ID == c.rekey {
				l.Devices[i].Enc = fresh.EncPublic()
			}
			if l.Devices[i].ID == c.pqOf {
				l.Devices[i].PQ = fresh.PQPublic()
			}
		}
		if err := e2ee.SignDeviceList(&l, c.signer); err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]any{"list": &l})
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPut, ts.URL+"/api/v1/devices/me/keys", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("%s: status %d; want %d", c.name, res.StatusCode, c.want)
		}
	}

	// The server writes a new key for alice into her list, under the old
	// signature: it does not verify, and bob refuses it.
	l := current()
	l.Version++
	for i := range l.Devices {
		if l.Devices[i].ID == alice.DeviceID() {
			l.Devices[i].Enc = fresh.EncPublic()
		}
	}
	forged, _ := json.Marshal(&l)
	if _, err := db.Exec(`UPDATE device_lists SET version = ?, list = ? WHERE user_id = ?`, l.Version, forged, aid); err != nil {
		t.Fatal(err)
	}
	db.Close()
	ts.restart(t)
	bob.Refresh(aid)
	if _, err := bob.Prepare(ctx, client.Outgoing{To: []int64{aid}, Text: "to the server's key"}); !errors.Is(err, client.ErrUntrustedKeys) {
		t.Fatalf("a list with a key the server wrote in: %v; want the keys refused", err)
	}
}
