package console

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"strings"
	"testing"
	"time"
)

// BenchmarkPBKDF2PIN measures what one PIN guess against a grace copy
// costs on one core: PBKDF2-SHA256 with the app's 600,000 iterations
// (crypto.js PBKDF2_ITERATIONS). pinGuessesPerCore quotes its result
// (BENCHMARKS.md, "Offline PIN guessing").
func BenchmarkPBKDF2PIN(b *testing.B) {
	salt := make([]byte, 16)
	for b.Loop() {
		if _, err := pbkdf2.Key(sha256.New, "123456", salt, pinIterations, 32); err != nil {
			b.Fatal(err)
		}
	}
}

func TestGraceCostWords(t *testing.T) {
	off := graceCost(0, 10)
	if !strings.Contains(off, "Offline unlock is off") || !strings.Contains(off, "10 wrong PINs") {
		t.Errorf("off: %q", off)
	}
	on := graceCost(72*time.Hour, 10)
	for _, want := range []string{
		"Offline unlock is on for 3 days",
		"a copied browser profile could be searched for the PIN offline",
		"guesses per second on a laptop",
		"all 6-digit PINs in at most about",
	} {
		if !strings.Contains(on, want) {
			t.Errorf("on: %q lacks %q", on, want)
		}
	}
	if h := graceCost(90*time.Minute, 10); !strings.Contains(h, "on for 1 hour 30 minutes") {
		t.Errorf("90m: %q", h)
	}
}
