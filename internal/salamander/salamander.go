// Package salamander builds AES-256-GCM ciphertexts that open, tag and
// all, under two different keys: the "invisible salamander" that makes
// AES-GCM alone not key-committing. Tests use it to play a sender (or a
// server sealing keys) that gives two recipients two content keys under one
// signed envelope, and to prove that the envelope's key commitment is what
// stops it. It is test equipment: no product code imports it.
package salamander

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
)

// elem is an element of GF(2^128) in GCM's bit order: hi holds bits 0-63
// (bit 0 is the most significant bit of the first byte).
type elem struct{ hi, lo uint64 }

func load(b []byte) elem {
	return elem{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:16])}
}

func (x elem) bytes() []byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], x.hi)
	binary.BigEndian.PutUint64(b[8:], x.lo)
	return b[:]
}

func (x elem) add(y elem) elem { return elem{x.hi ^ y.hi, x.lo ^ y.lo} }

// mul is the GCM field product (NIST SP 800-38D, algorithm 1).
func (x elem) mul(y elem) elem {
	var z elem
	v := y
	for i := 0; i < 128; i++ {
		var bit uint64
		if i < 64 {
			bit = x.hi >> (63 - i) & 1
		} else {
			bit = x.lo >> (127 - i) & 1
		}
		if bit == 1 {
			z = z.add(v)
		}
		lsb := v.lo & 1
		v.lo = v.lo>>1 | v.hi<<63
		v.hi >>= 1
		if lsb == 1 {
			v.hi ^= 0xe1 << 56
		}
	}
	return z
}

func (x elem) pow(n int) elem {
	r := elem{hi: 1 << 63} // the field's 1
	for i := 0; i < n; i++ {
		r = r.mul(x)
	}
	return r
}

// inv is x^(2^128 - 2), the inverse of a non-zero x.
func (x elem) inv() elem {
	r := elem{hi: 1 << 63}
	sq := x
	// 2^128 - 2 is 127 one bits followed by a zero bit.
	for i := 1; i < 128; i++ {
		sq = sq.mul(sq)
		r = r.mul(sq)
	}
	return r
}

func block(key []byte) (cipher.Block, error) { return aes.NewCipher(key) }

// Ciphertext returns a ciphertext and tag (as cipher.AEAD.Seal returns
// them) of blocks*16 bytes of body that opens under both k1 and k2 with the
// given 12-byte nonce and associated data. What each key decrypts it to is
// noise, different for each key; the point is that both opens succeed.
func Ciphertext(k1, k2, nonce, aad []byte, blocks int) ([]byte, error) {
	if blocks < 1 || len(nonce) != 12 {
		return nil, errors.New("salamander: need at least one block and a 12-byte nonce")
	}
	b1, err := block(k1)
	if err != nil {
		return nil, err
	}
	b2, err := block(k2)
	if err != nil {
		return nil, err
	}
	enc := func(b cipher.Block, in []byte) elem {
		out := make([]byte, 16)
		b.Encrypt(out, in)
		return load(out)
	}
	h1, h2 := enc(b1, make([]byte, 16)), enc(b2, make([]byte, 16))
	j0 := append(append([]byte{}, nonce...), 0, 0, 0, 1)
	s1, s2 := enc(b1, j0), enc(b2, j0)

	ct := make([]byte, 16*blocks)
	rand.Read(ct)
	// The GHASH input: aad padded, ct, then the bit lengths. Block 0 of
	// ct is the free one.
	var in []elem
	for i := 0; i < len(aad); i += 16 {
		var b [16]byte
		copy(b[:], aad[i:])
		in = append(in, load(b[:]))
	}
	free := len(in)
	for i := 0; i < len(ct); i += 16 {
		in = append(in, load(ct[i:i+16]))
	}
	in = append(in, elem{uint64(len(aad)) * 8, uint64(len(ct)) * 8})
	m := len(in)
	// GHASH_H = sum in[i] * H^(m-i). Solve for in[free] so that
	// s1 + GHASH_H1 = s2 + GHASH_H2.
	rhs := s1.add(s2)
	for i, x := range in {
		if i == free {
			continue
		}
		rhs = rhs.add(x.mul(h1.pow(m - i))).add(x.mul(h2.pow(m - i)))
	}
	coef := h1.pow(m - free).add(h2.pow(m - free))
	in[free] = rhs.mul(coef.inv())
	copy(ct[:16], in[free].bytes())

	var g elem
	for _, x := range in {
		g = g.add(x).mul(h1)
	}
	return append(ct, s1.add(g).bytes()...), nil
}
