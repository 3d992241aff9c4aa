package client

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/protocol"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 2)
	srv := newDirectoryServer(t, newDirectory(alice, bob), nil)
	c := clientFor(t, srv.URL, alice, 0)
	c.expiresAt = 1234
	// Learn bob's keys (a pin), remember two message ids, and keep one
	// message in the outbox.
	p, err := c.Prepare(context.Background(), Outgoing{ID: "kept-message-0000001", To: []int64{2}, Text: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	c.markSeen("seen-message-000001")
	c.markSeen("seen-message-000002")

	path := filepath.Join(t.TempDir(), "alice.json")
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %#o; want 0600", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Fatalf("Save left %d files behind; want only the state file", len(entries))
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, []byte("hello")) {
		t.Fatal("the state file holds message plaintext")
	}

	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.User() != alice.user || got.DeviceID() != alice.devices[0].ID() || got.Server() != srv.URL ||
		got.api.token != c.api.token || got.ExpiresAt() != 1234 {
		t.Fatalf("identity changed in a round trip: %+v device %d server %s", got.User(), got.DeviceID(), got.Server())
	}
	if !reflect.DeepEqual(got.Pins(), c.Pins()) || len(got.Pins()) != 2 {
		t.Fatalf("pins changed in a round trip:\n%+v\n%+v", got.Pins(), c.Pins())
	}
	ids, at := got.seen.list()
	_, wantAt := c.seen.list()
	if !reflect.DeepEqual(ids, []string{"seen-message-000001", "seen-message-000002"}) || !reflect.DeepEqual(at, wantAt) {
		t.Fatalf("seen ids: %v at %v; want the times kept too (%v)", ids, at, wantAt)
	}
	// The kept message comes back byte for byte, so a resend after a
	// restart is one the server recognises.
	again, err := got.Prepare(context.Background(), Outgoing{ID: "kept-message-0000001", To: []int64{2}, Text: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Frame, p.Frame) {
		t.Fatal("a resend after Load does not send the same bytes")
	}
	// Saving over an existing file keeps the mode.
	if err := got.Save(path); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode after a second save %#o", fi.Mode().Perm())
	}
}

func TestLoadRefuses(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	c := clientFor(t, "http://127.0.0.1:1", alice, 0)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	if err := c.Save(good); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope.json"), "client login"},
		{"readable by others", write("open.json", raw, 0o644), "chmod 600"},
		{"not JSON", write("junk.json", []byte("{"), 0o600), "damaged"},
		{"newer format", write("new.json", bytes.Replace(raw, []byte(`"format": 1`), []byte(`"format": 2`), 1), 0o600), "format 2"},
		{"keys of another device", write("other.json", bytes.Replace(raw, []byte(`"device": `), []byte(`"device": 1`), 1), 0o600), "does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v; want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestNormalizeServer(t *testing.T) {
	for in, want := range map[string]string{
		"https://curbside.example.org/":  "https://curbside.example.org",
		"http://127.0.0.1:8080":          "http://127.0.0.1:8080",
		" https://example.org/curbside/": "https://example.org/curbside",
	} {
		if got, err := normalizeServer(in); err != nil || got != want {
			t.Errorf("normalizeServer(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "curbside.example.org", "ftp://x", "https://x/?a=b", "http://"} {
		if _, err := normalizeServer(bad); err == nil {
			t.Errorf("normalizeServer(%q) succeeded", bad)
		}
	}
}

func TestOutboxIdempotence(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 1)
	carol := newAccount(t, 3, "carol", 1)
	srv := newDirectoryServer(t, newDirectory(alice, bob, carol), nil)
	c := clientFor(t, srv.URL, alice, 0)
	ctx := context.Background()
	out := Outgoing{ID: "resend-me-000000001", To: []int64{2, 3}, Text: "x"}

	p1, err := c.Prepare(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if p1.Conv != protocol.BroadcastConv(1, out.ID) {
		t.Fatalf("broadcast conv %q; want its token to be the message id", p1.Conv)
	}
	p2, err := c.Prepare(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p1.Frame, p2.Frame) {
		t.Fatal("preparing the same id and content twice sealed twice")
	}
	out.Text = "y"
	if _, err := c.Prepare(ctx, out); ErrorCode(err) != protocol.CodeIDReused {
		t.Fatalf("same id, other text: %v; want id_reused", err)
	}
	// Without an explicit id nothing is kept: every Prepare seals anew.
	q1, _ := c.Prepare(ctx, Outgoing{To: []int64{2}, Text: "z"})
	q2, _ := c.Prepare(ctx, Outgoing{To: []int64{2}, Text: "z"})
	if q1.ID == q2.ID || bytes.Equal(q1.Frame, q2.Frame) {
		t.Fatal("messages without an id share an id or bytes")
	}
	if len(c.outbox) != 1 {
		t.Fatalf("outbox holds %d entries; want 1", len(c.outbox))
	}
	for i := range DefaultOutbox + 5 {
		id := "fill-the-outbox-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if _, err := c.Prepare(ctx, Outgoing{ID: id, To: []int64{2}, Text: "f"}); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.outbox) != DefaultOutbox {
		t.Fatalf("outbox holds %d entries; want the bound %d", len(c.outbox), DefaultOutbox)
	}
}
