package web

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestResolve: forwarding headers are believed only from trusted proxies,
// the chain is read from the right up to the first untrusted hop, and what
// a client wrote into the chain never picks its address.
func TestResolve(t *testing.T) {
	proxies, err := ParseProxies("10.0.0.0/8, 192.168.1.5,::1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		peer   string
		tls    bool
		header map[string][]string
		ip     string
		https  bool
	}{
		{name: "direct, no headers", peer: "203.0.113.7:4000", ip: "203.0.113.7"},
		{name: "direct over TLS", peer: "203.0.113.7:4000", tls: true, ip: "203.0.113.7", https: true},
		{name: "untrusted peer's XFF is ignored", peer: "203.0.113.7:4000",
			header: map[string][]string{"X-Forwarded-For": {"198.51.100.1"}, "X-Forwarded-Proto": {"https"}}, ip: "203.0.113.7"},
		{name: "untrusted peer's Forwarded is ignored", peer: "203.0.113.7:4000",
			header: map[string][]string{"Forwarded": {"for=198.51.100.1;proto=https"}}, ip: "203.0.113.7"},
		{name: "trusted proxy, one hop", peer: "10.1.2.3:5000",
			header: map[string][]string{"X-Forwarded-For": {"198.51.100.1"}, "X-Forwarded-Proto": {"https"}}, ip: "198.51.100.1", https: true},
		{name: "trusted proxy, client-supplied XFF to the left is ignored", peer: "10.1.2.3:5000",
			header: map[string][]string{"X-Forwarded-For": {"1.2.3.4, 5.6.7.8, 198.51.100.1"}}, ip: "198.51.100.1"},
		{name: "two trusted proxies", peer: "10.1.2.3:5000",
			header: map[string][]string{"X-Forwarded-For": {"1.2.3.4, 198.51.100.1, 10.9.9.9"}}, ip: "198.51.100.1"},
		{name: "chain over several header lines", peer: "10.1.2.3:5000",
			header: map[string][]string{"X-Forwarded-For": {"1.2.3.4", "198.51.100.1, 192.168.1.5"}}, ip: "198.51.100.1"},
		{name: "every hop trusted: the left-most", peer: "10.1.2.3:5000",
			header: map[string][]string{"X-Forwarded-For": {"10.0.0.1, 10.0.0.2"}}, ip: "10.0.0.1"},
		{name: "garbage hop: the proxy that passed it on", peer: "10.1.2.3:5000",
			header: map[string][]string{"X-Forwarded-For": {"198.51.100.1, not-an-ip, 10.0.0.2"}}, ip: "10.0.0.2"},
		{name: "garbage right-most: the peer", peer: "10.1.2.3:5000",
			header: map[string][]string{"X-Forwarded-For": {"198.51.100.1, <script>"}}, ip: "10.1.2.3"},
		{name: "empty XFF: the peer", peer: "10.1.2.3:5000",
			header: map[string][]string{"X-Forwarded-For": {""}}, ip: "10.1.2.3"},
		{name: "hop with a port", peer: "10.1.2.3:5000",
			header: map[string][]string{"X-Forwarded-For": {"198.51.100.1:6000"}}, ip: "198.51.100.1"},
		{name: "IPv6 hop, bracketed with port", peer: "[::1]:5000",
			header: map[string][]string{"X-Forwarded-For": {"[2001:db8::1]:6000"}}, ip: "2001:db8::1"},
		{name: "IPv6 zone refused", peer: "10.1.2.3:5000",
			header: map[string][]string{"X-Forwarded-For": {"fe80::1%eth0"}}, ip: "10.1.2.3"},
		{name: "IPv4-mapped peer is trusted", peer: "[::ffff:10.1.2.3]:5000",
			header: map[string][]string{"X-Forwarded-For": {"::ffff:198.51.100.1"}}, ip: "198.51.100.1"},
		{name: "proto http from the proxy", peer: "10.1.2.3:5000", tls: true,
			header: map[string][]string{"X-Forwarded-Proto": {"http"}}, ip: "10.1.2.3"},
		{name: "XFP list: the right-most", peer: "10.1.2.3:5000",
			header: map[string][]string{"X-Forwarded-Proto": {"http, https"}}, ip: "10.1.2.3", https: true},
		{name: "XFP nonsense changes nothing", peer: "10.1.2.3:5000",
			header: map[string][]string{"X-Forwarded-Proto": {"gopher"}}, ip: "10.1.2.3"},
		{name: "Forwarded, one element", peer: "10.1.2.3:5000",
			header: map[string][]string{"Forwarded": {`for=198.51.100.1;proto=https;by=10.1.2.3`}}, ip: "198.51.100.1", https: true},
		{name: "Forwarded, quoted IPv6 with port", peer: "10.1.2.3:5000",
			header: map[string][]string{"Forwarded": {`For="[2001:db8:cafe::17]:4711"`}}, ip: "2001:db8:cafe::17"},
		{name: "Forwarded, spoofed element to the left", peer: "10.1.2.3:5000",
			header: map[string][]string{"Forwarded": {`for=1.2.3.4;proto=http, for=198.51.100.1;proto=https`}}, ip: "198.51.100.1", https: true},
		{name: "Forwarded, proto of the chosen hop", peer: "10.1.2.3:5000",
			header: map[string][]string{"Forwarded": {`for=198.51.100.1;proto=https, for=10.0.0.9;proto=http`}}, ip: "198.51.100.1", https: true},
		{name: "Forwarded, unknown: the proxy", peer: "10.1.2.3:5000",
			header: map[string][]string{"Forwarded": {`for=198.51.100.1, for=unknown`}}, ip: "10.1.2.3"},
		{name: "Forwarded, obfuscated: the proxy", peer: "10.1.2.3:5000",
			header: map[string][]string{"Forwarded": {`for=_hidden`}}, ip: "10.1.2.3"},
		{name: "Forwarded, comma inside quotes", peer: "10.1.2.3:5000",
			header: map[string][]string{"Forwarded": {`for="1.2.3.4, 5.6.7.8"`}}, ip: "10.1.2.3"},
		{name: "Forwarded, element without for", peer: "10.1.2.3:5000",
			header: map[string][]string{"Forwarded": {`proto=https`}}, ip: "10.1.2.3", https: true},
		{name: "Forwarded, unterminated quote", peer: "10.1.2.3:5000",
			header: map[string][]string{"Forwarded": {`for="198.51.100.1`}}, ip: "10.1.2.3"},
		{name: "both headers agree", peer: "10.1.2.3:5000",
			header: map[string][]string{"X-Forwarded-For": {"198.51.100.1"}, "Forwarded": {"for=198.51.100.1;proto=https"}}, ip: "198.51.100.1", https: true},
		{name: "both headers disagree: the proxy itself", peer: "10.1.2.3:5000",
			header: map[string][]string{"X-Forwarded-For": {"198.51.100.1"}, "Forwarded": {"for=6.6.6.6"}}, ip: "10.1.2.3"},
		{name: "peer not an address", peer: "pipe", header: map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, ip: "pipe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, v := range tc.header {
				r.Header[k] = v
			}
			var ip string
			var https bool
			proxies.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ip, https = ClientIP(r), IsHTTPS(r)
			})).ServeHTTP(httptest.NewRecorder(), r)
			if ip != tc.ip || https != tc.https {
				t.Fatalf("got %s https=%v, want %s https=%v", ip, https, tc.ip, tc.https)
			}
		})
	}
}

// TestResolveWithoutProxies: the zero Proxies believes no header, and
// ClientIP without the middleware answers from the connection.
func TestResolveWithoutProxies(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:9"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	r.Header.Set("X-Forwarded-Proto", "https")
	if ip, https := ClientIP(r), IsHTTPS(r); ip != "127.0.0.1" || https {
		t.Fatalf("got %s %v", ip, https)
	}
}

// TestResolveLongChain: a chain longer than maxHops of trusted addresses
// stops at the bound, on an address the proxies wrote.
func TestResolveLongChain(t *testing.T) {
	p, _ := ParseProxies("10.0.0.0/8")
	hops := make([]string, 0, 200)
	hops = append(hops, "198.51.100.1")
	for range 199 {
		hops = append(hops, "10.0.0.1")
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.2:1"
	r.Header.Set("X-Forwarded-For", strings.Join(hops, ","))
	if c := p.Resolve(r); c.IP.String() != "10.0.0.1" {
		t.Fatalf("got %s", c.IP)
	}
}

func TestParseProxies(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "",
		"10.0.0.0/8":                "10.0.0.0/8",
		"10.1.2.3/8":                "10.0.0.0/8",
		" 127.0.0.1 , ::1 ":         "127.0.0.1/32,::1/128",
		"::ffff:10.0.0.0/104":       "10.0.0.0/8",
		"192.168.0.0/16,fd00::/8,,": "192.168.0.0/16,fd00::/8",
	} {
		p, err := ParseProxies(in)
		if err != nil || p.String() != want {
			t.Errorf("ParseProxies(%q) = %q, %v; want %q", in, p.String(), err, want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "example.org", "10.0.0", "fe80::1%eth0", "*"} {
		if _, err := ParseProxies(bad); err == nil || !strings.Contains(err.Error(), "want CIDR") {
			t.Errorf("ParseProxies(%q): %v", bad, err)
		}
	}
}

// FuzzResolve: no header makes Resolve panic or leave a trusted peer's
// request without an address.
func FuzzResolve(f *testing.F) {
	f.Add("198.51.100.1, 10.0.0.1", `for="[2001:db8::1]:80";proto=https`, "https")
	f.Add(",,,", `for=";,"`, "")
	p, _ := ParseProxies("10.0.0.0/8")
	f.Fuzz(func(t *testing.T, xff, fwd, proto string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.0.0.2:1"
		r.Header["X-Forwarded-For"] = []string{xff}
		r.Header["Forwarded"] = []string{fwd}
		r.Header["X-Forwarded-Proto"] = []string{proto}
		c := p.Resolve(r)
		if !c.IP.IsValid() {
			t.Fatalf("no address for %q %q", xff, fwd)
		}
	})
}

// TestSourceKey: IPv6 addresses count per /64, IPv4 ones (also mapped
// into IPv6) one by one.
func TestSourceKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7": "192.0.2.7", "::ffff:192.0.2.7": "192.0.2.7",
		"2001:db8:1:2:aaaa::1": "2001:db8:1:2::/64", "2001:db8:1:2:bbbb::9": "2001:db8:1:2::/64", "not an ip": "not an ip",
	} {
		if got := SourceKey(in); got != want {
			t.Errorf("SourceKey(%q) = %q, want %q", in, got, want)
		}
	}
}
