package mail

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestSecretsSealOpen(t *testing.T) {
	dir := t.TempDir()
	s := NewSecrets(dir)
	if _, err := os.Stat(s.Path()); !os.IsNotExist(err) {
		t.Fatalf("key file exists before first use: %v", err)
	}
	pw := []byte("correct horse battery staple")
	sealed, err := s.Seal(pw)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, pw) {
		t.Fatal("the sealed secret contains the plaintext")
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != keyLen {
		t.Fatalf("key file: mode %v size %d, want 0600 and %d bytes", fi.Mode().Perm(), fi.Size(), keyLen)
	}
	// Two seals of one secret differ (fresh nonces); both open, also
	// through a new Secrets over the same directory, as after a restart.
	again, _ := s.Seal(pw)
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals are equal: the nonce is not fresh")
	}
	for _, c := range [][]byte{sealed, again} {
		got, err := NewSecrets(dir).Open(c)
		if err != nil || !bytes.Equal(got, pw) {
			t.Fatalf("open: %q %v", got, err)
		}
	}
	// A changed byte, a truncated ciphertext and another key are refused.
	bad := bytes.Clone(sealed)
	bad[len(bad)-1] ^= 1
	if _, err := s.Open(bad); err == nil {
		t.Fatal("a tampered secret opened")
	}
	if _, err := s.Open(sealed[:10]); err == nil {
		t.Fatal("a truncated secret opened")
	}
	if _, err := NewSecrets(t.TempDir()).Open(sealed); err == nil {
		t.Fatal("a secret opened under another directory's key")
	}
	// A key file of the wrong size is an error that says what to do, not
	// a new key that would lose the stored password.
	short := t.TempDir()
	os.WriteFile(filepath.Join(short, KeyFile), []byte("short"), 0o600)
	if _, err := NewSecrets(short).Seal(pw); err == nil {
		t.Fatal("a damaged key file was used")
	}
}
