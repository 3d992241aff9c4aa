package devicecmd

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"testing"

	"github.com/curbside-health/curbside/protocol"
)

type memKeys struct {
	key   ed25519.PrivateKey
	reads int
}

func (m *memKeys) CommandKey(context.Context) (ed25519.PrivateKey, error) {
	m.reads++
	return m.key, nil
}

// TestWipeVerifiesWithThePinnedKey checks that a wipe command verifies with
// the public key devices pin, names the device it is for, fails once
// altered, and that the key is read from the store once.
func TestWipeVerifiesWithThePinnedKey(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	keys := &memKeys{key: priv}
	s := New(keys)
	ctx := context.Background()
	pub, err := s.PublicKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.Wipe(ctx, 7, 42)
	if err != nil {
		t.Fatal(err)
	}
	var cmd protocol.DeviceCommand
	if err := json.Unmarshal(raw, &cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Verify(pub, 42); err != nil || cmd.Kind != protocol.CommandWipe || cmd.User != 7 {
		t.Fatalf("command %+v does not verify as a wipe of device 42: %v", cmd, err)
	}
	if err := cmd.Verify(pub, 43); err == nil {
		t.Fatal("a command for device 42 verifies for device 43")
	}
	cmd.Device = 43
	if err := cmd.Verify(pub, 43); err == nil {
		t.Fatal("a command moved to another device still verifies")
	}
	if keys.reads != 1 {
		t.Fatalf("the key was read %d times, want once", keys.reads)
	}
}
