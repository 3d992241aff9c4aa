package e2ee

import "testing"

func TestKeyFingerprint(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	// SHA-256 of the bytes 0..31, its first 16 bytes in hex (computed apart).
	if got, want := KeyFingerprint(key), "630d cd29 66c4 3366 9112 5448 bbb2 5b4f"; got != want {
		t.Fatalf("KeyFingerprint = %q, want %q", got, want)
	}
	key[31] ^= 1
	if KeyFingerprint(key) == "630d cd29 66c4 3366 9112 5448 bbb2 5b4f" {
		t.Fatal("a changed key kept its fingerprint")
	}
}
