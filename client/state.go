package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

// stateFormat is the state file's format number; Load refuses newer ones
// rather than dropping fields it does not know.
const stateFormat = 1

// stateFile is the JSON a state file holds. Keys is the secret part.
type stateFile struct {
	Format    int      `json:"format"`
	Server    string   `json:"server"`
	Token     string   `json:"token"`
	ExpiresAt int64    `json:"expires_at,omitempty"`
	User      User     `json:"user"`
	Device    int64    `json:"device"`
	Keys      []byte   `json:"keys"` // e2ee.DeviceKeys.MarshalBinary
	Pins      []*Pin   `json:"pins"`
	Seen      []string `json:"seen"`              // oldest first
	SeenAt    []int64  `json:"seen_at,omitempty"` // when each was seen, ms; absent: at load
	// Outbox holds sealed messages sent with a caller-chosen id, for
	// idempotent resends across runs. Ciphertext only.
	Outbox []*outboxEntry `json:"outbox,omitempty"`
	// Members is the member set last known of each group conversation,
	// which later member lists and messages are compared with.
	Members map[string][]int64 `json:"members,omitempty"`
	// V2Since is when this state first ran protocol version 2, ms (see
	// Client.v2Since); absent in a state saved before, which then starts
	// its drain period when loaded.
	V2Since int64 `json:"v2_since,omitempty"`
	// Pending is set while the device waits for approval; Answers are the
	// device requests it answered as an approver (client/approval.go).
	Pending *pendingState  `json:"pending,omitempty"`
	Answers []*answerState `json:"answers,omitempty"`
	// KeyCreated is when the current encryption key was made, ms (absent
	// in a state saved before rotation: its clock starts when loaded);
	// Retired are the earlier encryption keys still kept (rotate.go).
	// Retired keys are secret like Keys.
	KeyCreated int64          `json:"key_created,omitempty"`
	Retired    []retiredState `json:"retired,omitempty"`
	// PQSince is when this device's list first gave it an X-Wing key, ms
	// (Client.pqSince).
	PQSince int64 `json:"pq_since,omitempty"`
	// PostQuantum keeps WithPostQuantum(true) for the next Load, so a
	// device approved after it was asked for adds its X-Wing key when it
	// next connects.
	PostQuantum bool `json:"post_quantum,omitempty"`
}

// retiredState is a retired encryption key in the state file.
type retiredState struct {
	Enc       []byte `json:"enc"`                  // the X25519 private key
	PQ        []byte `json:"pq,omitempty"`         // the X-Wing seed rotated with it, if any
	RetiredAt int64  `json:"retired_at,omitempty"` // retiredKey.at
	Keep      int64  `json:"keep,omitempty"`       // retiredKey.keep
}

// Save writes the client's state to path with mode 0600, atomically: a
// temporary file in the same directory is written, synced and renamed over
// path, so a crash leaves either the old state or the new, never half of
// one. Saves of one Client are serialised from the copy of its state to the
// rename, so an older copy never lands after a newer one (the key loop
// saves on its own beside the application). Two processes saving the same
// path race; the last rename wins.
func (c *Client) Save(path string) error {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	c.mu.Lock()
	keys, err := c.keys().MarshalBinary()
	if err != nil {
		c.mu.Unlock()
		return err
	}
	c.statePath = path
	st := stateFile{
		KeyCreated: c.keyCreated,
		Format:     stateFormat, Server: c.api.base, Token: c.api.token, ExpiresAt: c.expiresAt,
		User: c.user, Device: c.keys().ID(), Keys: keys, Outbox: c.outbox, Pending: c.pending,
		V2Since: c.v2Since, PQSince: c.pqSince, PostQuantum: c.pq,
	}
	for _, r := range c.retired {
		st.Retired = append(st.Retired, retiredState{Enc: r.keys.EncPrivate(), PQ: r.keys.PQSeed(), RetiredAt: r.at, Keep: r.keep})
	}
	st.Seen, st.SeenAt = c.seen.list()
	for _, a := range c.answers {
		st.Answers = append(st.Answers, a)
	}
	sort.Slice(st.Answers, func(i, j int) bool { return st.Answers[i].Device < st.Answers[j].Device })
	for _, p := range c.pins {
		st.Pins = append(st.Pins, p)
	}
	if len(c.members) > 0 {
		st.Members = make(map[string][]int64, len(c.members))
		for conv, set := range c.members {
			ids := make([]int64, 0, len(set))
			for u := range set {
				ids = append(ids, u)
			}
			sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
			st.Members[conv] = ids
		}
	}
	sort.Slice(st.Pins, func(i, j int) bool { return st.Pins[i].User < st.Pins[j].User })
	b, err := json.MarshalIndent(&st, "", "  ")
	c.mu.Unlock()
	clear(keys)
	for _, r := range st.Retired {
		clear(r.Enc)
	}
	if err != nil {
		return err
	}
	b = append(b, '\n')
	defer clear(b)
	return writeFileAtomic(path, b, 0o600)
}

// writeFileAtomic writes data to path through a temporary file and a rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp already makes the file 0600; Chmod makes perm explicit and
	// independent of that detail.
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	// Sync the directory so the rename itself survives a crash.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Load reads a state file written by Save. It refuses a file that other
// users can read or write, as ssh does with private keys: the file holds the
// device's private keys.
func Load(path string, opts ...Option) (*Client, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("state file %s does not exist: run `curbside client login --state %s` first", path, path)
	}
	if err != nil {
		return nil, err
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("state file %s is readable by other users (mode %#o); it holds private keys: run `chmod 600 %s`", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	var st stateFile
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("state file %s is damaged: %w", path, err)
	}
	defer clear(st.Keys)
	if st.Format != stateFormat {
		return nil, fmt.Errorf("state file %s has format %d; this curbside reads format %d", path, st.Format, stateFormat)
	}
	if len(st.Keys) == 0 {
		return nil, fmt.Errorf("state file %s: %w", path, errNoKeys)
	}
	c, err := newClient(st.Server, opts)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	k, err := e2ee.UnmarshalDeviceKeys(st.Keys)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	c.dev.Store(k)
	c.statePath = path
	c.keyCreated = st.KeyCreated
	if c.keyCreated == 0 {
		c.keyCreated = nowMS()
	}
	for _, r := range st.Retired {
		old, err := k.WithEnc(r.Enc, r.PQ)
		clear(r.Enc)
		clear(r.PQ)
		if err != nil {
			return nil, fmt.Errorf("state file %s: %w", path, err)
		}
		c.retired = append(c.retired, &retiredKey{keys: old, at: r.RetiredAt, keep: r.Keep})
	}
	if c.keys().ID() != st.Device {
		return nil, fmt.Errorf("state file %s: device %d does not match its keys", path, st.Device)
	}
	c.api.token, c.user, c.expiresAt = st.Token, st.User, st.ExpiresAt
	if st.V2Since > 0 {
		c.v2Since = st.V2Since
	}
	c.pqSince = st.PQSince
	c.pq = c.pq || st.PostQuantum
	for _, p := range st.Pins {
		if p != nil && p.User > 0 {
			c.pins[p.User] = p
		}
	}
	for i, id := range st.Seen {
		if i < len(st.SeenAt) && st.SeenAt[i] > 0 {
			c.seen.addAt(id, st.SeenAt[i])
		} else {
			c.seen.add(id)
		}
	}
	for conv, ids := range st.Members {
		if cv, err := protocol.ParseConv(conv); err != nil || cv.Kind != protocol.Group {
			continue
		}
		set := make(map[int64]bool, len(ids))
		for _, u := range ids {
			set[u] = true
		}
		c.members[conv] = set
	}
	c.pending = st.Pending
	for _, a := range st.Answers {
		if a != nil && a.Device > 0 {
			c.answers[a.Device] = a
		}
	}
	for _, e := range st.Outbox {
		if e != nil && protocol.ValidID(e.ID) {
			c.outbox = append(c.outbox, e)
		}
	}
	return c, nil
}
