package auth

import (
	"crypto/rand"
	"encoding/base64"
)

// NewToken returns a random 256-bit token and its stored hash.
func NewToken() (string, []byte) {
	raw := make([]byte, 32)
	rand.Read(raw)
	t := base64.RawURLEncoding.EncodeToString(raw)
	return t, HashToken(t)
}

// InvitationURL is the link a person opens to accept an invitation. The
// token travels in the fragment, which browsers never send to a server,
// so it stays out of access logs and Referer headers.
func InvitationURL(origin, token string) string { return origin + "/welcome#invite=" + token }
