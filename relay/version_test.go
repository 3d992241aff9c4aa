package relay

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/coder/websocket"

	"github.com/curbside-health/curbside/protocol"
)

// A client that offers only the version 1 subprotocol is told, in words
// the app shows, to update, and is closed with CloseUpdateRequired: it gets
// no hello and nothing of its queue.
func TestVersion1ClientIsToldToUpdate(t *testing.T) {
	st := directoryStore()
	tr := startRelay(t, st)
	a := tr.dial(alice, aliceA)
	a.sendOK(aliceToBob()) // queued for bob's devices

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	h := http.Header{}
	h.Set("X-Test-User", strconv.FormatInt(bob, 10))
	h.Set("X-Test-Device", strconv.FormatInt(bobA, 10))
	ws, _, err := websocket.Dial(ctx, tr.srv.URL+"/api/v1/relay", &websocket.DialOptions{Subprotocols: []string{protocol.SubprotocolV1}, HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	_, data, err := ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var f protocol.ErrorFrame
	if err := json.Unmarshal(data, &f); err != nil || f.Type != protocol.TError || f.Code != protocol.CodeUpdateRequired ||
		f.Message != "This version of Curbside is out of date. Reload the page to update it." {
		t.Fatalf("first frame %s, want an update_required error", data)
	}
	_, data, err = ws.Read(ctx)
	if websocket.CloseStatus(err) != protocol.CloseUpdateRequired {
		t.Fatalf("then %q, %v; want a close with %d", data, err, protocol.CloseUpdateRequired)
	}
	if q := st.queued(bobA); len(q) != 1 {
		t.Fatalf("bob's queue %v: the message must stay queued for an updated client", q)
	}
}

// A version 1 envelope (no key commitment) still parses, for clients
// opening those queued before the upgrade, but no one may send a new one.
func TestVersion1EnvelopeIsRefused(t *testing.T) {
	st := directoryStore()
	tr := startRelay(t, st)
	a := tr.dial(alice, aliceA)
	env := aliceToBob()
	env.V, env.Commit = 1, nil
	a.send(env)
	wantError(t, a.next(), protocol.CodeUpdateRequired, env.ID)
	if q := st.queued(bobA); len(q) != 0 {
		t.Fatalf("bob's queue %v after a refused v1 send", q)
	}
}
