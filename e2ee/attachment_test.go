package e2ee

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
)

func TestAttachmentRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 3*ChunkSize + 17} {
		plain := make([]byte, size)
		rand.Read(plain)
		var ct bytes.Buffer
		a, err := EncryptAttachment(&ct, bytes.NewReader(plain))
		if err != nil {
			t.Fatal(err)
		}
		chunks := max(1, (size+ChunkSize-1)/ChunkSize)
		if size > 0 && size%ChunkSize == 0 {
			chunks = size / ChunkSize
		}
		if ct.Len() != size+16*chunks {
			t.Fatalf("size %d: ciphertext %d bytes, want %d", size, ct.Len(), size+16*chunks)
		}
		if size > 64 && bytes.Contains(ct.Bytes(), plain[:64]) {
			t.Fatal("ciphertext contains plaintext")
		}
		got, err := DecryptAttachment(a, ct.Bytes())
		if err != nil || !bytes.Equal(got, plain) || a.Size != int64(size) {
			t.Fatalf("size %d: round trip failed: %v", size, err)
		}
	}
}

func TestAttachmentTamper(t *testing.T) {
	plain := make([]byte, 2*ChunkSize+100)
	var ct bytes.Buffer
	a, _ := EncryptAttachment(&ct, bytes.NewReader(plain))
	good := ct.Bytes()
	rehash := func(b []byte) *Attachment {
		// An attacker who can replace the blob cannot also replace the
		// hash (it is inside the signed message); rehashing here checks
		// the chunk layer on its own.
		c := *a
		c.SHA256 = sha256Sum(b)
		return &c
	}
	full := ChunkSize + 16
	cases := map[string][]byte{
		"flipped bit":            append([]byte{good[0] ^ 1}, good[1:]...),
		"truncated at a chunk":   good[:2*full],
		"chunks swapped":         append(append(append([]byte{}, good[full:2*full]...), good[:full]...), good[2*full:]...),
		"last chunk dropped tag": good[:len(good)-1],
	}
	for name, b := range cases {
		if _, err := DecryptAttachment(a, b); !errors.Is(err, ErrAttachment) {
			t.Errorf("%s, hash unchanged: %v", name, err)
		}
		if _, err := DecryptAttachment(rehash(b), b); !errors.Is(err, ErrAttachment) {
			t.Errorf("%s, hash matching: %v", name, err)
		}
	}
	wrong := *a
	wrong.Key = make([]byte, 32)
	if _, err := DecryptAttachment(&wrong, good); !errors.Is(err, ErrAttachment) {
		t.Error("opened with the wrong key")
	}
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
