package protocol

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// sendFrame returns a send frame for validEnvelope, its envelope JSON with
// edit applied (a replacer's old, new pairs).
func sendFrame(t testing.TB, edit ...string) string {
	t.Helper()
	env, err := json.Marshal(validEnvelope())
	if err != nil {
		t.Fatal(err)
	}
	return `{"type":"send","env":` + strings.NewReplacer(edit...).Replace(string(env)) + `}`
}

// TestStrictAttack: the frames an attacker would send so that the relay
// authorises one conversation while a client files the message in another
// are all refused with bad_frame or bad_envelope, and the log-side error
// names the key.
func TestStrictAttack(t *testing.T) {
	direct := DirectConv(2, 1)
	for name, tc := range map[string]struct {
		frame   string
		code    Code
		key     string
		path    string
		comment string
	}{
		"case variant conv after conv": {
			frame: sendFrame(t, `"conv":"`+direct+`"`, `"conv":"g:5","CONV":"`+direct+`"`),
			code:  CodeBadEnvelope, key: "CONV", path: "",
		},
		"case variant conv alone": {
			frame: sendFrame(t, `"conv":`, `"Conv":`),
			code:  CodeBadEnvelope, key: "Conv",
		},
		"duplicate conv": {
			frame: sendFrame(t, `"conv":"`+direct+`"`, `"conv":"g:5","conv":"`+direct+`"`),
			code:  CodeBadEnvelope, key: "conv",
		},
		"duplicate conv, escaped": {
			frame: sendFrame(t, `"conv":"`+direct+`"`, `"conv":"g:5","con\u0076":"`+direct+`"`),
			code:  CodeBadEnvelope, key: "conv",
		},
		"kelvin sign folds to k": {
			frame: sendFrame(t, `"keys":`, `"\u212Aeys":`),
			code:  CodeBadEnvelope, key: "\u212Aeys",
		},
		"nested duplicate in keys": {
			frame: sendFrame(t, `"device":20,`, `"device":21,"device":20,`),
			code:  CodeBadEnvelope, key: "device", path: "/keys/0",
		},
		"nested case variant in keys": {
			frame: sendFrame(t, `"device":20,`, `"device":20,"DEVICE":21,`),
			code:  CodeBadEnvelope, key: "DEVICE", path: "/keys/0",
		},
		"nested case variant in from": {
			frame: sendFrame(t, `"from":{"user":1`, `"from":{"User":1`),
			code:  CodeBadEnvelope, key: "User", path: "/from",
		},
		"type twice": {
			frame: `{"type":"presence","type":"send","status":"away"}`,
			code:  CodeBadFrame, key: "type",
		},
		"type in capitals": {
			frame: `{"TYPE":"presence","status":"away"}`,
			code:  CodeBadFrame, key: "TYPE",
		},
		"type beside Type": {
			frame: `{"type":"presence","Type":"typing","status":"away","conv":"g:1"}`,
			code:  CodeBadFrame, key: "Type",
		},
		"env twice": {
			frame: `{"type":"send","env":{},"env":` + strings.TrimPrefix(sendFrame(t), `{"type":"send","env":`),
			code:  CodeBadFrame, key: "env",
		},
		"duplicate inside an unknown envelope field": {
			frame: sendFrame(t, `"v":1,`, `"v":1,"extra":{"a":1,"a":2},`),
			code:  CodeBadEnvelope, key: "a", path: "/extra",
		},
	} {
		t.Run(name, func(t *testing.T) {
			f, err := DecodeClientFrame([]byte(tc.frame))
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != tc.code {
				t.Fatalf("got frame %v, err %v; want %s", f, err, tc.code)
			}
			if strings.Contains(pe.Message, tc.key) && len(tc.key) > 2 {
				t.Errorf("the client's message %q names the key", pe.Message)
			}
			var se *StrictError
			if !errors.As(err, &se) {
				t.Fatalf("cause is not a StrictError: %v", err)
			}
			if se.Key != tc.key || (tc.path != "" && !strings.HasSuffix(se.Path, tc.path)) {
				t.Errorf("StrictError names %q at %q; want %q at …%q", se.Key, se.Path, tc.key, tc.path)
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Errorf("the logged error %q does not name the key", err)
			}
		})
	}
}

// TestStrictAccepts: what the Go client and the PWA send still decodes,
// including unknown envelope fields (readers ignore them) and keys that
// only look like field names.
func TestStrictAccepts(t *testing.T) {
	for _, s := range []string{
		sendFrame(t),
		sendFrame(t, `"v":1,`, `"v":1,"later":{"x":[1,{"y":2}]},`),
		`{"type":"ack","seqs":[1,2,3]}`,
		`{"type":"typing","conv":"g:1"}`,
		" \n{\"type\":\"presence\",\"status\":\"away\"}\n",
	} {
		if _, err := DecodeClientFrame([]byte(s)); err != nil {
			t.Errorf("%s: %v", truncate(s, 80), err)
		}
	}
}

func TestCheckStrict(t *testing.T) {
	type inner struct {
		Name string `json:"name"`
	}
	type Embedded struct {
		Deep string `json:"deep"`
		Over string `json:"over"`
	}
	type outer struct {
		Embedded
		Over  int               `json:"over"`
		In    *inner            `json:"in"`
		List  []inner           `json:"list"`
		Map   map[string]string `json:"map"`
		Any   any               `json:"any"`
		Raw   json.RawMessage   `json:"raw"`
		NoTag string
		Skip  string `json:"-"`
	}
	deep := strings.Repeat("[", MaxJSONDepth) + strings.Repeat("]", MaxJSONDepth)
	for _, tc := range []struct {
		in     string
		reason string // "" accepted, "syntax" a syntax error
	}{
		{`{"in":{"name":"a"},"list":[{"name":"b"}],"map":{"Name":"x","name":"y"},"NoTag":"z","deep":"d","over":1}`, ""},
		{`{"any":{"a":1,"A":2},"raw":{"b":1,"B":2}}`, ""},
		{`{"unknown":1,"Unknown":2}`, ""}, // not fields: left to DisallowUnknownFields
		{`{"in":{"NAME":"a"}}`, reasonCase},
		{`{"list":[{"name":"a"},{"Name":"b"}]}`, reasonCase},
		{`{"map":{"k":"a","k":"b"}}`, reasonDuplicate},
		{`{"any":{"a":{"b":1,"b":2}}}`, reasonDuplicate},
		{`{"raw":[{"b":1,"b":2}]}`, reasonDuplicate},
		{`{"notag":"z"}`, reasonCase},
		{`{"Deep":"d"}`, reasonCase},
		{`{"Over":1}`, reasonCase},
		{`{"Skip":"s"}`, ""}, // a "-" field is no field at all
		{`{"a":` + deep + `}`, reasonDepth},
		{`{"any":` + deep[1:len(deep)-1] + `}`, ""},
		{`{} {}`, reasonTrailing},
		{`{"a":"` + "\xff" + `"}`, reasonUTF8},
		{`{"a":`, "syntax"},
		{`{"a" 1}`, "syntax"},
	} {
		var v outer
		err := CheckStrict([]byte(tc.in), &v)
		var se *StrictError
		switch {
		case tc.reason == "" && err != nil:
			t.Errorf("%s: refused: %v", truncate(tc.in, 60), err)
		case tc.reason == "syntax" && (err == nil || errors.As(err, &se)):
			t.Errorf("%s: got %v, want a syntax error", tc.in, err)
		case tc.reason != "" && tc.reason != "syntax" && (!errors.As(err, &se) || se.Reason != tc.reason):
			t.Errorf("%s: got %v, want %q", truncate(tc.in, 60), err, tc.reason)
		}
	}
}

// TestStrictPathEscapes: a key with / or ~ is escaped in the logged path.
func TestStrictPathEscapes(t *testing.T) {
	var v any
	err := CheckStrict([]byte(`{"a/b":{"c~":{"d":1,"d":2}}}`), &v)
	var se *StrictError
	if !errors.As(err, &se) || se.Path != "/a~1b/c~0" {
		t.Fatalf("got %v", err)
	}
}

// TestStrictUnmarshal decodes only what passes.
func TestStrictUnmarshal(t *testing.T) {
	var p Party
	if err := StrictUnmarshal([]byte(`{"user":1,"device":2}`), &p); err != nil || p.User != 1 || p.Device != 2 {
		t.Fatalf("got %+v, %v", p, err)
	}
	p = Party{}
	if err := StrictUnmarshal([]byte(`{"user":1,"USER":2}`), &p); err == nil || p.User != 0 {
		t.Fatalf("got %+v, %v; want a refusal and nothing decoded", p, err)
	}
}
