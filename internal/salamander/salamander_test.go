package salamander

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"testing"
)

func TestCiphertextOpensUnderBothKeys(t *testing.T) {
	k1, k2 := make([]byte, 32), make([]byte, 32)
	rand.Read(k1)
	rand.Read(k2)
	nonce := make([]byte, 12)
	rand.Read(nonce)
	for _, aad := range [][]byte{nil, []byte("header"), bytes.Repeat([]byte("h"), 77)} {
		ct, err := Ciphertext(k1, k2, nonce, aad, 3)
		if err != nil {
			t.Fatal(err)
		}
		var pts [][]byte
		for _, k := range [][]byte{k1, k2} {
			b, _ := aes.NewCipher(k)
			g, _ := cipher.NewGCM(b)
			pt, err := g.Open(nil, nonce, ct, aad)
			if err != nil {
				t.Fatalf("aad %d bytes: does not open: %v", len(aad), err)
			}
			pts = append(pts, pt)
		}
		if bytes.Equal(pts[0], pts[1]) {
			t.Fatal("both keys read the same plaintext")
		}
	}
}
