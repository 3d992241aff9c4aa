package e2ee

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"testing"

	"github.com/curbside-health/curbside/protocol"
)

// updateXWingVectors rewrites testdata/xwing_vectors.json; the browser
// interop test (webui/test/interop.mjs) reads the same file.
var updateXWingVectors = flag.Bool("update-xwing-vectors", false, "rewrite testdata/xwing_vectors.json")

const xwingVectorsFile = "testdata/xwing_vectors.json"

// xwingVector is one fixed suite-2 case: a seed, the public key it expands
// to, and a content key sealed to it for one message and device.
type xwingVector struct {
	Seed   []byte `json:"seed"`
	Public []byte `json:"public"`
	MsgID  string `json:"msg_id"`
	Device int64  `json:"device"`
	Info   []byte `json:"info"` // protocol.KeyInfo(msg_id, device)
	Key    []byte `json:"key"`  // the 32-byte content key
	Sealed []byte `json:"sealed"`
}

func newXWing(t testing.TB) (*XWingKey, *XWingPublicKey) {
	t.Helper()
	k, err := GenerateXWingKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParseXWingPublicKey(k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return k, pub
}

func contentKey() []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(0xa0 + i)
	}
	return k
}

func TestXWingSizes(t *testing.T) {
	k, pub := newXWing(t)
	if n := len(k.Seed()); n != 32 {
		t.Errorf("seed is %d bytes; want 32", n)
	}
	if n := len(pub.Bytes()); n != 1216 {
		t.Errorf("public key is %d bytes; want 1,216", n)
	}
	sealed, err := SealKeyXWing(pub, "msg-0123456789abcdef", 42, contentKey())
	if err != nil {
		t.Fatal(err)
	}
	// enc (1,120) || AES-256-GCM(32-byte key) with its tag (48).
	if len(sealed) != 1120+48 || protocol.XWingSealedKeyBytes != 1168 || protocol.XWingEncBytes != 1120 {
		t.Errorf("sealed key is %d bytes (constant %d); want 1,168", len(sealed), protocol.XWingSealedKeyBytes)
	}
	if xwing.ID() != protocol.XWingKEMID {
		t.Errorf("KEM id %#x; want %#x", xwing.ID(), protocol.XWingKEMID)
	}
}

func TestXWingRoundTrip(t *testing.T) {
	k, pub := newXWing(t)
	key := contentKey()
	sealed, err := SealKeyXWing(pub, "msg-0123456789abcdef", 42, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenKeyXWing(k, "msg-0123456789abcdef", 42, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, key) {
		t.Fatalf("opened %x; want %x", got, key)
	}
	// Sealing is randomised: the same key sealed twice differs.
	again, _ := SealKeyXWing(pub, "msg-0123456789abcdef", 42, key)
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals of the same key are identical")
	}
	// The seed alone rebuilds the key: same public key, and it opens.
	k2, err := NewXWingKey(k.Seed())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k2.PublicKey(), k.PublicKey()) {
		t.Fatal("the seed rebuilt a different public key")
	}
	if got, err := OpenKeyXWing(k2, "msg-0123456789abcdef", 42, sealed); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("the rebuilt key does not open: %v", err)
	}
}

func TestXWingWrongKey(t *testing.T) {
	_, pub := newXWing(t)
	other, _ := newXWing(t)
	sealed, err := SealKeyXWing(pub, "msg-0123456789abcdef", 42, contentKey())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenKeyXWing(other, "msg-0123456789abcdef", 42, sealed); !errors.Is(err, ErrXWingOpen) {
		t.Fatalf("another device's key opened it: %x, %v", got, err)
	}
}

func TestXWingWrongInfo(t *testing.T) {
	// The info binds the message id and the device, as in suite 1: a sealed
	// key moved to another message or another device does not open.
	k, pub := newXWing(t)
	sealed, err := SealKeyXWing(pub, "msg-0123456789abcdef", 42, contentKey())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		id     string
		device int64
	}{
		{"another message", "msg-0123456789abcdeg", 42},
		{"another device", "msg-0123456789abcdef", 43},
	} {
		if got, err := OpenKeyXWing(k, c.id, c.device, sealed); !errors.Is(err, ErrXWingOpen) {
			t.Errorf("%s: opened %x, %v", c.name, got, err)
		}
	}
}

func TestXWingTampered(t *testing.T) {
	k, pub := newXWing(t)
	sealed, err := SealKeyXWing(pub, "msg-0123456789abcdef", 42, contentKey())
	if err != nil {
		t.Fatal(err)
	}
	// One flipped bit in each part: ML-KEM's ciphertext, the X25519
	// ephemeral key (together the enc), and the AES-GCM ciphertext and tag.
	for _, c := range []struct {
		name string
		at   int
	}{
		{"ML-KEM ciphertext, first byte", 0},
		{"ML-KEM ciphertext, last byte", 1087},
		{"X25519 ephemeral key", 1088 + 5},
		{"sealed content key", 1120 + 3},
		{"GCM tag", 1167},
	} {
		bad := bytes.Clone(sealed)
		bad[c.at] ^= 0x01
		if got, err := OpenKeyXWing(k, "msg-0123456789abcdef", 42, bad); !errors.Is(err, ErrXWingOpen) {
			t.Errorf("%s changed: opened %x, %v", c.name, got, err)
		}
	}
	for _, n := range []int{0, 1120, len(sealed) - 1} {
		if _, err := OpenKeyXWing(k, "msg-0123456789abcdef", 42, sealed[:n]); !errors.Is(err, ErrXWingOpen) {
			t.Errorf("cut to %d bytes: %v", n, err)
		}
	}
	if _, err := OpenKeyXWing(k, "msg-0123456789abcdef", 42, append(bytes.Clone(sealed), 0)); !errors.Is(err, ErrXWingOpen) {
		t.Errorf("one byte longer: %v", err)
	}
}

func TestXWingRejectsBadInputs(t *testing.T) {
	if _, err := NewXWingKey(make([]byte, 31)); err == nil {
		t.Error("a 31-byte seed was taken")
	}
	k, pub := newXWing(t)
	if _, err := ParseXWingPublicKey(k.PublicKey()[:1215]); err == nil {
		t.Error("a 1,215-byte public key was taken")
	}
	if _, err := ParseXWingPublicKey(make([]byte, 32)); err == nil {
		t.Error("an X25519-sized public key was taken")
	}
	if _, err := SealKeyXWing(pub, "msg-0123456789abcdef", 42, make([]byte, 16)); err == nil {
		t.Error("a 16-byte content key was sealed")
	}
}

// TestXWingVectors opens fixed sealed keys made once by this package: the
// seed must expand to the recorded public key and the sealed key must open
// to the recorded content key. The browser opens the same file, so a seed
// means the same key on both sides. Run with -update-xwing-vectors to
// make new ones (only when the format changes on purpose).
func TestXWingVectors(t *testing.T) {
	if *updateXWingVectors {
		var vs []xwingVector
		for i, c := range []struct {
			id     string
			device int64
		}{{"q3Jx0cQ2Tge1Xb7xYk8h1A", 987654321}, {"vector-two-0000000000", 1}} {
			seed := bytes.Repeat([]byte{byte(0x11 * (i + 1))}, 32)
			seed[0] = byte(i)
			k, err := NewXWingKey(seed)
			if err != nil {
				t.Fatal(err)
			}
			pub, _ := ParseXWingPublicKey(k.PublicKey())
			key := bytes.Repeat([]byte{byte(0xc0 + i)}, 32)
			sealed, err := SealKeyXWing(pub, c.id, c.device, key)
			if err != nil {
				t.Fatal(err)
			}
			vs = append(vs, xwingVector{Seed: seed, Public: k.PublicKey(), MsgID: c.id, Device: c.device,
				Info: protocol.KeyInfo(c.id, c.device), Key: key, Sealed: sealed})
		}
		b, _ := json.MarshalIndent(vs, "", "  ")
		if err := os.WriteFile(xwingVectorsFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(xwingVectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var vs []xwingVector
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	for i, v := range vs {
		k, err := NewXWingKey(v.Seed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(k.PublicKey(), v.Public) {
			t.Errorf("vector %d: the seed expands to another public key", i)
		}
		if !bytes.Equal(protocol.KeyInfo(v.MsgID, v.Device), v.Info) {
			t.Errorf("vector %d: KeyInfo differs from the recorded info", i)
		}
		got, err := OpenKeyXWing(k, v.MsgID, v.Device, v.Sealed)
		if err != nil {
			t.Errorf("vector %d: %v", i, err)
			continue
		}
		if !bytes.Equal(got, v.Key) {
			t.Errorf("vector %d: opened %x; want %x", i, got, v.Key)
		}
	}
}

// FuzzOpenKeyXWing: whatever a relay puts in a suite-2 key, opening it
// never panics, and nothing but the sealed key itself opens. The genuine
// key is the first fixed vector's (sealing is randomised, and every fuzz
// worker must agree on which bytes are genuine).
func FuzzOpenKeyXWing(f *testing.F) {
	raw, err := os.ReadFile(xwingVectorsFile)
	if err != nil {
		f.Fatal(err)
	}
	var vs []xwingVector
	if err := json.Unmarshal(raw, &vs); err != nil || len(vs) == 0 {
		f.Fatalf("vectors: %v", err)
	}
	v := vs[0]
	k, err := NewXWingKey(v.Seed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v.Sealed)
	f.Add(v.Sealed[:protocol.XWingEncBytes])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := OpenKeyXWing(k, v.MsgID, v.Device, b)
		if bytes.Equal(b, v.Sealed) {
			if err != nil || !bytes.Equal(got, v.Key) {
				t.Fatalf("the genuine sealed key did not open: %v", err)
			}
			return
		}
		if err == nil {
			t.Fatalf("a changed sealed key opened to %x", got)
		}
		if !errors.Is(err, ErrXWingOpen) {
			t.Fatalf("error %v is not ErrXWingOpen", err)
		}
	})
}
