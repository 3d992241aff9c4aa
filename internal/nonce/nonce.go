// Package nonce makes the single-use challenges a client signs to prove it
// holds a key (a device at sign-in, a locked device asking for its wipe
// command). A nonce is stateless until it is answered: its expiry, random
// bytes and a MAC under a key made at start, bound to what it is for, so
// handing nonces out to anyone costs no memory. Only a nonce answered with
// a proof that verifies is remembered, until it expires, so that it cannot
// be used twice.
package nonce

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// Len is a nonce's length: expiry, random bytes, MAC.
const Len = 8 + 16 + 16

// MaxUsed bounds the answered, unexpired nonces remembered; past it an
// answer is refused until some expire (bounded memory first).
const MaxUsed = 10000

// Issuer makes and checks the nonces of one use, named by its label.
type Issuer struct {
	label string
	ttl   time.Duration
	key   []byte

	mu   sync.Mutex
	used map[string]int64 // nonce → its expiry, Unix ms
}

// New returns an Issuer for nonces that live ttl, with a fresh key: a
// restart only makes a client ask again.
func New(label string, ttl time.Duration) *Issuer {
	k := make([]byte, 32)
	rand.Read(k)
	return &Issuer{label: label, ttl: ttl, key: k, used: map[string]int64{}}
}

func (i *Issuer) mac(bind, body []byte) []byte {
	m := hmac.New(sha256.New, i.key)
	m.Write([]byte(i.label))
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(bind)))
	m.Write(n[:])
	m.Write(bind)
	m.Write(body)
	return m.Sum(nil)[:16]
}

// Issue returns a new nonce bound to bind (what it may be answered for,
// e.g. a device id; nil for none) and its expiry.
func (i *Issuer) Issue(bind []byte, now time.Time) ([]byte, time.Time) {
	exp := now.Add(i.ttl)
	b := make([]byte, 24, Len)
	binary.BigEndian.PutUint64(b, uint64(exp.UnixMilli()))
	rand.Read(b[8:24])
	return append(b, i.mac(bind, b)...), exp
}

// Valid reports whether nonce was made here for bind and has not expired.
func (i *Issuer) Valid(bind, nonce []byte, now time.Time) bool {
	if len(nonce) != Len || !hmac.Equal(nonce[24:], i.mac(bind, nonce[:24])) {
		return false
	}
	return int64(binary.BigEndian.Uint64(nonce)) > now.UnixMilli()
}

// Spend marks an answered nonce used; false if it already was, or if too
// many unexpired ones are remembered to take another.
func (i *Issuer) Spend(nonce []byte, now time.Time) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if _, seen := i.used[string(nonce)]; seen {
		return false
	}
	if len(i.used) >= MaxUsed {
		for k, exp := range i.used {
			if exp <= now.UnixMilli() {
				delete(i.used, k)
			}
		}
		if len(i.used) >= MaxUsed {
			return false
		}
	}
	i.used[string(nonce)] = int64(binary.BigEndian.Uint64(nonce))
	return true
}
