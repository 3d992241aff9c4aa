package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

var setupLink = regexp.MustCompile(`url="?(http://[^ "]+/welcome#invite=([A-Za-z0-9_-]+))`)

// setupLinks returns the first-run links the server has logged so far.
func (ts *testServer) setupLinks(t *testing.T) [][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ts.Data, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	return setupLink.FindAllStringSubmatch(string(b), -1)
}

func postJSON(t *testing.T, url string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	res, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// TestFirstRunOwner starts a server on an empty data directory: it logs a
// set-up link on the server's own origin, the link makes the owner once,
// and after a restart with an owner there is no new link.
func TestFirstRunOwner(t *testing.T) {
	ts := newTestServer(t)
	links := ts.setupLinks(t)
	if len(links) != 1 || !strings.HasPrefix(links[0][1], ts.URL+"/welcome#invite=") {
		b, _ := os.ReadFile(filepath.Join(ts.Data, "server.log"))
		t.Fatalf("set-up links in the log: %v\n%s", links, b)
	}
	token := links[0][2]
	accept := map[string]string{"token": token, "username": "olga", "display": "Olga Owner", "password": password}
	if code, out := postJSON(t, ts.URL+"/api/v1/invitations/accept", accept); code != 200 {
		t.Fatalf("accept: %d %v", code, out)
	}
	if code, _ := postJSON(t, ts.URL+"/api/v1/invitations/accept", accept); code != http.StatusGone {
		t.Fatalf("second use: %d", code)
	}
	ts = ts.restart(t)
	if links := ts.setupLinks(t); len(links) != 1 {
		t.Fatalf("after an owner exists, a restart logged %d links in all; want still 1", len(links))
	}
	out, err := curbside(t, "", "user", "list", "--data", ts.Data)
	if err != nil || !regexp.MustCompile(`olga\s+Olga Owner\s+staff\s+active\s+owner`).MatchString(out) {
		t.Fatalf("user list: %v\n%s", err, out)
	}
}

// TestSubgroupConversation: a member of a subgroup receives what is posted
// to the group above it, and may post there.
func TestSubgroupConversation(t *testing.T) {
	ts := newTestServer(t)
	for _, u := range []string{"alice", "bob"} {
		ts.addUser(t, u, "staff")
	}
	ctx := ctxT(t)
	st, err := store.Open(ctx, ts.Data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nursing, _ := st.CreateGroupIn(ctx, "Nursing", "", 0)
	nights, _ := st.CreateGroupIn(ctx, "Nights", "", nursing)
	alice, _ := st.UserByName(ctx, "alice")
	bob, _ := st.UserByName(ctx, "bob")
	st.SetGroupMembers(ctx, nursing, []int64{alice.ID}, true)
	st.SetGroupMembers(ctx, nights, []int64{bob.ID}, true)
	st.Close()

	a, b := ts.device(t, "alice"), ts.device(t, "bob")
	ca, cb := connect(t, a), connect(t, b)
	ia, ib := newInbox(t, ca), newInbox(t, cb)
	acc, err := ca.Send(ctx, client.Outgoing{Conv: protocol.GroupConv(nursing), Text: "handover at 7"})
	if err != nil {
		t.Fatal(err)
	}
	ib.message(acc.ID)
	reply, err := cb.Send(ctx, client.Outgoing{Conv: protocol.GroupConv(nursing), Text: "on my way"})
	if err != nil {
		t.Fatalf("a subgroup member posting to the parent group: %v", err)
	}
	ia.message(reply.ID)
}
