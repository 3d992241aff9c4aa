package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/store"
)

// Identity is one seeded user with one registered device and a session
// bound to it: everything a client needs to connect to the relay.
type Identity struct {
	User     int64
	Username string
	Device   int64
	Token    string
	Keys     *e2ee.DeviceKeys
}

// SeedSpec says what Seed creates.
type SeedSpec struct {
	Users  int    // users, one device each
	Prefix string // username prefix; users are Prefix0, Prefix1, ...
	// GroupSize > 0 puts consecutive users into groups of that many
	// members (the last group may be smaller), named Prefix-g0, ...
	GroupSize int
}

// Seeded is the result of Seed.
type Seeded struct {
	IDs    []Identity
	Groups [][]int // indices into IDs, per group
	Group  []int64 // group ids, parallel to Groups
}

// Seed creates spec's users, sessions, devices and groups in the database
// in dir (created if needed) through package store, as login and device
// registration would, and returns their identities. The server must not be
// running on dir yet, so that its caches start from the seeded state.
//
// Every user gets the same argon2id password hash (of a random password
// nobody knows): no one logs in, and hashing once keeps seeding cheap.
// Writes are issued from many goroutines so the store's group commit
// batches them.
func Seed(ctx context.Context, dir string, spec SeedSpec) (*Seeded, error) {
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var pw [16]byte
	rand.Read(pw[:])
	hash, err := auth.HashPassword(base64.RawURLEncoding.EncodeToString(pw[:]))
	if err != nil {
		return nil, err
	}
	out := &Seeded{IDs: make([]Identity, spec.Users)}
	expires := time.Now().Add(29 * 24 * time.Hour).UnixMilli()
	const workers = 64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				id, err := seedOne(ctx, st, fmt.Sprintf("%s%d", spec.Prefix, i), hash, expires)
				if err != nil {
					errs <- err
					return
				}
				out.IDs[i] = *id
			}
		}()
	}
	func() {
		defer close(next)
		for i := range spec.Users {
			select {
			case next <- i:
			case err := <-errs:
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	if spec.GroupSize > 0 {
		for g := 0; g*spec.GroupSize < spec.Users; g++ {
			gid, err := st.CreateGroup(ctx, fmt.Sprintf("%s-g%d", spec.Prefix, g))
			if err != nil {
				return nil, err
			}
			var members []int
			var users []int64
			for i := g * spec.GroupSize; i < min((g+1)*spec.GroupSize, spec.Users); i++ {
				members = append(members, i)
				users = append(users, out.IDs[i].User)
			}
			if err := st.SetGroupMembers(ctx, gid, users, true); err != nil {
				return nil, err
			}
			out.Groups = append(out.Groups, members)
			out.Group = append(out.Group, gid)
		}
	}
	return out, nil
}

// seedOne creates a user, a session with a fresh token, and a device whose
// one-entry device list the device itself signs, exactly as
// client.Login's registration would.
func seedOne(ctx context.Context, st *store.Store, name, hash string, expires int64) (*Identity, error) {
	u := &model.User{Username: name, Display: name, Role: model.RoleStaff, State: model.StateActive, PasswordHash: hash}
	if err := st.CreateUser(ctx, u); err != nil {
		return nil, fmt.Errorf("seed user %s: %w", name, err)
	}
	var tok [32]byte
	rand.Read(tok[:])
	token := base64.RawURLEncoding.EncodeToString(tok[:])
	if err := st.CreateSession(ctx, auth.HashToken(token), u.ID, expires); err != nil {
		return nil, fmt.Errorf("seed session of %s: %w", name, err)
	}
	keys, err := e2ee.GenerateDeviceKeys()
	if err != nil {
		return nil, err
	}
	list, err := client.NextDeviceList(u.ID, nil, nil, keys)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	if _, err := st.RegisterDevice(ctx, u.ID, "bench", "curbside-bench", keys.Listed(), list, raw, auth.HashToken(token), nil); err != nil {
		return nil, fmt.Errorf("seed device of %s: %w", name, err)
	}
	return &Identity{User: u.ID, Username: name, Device: keys.ID(), Token: token, Keys: keys}, nil
}

// stateFile mirrors the client's state file format 1 (client.Save), the
// only exported way to build a client from a known session and keys.
type stateFile struct {
	Format    int         `json:"format"`
	Server    string      `json:"server"`
	Token     string      `json:"token"`
	ExpiresAt int64       `json:"expires_at,omitempty"`
	User      client.User `json:"user"`
	Device    int64       `json:"device"`
	Keys      []byte      `json:"keys"`
}

// Client returns a client for id talking to server (a base URL), through
// a state file written to dir and read back with client.Load.
func (id *Identity) Client(server, dir string) (*client.Client, error) {
	keys, err := id.Keys.MarshalBinary()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(stateFile{
		Format: 1, Server: server, Token: id.Token,
		User:   client.User{ID: id.User, Username: id.Username, Display: id.Username, Role: model.RoleStaff, State: model.StateActive},
		Device: id.Device, Keys: keys,
	})
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, fmt.Sprintf("state-%d.json", id.Device))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, err
	}
	defer os.Remove(path)
	return client.Load(path)
}
