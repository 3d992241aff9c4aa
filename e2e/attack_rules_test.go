package e2e

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/coder/websocket"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/protocol"
)

// The attacks on the participation rules: what a patient (or anyone
// signed in) could learn or do beyond the people they are meant to reach.

// clinic starts a server with a doctor and a nurse (staff), an owner
// (role admin), an external specialist and two patients; pat's care team
// is the doctor.
func clinic(t *testing.T) *testServer {
	t.Helper()
	ts := newTestServer(t)
	for _, u := range [][2]string{{"doc", "staff"}, {"nurse", "staff"}, {"boss", "admin"}, {"spec", "external"},
		{"pat", "patient"}, {"pat2", "patient"}} {
		ts.addUser(t, u[0], u[1])
	}
	ts.careteam(t, "pat", "doc")
	return ts
}

// careteam assigns users (or group:NAME) to a user with the CLI.
func (ts *testServer) careteam(t *testing.T, user, add string) {
	t.Helper()
	if out, err := curbside(t, "", "user", "careteam", "--data", ts.Data, "--username", user, "--add", add); err != nil {
		t.Fatalf("careteam %s: %v\n%s", user, err, out)
	}
}

// userID reads a user's id from the database, as the operator could.
func userID(t *testing.T, ts *testServer, name string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(ts.Data, "curbside.db")+"?_pragma=busy_timeout(5000)&mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id int64
	if err := db.QueryRow(`SELECT id FROM users WHERE username = ?`, name).Scan(&id); err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	return id
}

func apiGet(t *testing.T, ts *testServer, token, path string) (int, string) {
	t.Helper()
	res, b := httpDo(t, "GET", ts.URL+path, token, "", nil)
	return res.StatusCode, string(b)
}

// A patient lists the directory: they find their care team and nobody
// else, and no entry carries an email, admin level or state.
func TestAttackPatientReadsWholeDirectory(t *testing.T) {
	ts := clinic(t)
	tok := tokenOf(t, ts.device(t, "pat"))
	code, body := apiGet(t, ts, tok, "/api/v1/directory")
	if code != http.StatusOK {
		t.Fatalf("directory: %d %s", code, body)
	}
	var out struct{ Users []map[string]any }
	json.Unmarshal([]byte(body), &out)
	var names []string
	for _, u := range out.Users {
		names = append(names, u["username"].(string))
		for k := range u {
			if !slices.Contains([]string{"id", "username", "display", "role"}, k) {
				t.Errorf("the patient's directory shows %s's %q", u["username"], k)
			}
		}
	}
	slices.Sort(names)
	if want := []string{"doc", "pat"}; !slices.Equal(names, want) {
		t.Fatalf("the patient's directory lists %v, want only their care team and themselves %v", names, want)
	}
}

// A patient walks user ids and usernames: everyone outside their care team
// answers exactly like someone who does not exist, so nothing is learnt.
func TestAttackPatientWalksIDs(t *testing.T) {
	ts := clinic(t)
	pat := ts.device(t, "pat")
	tok := tokenOf(t, pat)
	doc := ts.device(t, "doc")
	_, missing := apiGet(t, ts, tok, "/api/v1/keys/999999")
	for id := int64(1); id <= 8; id++ {
		code, body := apiGet(t, ts, tok, "/api/v1/keys/"+strconv.FormatInt(id, 10))
		visible := id == pat.User().ID || id == doc.User().ID
		if visible && code != http.StatusOK {
			t.Errorf("keys of %d (care team or self): %d %s", id, code, body)
		}
		if !visible && body != missing {
			t.Errorf("keys of user %d answer %d %s; a missing user answers %s", id, code, body, missing)
		}
	}
	_, nobody := apiGet(t, ts, tok, "/api/v1/users/nobody")
	for _, name := range []string{"boss", "nurse", "spec", "pat2"} {
		if _, body := apiGet(t, ts, tok, "/api/v1/users/"+name); body != nobody {
			t.Errorf("looking up %s answers %s; a missing name answers %s", name, body, nobody)
		}
	}
	if out, err := curbside(t, "", "group", "add", "--data", ts.Data, "--name", "staffroom", "--add", "doc,nurse"); err != nil {
		t.Fatalf("group add: %v %s", err, out)
	}
	g, err := doc.GroupByName(ctxT(t), "staffroom")
	if err != nil {
		t.Fatal(err)
	}
	_, noGroup := apiGet(t, ts, tok, "/api/v1/groups/999999")
	if _, body := apiGet(t, ts, tok, fmt.Sprintf("/api/v1/groups/%d", g.ID)); body != noGroup {
		t.Errorf("another group's member list answers %s; a missing group answers %s", body, noGroup)
	}
}

// A patient's modified app sends straight to people outside the care
// team (another patient, the owner, an external provider): the relay
// refuses each with not_reachable and delivers nothing; the care team
// still works both ways.
func TestAttackPatientMessagesOutsideCareTeam(t *testing.T) {
	ts := clinic(t)
	pat, doc := ts.device(t, "pat"), ts.device(t, "doc")
	ctx := ctxT(t)
	cp, cd := connect(t, pat), connect(t, doc)
	ip, id := newInbox(t, cp), newInbox(t, cd)
	acc, err := cp.Send(ctx, client.Outgoing{To: []int64{doc.User().ID}, Text: "my test results?"})
	if err != nil {
		t.Fatalf("patient to their care team: %v", err)
	}
	id.message(acc.ID)
	back, err := cd.Send(ctx, client.Outgoing{To: []int64{pat.User().ID}, Text: "all fine"})
	if err != nil {
		t.Fatalf("care team to the patient: %v", err)
	}
	ip.message(back.ID)

	ws := rawConn(t, ts, tokenOf(t, pat))
	readUntil(t, ws, protocol.THello)
	for _, name := range []string{"pat2", "boss", "spec"} {
		// The owner must set up a second factor before registering a
		// device; the relay refuses before it looks at devices anyway.
		victim := userID(t, ts, name)
		device := int64(4242)
		if name != "boss" {
			device = ts.device(t, name).DeviceID()
		}
		raw := envJSON(t, pat, doc, func(e *protocol.Envelope) {
			e.Conv = protocol.DirectConv(pat.User().ID, victim)
			for i := range e.Keys {
				if e.Keys[i].User == doc.User().ID {
					e.Keys[i].User, e.Keys[i].Device = victim, device
				}
			}
		})
		write(t, ws, websocket.MessageText, []byte(`{"type":"send","ref":"`+name+`","env":`+raw+`}`))
		f := readUntil(t, ws, protocol.TError)
		if f.Code != protocol.CodeNotReachable || f.Ref != name {
			t.Errorf("patient to %s: %s %q, want not_reachable", name, f.Code, f.Message)
		}
	}
}

// A patient marks a message Urgent (or asks for acknowledgement), which
// breaks through a clinician's do-not-disturb: refused unless the policy
// allows it.
func TestAttackPatientUrgentBreaksDoNotDisturb(t *testing.T) {
	ts := clinic(t)
	pat, doc := ts.device(t, "pat"), ts.device(t, "doc")
	ctx := ctxT(t)
	cp := connect(t, pat)
	for _, flag := range []uint32{protocol.FlagUrgent, protocol.FlagAckRequested} {
		_, err := cp.Send(ctx, client.Outgoing{To: []int64{doc.User().ID}, Text: "URGENT!!", Flags: flag})
		if code := client.ErrorCode(err); code != protocol.CodeFlagNotAllowed {
			t.Fatalf("patient's message with flags %d: %v (code %q), want flag_not_allowed", flag, err, code)
		}
	}
	cp.Close()
	if out, err := curbside(t, "", "policy", "set", "--data", ts.Data, "patient_urgent=true", "patient_ack=true"); err != nil {
		t.Fatalf("policy set: %v %s", err, out)
	}
	ts = ts.restart(t)
	cp = connect(t, pat)
	if _, err := cp.Send(ctx, client.Outgoing{To: []int64{doc.User().ID}, Text: "urgent, allowed", Flags: protocol.FlagUrgent | protocol.FlagAckRequested}); err != nil {
		t.Fatalf("with the policy allowing it: %v", err)
	}
}

// One message in a shared group makes a patient and a clinician contacts;
// the patient must not then follow that clinician's online and
// do-not-disturb status, nor the clinician the patient's, unless the
// clinician is on the patient's care team.
func TestAttackPatientFollowsClinicianPresence(t *testing.T) {
	ts := clinic(t)
	if out, err := curbside(t, "", "group", "add", "--data", ts.Data, "--name", "diabetes-class", "--add", "pat,doc,nurse"); err != nil {
		t.Fatalf("group add: %v %s", err, out)
	}
	pat, doc, nurse := ts.device(t, "pat"), ts.device(t, "doc"), ts.device(t, "nurse")
	ctx := ctxT(t)
	cp, cd, cn := connect(t, pat), connect(t, doc), connect(t, nurse)
	ip, id, in := newInbox(t, cp), newInbox(t, cd), newInbox(t, cn)
	g, err := pat.GroupByName(ctx, "diabetes-class")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		cn *client.Conn
		in []*inbox
	}{{cp, []*inbox{id, in}}, {cn, []*inbox{ip, id}}} {
		acc, err := s.cn.Send(ctx, client.Outgoing{Conv: protocol.GroupConv(g.ID), Text: "hello class"})
		if err != nil {
			t.Fatalf("group message: %v", err)
		}
		for _, x := range s.in {
			x.message(acc.ID)
		}
	}
	sawStatus := func(x *inbox, user int64, want string) {
		x.waitFor(fmt.Sprintf("presence %d %s", user, want), func(_ []client.Incoming, evs []client.Event) bool {
			for _, e := range evs {
				if e.Type == protocol.TPresence && e.User == user && e.Status == want {
					return true
				}
			}
			return false
		})
	}
	never := func(x *inbox, viewer string, user int64) {
		x.mu.Lock()
		defer x.mu.Unlock()
		for _, e := range x.events {
			if e.Type == protocol.TPresence && e.User == user {
				t.Errorf("%s learnt user %d's presence: %s", viewer, user, e.Status)
			}
		}
	}
	// Presence frames to one device keep their order, so once the later
	// change of someone visible has arrived, the earlier one of someone
	// hidden would have arrived before it.
	if err := cn.SetPresence(ctx, protocol.PresenceDND); err != nil {
		t.Fatal(err)
	}
	if err := cd.SetPresence(ctx, protocol.PresenceDND); err != nil {
		t.Fatal(err)
	}
	sawStatus(ip, doc.User().ID, protocol.PresenceDND)
	never(ip, "the patient", nurse.User().ID)

	if err := cp.SetPresence(ctx, protocol.PresenceAway); err != nil {
		t.Fatal(err)
	}
	if err := cd.SetPresence(ctx, protocol.PresenceAway); err != nil {
		t.Fatal(err)
	}
	sawStatus(in, doc.User().ID, protocol.PresenceAway)
	never(in, "the nurse", pat.User().ID)
}
