// Package ratelimit is a token bucket per key (an address, a session): up
// to a burst of attempts, then one more every interval. It is made by hand
// rather than with golang.org/x/time/rate because an attempt that succeeds
// may hand its token back, which rate.Limiter cannot do once it is spent,
// so that only failures run an allowance down.
package ratelimit

import (
	"sync"
	"time"
)

// Keyed holds one bucket per key. Its memory is bounded: past maxKeys, the
// buckets that have refilled (and so are no different from new ones) are
// forgotten, and if none has, a new key is refused when RefuseWhenFull is
// set, or let in anyway.
type Keyed struct {
	// RefuseWhenFull refuses a new key while maxKeys busy ones are held.
	RefuseWhenFull bool

	mu      sync.Mutex
	every   time.Duration
	burst   int
	maxKeys int
	keys    map[string]*Bucket
}

// Bucket is one token bucket, for an owner that needs no lock (one
// connection's reader, say): burst attempts, then one more every every.
// Its zero value is full. Keyed holds one per key under its mutex.
type Bucket struct {
	tokens float64
	last   time.Time
}

// Allow takes one attempt from the bucket; false means it is spent.
func (b *Bucket) Allow(now time.Time, every time.Duration, burst int) bool {
	if b.last.IsZero() {
		b.tokens = float64(burst)
	} else {
		b.tokens = min(float64(burst), b.tokens+float64(now.Sub(b.last))/float64(every))
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// New returns buckets of burst attempts that earn one back every every,
// for up to maxKeys keys.
func New(every time.Duration, burst, maxKeys int) *Keyed {
	return &Keyed{every: every, burst: burst, maxKeys: maxKeys, keys: map[string]*Bucket{}}
}

// SetRate reshapes the buckets (zero leaves either as it is).
func (k *Keyed) SetRate(every time.Duration, burst int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if every > 0 {
		k.every = every
	}
	if burst > 0 {
		k.burst = burst
	}
}

// Allow takes one attempt from key's bucket; false means it is spent.
func (k *Keyed) Allow(key string, now time.Time) bool {
	_, ok := k.Reserve(key, now)
	return ok
}

// Reserve takes one attempt from key's bucket. The returned refund gives
// it back, once, however often it is called.
func (k *Keyed) Reserve(key string, now time.Time) (refund func(), ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.keys[key]
	if b == nil {
		if len(k.keys) >= k.maxKeys {
			k.forgetFull(now)
			if len(k.keys) >= k.maxKeys && k.RefuseWhenFull {
				return nil, false // bounded memory first
			}
		}
		b = &Bucket{}
		k.keys[key] = b
	}
	if !b.Allow(now, k.every, k.burst) {
		return nil, false
	}
	burst := float64(k.burst)
	var once sync.Once
	return func() {
		once.Do(func() {
			k.mu.Lock()
			defer k.mu.Unlock()
			b.tokens = min(burst, b.tokens+1)
		})
	}, true
}

// forgetFull drops the buckets that would be full again by now.
func (k *Keyed) forgetFull(now time.Time) {
	refill := time.Duration(k.burst) * k.every
	for key, b := range k.keys {
		if now.Sub(b.last) >= refill {
			delete(k.keys, key)
		}
	}
}
