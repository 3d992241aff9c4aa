package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/protocol"
)

// TestConnLimiter: past the per-address cap a connection is answered 503
// too_many_from_address, in the catalogue's words, and closed, the refusal is logged at WARN once, and
// closing a connection gives its slot back.
func TestConnLimiter(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	ln := limitListener(inner, 100, 2, slog.New(slog.NewTextHandler(&logs, nil)))
	defer ln.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	a, _ := dial(), dial()
	first := <-accepted
	<-accepted
	for range 2 {
		c := dial()
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("refused connection: %v", err)
		}
		body, _ := io.ReadAll(res.Body)
		var e struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(body, &e); err != nil || res.StatusCode != 503 || e.Error.Code != string(protocol.CodeTooManyFromAddress) || e.Error.Message != protocol.CodeTooManyFromAddress.Message() {
			t.Fatalf("refused connection got %d %s", res.StatusCode, body)
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Fatalf("want the refusals logged once at WARN, got %d:\n%s", n, logs.String())
	}
	a.Close()
	first.Close()
	dial()
	if c := <-accepted; c == nil {
		t.Fatal("a freed slot was not given back")
	}
}

func TestDefaultMaxConns(t *testing.T) {
	for _, tc := range []struct {
		files uint64
		want  int
	}{{1024, 896}, {20000, 17500}, {100, 50}, {0, 1 << 20}} {
		if got := defaultMaxConns(tc.files); got != tc.want {
			t.Errorf("defaultMaxConns(%d) = %d, want %d", tc.files, got, tc.want)
		}
	}
}

// TestConnLimiterExempt: a trusted proxy carries everyone's connections,
// so the per-address cap does not apply to it; the listeners made with
// also share one count.
func TestConnLimiterExempt(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := limitListener(inner, 3, 1, slog.New(slog.DiscardHandler))
	ln.exempt = func(ip string) bool { return ip == "127.0.0.1" }
	defer ln.Close()
	inner2, _ := net.Listen("tcp", "127.0.0.1:0")
	ln2 := ln.also(inner2)
	defer ln2.Close()
	for i, l := range []net.Listener{ln, ln, ln2} {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := l.Accept(); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	if ln.total != 3 {
		t.Fatalf("counted %d connections, want 3 across both listeners", ln.total)
	}
}

// TestConnLimiterIPv6Prefix: one IPv6 host is given a /64 and may connect
// from any address in it, so the per-address cap counts the /64; other
// /64s and IPv4 addresses are counted apart.
func TestConnLimiterIPv6Prefix(t *testing.T) {
	l := limitListener(nil, 100, 2, slog.New(slog.DiscardHandler))
	for i, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2"} {
		if why := l.take(ip); why != "" {
			t.Fatalf("connection %d refused: %s", i, why)
		}
	}
	if why := l.take("2001:db8:1:2:ffff::3"); why == "" {
		t.Fatal("a third address of the same /64 was let past the per-address cap")
	}
	for _, ip := range []string{"2001:db8:1:3::1", "192.0.2.1", "192.0.2.2"} {
		if why := l.take(ip); why != "" {
			t.Fatalf("%s refused: %s", ip, why)
		}
	}
	l.release("2001:db8:1:2::1")
	if why := l.take("2001:db8:1:2::9"); why != "" {
		t.Fatalf("a released slot of the /64 was not given back: %s", why)
	}
}
