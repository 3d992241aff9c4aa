package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

func pqList() *DeviceList {
	sign := bytes.Repeat([]byte{7}, PublicKeyBytes)
	return &DeviceList{User: 1, Version: 3, Signer: DeviceID(sign), Sig: make([]byte, SignatureBytes),
		Devices: []ListedDevice{{ID: DeviceID(sign), Enc: bytes.Repeat([]byte{1}, PublicKeyBytes), Sign: sign,
			PQ: bytes.Repeat([]byte{2}, XWingPublicKeyBytes)}}}
}

// A list with an X-Wing key is signed under the version 2 label, over the
// key; the same list without it is version 1 bytes, so the signature over
// one is not a signature over the other.
func TestDeviceListSignedBytesCoverPQ(t *testing.T) {
	l := pqList()
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	v2 := l.SignedBytes()
	if !bytes.HasPrefix(v2, []byte("curbside/devices/v2")) || !bytes.Contains(v2, l.Devices[0].PQ) {
		t.Fatal("a list with an X-Wing key is not signed as version 2 over the key")
	}
	l.Devices[0].PQ[100] ^= 1
	if bytes.Equal(l.SignedBytes(), v2) {
		t.Fatal("a changed X-Wing key leaves the signed bytes alike")
	}
	l.Devices[0].PQ = nil
	v1 := l.SignedBytes()
	if !bytes.HasPrefix(v1, []byte("curbside/devices/v1")) || bytes.Equal(v1, v2) {
		t.Fatal("the stripped list's signed bytes are not version 1's")
	}
	l.Devices[0].PQ = make([]byte, XWingPublicKeyBytes-1)
	var pe *Error
	if err := l.Validate(); !errors.As(err, &pe) || pe.Code != CodeBadDeviceList {
		t.Fatalf("Validate of a short X-Wing key: %v", err)
	}
}

func xwingEnvelope(keys int, body int) *Envelope {
	e := &Envelope{V: EnvelopeVersion, Suite: SuiteXWingAES256, ID: strings.Repeat("A", MaxIDLen),
		Conv: "b:9223372036854775807:" + strings.Repeat("A", 64), From: Party{User: math.MaxInt64, Device: math.MaxInt64},
		Created: math.MaxInt64, Flags: knownFlags, Commit: make([]byte, CommitBytesLen), Nonce: make([]byte, NonceBytes),
		Body: make([]byte, body), Sig: make([]byte, SignatureBytes)}
	for i := range keys {
		e.Keys = append(e.Keys, SealedKey{User: math.MaxInt64 - int64(i), Device: math.MaxInt64 - int64(i), Sealed: make([]byte, XWingSealedKeyBytes)})
	}
	for i := range MaxAttachments {
		e.Blobs = append(e.Blobs, fmt.Sprintf("%032x", i))
	}
	return e
}

// The largest suite-2 envelope the relay accepts (MaxKeys X-Wing keys, a
// MaxBodyBytes body, the longest ids and numbers) fits in a send frame of
// MaxFrameBytes, so the frame limit never refuses what Validate accepts.
func TestMaxSuite2Frame(t *testing.T) {
	e := xwingEnvelope(MaxKeys, MaxBodyBytes)
	if err := e.Validate(); err != nil {
		t.Fatalf("the largest suite-2 envelope: %v", err)
	}
	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	frame, _ := json.Marshal(ClientFrame{Type: TSend, Ref: strings.Repeat("A", MaxIDLen), Env: raw})
	t.Logf("largest suite-2 send frame: %d bytes of %d", len(frame), MaxFrameBytes)
	if len(frame) > MaxFrameBytes {
		t.Fatalf("the largest suite-2 send frame is %d bytes; MaxFrameBytes is %d", len(frame), MaxFrameBytes)
	}
}

// Validate takes suite 2 with X-Wing-sized keys only, and in version 2.
func TestValidateSuite2(t *testing.T) {
	e := xwingEnvelope(2, 16)
	e.Conv, e.Blobs = DirectConv(1, 2), nil
	if err := e.Validate(); err != nil {
		t.Fatalf("a well-formed suite-2 envelope: %v", err)
	}
	e.Keys[1].Sealed = make([]byte, SealedKeyBytes)
	if err := e.Validate(); err == nil {
		t.Fatal("a suite-2 envelope with a suite-1 key passed Validate")
	}
	e.Keys[1].Sealed = make([]byte, XWingSealedKeyBytes)
	e.V, e.Commit = 1, nil
	if err := e.Validate(); err == nil {
		t.Fatal("a version 1 envelope of suite 2 passed Validate")
	}
	e.V, e.Commit, e.Suite = EnvelopeVersion, make([]byte, CommitBytesLen), 3
	if err := e.Validate(); err == nil {
		t.Fatal("suite 3 passed Validate")
	}
}
