package e2ee

import (
	"bytes"
	"crypto/hpke"
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
	pq := make([]Recipient, most)
	for i := range most {
		p := newParty(b, int64(2+i))
		classic[i] = p.recipient(b)
		_, pub := newXWing(b)
		r, err := NewListedRecipient(p.user, protocol.ListedDevice{ID: p.keys.ID(), Enc: p.keys.EncPublic(), Sign: p.keys.SignPublic(), PQ: pub.Bytes()})
		if err != nil {
			b.Fatal(err)
		}
		pq[i] = r
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
					sealed, err := SealKeyXWing(r.pqPub, id, r.Device, key)
					if err != nil {
						b.Fatal(err)
					}
					keys[i] = protocol.SealedKey{User: r.User, Device: r.Device, Sealed: sealed}
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
			hdr := header(sender, "b:1:bench")
			hdr.Suite = protocol.SuiteXWingAES256
			for b.Loop() {
				var err error
				if env, err = Seal(hdr, pq[:n], pt, sender.keys.SignKey()); err != nil {
					b.Fatal(err)
				}
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
