package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func validEnvelope() *Envelope {
	return &Envelope{
		V: 1, Suite: SuiteX25519AES256, ID: "AAAAAAAAAAAAAAAAAAAAAA", Conv: DirectConv(2, 1),
		From: Party{User: 1, Device: 10}, Created: 1700000000000, Flags: FlagAckRequested,
		Keys:  []SealedKey{{User: 2, Device: 20, Sealed: make([]byte, SealedKeyBytes)}},
		Nonce: make([]byte, NonceBytes), Body: make([]byte, 32), Sig: make([]byte, SignatureBytes),
	}
}

func TestEnvelopeValidate(t *testing.T) {
	if err := validEnvelope().Validate(); err != nil {
		t.Fatalf("valid envelope rejected: %v", err)
	}
	cases := map[string]func(e *Envelope){
		"version":       func(e *Envelope) { e.V = 2 },
		"suite":         func(e *Envelope) { e.Suite = 9 },
		"short id":      func(e *Envelope) { e.ID = "abc" },
		"id chars":      func(e *Envelope) { e.ID = "AAAAAAAAAAAAAAAAAAAA/+" },
		"conv":          func(e *Envelope) { e.Conv = "x:1" },
		"conv order":    func(e *Envelope) { e.Conv = "d:2:1" },
		"no from":       func(e *Envelope) { e.From.Device = 0 },
		"flags":         func(e *Envelope) { e.Flags = 1 << 7 },
		"no keys":       func(e *Envelope) { e.Keys = nil },
		"dup device":    func(e *Envelope) { e.Keys = append(e.Keys, e.Keys[0]) },
		"sealed size":   func(e *Envelope) { e.Keys[0].Sealed = e.Keys[0].Sealed[:10] },
		"nonce":         func(e *Envelope) { e.Nonce = nil },
		"body too big":  func(e *Envelope) { e.Body = make([]byte, MaxBodyBytes+1) },
		"body no tag":   func(e *Envelope) { e.Body = make([]byte, 3) },
		"sig":           func(e *Envelope) { e.Sig = e.Sig[:63] },
		"created":       func(e *Envelope) { e.Created = 0 },
		"too many keys": func(e *Envelope) { e.Keys = make([]SealedKey, MaxKeys+1) },
	}
	for name, mutate := range cases {
		e := validEnvelope()
		mutate(e)
		err := e.Validate()
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("%s: got %v, want a protocol error", name, err)
		}
	}
}

// TestEnvelopeBlobs: the optional blobs list is checked strictly, each
// break with its own code, and an envelope without one is unchanged.
func TestEnvelopeBlobs(t *testing.T) {
	id := func(i int) string { return fmt.Sprintf("%032x", i+1) }
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = id(i)
		}
		return out
	}
	for name, tc := range map[string]struct {
		blobs []string
		want  Code // "" for valid
	}{
		"none":           {nil, ""},
		"one":            {[]string{id(0)}, ""},
		"at the cap":     {many(MaxAttachments), ""},
		"past the cap":   {many(MaxAttachments + 1), CodeTooLarge},
		"upper case":     {[]string{strings.ToUpper("abcdef" + id(0)[6:])}, CodeBadEnvelope},
		"short":          {[]string{id(0)[:31]}, CodeBadEnvelope},
		"path":           {[]string{"../../../../../../curbside.db...."}, CodeBadEnvelope},
		"empty":          {[]string{""}, CodeBadEnvelope},
		"twice":          {[]string{id(0), id(1), id(0)}, CodeBadEnvelope},
		"twice at start": {[]string{id(3), id(3)}, CodeBadEnvelope},
	} {
		e := validEnvelope()
		e.Blobs = tc.blobs
		err := e.Validate()
		var pe *Error
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", name, err)
		case tc.want != "" && (!errors.As(err, &pe) || pe.Code != tc.want):
			t.Errorf("%s: got %v, want %s", name, err, tc.want)
		}
	}
	// The list is routing metadata for the server alone: not in the header
	// or the signed bytes, so recipients neither see it authenticated nor
	// depend on it.
	e := validEnvelope()
	h, sb := e.HeaderBytes(), e.SignedBytes()
	e.Blobs = many(3)
	if !bytes.Equal(h, e.HeaderBytes()) || !bytes.Equal(sb, e.SignedBytes()) {
		t.Error("blobs changed the header or the signed bytes")
	}
	raw, _ := json.Marshal(validEnvelope())
	if bytes.Contains(raw, []byte(`"blobs"`)) {
		t.Errorf("an envelope without blobs encodes a blobs field: %s", raw)
	}
}

func TestHeaderBytesBindsEveryField(t *testing.T) {
	base := validEnvelope().HeaderBytes()
	for name, mutate := range map[string]func(e *Envelope){
		"suite": func(e *Envelope) { e.Suite = 2 }, "id": func(e *Envelope) { e.ID += "x" },
		"conv": func(e *Envelope) { e.Conv = "g:1" }, "user": func(e *Envelope) { e.From.User = 3 },
		"device": func(e *Envelope) { e.From.Device = 3 }, "created": func(e *Envelope) { e.Created++ },
		"flags": func(e *Envelope) { e.Flags = 0 }, "key user": func(e *Envelope) { e.Keys[0].User = 9 },
		"key device": func(e *Envelope) { e.Keys[0].Device = 9 },
	} {
		e := validEnvelope()
		mutate(e)
		if bytes.Equal(e.HeaderBytes(), base) {
			t.Errorf("changing %s leaves the header bytes unchanged", name)
		}
	}
	// Length prefixes keep field boundaries: moving a character from id to
	// conv must change the encoding.
	a := &Envelope{ID: "ab", Conv: "c"}
	b := &Envelope{ID: "a", Conv: "bc"}
	if bytes.Equal(a.HeaderBytes(), b.HeaderBytes()) {
		t.Error("header encoding is ambiguous")
	}
	e := validEnvelope()
	sb := e.SignedBytes()
	e.Body[0] ^= 1
	if bytes.Equal(sb, e.SignedBytes()) {
		t.Error("signed bytes do not cover the body")
	}
}

func TestParseConv(t *testing.T) {
	good := map[string]Conv{
		"d:1:2":      {Kind: Direct, A: 1, B: 2},
		"g:7":        {Kind: Group, Group: 7},
		"b:3:ward-A": {Kind: Broadcast, Owner: 3, Token: "ward-A"},
	}
	for s, want := range good {
		got, err := ParseConv(s)
		if err != nil || got != want {
			t.Errorf("ParseConv(%q) = %+v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "d:1", "d:2:1", "d:1:1", "d:01:2", "d:-1:2", "g:x", "g:0", "b:1:", "b:1:a b", "z:1", strings.Repeat("g", 200)} {
		if _, err := ParseConv(s); err == nil {
			t.Errorf("ParseConv(%q) accepted", s)
		}
	}
	if DirectConv(5, 2) != "d:2:5" {
		t.Error("DirectConv does not order the users")
	}
}

func TestDecodeClientFrame(t *testing.T) {
	env, _ := json.Marshal(validEnvelope())
	ok := []string{
		`{"type":"send","env":` + string(env) + `}`,
		`{"type":"ack","seqs":[1,2,3]}`,
		`{"type":"receipt","msg":"AAAAAAAAAAAAAAAAAAAAAA","kind":"read","conv":"d:1:2","at":5,"sig":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}`,
		`{"type":"receipt","msg":"AAAAAAAAAAAAAAAAAAAAAA","kind":"delivered","conv":"g:7","at":5,"sig":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}`,
		`{"type":"recall","msg":"AAAAAAAAAAAAAAAAAAAAAA","conv":"d:1:2","at":5,"sig":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}`,
		`{"type":"presence","status":"dnd"}`,
		`{"type":"details","msg":"AAAAAAAAAAAAAAAAAAAAAA","ref":"r1"}`,
		`{"type":"typing","conv":"d:1:2"}`,
		`{"type":"typing","conv":"g:7","ref":"t1"}`,
	}
	for _, s := range ok {
		if _, err := DecodeClientFrame([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	f, _ := DecodeClientFrame([]byte(ok[0]))
	if f.Envelope == nil || f.Ref != "AAAAAAAAAAAAAAAAAAAAAA" {
		t.Errorf("send frame: envelope %v ref %q", f.Envelope, f.Ref)
	}
	bad := map[string]Code{
		`not json`:                     CodeBadFrame,
		`{"type":"send"}`:              CodeBadFrame,
		`{"type":"ack","seqs":[]}`:     CodeBadFrame,
		`{"type":"ack","seqs":[-1]}`:   CodeBadFrame,
		`{"type":"receipt","msg":"x"}`: CodeBadFrame,
		// Version 2: a receipt or recall is signed, or refused.
		`{"type":"receipt","msg":"AAAAAAAAAAAAAAAAAAAAAA","kind":"read"}`:                     CodeBadFrame,
		`{"type":"recall","msg":"AAAAAAAAAAAAAAAAAAAAAA"}`:                                    CodeBadFrame,
		`{"type":"recall","msg":"AAAAAAAAAAAAAAAAAAAAAA","conv":"d:1:2","at":5,"sig":"AAAA"}`: CodeBadFrame,
		`{"type":"receipt","msg":"AAAAAAAAAAAAAAAAAAAAAA","kind":"read","conv":"x","at":5,"sig":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}`: CodeBadFrame,
		`{"type":"presence","status":"gone"}`:        CodeBadFrame,
		`{"type":"warp"}`:                            CodeBadFrame,
		`{"type":"typing"}`:                          CodeBadFrame,
		`{"type":"typing","conv":"d:2:1"}`:           CodeBadFrame,
		`{"type":"typing","conv":"b:1:tok"}`:         CodeBadFrame,
		`{"type":"typing","conv":"g:1","text":"hi"}`: CodeBadFrame,
		`{"type":"ack","seqs":[1],"extra":1}`:        CodeBadFrame,
		`{"type":"ack","seqs":[1]} {}`:               CodeBadFrame,
		`{"type":"send","env":{"v":1}}`:              CodeBadEnvelope,
		`{}`:                                         CodeBadFrame,
	}
	for s, code := range bad {
		_, err := DecodeClientFrame([]byte(s))
		var pe *Error
		if !errors.As(err, &pe) || pe.Code != code {
			t.Errorf("%s: got %v, want code %s", s, err, code)
		}
	}
	if _, err := DecodeClientFrame(make([]byte, MaxFrameBytes+1)); err == nil {
		t.Error("oversized frame accepted")
	}
}

func TestAppendMsgFrameIsValidJSON(t *testing.T) {
	env, _ := json.Marshal(validEnvelope())
	b := AppendMsgFrame(nil, 42, 1700, env)
	var f MsgFrame
	if err := json.Unmarshal(b, &f); err != nil || f.Type != TMsg || f.Seq != 42 || f.TS != 1700 || !bytes.Equal(f.Env, env) {
		t.Fatalf("msg frame %s: %+v %v", b, f, err)
	}
}

func TestDeviceIDIsJSSafe(t *testing.T) {
	for i := range 256 {
		id := DeviceID([]byte{byte(i), 1, 2})
		if id <= 0 || id >= 1<<53 {
			t.Fatalf("device id %d is outside JavaScript's exact integers", id)
		}
	}
}
