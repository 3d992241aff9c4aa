package server

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// newTestServer runs the real server on a random loopback port until the
// test ends.
func newTestServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- Run(ctx, Config{DataDir: t.TempDir(), Listener: ln, Ready: func(net.Addr) { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func TestHealthAndHeaders(t *testing.T) {
	url := newTestServer(t)
	res, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("healthz: %d", res.StatusCode)
	}
	for h, want := range map[string]string{
		"Content-Security-Policy": "default-src 'self'",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
	} {
		if got := res.Header.Get(h); !strings.Contains(got, want) {
			t.Errorf("%s = %q, want it to contain %q", h, got, want)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline script: %s", csp)
	}
	res, err = http.Get(url + "/api/v1/nope")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 || res.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("unknown API path: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

func TestConfigValidate(t *testing.T) {
	for listen, ok := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:8080": true, "localhost:8080": true,
		"0.0.0.0:8080": false, "192.0.2.1:80": false, ":8080": false, "nonsense": false,
	} {
		err := (&Config{DataDir: "x", Listen: listen}).Validate()
		if (err == nil) != ok {
			t.Errorf("--listen %s: %v", listen, err)
		}
	}
	if err := (&Config{Listen: "127.0.0.1:1"}).Validate(); err == nil {
		t.Error("empty data dir accepted")
	}
}

// TestMailOrigin: mailed links name the public URL, or a loopback
// listener; a server others reach at an address it cannot know mails none.
func TestMailOrigin(t *testing.T) {
	for _, tc := range []struct {
		public string
		addr   net.Addr
		want   string
	}{
		{"https://chat.example.org/", &net.TCPAddr{IP: net.IPv4zero, Port: 443}, "https://chat.example.org"},
		{"", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, "http://127.0.0.1:8080"},
		{"", &net.TCPAddr{IP: net.IPv6loopback, Port: 8080}, "http://[::1]:8080"},
		{"", &net.TCPAddr{IP: net.IPv4zero, Port: 8080}, ""},
		{"", &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 8080}, ""},
	} {
		if got := mailOrigin(tc.public, "http", tc.addr); got != tc.want {
			t.Errorf("mailOrigin(%q, %v) = %q, want %q", tc.public, tc.addr, got, tc.want)
		}
	}
}
