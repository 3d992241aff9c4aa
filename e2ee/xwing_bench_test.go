package e2ee

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/curbside-health/curbside/protocol"
)

// The suite comparison of docs/BENCHMARKS.md ("Post-quantum suite"):
// bench/browser/pq.mjs runs these with -count and takes the medians.
//
//	keys      the key section alone: the content key sealed to every device
//	envelope  a whole envelope: key section, AES-256-GCM body, Ed25519
//	          signature over S (which covers every sealed key)
//	open      one device opening its sealed key
//
// Each sub-benchmark reports the process's CPU time per operation
// (cpu-ns/op) beside the wall time, and the seals report the key section's
// size: raw sealed-key bytes (key-B) and its JSON as it travels, base64
// and field names included (keys-json-B).

// xwingRecipient is a suite-2 recipient device, as a signed device list
// will one day give it.
type xwingRecipient struct {
	user, device int64
	pub          *XWingPublicKey
}

// sealXWingEnvelope builds a whole envelope with suite 2 the way Seal builds
// one with suite 1, to time it: only the key section differs. It is not
// the protocol's yet (Validate rejects suite 2 until it is negotiated).
func sealXWingEnvelope(b *testing.B, hdr protocol.Envelope, rs []xwingRecipient, pt []byte, signKey ed25519.PrivateKey) *protocol.Envelope {
	env := &protocol.Envelope{V: 1, Suite: protocol.SuiteXWingAES256, ID: NewID(), Conv: hdr.Conv, From: hdr.From, Created: hdr.Created, Flags: hdr.Flags}
	key := make([]byte, contentKeyBytes)
	rand.Read(key)
	env.Keys = make([]protocol.SealedKey, len(rs))
	for i, r := range rs {
		sealed, err := SealKeyXWing(r.pub, env.ID, r.device, key)
		if err != nil {
			b.Fatal(err)
		}
		env.Keys[i] = protocol.SealedKey{User: r.user, Device: r.device, Sealed: sealed}
	}
	env.Nonce = make([]byte, protocol.NonceBytes)
	rand.Read(env.Nonce)
	gcm, err := newGCM(key)
	if err != nil {
		b.Fatal(err)
	}
	env.Body = gcm.Seal(nil, env.Nonce, pt, env.HeaderBytes())
	env.Sig = ed25519.Sign(signKey, env.SignedBytes())
	return env
}

// reportCPU reports the CPU time per operation since start, taken just
// before the b.Loop loop.
func reportCPU(b *testing.B, start time.Duration) {
	if d := cpuTime() - start; d > 0 && start > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func reportKeySection(b *testing.B, keys []protocol.SealedKey) {
	n := 0
	for _, k := range keys {
		n += len(k.Sealed)
	}
	j, err := json.Marshal(keys)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n), "key-B")
	b.ReportMetric(float64(len(j)), "keys-json-B")
}

func BenchmarkSuites(b *testing.B) {
	sender := newParty(b, 1)
	pt := bytes.Repeat([]byte("x"), 200)
	const most = 100
	classic := make([]Recipient, most)
	pq := make([]xwingRecipient, most)
	for i := range most {
		p := newParty(b, int64(2+i))
		classic[i] = p.recipient(b)
		_, pub := newXWing(b)
		pq[i] = xwingRecipient{user: p.user, device: p.keys.ID(), pub: pub}
	}
	key := contentKey()
	const id = "benchmark-message-id-0"

	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("keys/suite=1/devices=%d", n), func(b *testing.B) {
			keys := make([]protocol.SealedKey, n)
			start := cpuTime()
			for b.Loop() {
				for i, r := range classic[:n] {
					sealed, err := hpke.Seal(r.pub, suiteKDF, suiteAEAD, protocol.KeyInfo(id, r.Device), key)
					if err != nil {
						b.Fatal(err)
					}
					keys[i] = protocol.SealedKey{User: r.User, Device: r.Device, Sealed: sealed}
				}
			}
			reportCPU(b, start)
			reportKeySection(b, keys)
		})
		b.Run(fmt.Sprintf("keys/suite=2/devices=%d", n), func(b *testing.B) {
			keys := make([]protocol.SealedKey, n)
			start := cpuTime()
			for b.Loop() {
				for i, r := range pq[:n] {
					sealed, err := SealKeyXWing(r.pub, id, r.device, key)
					if err != nil {
						b.Fatal(err)
					}
					keys[i] = protocol.SealedKey{User: r.user, Device: r.device, Sealed: sealed}
				}
			}
			reportCPU(b, start)
			reportKeySection(b, keys)
		})
		b.Run(fmt.Sprintf("envelope/suite=1/devices=%d", n), func(b *testing.B) {
			var env *protocol.Envelope
			start := cpuTime()
			for b.Loop() {
				var err error
				if env, err = Seal(header(sender, "b:1:bench"), classic[:n], pt, sender.keys.SignKey()); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
			reportKeySection(b, env.Keys)
		})
		b.Run(fmt.Sprintf("envelope/suite=2/devices=%d", n), func(b *testing.B) {
			var env *protocol.Envelope
			start := cpuTime()
			for b.Loop() {
				env = sealXWingEnvelope(b, header(sender, "b:1:bench"), pq[:n], pt, sender.keys.SignKey())
			}
			reportCPU(b, start)
			reportKeySection(b, env.Keys)
		})
	}

	// Opening: one device, one sealed key.
	me := newParty(b, 2)
	sealed1, err := hpke.Seal(me.recipient(b).pub, suiteKDF, suiteAEAD, protocol.KeyInfo(id, me.keys.ID()), key)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("open/suite=1", func(b *testing.B) {
		start := cpuTime()
		for b.Loop() {
			if _, err := hpke.Open(me.keys.hpke, suiteKDF, suiteAEAD, protocol.KeyInfo(id, me.keys.ID()), sealed1); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, start)
	})
	xk, xpub := newXWing(b)
	sealed2, err := SealKeyXWing(xpub, id, 7, key)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("open/suite=2", func(b *testing.B) {
		start := cpuTime()
		for b.Loop() {
			if _, err := OpenKeyXWing(xk, id, 7, sealed2); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, start)
	})
}

// TestSealXWingEnvelopeOpens keeps the benchmark honest: the suite-2
// envelope it times is a real one, whose every key opens and whose
// signature verifies.
func TestSealXWingEnvelopeOpens(t *testing.T) {
	sender := newParty(t, 1)
	k, pub := newXWing(t)
	b := &testing.B{}
	env := sealXWingEnvelope(b, header(sender, "b:1:bench"), []xwingRecipient{{user: 2, device: 77, pub: pub}}, []byte("hello"), sender.keys.SignKey())
	if !ed25519.Verify(sender.keys.SignPublic(), env.SignedBytes(), env.Sig) {
		t.Fatal("signature does not verify")
	}
	key, err := OpenKeyXWing(k, env.ID, 77, env.Keys[0].Sealed)
	if err != nil {
		t.Fatal(err)
	}
	gcm, _ := newGCM(key)
	if pt, err := gcm.Open(nil, env.Nonce, env.Body, env.HeaderBytes()); err != nil || string(pt) != "hello" {
		t.Fatalf("body: %q, %v", pt, err)
	}
}
