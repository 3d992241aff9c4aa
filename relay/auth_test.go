package relay

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/curbside-health/curbside/protocol"
)

// A correctly addressed direct message is accepted, reaches every device
// it is sealed to byte for byte, and nothing else is queued.
func TestSendDirectDelivers(t *testing.T) {
	st := directoryStore()
	tr := startRelay(t, st)
	a := tr.dial(alice, aliceA)
	b1 := tr.dial(bob, bobA)
	b2 := tr.dial(bob, bobB)
	tr.waitLive(bobA)
	tr.waitLive(bobB)

	env := aliceToBob()
	a.sendOK(env)
	wantMsg(t, b1.next(), env)
	wantMsg(t, b2.next(), env)
	for _, d := range []int64{bobA, bobB, aliceB} {
		if got := st.queued(d); len(got) != 1 {
			t.Errorf("device %d queue %v, want one item", d, got)
		}
	}
	if got := st.queued(aliceA); len(got) != 0 {
		t.Errorf("the sending device got its own message queued: %v", got)
	}
}

// Each rule of authorise: the envelope is refused with the right code, the
// ref of the refused frame, and nothing is stored.
func TestSendRefused(t *testing.T) {
	dc := protocol.DirectConv
	tests := []struct {
		name string
		env  *protocol.Envelope
		code protocol.Code
		// for devices_changed: the devices the error must list
		devices map[string][]int64
	}{
		{name: "from another device of the same user",
			env:  newEnv(dc(alice, bob), party(alice, aliceB), party(bob, bobA), party(bob, bobB), party(alice, aliceA)),
			code: protocol.CodeForbidden},
		{name: "from another user",
			env:  newEnv(dc(alice, bob), party(bob, bobA), party(alice, aliceA), party(alice, aliceB), party(bob, bobB)),
			code: protocol.CodeForbidden},
		{name: "direct conversation the sender is not in",
			env:  newEnv(dc(bob, carol), party(alice, aliceA), party(carol, carolA), party(alice, aliceB)),
			code: protocol.CodeForbidden},
		{name: "direct message also sealed to a third user",
			env:  newEnv(dc(alice, bob), party(alice, aliceA), party(bob, bobA), party(bob, bobB), party(carol, carolA), party(alice, aliceB)),
			code: protocol.CodeForbidden},
		{name: "direct message to someone else than the other party",
			env:  newEnv(dc(alice, bob), party(alice, aliceA), party(carol, carolA), party(alice, aliceB)),
			code: protocol.CodeForbidden},
		{name: "group the sender is not a member of",
			env:  newEnv(protocol.GroupConv(otherGroup), party(alice, aliceA), party(bob, bobA), party(bob, bobB), party(carol, carolA), party(alice, aliceB)),
			code: protocol.CodeForbidden},
		{name: "group message to a non-member",
			env: newEnv(protocol.GroupConv(staffGroup), party(alice, aliceA), party(bob, bobA), party(bob, bobB), party(carol, carolA),
				party(erin, erinA), party(alice, aliceB)),
			code: protocol.CodeForbidden},
		{name: "no such group",
			env:  newEnv(protocol.GroupConv(noGroup), party(alice, aliceA), party(bob, bobA), party(alice, aliceB)),
			code: protocol.CodeNotFound},
		{name: "group message leaving out a member",
			env:     newEnv(protocol.GroupConv(staffGroup), party(alice, aliceA), party(bob, bobA), party(bob, bobB), party(alice, aliceB)),
			code:    protocol.CodeDevicesChanged,
			devices: map[string][]int64{"3": {carolA}}},
		{name: "reply in a broadcast to someone other than its owner",
			env:  newEnv(protocol.BroadcastConv(bob, "ward"), party(alice, aliceA), party(carol, carolA), party(alice, aliceB)),
			code: protocol.CodeForbidden},
		{name: "recipient device missing",
			env:     newEnv(dc(alice, bob), party(alice, aliceA), party(bob, bobA), party(alice, aliceB)),
			code:    protocol.CodeDevicesChanged,
			devices: map[string][]int64{"2": {bobA, bobB}}},
		{name: "recipient device that is not active",
			env:     newEnv(dc(alice, bob), party(alice, aliceA), party(bob, bobA), party(bob, bobB), party(bob, 23), party(alice, aliceB)),
			code:    protocol.CodeDevicesChanged,
			devices: map[string][]int64{"2": {bobA, bobB}}},
		{name: "sender's other device missing",
			env:     newEnv(dc(alice, bob), party(alice, aliceA), party(bob, bobA), party(bob, bobB)),
			code:    protocol.CodeDevicesChanged,
			devices: map[string][]int64{"1": {aliceA, aliceB}}},
		{name: "sealed to the sending device itself",
			env:     newEnv(dc(alice, bob), party(alice, aliceA), party(bob, bobA), party(bob, bobB), party(alice, aliceB), party(alice, aliceA+100)),
			code:    protocol.CodeDevicesChanged,
			devices: map[string][]int64{"1": {aliceA, aliceB}}},
		{name: "both sides changed",
			env:     newEnv(dc(alice, bob), party(alice, aliceA), party(bob, bobB)),
			code:    protocol.CodeDevicesChanged,
			devices: map[string][]int64{"1": {aliceA, aliceB}, "2": {bobA, bobB}}},
		{name: "recipient with no active device",
			env:     newEnv(dc(alice, dave), party(alice, aliceA), party(dave, 41), party(alice, aliceB)),
			code:    protocol.CodeDevicesChanged,
			devices: map[string][]int64{"4": {}}},
		{name: "no such recipient", // answered like one the rules do not let alice reach
			env:  newEnv(dc(alice, nobody), party(alice, aliceA), party(nobody, 91), party(alice, aliceB)),
			code: protocol.CodeNotReachable},
	}
	st := directoryStore()
	tr := startRelay(t, st)
	a := tr.dial(alice, aliceA)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.t = t
			defer func() { a.t = tr.t }()
			a.send(tt.env)
			f := a.next()
			wantError(t, f, tt.code, tt.env.ID)
			if tt.code == protocol.CodeDevicesChanged && !maps.EqualFunc(f.Devices, tt.devices, slices.Equal) {
				t.Fatalf("devices %v, want %v", f.Devices, tt.devices)
			}
			if tt.code == protocol.CodeDevicesChanged {
				// "devices" is present even when a user has none left,
				// so the client knows to seal to nobody there.
				var raw struct{ Devices map[string]json.RawMessage }
				json.Unmarshal(f.raw, &raw)
				for u, v := range raw.Devices {
					if string(v) == "null" {
						t.Errorf("devices[%s] is null, want a list", u)
					}
				}
			}
		})
	}
	if n := st.acceptCalls(); n != 0 {
		t.Fatalf("%d refused envelopes reached the store", n)
	}
	// The refusals did not end the session.
	a.sendOK(aliceToBob())
}

// Allowed addressing beyond a direct message: a group message to every
// member with devices (a member without devices is skipped), a broadcast
// from its owner to anyone, and a reply to a broadcast's owner.
func TestSendAllowed(t *testing.T) {
	st := directoryStore()
	tr := startRelay(t, st)
	a := tr.dial(alice, aliceA)
	c := tr.dial(carol, carolA)

	tr.waitLive(carolA)

	group := newEnv(protocol.GroupConv(staffGroup), party(alice, aliceA), party(bob, bobA), party(bob, bobB), party(carol, carolA), party(alice, aliceB))
	a.sendOK(group)
	wantMsg(t, c.next(), group)
	a.sendOK(newEnv(protocol.GroupConv(daveGroup), party(alice, aliceA), party(bob, bobA), party(bob, bobB), party(alice, aliceB)))
	bcast := newEnv(protocol.BroadcastConv(alice, "ward-3"), party(alice, aliceA), party(carol, carolA), party(erin, erinA), party(alice, aliceB))
	a.sendOK(bcast)
	wantMsg(t, c.next(), bcast)
	c.sendOK(newEnv(protocol.BroadcastConv(alice, "ward-3"), party(carol, carolA), party(alice, aliceA), party(alice, aliceB)))
	// The sender may leave out its own key when it has no other device.
	c.sendOK(newEnv(protocol.DirectConv(bob, carol), party(carol, carolA), party(bob, bobA), party(bob, bobB)))
}

// A resend of an accepted message is answered as a duplicate with the
// original time, even after the devices it was checked against changed; the
// same id with other content is id_reused.
func TestSendResendAndReuse(t *testing.T) {
	st := directoryStore()
	tr := startRelay(t, st)
	a := tr.dial(alice, aliceA)
	env := aliceToBob()
	first := a.sendOK(env)

	a.send(env)
	again := a.next()
	wantAccepted(t, again, env.ID, true)
	if again.TS != first.TS {
		t.Fatalf("resend ts %d, want the original %d", again.TS, first.TS)
	}

	// Bob's second device is revoked: the resend no longer matches the
	// active devices, and is still a duplicate, not a devices_changed.
	st.setDevices(bob, bobA)
	tr.r.DevicesChanged(bob)
	a.send(env)
	wantAccepted(t, a.next(), env.ID, true)

	// A new message sealed to the old devices is refused.
	stale := aliceToBob()
	a.send(stale)
	f := a.next()
	wantError(t, f, protocol.CodeDevicesChanged, stale.ID)
	if want := map[string][]int64{"2": {bobA}}; !maps.EqualFunc(f.Devices, want, slices.Equal) {
		t.Fatalf("devices %v, want %v", f.Devices, want)
	}

	reuse := newEnv(protocol.DirectConv(alice, bob), party(alice, aliceA), party(bob, bobA), party(alice, aliceB))
	reuse.ID = env.ID
	a.send(reuse)
	wantError(t, a.next(), protocol.CodeIDReused, env.ID)
	if got := st.queued(bobA); len(got) != 1 {
		t.Fatalf("bob's first device has %d items, want the one message", len(got))
	}
}

// DevicesChanged ends the session of a device that is no longer active,
// with the revoked close code, and leaves the others connected.
func TestDevicesChangedDisconnectsRevoked(t *testing.T) {
	st := directoryStore()
	tr := startRelay(t, st)
	b1 := tr.dial(bob, bobA)
	b2 := tr.dial(bob, bobB)
	st.setDevices(bob, bobA)
	tr.r.DevicesChanged(bob)
	if code := b2.waitEnd(); code != protocol.CloseRevoked {
		t.Fatalf("revoked device closed with %d, want %d", code, protocol.CloseRevoked)
	}
	b1.writeJSON(map[string]any{"type": protocol.TPresence, "status": protocol.PresenceAway, "ref": "still-here"})
	if f := b1.next(); f.Type != protocol.TOK || f.Ref != "still-here" {
		t.Fatalf("remaining device got %s, want ok", f)
	}
}

// Malformed frames get an error frame, with the frame's ref when it has
// one, and the session goes on.
func TestBadFrames(t *testing.T) {
	good := aliceToBob()
	goodRaw, _ := json.Marshal(good)
	badEnv := aliceToBob()
	badEnv.Nonce = []byte{1, 2, 3}
	badEnvRaw, _ := json.Marshal(badEnv)
	tests := []struct {
		name  string
		frame string
		code  protocol.Code
		ref   string
	}{
		{"not JSON", `hello`, protocol.CodeBadFrame, ""},
		{"trailing data", `{"type":"presence","status":"away"} {}`, protocol.CodeBadFrame, ""},
		{"unknown field", `{"type":"presence","status":"away","colour":"red"}`, protocol.CodeBadFrame, ""},
		{"no type", `{"ref":"r-1"}`, protocol.CodeBadFrame, "r-1"},
		{"unknown type", `{"type":"shout","ref":"r-2"}`, protocol.CodeBadFrame, "r-2"},
		{"send without env", `{"type":"send","ref":"r-3"}`, protocol.CodeBadFrame, "r-3"},
		{"envelope breaking a shape rule", `{"type":"send","ref":"r-4","env":` + string(badEnvRaw) + `}`, protocol.CodeBadEnvelope, "r-4"},
		{"ack of seq 0", `{"type":"ack","seqs":[0],"ref":"r-5"}`, protocol.CodeBadFrame, "r-5"},
		{"ack of nothing", `{"type":"ack","seqs":[],"ref":"r-6"}`, protocol.CodeBadFrame, "r-6"},
		{"receipt of an unknown kind", `{"type":"receipt","msg":"` + good.ID + `","kind":"delivered","ref":"r-7"}`, protocol.CodeBadFrame, "r-7"},
		{"recall without msg", `{"type":"recall","ref":"r-8"}`, protocol.CodeBadFrame, "r-8"},
		{"presence offline", `{"type":"presence","status":"offline","ref":"r-9"}`, protocol.CodeBadFrame, "r-9"},
		// JSON that another parser would read differently is refused
		// whole, without a ref (which of two refs would it be?).
		{"conv beside CONV", `{"type":"send","env":` + strings.Replace(string(goodRaw), `"conv":`, `"conv":"g:5","CONV":`, 1) + `}`, protocol.CodeBadEnvelope, ""},
		{"conv twice", `{"type":"send","env":` + strings.Replace(string(goodRaw), `"conv":`, `"conv":"g:5","conv":`, 1) + `}`, protocol.CodeBadEnvelope, ""},
		{"type twice", `{"type":"presence","type":"shout","status":"away","ref":"r-10"}`, protocol.CodeBadFrame, ""},
		{"Type", `{"Type":"presence","status":"away","ref":"r-11"}`, protocol.CodeBadFrame, ""},
	}
	st := directoryStore()
	tr := startRelay(t, st)
	a := tr.dial(alice, aliceA)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.t = t
			defer func() { a.t = tr.t }()
			a.write([]byte(tt.frame))
			wantError(t, a.next(), tt.code, tt.ref)
		})
	}
	t.Run("binary message", func(t *testing.T) {
		ctx := t.Context()
		if err := a.ws.Write(ctx, websocket.MessageBinary, []byte(`{"type":"presence","status":"away"}`)); err != nil {
			t.Fatal(err)
		}
		wantError(t, a.next(), protocol.CodeBadFrame, "")
	})
	// The session survived all of them, and the ref of a send defaults to
	// the envelope's id.
	a.write([]byte(`{"type":"send","env":` + string(goodRaw) + `}`))
	wantAccepted(t, a.next(), good.ID, false)
	if n := st.acceptCalls(); n != 1 {
		t.Fatalf("%d envelopes reached the store, want the one good one", n)
	}
}

// The relay forwards the envelope as the bytes it checked and authorised:
// the env value of the send frame, white space and fields it does not know
// included, never a re-encoding of what it parsed.
func TestSendForwardsTheCheckedBytes(t *testing.T) {
	st := directoryStore()
	tr := startRelay(t, st)
	a := tr.dial(alice, aliceA)
	b := tr.dial(bob, bobA)
	tr.waitLive(bobA)

	env := aliceToBob()
	raw, _ := json.Marshal(env)
	sent := strings.Replace(string(raw), `"v":2,`, ` "v" : 2 , "later":{"x":[1,{"y":"z"}]},`, 1)
	a.write([]byte(`{"type":"send","env":` + sent + ` }`))
	wantAccepted(t, a.next(), env.ID, false)
	if f := b.next(); f.Type != protocol.TMsg || string(f.Env) != sent {
		t.Fatalf("bob got %s with env\n%s\nwant the bytes sent\n%s", f, f.Env, sent)
	}
}
