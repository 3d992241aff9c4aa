package protocol

import (
	"bytes"
	"encoding/json"
	"testing"
)

// benchFrame is a send frame as a 1:1 message travels: a 1 KB body sealed to
// the recipient's two devices and the sender's other device. BenchmarkGroupFrame
// seals to 200 devices, a large group.
func benchFrame(b *testing.B, devices int) []byte {
	e := validEnvelope()
	e.Body = make([]byte, 1024)
	e.Keys = nil
	for i := range devices {
		e.Keys = append(e.Keys, SealedKey{User: 2, Device: int64(20 + i), Sealed: make([]byte, SealedKeyBytes)})
	}
	env, err := json.Marshal(e)
	if err != nil {
		b.Fatal(err)
	}
	return []byte(`{"type":"send","env":` + string(env) + `}`)
}

// looseDecode is DecodeClientFrame's decoding of a send without the strict
// pass: the baseline the overhead is measured against.
func looseDecode(raw []byte) error {
	var f ClientFrame
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return err
	}
	var e Envelope
	if err := json.Unmarshal(f.Env, &e); err != nil {
		return err
	}
	return e.Validate()
}

func benchDecode(b *testing.B, devices int, strict bool) {
	raw := benchFrame(b, devices)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if strict {
			_, err = DecodeClientFrame(raw)
		} else {
			err = looseDecode(raw)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeSend is the relay's decoding of one send frame, strict
// (DecodeClientFrame as it is) and loose (without CheckStrict); the
// difference is the strict pass's cost on the hot path.
func BenchmarkDecodeSend(b *testing.B) {
	b.Run("direct/strict", func(b *testing.B) { benchDecode(b, 3, true) })
	b.Run("direct/loose", func(b *testing.B) { benchDecode(b, 3, false) })
	b.Run("group200/strict", func(b *testing.B) { benchDecode(b, 200, true) })
	b.Run("group200/loose", func(b *testing.B) { benchDecode(b, 200, false) })
}

// BenchmarkCheckStrict is the strict pass alone over the same frames.
func BenchmarkCheckStrict(b *testing.B) {
	for _, n := range []int{3, 200} {
		raw := benchFrame(b, n)
		b.Run(map[int]string{3: "direct", 200: "group200"}[n], func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if err := CheckStrict(raw, (*clientFrameShape)(nil)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
