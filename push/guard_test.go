package push

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestGuardEndpoints(t *testing.T) {
	g := NewGuard(nil, false)
	for _, ok := range []string{
		"https://fcm.googleapis.com/fcm/send/abc:def",
		"https://updates.push.services.mozilla.com/wpush/v2/gAAA",
		"https://web.push.apple.com/QGuQyavXutnMH",
		"https://api.push.apple.com/3/device/x",
		"https://wns2-by3p.notify.windows.com/w/?token=x",
		"https://FCM.googleapis.com/fcm/send/x", // host names are case-insensitive
	} {
		if _, err := g.CheckEndpoint(ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"http://fcm.googleapis.com/fcm/send/x",            // not https
		"https://evil.example.com/push",                   // not a push service
		"https://fcm.googleapis.com.evil.example.com/x",   // a suffix trick
		"https://push.apple.com/x",                        // "*." is below the name, not the name
		"https://evilpush.apple.com/x",                    // nor a name ending the same
		"https://user:pass@fcm.googleapis.com/x",          // credentials
		"https://127.0.0.1/x", "https://localhost:8443/x", // loopback without the test switch
		"https://[::1]/x", "https://10.0.0.5/x", "https://169.254.169.254/latest/meta-data",
		"fcm.googleapis.com/x", "mailto:x@y", "",
		"https://fcm.googleapis.com/" + strings.Repeat("a", MaxEndpoint),
	} {
		if _, err := g.CheckEndpoint(bad); !errors.Is(err, ErrRefused) {
			t.Errorf("%q admitted (err %v)", bad, err)
		}
	}
	// The test switch admits loopback, over http too, and nothing else.
	lg := NewGuard(nil, true)
	for _, ok := range []string{"http://127.0.0.1:9/x", "http://localhost:9/x", "https://[::1]:9/x"} {
		if _, err := lg.CheckEndpoint(ok); err != nil {
			t.Errorf("with loopback allowed, %s refused: %v", ok, err)
		}
	}
	if _, err := lg.CheckEndpoint("http://10.0.0.5/x"); err == nil {
		t.Error("the loopback switch admitted a private address")
	}
}

func TestGuardAddresses(t *testing.T) {
	g := NewGuard(nil, false)
	for _, bad := range []string{
		"127.0.0.1", "127.9.9.9", "::1", "0.0.0.0", "::", "10.1.2.3", "172.16.0.1", "192.168.1.1",
		"169.254.169.254", "fe80::1", "fc00::1", "fd12:3456::1", "100.64.0.1", "224.0.0.1", "ff02::1",
		"255.255.255.255", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "198.18.0.1", "192.0.2.1",
		// Other IPv6 forms that carry an IPv4 address or are not the
		// public internet: IPv4-compatible (::a.b.c.d), IPv4-translated
		// (::ffff:0:a.b.c.d), local-use NAT64 (64:ff9b:1::/48), 6to4,
		// Teredo and the deprecated site-local range.
		"::10.0.0.1", "::ffff:0:10.0.0.1", "64:ff9b:1::a00:1", "2002:a00:1::1", "2001::1", "fec0::1",
	} {
		if err := g.CheckAddr(netip.MustParseAddr(bad)); !errors.Is(err, ErrRefused) {
			t.Errorf("%s admitted", bad)
		}
	}
	for _, ok := range []string{"142.250.74.106", "2a00:1450:4001:82b::200a", "17.188.128.1", "64:ff9b::8efa:4a6a"} {
		if err := g.CheckAddr(netip.MustParseAddr(ok)); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	if err := NewGuard(nil, true).CheckAddr(netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Errorf("the loopback switch refused 127.0.0.1: %v", err)
	}
}

// A name on the list that resolves to an inside address is refused when
// the connection is made, whatever the name: the check is of the address
// dialled, after DNS, which is what defeats DNS rebinding.
func TestGuardChecksTheAddressDialled(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	// "localhost" is on this guard's list, so only the dial-time check
	// stands between the server and 127.0.0.1.
	g := NewGuard([]string{"localhost"}, false)
	u := "https://localhost:" + port + "/push"
	if _, err := g.CheckEndpoint(u); err != nil {
		t.Fatalf("the host check should pass here: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", u, nil)
	_, err := g.Client(5 * time.Second).Do(req)
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("dialling localhost: got %v, want ErrRefused", err)
	}
	if hits.Load() != 0 {
		t.Fatal("the request reached the loopback server")
	}
	// The same client with the test switch reaches it (over http), so the
	// refusal above was the guard's.
	req, _ = http.NewRequestWithContext(ctx, "POST", srv.URL, nil)
	res, err := NewGuard(nil, true).Client(5 * time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if hits.Load() != 1 {
		t.Fatalf("hits = %d", hits.Load())
	}
}

// The client follows no redirect: a push service that answers with one
// cannot send the server to another address.
func TestGuardFollowsNoRedirect(t *testing.T) {
	var followed atomic.Bool
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed.Store(true) }))
	defer inside.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inside.URL, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL, nil)
	res, err := NewGuard(nil, true).Client(5 * time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTemporaryRedirect || followed.Load() {
		t.Fatalf("status %d, followed %v", res.StatusCode, followed.Load())
	}
}
