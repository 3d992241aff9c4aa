package e2ee

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ChunkSize is the plaintext size of an attachment chunk.
const ChunkSize = 64 << 10

const blobLabel = "curbside/blob/v1"

// ErrAttachment reports an attachment that does not match its hash or fails
// to decrypt: truncated, reordered, altered, or opened with the wrong key.
var ErrAttachment = errors.New("e2ee: attachment does not verify")

// Attachment is what a message carries about an encrypted file (PROTOCOL.md
// section 8): where the ciphertext is, the key that opens it and its hash.
type Attachment struct {
	Blob   string `json:"blob"`
	Key    []byte `json:"key"`
	SHA256 []byte `json:"sha256"`
	Size   int64  `json:"size"` // plaintext bytes
	Name   string `json:"name,omitempty"`
	MIME   string `json:"mime,omitempty"`
}

func chunkNonce(i uint64) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n[4:], i)
	return n
}

func chunkAAD(i uint64, last bool) []byte {
	a := make([]byte, len(blobLabel)+9)
	copy(a, blobLabel)
	binary.BigEndian.PutUint64(a[len(blobLabel):], i)
	if last {
		a[len(a)-1] = 1
	}
	return a
}

// EncryptAttachment encrypts a file with a fresh key, chunk by chunk, and
// writes the ciphertext to dst. The returned Attachment has everything but
// the blob id, which the server assigns on upload.
func EncryptAttachment(dst io.Writer, src io.Reader) (*Attachment, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	h := sha256.New()
	out := io.MultiWriter(dst, h)
	cur := make([]byte, ChunkSize)
	next := make([]byte, ChunkSize)
	n, err := io.ReadFull(src, cur)
	var size int64
	sealed := make([]byte, 0, ChunkSize+gcm.Overhead())
	for i := uint64(0); ; i++ {
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return nil, fmt.Errorf("e2ee: read attachment: %w", err)
		}
		// Read ahead one chunk to know whether this one is the last.
		last := err != nil
		var m int
		var nerr error
		if !last {
			m, nerr = io.ReadFull(src, next)
			if m == 0 && (nerr == io.EOF || nerr == io.ErrUnexpectedEOF) {
				last = true
			}
		}
		sealed = gcm.Seal(sealed[:0], chunkNonce(i), cur[:n], chunkAAD(i, last))
		if _, werr := out.Write(sealed); werr != nil {
			return nil, werr
		}
		size += int64(n)
		if last {
			break
		}
		cur, next = next, cur
		n, err = m, nerr
	}
	return &Attachment{Key: key, SHA256: h.Sum(nil), Size: size}, nil
}

// DecryptAttachment checks ciphertext against a's hash and decrypts it.
func DecryptAttachment(a *Attachment, ciphertext []byte) ([]byte, error) {
	if len(a.Key) != 32 {
		return nil, fmt.Errorf("%w: key must be 32 bytes", ErrAttachment)
	}
	sum := sha256.Sum256(ciphertext)
	if len(a.SHA256) != len(sum) || string(sum[:]) != string(a.SHA256) {
		return nil, fmt.Errorf("%w: SHA-256 mismatch", ErrAttachment)
	}
	block, _ := aes.NewCipher(a.Key)
	gcm, _ := cipher.NewGCM(block)
	full := ChunkSize + gcm.Overhead()
	out := make([]byte, 0, max(0, len(ciphertext)-len(ciphertext)/full*gcm.Overhead()-gcm.Overhead()))
	for i := uint64(0); ; i++ {
		if len(ciphertext) < gcm.Overhead() {
			return nil, fmt.Errorf("%w: truncated", ErrAttachment)
		}
		n := min(full, len(ciphertext))
		last := n == len(ciphertext)
		var err error
		out, err = gcm.Open(out, chunkNonce(i), ciphertext[:n], chunkAAD(i, last))
		if err != nil {
			return nil, fmt.Errorf("%w: chunk %d", ErrAttachment, i)
		}
		ciphertext = ciphertext[n:]
		if last {
			break
		}
	}
	if a.Size != 0 && int64(len(out)) != a.Size {
		return nil, fmt.Errorf("%w: size %d, want %d", ErrAttachment, len(out), a.Size)
	}
	return out, nil
}
