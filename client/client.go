package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

// Client is one device of one user: its session with the server, its
// private keys, and its pinned directory of peers' keys. It is safe for
// concurrent use.
type Client struct {
	api  api
	user User
	// saveMu serialises Save from the copy of the state to its rename.
	saveMu sync.Mutex
	// dev holds the device's keys (keys()); a rotation (RotateKey)
	// replaces them with ones of the same id and signing key.
	dev atomic.Pointer[e2ee.DeviceKeys]
	// rotMu serialises rotations; keyCreated is when the current
	// encryption key was made, ms; retired holds the earlier ones still
	// kept (rotate.go), under mu; statePath is where Load or Save last
	// read or wrote the state, which a rotation saves to at once.
	rotMu      sync.Mutex
	keyCreated int64
	retired    []*retiredKey
	statePath  string
	// expiresAt is the session's expiry the server reported, ms.
	expiresAt int64

	onKeyChange func(KeyChange)
	onMember    func(MemberEvent)

	mu         sync.Mutex
	pins       map[int64]*Pin  // trust-on-first-use device lists, persisted
	peers      map[int64]*peer // verified lists and active sets, this process only
	keyChanges []KeyChange
	seen       *seenSet
	outbox     []*outboxEntry         // oldest first, at most DefaultOutbox
	pending    *pendingState          // set while this device waits for approval
	answers    map[int64]*answerState // requests this device answered, by device id
	// members is the member set last known of each group conversation
	// (members.go), persisted; memberEvents the changes seen, this
	// process only.
	members      map[string]map[int64]bool
	memberEvents []MemberEvent
	memberNames  map[int64]string // names member lists and events gave, this process only
	// maxAge is the retention window: an envelope signed as created
	// longer ago is refused as a replay (WithMaxAge).
	maxAge time.Duration
	// v2Since is when this device's state first ran protocol version 2,
	// ms: it opens version 1 envelopes made before it, for
	// protocol.V1DrainMs after it. Saved with the state.
	v2Since int64
	// pq makes the device list an X-Wing key and so receive suite 2
	// (WithPostQuantum); pqSince is when this device's list first gave
	// it one, ms (0: never), after which it refuses suite-1 envelopes
	// (ErrDowngrade).
	pq      bool
	pqSince int64
}

// DefaultMaxAge is the retention window a client assumes (the server's
// default retention policy): messages signed as created longer ago are
// refused.
const DefaultMaxAge = 7 * 24 * time.Hour

// WithMaxAge sets the retention window (DefaultMaxAge if d <= 0): an
// envelope whose signed created time is older is refused as a replay
// (ErrTooOld). Set it to the practice's retention policy.
func WithMaxAge(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.maxAge = d
		}
	}
}

// WithPostQuantum makes the device list an X-Wing key (PROTOCOL.md "Suite
// 2: X-Wing"): a new device at registration, an existing one by a key
// rotation at its next Connect. Once its list gives it the key, senders
// seal to it with suite 2 (when all recipients list one), and it refuses a
// suite-1 envelope made after that (ErrDowngrade). Without it a device
// lists none, but it still seals suite 2 to devices that all list one.
// The choice is kept in the state file: once on, a later Load keeps it.
func WithPostQuantum(on bool) Option {
	return func(c *Client) { c.pq = on }
}

// Option configures a Client made by Login or Load.
type Option func(*Client)

// WithHTTPClient makes the client use hc for the API and the WebSocket, for
// example one that trusts a test CA. Leave its Timeout zero: API calls get
// DefaultRequestTimeout from their context, and a timeout would cut the
// WebSocket.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.api.hc = hc }
}

// WithKeyChangeHandler calls f, synchronously, whenever a peer's pinned
// device set changes. The changes are also kept for KeyChanges.
func WithKeyChangeHandler(f func(KeyChange)) Option {
	return func(c *Client) { c.onKeyChange = f }
}

// WithSeenIDs sets how many recent message ids are kept for deduplication
// at least (DefaultSeenIDs if n <= 0); none younger than the retention
// window (WithMaxAge) is forgotten.
func WithSeenIDs(n int) Option {
	return func(c *Client) { c.seen = newSeenSet(n) }
}

func newClient(server string, opts []Option) (*Client, error) {
	base, err := normalizeServer(server)
	if err != nil {
		return nil, err
	}
	c := &Client{
		api:         api{base: base, hc: &http.Client{}},
		pins:        make(map[int64]*Pin),
		peers:       make(map[int64]*peer),
		seen:        newSeenSet(DefaultSeenIDs),
		members:     make(map[string]map[int64]bool),
		memberNames: make(map[int64]string),
		maxAge:      DefaultMaxAge,
		v2Since:     time.Now().UnixMilli(),
		answers:     make(map[int64]*answerState),
	}
	for _, o := range opts {
		o(c)
	}
	// Every id is kept for the whole retention window, past which the
	// envelope's signed time refuses it anyway.
	c.seen.keepMS = c.maxAge.Milliseconds() + protocol.ClockSkewMs
	return c, nil
}

// normalizeServer checks a server URL and strips what the API paths add.
func normalizeServer(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("server URL %q must look like https://curbside.example.org", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("server URL %q must not have a query or fragment", s)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"), nil
}

// Login signs in as username, makes a new device's keys locally, and
// registers the device under deviceName (shown to the user and admins). The
// session is bound to the new device. The returned client is not yet saved:
// call Save.
func Login(ctx context.Context, server, username, password, deviceName string, opts ...Option) (*Client, error) {
	c, err := newClient(server, opts)
	if err != nil {
		return nil, err
	}
	lr, err := c.api.login(ctx, username, password, nil)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	c.api.token, c.user, c.expiresAt = lr.Token, lr.User, lr.ExpiresAt
	gen := e2ee.GenerateDeviceKeys
	if c.pq {
		gen = e2ee.GenerateDeviceKeysPQ
	}
	k, err := gen()
	if err != nil {
		return nil, err
	}
	c.dev.Store(k)
	c.keyCreated = nowMS()
	if err := c.registerDevice(ctx, deviceName); err != nil {
		return nil, err
	}
	return c, nil
}

// User returns the signed-in user.
func (c *Client) User() User { return c.user }

// DeviceID returns this device's id.
func (c *Client) DeviceID() int64 { return c.keys().ID() }

// Server returns the server's base URL.
func (c *Client) Server() string { return c.api.base }

// ExpiresAt returns when the session expires, in ms since the Unix epoch, as
// the server reported it at login (0 if it did not say).
func (c *Client) ExpiresAt() int64 { return c.expiresAt }

// Logout ends the session on the server. The device stays registered; its
// keys remain in any saved state file, which the caller should delete.
func (c *Client) Logout(ctx context.Context) error {
	return c.api.do(ctx, http.MethodPost, "/api/v1/logout", nil, nil)
}

// Me returns the signed-in user and the device the session is bound to (0
// if none), as the server sees them.
func (c *Client) Me(ctx context.Context) (User, int64, error) {
	var out meResponse
	if err := c.api.do(ctx, http.MethodGet, "/api/v1/me", nil, &out); err != nil {
		return User{}, 0, err
	}
	return out.User, out.Device, nil
}

// UserByName looks a user up by username.
func (c *Client) UserByName(ctx context.Context, username string) (User, error) {
	var out struct {
		User User `json:"user"`
	}
	if err := c.api.do(ctx, http.MethodGet, "/api/v1/users/"+url.PathEscape(username), nil, &out); err != nil {
		if ErrorCode(err) == "not_found" {
			return User{}, fmt.Errorf("no user named %q: %w", username, err)
		}
		return User{}, err
	}
	if out.User.ID <= 0 {
		return User{}, fmt.Errorf("user %q: the server's answer has no id", username)
	}
	return out.User, nil
}

// Groups returns the groups the signed-in user belongs to.
func (c *Client) Groups(ctx context.Context) ([]Group, error) {
	var out struct {
		Groups []Group `json:"groups"`
	}
	if err := c.api.do(ctx, http.MethodGet, "/api/v1/groups", nil, &out); err != nil {
		return nil, err
	}
	for _, g := range out.Groups {
		c.observeGroup(g)
	}
	return out.Groups, nil
}

// Group returns one group the signed-in user belongs to.
func (c *Client) Group(ctx context.Context, id int64) (Group, error) {
	var out struct {
		Group Group `json:"group"`
	}
	if err := c.api.do(ctx, http.MethodGet, "/api/v1/groups/"+strconv.FormatInt(id, 10), nil, &out); err != nil {
		return Group{}, err
	}
	c.observeGroup(out.Group)
	return out.Group, nil
}

// GroupByName finds a group the signed-in user belongs to by its name.
func (c *Client) GroupByName(ctx context.Context, name string) (Group, error) {
	gs, err := c.Groups(ctx)
	if err != nil {
		return Group{}, err
	}
	for _, g := range gs {
		if g.Name == name {
			return g, nil
		}
	}
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.Name
	}
	if len(names) == 0 {
		return Group{}, fmt.Errorf("you are not a member of a group named %q (you belong to no groups)", name)
	}
	return Group{}, fmt.Errorf("you are not a member of a group named %q (your groups: %s)", name, strings.Join(names, ", "))
}

// errNoKeys is returned by Load when the state has no device keys.
var errNoKeys = errors.New("the state file has no device keys")
