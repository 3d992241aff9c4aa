package e2ee

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/curbside-health/curbside/protocol"
)

// party is a test user's device.
type party struct {
	user int64
	keys *DeviceKeys
}

func newParty(t testing.TB, user int64) party {
	t.Helper()
	k, err := GenerateDeviceKeys()
	if err != nil {
		t.Fatal(err)
	}
	return party{user: user, keys: k}
}

func (p party) recipient(t testing.TB) Recipient {
	t.Helper()
	r, err := NewRecipient(p.user, p.keys.ID(), p.keys.EncPublic())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func header(from party, conv string) protocol.Envelope {
	return protocol.Envelope{
		Conv:    conv,
		From:    protocol.Party{User: from.user, Device: from.keys.ID()},
		Created: 1_700_000_000_000,
		Flags:   protocol.FlagAckRequested,
	}
}

// fixture is a sender, its second device, and two recipients with two and
// one devices: the shape of a real direct-plus-sync message.
type fixture struct {
	sender, senderOther, bob1, bob2, carol party
	all                                    []party // every device that must open
	env                                    *protocol.Envelope
	plaintext                              []byte
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{
		sender:      newParty(t, 1),
		senderOther: newParty(t, 1),
		bob1:        newParty(t, 2),
		bob2:        newParty(t, 2),
		carol:       newParty(t, 3),
		plaintext:   []byte(`{"type":"text","text":"BP 120/80, recheck at 3pm"}`),
	}
	f.all = []party{f.senderOther, f.bob1, f.bob2, f.carol}
	var rs []Recipient
	for _, p := range f.all {
		rs = append(rs, p.recipient(t))
	}
	env, err := Seal(header(f.sender, "b:1:rounds"), rs, f.plaintext, f.sender.keys.SignKey())
	if err != nil {
		t.Fatal(err)
	}
	f.env = env
	return f
}

// clone deep-copies an envelope through JSON, as it would travel.
func clone(t testing.TB, e *protocol.Envelope) *protocol.Envelope {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var out protocol.Envelope
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func TestHPKESealedKeySize(t *testing.T) {
	// The protocol fixes a sealed key at enc (32) || AES-256-GCM(32-byte key)
	// with its 16-byte tag; check the standard library agrees.
	p := newParty(t, 1)
	out, err := hpke.Seal(p.recipient(t).pub, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte("info"), make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != protocol.SealedKeyBytes || protocol.SealedKeyBytes != 80 {
		t.Fatalf("HPKE single-shot output is %d bytes; protocol.SealedKeyBytes is %d; want both 80", len(out), protocol.SealedKeyBytes)
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	f := newFixture(t)
	if err := f.env.Validate(); err != nil {
		t.Fatalf("sealed envelope does not validate: %v", err)
	}
	wire := clone(t, f.env)
	for _, p := range f.all {
		got, err := Open(wire, f.sender.keys.SignPublic(), p.keys)
		if err != nil {
			t.Fatalf("device %d of user %d: %v", p.keys.ID(), p.user, err)
		}
		if !bytes.Equal(got, f.plaintext) {
			t.Fatalf("device %d opened %q; want %q", p.keys.ID(), got, f.plaintext)
		}
	}
	if bytes.Contains(f.env.Body, []byte("BP 120/80")) {
		t.Fatal("body holds the plaintext")
	}
}

func TestSealDefaultsAndPresetID(t *testing.T) {
	a, b := newParty(t, 1), newParty(t, 2)
	env, err := Seal(header(a, protocol.DirectConv(1, 2)), []Recipient{b.recipient(t)}, []byte("x"), a.keys.SignKey())
	if err != nil {
		t.Fatal(err)
	}
	if env.V != protocol.EnvelopeVersion || env.Suite != protocol.SuiteX25519AES256 || !protocol.ValidID(env.ID) || len(env.Commit) != protocol.CommitBytesLen {
		t.Fatalf("defaults not filled: v=%d suite=%d id=%q", env.V, env.Suite, env.ID)
	}
	h := header(a, protocol.DirectConv(1, 2))
	h.ID = "resend-me-0123456789"
	env2, err := Seal(h, []Recipient{b.recipient(t)}, []byte("x"), a.keys.SignKey())
	if err != nil {
		t.Fatal(err)
	}
	if env2.ID != h.ID {
		t.Fatalf("id %q; want the preset %q", env2.ID, h.ID)
	}
	if _, err := Open(env2, a.keys.SignPublic(), b.keys); err != nil {
		t.Fatal(err)
	}
}

func TestSealRecipientWithoutParsedKey(t *testing.T) {
	a, b := newParty(t, 1), newParty(t, 2)
	r := Recipient{User: 2, Device: b.keys.ID(), Enc: b.keys.EncPublic()}
	env, err := Seal(header(a, protocol.DirectConv(1, 2)), []Recipient{r}, []byte("x"), a.keys.SignKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(env, a.keys.SignPublic(), b.keys); err != nil {
		t.Fatal(err)
	}
}

func TestSealRejects(t *testing.T) {
	a, b, c := newParty(t, 1), newParty(t, 2), newParty(t, 3)
	good := []Recipient{b.recipient(t)}
	for _, tc := range []struct {
		name string
		hdr  func() protocol.Envelope
		rs   []Recipient
		key  ed25519.PrivateKey
	}{
		{"no recipients", func() protocol.Envelope { return header(a, "d:1:2") }, nil, a.keys.SignKey()},
		{"someone else's signing key", func() protocol.Envelope { return header(a, "d:1:2") }, good, c.keys.SignKey()},
		{"bad conversation", func() protocol.Envelope { return header(a, "x:1") }, good, a.keys.SignKey()},
		{"bad id", func() protocol.Envelope { h := header(a, "d:1:2"); h.ID = "short"; return h }, good, a.keys.SignKey()},
		{"unknown suite", func() protocol.Envelope { h := header(a, "d:1:2"); h.Suite = 9; return h }, good, a.keys.SignKey()},
		{"short public key", func() protocol.Envelope { return header(a, "d:1:2") }, []Recipient{{User: 2, Device: 5, Enc: []byte{1, 2}}}, a.keys.SignKey()},
		{"device twice", func() protocol.Envelope { return header(a, "d:1:2") }, []Recipient{b.recipient(t), b.recipient(t)}, a.keys.SignKey()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if env, err := Seal(tc.hdr(), tc.rs, []byte("x"), tc.key); err == nil {
				t.Fatalf("sealed %v; want an error", env)
			}
		})
	}
}

func TestOpenRejectsTampering(t *testing.T) {
	f := newFixture(t)
	mine := 1 // index of f.bob1's key in f.env.Keys
	if f.env.Keys[mine].Device != f.bob1.keys.ID() {
		t.Fatal("fixture order changed")
	}
	for _, tc := range []struct {
		name   string
		mutate func(e *protocol.Envelope)
		want   error
	}{
		{"version", func(e *protocol.Envelope) { e.V = 3 }, ErrUnsupported},
		{"down to version 1", func(e *protocol.Envelope) { e.V, e.Commit = 1, nil }, ErrSignature},
		{"commit", func(e *protocol.Envelope) { e.Commit[0] ^= 1 }, ErrSignature},
		{"suite relabelled", func(e *protocol.Envelope) { e.Suite = protocol.SuiteXWingAES256 }, ErrSignature},
		{"unknown suite", func(e *protocol.Envelope) { e.Suite = 3 }, ErrUnsupported},
		{"id", func(e *protocol.Envelope) { e.ID = NewID() }, ErrSignature},
		{"conv", func(e *protocol.Envelope) { e.Conv = "b:1:other" }, ErrSignature},
		{"from.user", func(e *protocol.Envelope) { e.From.User = 9 }, ErrSignature},
		{"from.device", func(e *protocol.Envelope) { e.From.Device++ }, ErrSignature},
		{"created", func(e *protocol.Envelope) { e.Created++ }, ErrSignature},
		{"flags", func(e *protocol.Envelope) { e.Flags = protocol.FlagUrgent }, ErrSignature},
		{"a key's user", func(e *protocol.Envelope) { e.Keys[0].User = 7 }, ErrSignature},
		{"a key's device", func(e *protocol.Envelope) { e.Keys[0].Device++ }, ErrSignature},
		{"my sealed key", func(e *protocol.Envelope) { e.Keys[mine].Sealed[40] ^= 1 }, ErrSignature},
		{"another sealed key", func(e *protocol.Envelope) { e.Keys[3].Sealed[0] ^= 1 }, ErrSignature},
		{"a key removed", func(e *protocol.Envelope) { e.Keys = append(e.Keys[:3], e.Keys[4:]...) }, ErrSignature},
		{"a key added", func(e *protocol.Envelope) {
			e.Keys = append(e.Keys, protocol.SealedKey{User: 9, Device: 9, Sealed: make([]byte, 80)})
		}, ErrSignature},
		{"keys reordered", func(e *protocol.Envelope) { e.Keys[0], e.Keys[2] = e.Keys[2], e.Keys[0] }, ErrSignature},
		{"nonce", func(e *protocol.Envelope) { e.Nonce[0] ^= 1 }, ErrSignature},
		{"body", func(e *protocol.Envelope) { e.Body[len(e.Body)-1] ^= 1 }, ErrSignature},
		{"body truncated", func(e *protocol.Envelope) { e.Body = e.Body[:len(e.Body)-1] }, ErrSignature},
		{"sig", func(e *protocol.Envelope) { e.Sig[10] ^= 1 }, ErrSignature},
		{"sig missing", func(e *protocol.Envelope) { e.Sig = nil }, ErrSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := clone(t, f.env)
			tc.mutate(e)
			pt, err := Open(e, f.sender.keys.SignPublic(), f.bob1.keys)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %q, %v; want %v", pt, err, tc.want)
			}
		})
	}
}

func TestOpenWrongDeviceOrSender(t *testing.T) {
	f := newFixture(t)
	stranger := newParty(t, 2)
	if _, err := Open(f.env, f.sender.keys.SignPublic(), stranger.keys); !errors.Is(err, ErrNotRecipient) {
		t.Fatalf("stranger's device: %v; want ErrNotRecipient", err)
	}
	if _, err := Open(f.env, f.sender.keys.SignPublic(), f.sender.keys); !errors.Is(err, ErrNotRecipient) {
		t.Fatalf("sending device itself: %v; want ErrNotRecipient", err)
	}
	if _, err := Open(f.env, f.carol.keys.SignPublic(), f.bob1.keys); !errors.Is(err, ErrSignature) {
		t.Fatalf("another device's verify key: %v; want ErrSignature", err)
	}
}

// sealManually builds an envelope from the standard library's primitives the
// way docs/PROTOCOL.md describes, so that a browser reimplementation has a
// reference: with info and aad as given, signed correctly by the sender.
func sealManually(t *testing.T, from party, to party, id string, info func(id string, dev int64) []byte, aad func(e *protocol.Envelope) []byte, plaintext []byte) *protocol.Envelope {
	t.Helper()
	e := header(from, protocol.DirectConv(from.user, to.user))
	e.V, e.Suite, e.ID = protocol.EnvelopeVersion, protocol.SuiteX25519AES256, id
	key := make([]byte, 32)
	rand.Read(key)
	e.Commit = Commitment(key, id)
	pub, err := hpke.DHKEM(ecdh.X25519()).NewPublicKey(to.keys.EncPublic())
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := hpke.Seal(pub, hpke.HKDFSHA256(), hpke.AES256GCM(), info(id, to.keys.ID()), key)
	if err != nil {
		t.Fatal(err)
	}
	e.Keys = []protocol.SealedKey{{User: to.user, Device: to.keys.ID(), Sealed: sealed}}
	e.Nonce = make([]byte, 12)
	rand.Read(e.Nonce)
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	e.Body = gcm.Seal(nil, e.Nonce, plaintext, aad(&e))
	e.Sig = ed25519.Sign(from.keys.SignKey(), e.SignedBytes())
	return &e
}

func TestKnownConstruction(t *testing.T) {
	a, b := newParty(t, 1), newParty(t, 2)
	id := "known-answer-0123456"
	pt := []byte(`{"type":"text","text":"hi"}`)
	header := func(e *protocol.Envelope) []byte { return e.HeaderBytes() }

	t.Run("reference construction opens", func(t *testing.T) {
		e := sealManually(t, a, b, id, protocol.KeyInfo, header, pt)
		got, err := Open(e, a.keys.SignPublic(), b.keys)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Open = %q, %v", got, err)
		}
	})
	t.Run("Seal's output opens with the reference primitives", func(t *testing.T) {
		e, err := Seal(protocol.Envelope{ID: id, Conv: "d:1:2", From: protocol.Party{User: 1, Device: a.keys.ID()}, Created: 5},
			[]Recipient{b.recipient(t)}, pt, a.keys.SignKey())
		if err != nil {
			t.Fatal(err)
		}
		key, err := hpke.Open(b.keys.hpke, hpke.HKDFSHA256(), hpke.AES256GCM(), protocol.KeyInfo(id, b.keys.ID()), e.Keys[0].Sealed)
		if err != nil {
			t.Fatalf("content key does not open with info = KeyInfo(id, device): %v", err)
		}
		block, _ := aes.NewCipher(key)
		gcm, _ := cipher.NewGCM(block)
		got, err := gcm.Open(nil, e.Nonce, e.Body, e.HeaderBytes())
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("body does not open with aad = HeaderBytes: %q, %v", got, err)
		}
		if !ed25519.Verify(a.keys.SignPublic(), e.SignedBytes(), e.Sig) {
			t.Fatal("sig is not over SignedBytes")
		}
		m := hmac.New(sha256.New, key)
		m.Write(append([]byte("curbside/commit/v2\x00\x00\x00\x14"), id...))
		if !bytes.Equal(e.Commit, m.Sum(nil)) {
			t.Fatal("commit is not HMAC-SHA256(K, \"curbside/commit/v2\" || str(id))")
		}
	})
	// A sender that binds the key to another message or device, or
	// authenticates other associated data, produces an envelope whose
	// signature verifies but which must not open.
	for _, tc := range []struct {
		name string
		info func(string, int64) []byte
		aad  func(*protocol.Envelope) []byte
	}{
		{"info names another message", func(_ string, d int64) []byte { return protocol.KeyInfo("another-message-id-00", d) }, header},
		{"info names another device", func(id string, d int64) []byte { return protocol.KeyInfo(id, d+1) }, header},
		{"empty info", func(string, int64) []byte { return nil }, header},
		{"aad empty", protocol.KeyInfo, func(*protocol.Envelope) []byte { return nil }},
		{"aad is the header without the keys", protocol.KeyInfo, func(e *protocol.Envelope) []byte {
			c := *e
			c.Keys = nil
			return c.HeaderBytes()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := sealManually(t, a, b, id, tc.info, tc.aad, pt)
			if _, err := Open(e, a.keys.SignPublic(), b.keys); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("Open: %v; want ErrDecrypt", err)
			}
		})
	}
}

func TestSealedKeyCannotBeMovedBetweenDevices(t *testing.T) {
	// A sealed key copied to another device's slot, or into another message,
	// is bound by its HPKE info to where it was made; even re-signed by the
	// sender it does not open.
	f := newFixture(t)
	e := clone(t, f.env)
	e.Keys[1].Sealed, e.Keys[2].Sealed = e.Keys[2].Sealed, e.Keys[1].Sealed
	e.Sig = ed25519.Sign(f.sender.keys.SignKey(), e.SignedBytes())
	if _, err := Open(e, f.sender.keys.SignPublic(), f.bob1.keys); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("swapped slots: %v; want ErrDecrypt", err)
	}
	e = clone(t, f.env)
	e.ID = NewID()
	e.Sig = ed25519.Sign(f.sender.keys.SignKey(), e.SignedBytes())
	if _, err := Open(e, f.sender.keys.SignPublic(), f.bob1.keys); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("replayed under a new id: %v; want ErrDecrypt", err)
	}
}

func TestDeviceKeysMarshal(t *testing.T) {
	f := newFixture(t)
	b, err := f.bob1.keys.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	k, err := UnmarshalDeviceKeys(b)
	if err != nil {
		t.Fatal(err)
	}
	if k.ID() != f.bob1.keys.ID() || !bytes.Equal(k.EncPublic(), f.bob1.keys.EncPublic()) || !bytes.Equal(k.SignPublic(), f.bob1.keys.SignPublic()) {
		t.Fatal("keys changed in a marshal round trip")
	}
	if !reflect.DeepEqual(k.Listed(), f.bob1.keys.Listed()) {
		t.Fatal("Listed changed in a marshal round trip")
	}
	if _, err := Open(f.env, f.sender.keys.SignPublic(), k); err != nil {
		t.Fatalf("reloaded keys cannot open: %v", err)
	}
	for _, bad := range [][]byte{nil, {2}, b[:len(b)-1], append(append([]byte(nil), b...), 0)} {
		if _, err := UnmarshalDeviceKeys(bad); err == nil {
			t.Errorf("UnmarshalDeviceKeys(%x) succeeded", bad)
		}
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewID()
		if !protocol.ValidID(id) || seen[id] {
			t.Fatalf("NewID = %q: invalid or repeated", id)
		}
		seen[id] = true
	}
}

// FuzzOpenTampered flips one byte of an envelope's JSON. Whatever still
// decodes to a different envelope must not open.
func FuzzOpenTampered(f *testing.F) {
	fx := newFixture(f)
	orig, _ := json.Marshal(fx.env)
	f.Add(uint(10), byte(1))
	f.Add(uint(len(orig)/2), byte(0x20))
	f.Add(uint(len(orig)-5), byte(3))
	f.Fuzz(func(t *testing.T, pos uint, x byte) {
		if x == 0 {
			return
		}
		raw := append([]byte(nil), orig...)
		raw[pos%uint(len(raw))] ^= x
		var e protocol.Envelope
		if json.Unmarshal(raw, &e) != nil {
			return
		}
		same, _ := json.Marshal(&e)
		if bytes.Equal(same, orig) {
			return // the flip did not change the envelope (e.g. in a key name's case)
		}
		if pt, err := Open(&e, fx.sender.keys.SignPublic(), fx.bob1.keys); err == nil {
			t.Fatalf("tampered envelope opened to %q:\n%s", pt, raw)
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	sender := newParty(b, 1)
	pt := bytes.Repeat([]byte("x"), 200)
	for _, n := range []int{1, 10, 100} {
		rs := make([]Recipient, n)
		for i := range rs {
			rs[i] = newParty(b, int64(2+i)).recipient(b)
		}
		b.Run(fmt.Sprintf("devices=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Seal(header(sender, "b:1:bench"), rs, pt, sender.keys.SignKey()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	f := newFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Open(f.env, f.sender.keys.SignPublic(), f.bob1.keys); err != nil {
			b.Fatal(err)
		}
	}
}
