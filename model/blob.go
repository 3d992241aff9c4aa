package model

import (
	"fmt"

	"github.com/curbside-health/curbside/protocol"
)

// Blob is an uploaded ciphertext blob's metadata.
type Blob struct {
	ID        string
	User      int64
	Size      int64
	CreatedAt int64
	ExpiresAt int64
}

// BlobQuota is how much one user may have stored in unexpired blobs at
// once; a zero field is no limit.
type BlobQuota struct {
	Bytes int64
	Count int
}

// ValidBlobID reports whether id has the form of a blob id (32 lowercase hex
// digits), so it can be used as a file name.
func ValidBlobID(id string) bool { return protocol.ValidBlobID(id) }

// HumanBytes writes a size the way a person reads it in a message ("25.0
// MiB"), for the words of a limit's error.
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
