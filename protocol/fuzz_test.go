package protocol

import (
	"encoding/json"
	"errors"
	"testing"
)

// The relay parses every frame a client sends; these targets check that no
// input panics, that every rejection is a protocol error (so the client gets
// a clear error frame), and that what is accepted re-validates after a
// round trip. The seed corpus lives in testdata/fuzz.

func FuzzDecodeClientFrame(f *testing.F) {
	env, _ := json.Marshal(validEnvelope())
	for _, s := range []string{
		`{"type":"send","env":` + string(env) + `}`,
		`{"type":"ack","seqs":[1,2,3]}`,
		`{"type":"receipt","msg":"AAAAAAAAAAAAAAAAAAAAAA","kind":"acknowledged"}`,
		`{"type":"presence","status":"away"}`,
		`{"type":"typing","conv":"g:1"}`,
		`{"type":"details","msg":"AAAAAAAAAAAAAAAAAAAAAA","ref":"x"}`,
		`{"type":"send","env":{"v":1,"keys":[{}]}}`,
		`[]`, `null`, `{"type":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := DecodeClientFrame(data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Code == "" || pe.Message == "" {
				t.Fatalf("rejection is not a protocol error with a message: %v", err)
			}
			return
		}
		if fr.Type == TSend && (fr.Envelope == nil || fr.Envelope.Validate() != nil) {
			t.Fatal("accepted send frame without a valid envelope")
		}
	})
}

func FuzzParseEnvelope(f *testing.F) {
	env, _ := json.Marshal(validEnvelope())
	f.Add(env)
	f.Add([]byte(`{"v":1,"suite":1,"id":"AAAAAAAAAAAAAAAA","conv":"g:1","from":{"user":1,"device":1},"created":1,"keys":[],"nonce":"","body":"","sig":""}`))
	f.Add([]byte(`{"v":1,"conv":"b:1:x","keys":[{"user":1,"device":1,"key":"AAAA"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEnvelope(data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("rejection is not a protocol error: %v", err)
			}
			return
		}
		again, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		e2, err := ParseEnvelope(again)
		if err != nil {
			t.Fatalf("accepted envelope does not survive a round trip: %v", err)
		}
		if string(e2.HeaderBytes()) != string(e.HeaderBytes()) || string(e2.SignedBytes()) != string(e.SignedBytes()) {
			t.Fatal("round trip changed the signed bytes")
		}
	})
}
