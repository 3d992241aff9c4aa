// Package devicecmd issues the signed commands the server leaves for a
// device, today the remote wipe. A device pins the server's command key
// when it is set up and obeys only commands that verify with it, so a
// command cannot be forged by whoever can answer for the server's address,
// and the key never leaves the server's database.
package devicecmd

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"sync"
	"time"

	"github.com/curbside-health/curbside/protocol"
)

// KeyStore is where the command key lives; *store.Store is one.
type KeyStore interface {
	// CommandKey returns the server's command-signing key, making it on
	// first use.
	CommandKey(ctx context.Context) (ed25519.PrivateKey, error)
}

// Signer signs device commands with the server's command key, read from
// its KeyStore once.
type Signer struct {
	keys KeyStore

	mu  sync.Mutex
	key ed25519.PrivateKey
}

// New returns a Signer whose key comes from keys.
func New(keys KeyStore) *Signer { return &Signer{keys: keys} }

// signingKey returns the command key, reading it on first use.
func (s *Signer) signingKey(ctx context.Context) (ed25519.PrivateKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	k, err := s.keys.CommandKey(ctx)
	if err != nil {
		return nil, err
	}
	s.key = k
	return k, nil
}

// PublicKey returns the key devices pin to check commands.
func (s *Signer) PublicKey(ctx context.Context) (ed25519.PublicKey, error) {
	k, err := s.signingKey(ctx)
	if err != nil {
		return nil, err
	}
	return k.Public().(ed25519.PublicKey), nil
}

// Wipe returns a signed command, as JSON, telling device of user to erase
// everything it holds.
func (s *Signer) Wipe(ctx context.Context, user, device int64) ([]byte, error) {
	k, err := s.signingKey(ctx)
	if err != nil {
		return nil, err
	}
	cmd := protocol.DeviceCommand{V: 1, Kind: protocol.CommandWipe, User: user, Device: device, IssuedAt: time.Now().UnixMilli()}
	cmd.Sign(k)
	return json.Marshal(cmd)
}
