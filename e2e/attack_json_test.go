package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/protocol"
)

// The attack on how JSON is read: encoding/json matches keys without regard
// to case and keeps the last of two equal keys, JSON.parse is case-sensitive
// and also keeps the last, other parsers keep the first. A sender who
// writes the same field twice, or beside a case variant of itself, can
// have the relay authorise one conversation while a recipient's app files
// the message in another: here a direct message to bob that bob's web app
// would have shown in a group alice is not in.

// TestAttackCaseVariantConv: alice sends bob, over a raw WebSocket, send
// frames whose envelope names a group in conv and their direct conversation
// in CONV (and the other ambiguous forms). Each is refused with
// bad_envelope or bad_frame, the answer does not name the key but the
// server's log does, nothing reaches bob, and an honest message after them
// still goes through. A sign-in body with a case-variant username is
// refused the same way.
func TestAttackCaseVariantConv(t *testing.T) {
	ts := newTestServer(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		ts.addUser(t, u, "staff")
	}
	if out, err := curbside(t, "", "group", "add", "--data", ts.Data, "--name", "ward", "--add", "bob,carol"); err != nil {
		t.Fatalf("group add: %v %s", err, out)
	}
	a, b := ts.device(t, "alice"), ts.device(t, "bob")
	ctx := ctxT(t)
	g, err := b.GroupByName(ctx, "ward")
	if err != nil {
		t.Fatal(err)
	}
	group := `"conv":"` + protocol.GroupConv(g.ID) + `"`
	direct := `"conv":"` + protocol.DirectConv(a.User().ID, b.User().ID) + `"`

	ws := rawConn(t, ts, tokenOf(t, a))
	readUntil(t, ws, protocol.THello)
	// Each frame is a real direct message from alice to bob with one edit.
	frame := func(old, new string) string {
		env := envJSON(t, a, b, func(*protocol.Envelope) {})
		if !strings.Contains(env, old) {
			t.Fatalf("envelope %s has no %s", env, old)
		}
		return `{"type":"send","env":` + strings.Replace(env, old, new, 1) + `}`
	}
	for _, tc := range []struct {
		name, frame, key string
		code             protocol.Code
	}{
		{"group in conv, direct in CONV", frame(direct, group+`,"CONV":`+strings.TrimPrefix(direct, `"conv":`)), "CONV", protocol.CodeBadEnvelope},
		{"group in Conv after conv", frame(direct, direct+`,"Conv":`+strings.TrimPrefix(group, `"conv":`)), "Conv", protocol.CodeBadEnvelope},
		{"conv twice", frame(direct, group+","+direct), "conv", protocol.CodeBadEnvelope},
		{"conv twice, escaped", frame(direct, group+`,"con\u0076":`+strings.TrimPrefix(direct, `"conv":`)), "conv", protocol.CodeBadEnvelope},
		{"device twice inside keys", frame(`"key":"`, `"device":1,"key":"`), "device", protocol.CodeBadEnvelope},
		{"type in capitals", strings.Replace(frame("", ""), `{"type":"send"`, `{"TYPE":"send"`, 1), "TYPE", protocol.CodeBadFrame},
		{"type twice", strings.Replace(frame("", ""), `{"type":"send"`, `{"type":"typing","type":"send"`, 1), "type", protocol.CodeBadFrame},
	} {
		write(t, ws, websocket.MessageText, []byte(tc.frame))
		f := readAnswer(t, ws)
		if f.Type == protocol.TAccepted {
			t.Fatalf("%s: the relay accepted it", tc.name)
		}
		if f.Code != tc.code || f.Message == "" {
			t.Errorf("%s: error frame %+v, want %s", tc.name, f, tc.code)
		}
		if strings.Contains(f.Message, `"`+tc.key+`"`) {
			t.Errorf("%s: the answer names the key: %q", tc.name, f.Message)
		}
	}
	log, _ := os.ReadFile(filepath.Join(ts.Data, "server.log"))
	for _, key := range []string{"CONV", "Conv", "TYPE"} {
		if !bytes.Contains(log, []byte("key="+key)) {
			t.Errorf("the server's log does not name key %s", key)
		}
	}

	// Nothing of that reached bob; an honest message does.
	ca, cb := connect(t, a), connect(t, b)
	ib := newInbox(t, cb)
	acc, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: "honest"})
	if err != nil {
		t.Fatal(err)
	}
	ib.message(acc.ID)
	ib.mu.Lock()
	if len(ib.msgs) != 1 || len(ib.errs) != 0 {
		t.Errorf("bob got messages %v and errors %v; want the honest one only", texts(ib.msgs), ib.errs)
	}
	ib.mu.Unlock()

	// API bodies are held to the same rules: a sign-in as alice with
	// bob's name in a case variant is not a wrong password but a bad
	// request.
	res, err := http.Post(ts.URL+"/api/v1/login", "application/json",
		strings.NewReader(`{"username":"alice","password":"not-hers","Username":"bob"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("sign-in with a case-variant key: HTTP %d, want 400", res.StatusCode)
	}
}

// readAnswer reads frames until an error or accepted frame: the answer to
// a send.
func readAnswer(t *testing.T, ws *websocket.Conn) protocol.ServerFrame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for an answer: %v", err)
		}
		var f protocol.ServerFrame
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("server sent invalid JSON %q", b)
		}
		if f.Type == protocol.TError || f.Type == protocol.TAccepted {
			return f
		}
	}
}
