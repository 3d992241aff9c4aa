package relay

import (
	"testing"
	"time"
)

// The upload bucket lets a burst through, refuses the next upload until
// enough time has passed for its size, says only the first refusal is new,
// and keeps users apart.
func TestUploadRate(t *testing.T) {
	u := newUploadRate()
	now := time.Unix(1000, 0)
	const perMinute, burst = 60 << 20, 60 << 20
	for i := range 3 {
		if ok, _ := u.allow(1, 20<<20, perMinute, burst, now); !ok {
			t.Fatalf("upload %d of the burst refused", i)
		}
		u.spend(1, 20<<20, perMinute, burst, now)
	}
	ok, first := u.allow(1, 20<<20, perMinute, burst, now)
	if ok || !first {
		t.Fatalf("upload past the burst: ok=%v first=%v, want refused, first", ok, first)
	}
	if _, first := u.allow(1, 20<<20, perMinute, burst, now); first {
		t.Fatal("a second refusal in a row is reported as the first")
	}
	if ok, _ := u.allow(2, 20<<20, perMinute, burst, now); !ok {
		t.Fatal("another user's upload was refused")
	}
	// 20 MiB at 1 MiB a second: 20 s later there is room again.
	if ok, _ := u.allow(1, 20<<20, perMinute, burst, now.Add(20*time.Second)); !ok {
		t.Fatal("upload refused after the bucket refilled")
	}
}
