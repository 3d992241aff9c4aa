package client

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

// account is a test user with its devices' keys.
type account struct {
	user    User
	devices []*e2ee.DeviceKeys
	list    *protocol.DeviceList
}

func newAccount(t testing.TB, id int64, name string, devices int) *account {
	t.Helper()
	a := &account{user: User{ID: id, Username: name, Display: name, Role: "staff", State: "active"}}
	for range devices {
		a.addDevice(t)
	}
	return a
}

// addDevice registers one more device the way Login does: a new list built
// on the current one and signed by the new device.
func (a *account) addDevice(t testing.TB) *e2ee.DeviceKeys {
	t.Helper()
	k, err := e2ee.GenerateDeviceKeys()
	if err != nil {
		t.Fatal(err)
	}
	var active []int64
	for _, d := range a.devices {
		active = append(active, d.ID())
	}
	l, err := NextDeviceList(a.user.ID, a.list, active, k)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.devices) > 0 {
		// Approved: the first existing device counter-signs the list.
		if err := e2ee.SignDeviceList(l, a.devices[0]); err != nil {
			t.Fatal(err)
		}
	}
	a.devices, a.list = append(a.devices, k), l
	return k
}

func (a *account) activeIDs() []int64 {
	var out []int64
	for _, d := range a.devices {
		out = append(out, d.ID())
	}
	return out
}

func (a *account) keysResponse() *keysResponse {
	return &keysResponse{User: a.user, List: a.list, Active: a.activeIDs()}
}

// clientFor makes a Client for device i of a, talking to server (which may
// be unreachable for tests that make no calls).
func clientFor(t testing.TB, server string, a *account, i int, opts ...Option) *Client {
	t.Helper()
	c, err := newClient(server, opts)
	if err != nil {
		t.Fatal(err)
	}
	c.user, c.api.token = a.user, "token-"+a.user.Username
	c.dev.Store(a.devices[i])
	return c
}

// directory serves GET /api/v1/keys/{id} from accounts the test controls,
// and can be told to answer with something else for a user.
type directory struct {
	mu       sync.Mutex
	accounts map[int64]*account
	override map[int64]*keysResponse
	fetches  map[int64]int
}

func newDirectory(accounts ...*account) *directory {
	d := &directory{accounts: map[int64]*account{}, override: map[int64]*keysResponse{}, fetches: map[int64]int{}}
	for _, a := range accounts {
		d.accounts[a.user.ID] = a
	}
	return d
}

func (d *directory) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fetches[id]++
	kr := d.override[id]
	if a := d.accounts[id]; kr == nil && a != nil {
		kr = a.keysResponse()
	}
	w.Header().Set("Content-Type", "application/json")
	if kr == nil {
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "not_found", "message": "no such user"}})
		return
	}
	json.NewEncoder(w).Encode(kr)
}

func (d *directory) fetched(id int64) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fetches[id]
}

// newDirectoryServer serves d on a loopback port.
func newDirectoryServer(t testing.TB, d *directory, extra func(mux *http.ServeMux)) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/keys/{id}", d)
	if extra != nil {
		extra(mux)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}
