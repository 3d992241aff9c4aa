package mail

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeyFile is the name, in the data directory, of the key that seals the
// secrets the database holds (the SMTP password). A backup must carry it
// with the database: without it, the stored password cannot be opened.
const KeyFile = "secret.key"

const keyLen = 32 // AES-256

// sealContext is the associated data of a sealed SMTP password, so that a
// ciphertext sealed for another purpose under the same key is refused.
var sealContext = []byte("curbside smtp password v1")

// Secrets seals and opens the secrets the database holds with the key in
// the data directory's KeyFile, created on first use.
type Secrets struct {
	dir string
}

// NewSecrets returns the secrets of the data directory dir. The key file
// is read, or created, when first needed.
func NewSecrets(dir string) *Secrets { return &Secrets{dir: dir} }

// Path is where the key lives.
func (s *Secrets) Path() string { return filepath.Join(s.dir, KeyFile) }

// key reads the key file, creating it (mode 0600) with a fresh random key
// if it does not exist yet.
func (s *Secrets) key() ([]byte, error) {
	k, err := os.ReadFile(s.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return s.create()
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", KeyFile, err)
	}
	if len(k) != keyLen {
		return nil, fmt.Errorf("%s holds %d bytes, want %d: restore it from the backup made with the database", KeyFile, len(k), keyLen)
	}
	return k, nil
}

func (s *Secrets) create() ([]byte, error) {
	k := make([]byte, keyLen)
	rand.Read(k)
	f, err := os.OpenFile(s.Path(), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return s.key() // made meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", KeyFile, err)
	}
	if _, err := f.Write(k); err != nil {
		f.Close()
		os.Remove(s.Path())
		return nil, fmt.Errorf("write %s: %w", KeyFile, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(s.Path())
		return nil, fmt.Errorf("write %s: %w", KeyFile, err)
	}
	return k, f.Close()
}

func (s *Secrets) aead() (cipher.AEAD, error) {
	k, err := s.key()
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Seal encrypts plaintext with AES-256-GCM under the key: a random nonce,
// then the ciphertext and tag.
func (s *Secrets) Seal(plaintext []byte) ([]byte, error) {
	g, err := s.aead()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize())
	rand.Read(nonce)
	return g.Seal(nonce, nonce, plaintext, sealContext), nil
}

// Open decrypts what Seal returned.
func (s *Secrets) Open(sealed []byte) ([]byte, error) {
	g, err := s.aead()
	if err != nil {
		return nil, err
	}
	if len(sealed) < g.NonceSize()+g.Overhead() {
		return nil, errors.New("sealed secret too short")
	}
	p, err := g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], sealContext)
	if err != nil {
		return nil, fmt.Errorf("the stored SMTP password does not open with %s (was the key file replaced?): %w", KeyFile, err)
	}
	return p, nil
}
