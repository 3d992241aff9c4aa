package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/server"
)

// fromTLS is from for HTTPS, trusting roots.
func fromTLS(ip string, roots *x509.CertPool) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, TLSClientConfig: &tls.Config{RootCAs: roots}},
		Timeout: 30 * time.Second}
}

// loginAs posts a password sign-in through c to base, with extra headers,
// and returns the status and the response.
func loginAs(t *testing.T, c *http.Client, base, user, pw string, header map[string]string) (int, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/v1/login", strings.NewReader(fmt.Sprintf(`{"username":%q,"password":%q}`, user, pw)))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res
}

// TestTrustedProxy: Curbside behind a TLS-terminating reverse proxy (Go's
// httputil.ReverseProxy on 127.0.0.1, appending to X-Forwarded-For as
// nginx's $proxy_add_x_forwarded_for does), trusting 127.0.0.1 alone.
// The sign-in limit keys on the forwarded client: one client that used
// up its allowance is refused while another behind the same proxy signs
// in. Cookies are Secure and HSTS is sent because the proxy says https.
// A peer that is not the proxy (127.0.0.2) gets nothing from the same
// headers: its spoofed X-Forwarded-For neither moves its limit nor
// borrows another's, and its X-Forwarded-Proto makes nothing Secure.
func TestTrustedProxy(t *testing.T) {
	ts := limitedServer(t, nil, func(c *server.Config) { c.TrustedProxies = "127.0.0.1/32" })
	ts.addUser(t, "alice", "staff")
	target, _ := url.Parse(ts.URL)
	proxy := httptest.NewUnstartedServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		// Keep what the client sent, then append its address.
		r.Out.Header["X-Forwarded-For"] = r.In.Header["X-Forwarded-For"]
		r.SetXForwarded()
		r.Out.Host = r.In.Host
	}})
	proxy.StartTLS()
	t.Cleanup(proxy.Close)
	roots := x509.NewCertPool()
	roots.AddCert(proxy.Certificate())
	viaProxy := func(ip string) *http.Client { return fromTLS(ip, roots) }

	// Client A, behind the proxy, uses up its allowance of failures,
	// claiming a new address each time in X-Forwarded-For. (A new
	// username each time too, so that no account's own backoff answers:
	// only the per-address limit can refuse the last attempt.)
	a := viaProxy("127.0.0.3")
	last := 0
	for i := range auth.DefaultLoginBurst + 1 {
		last, _ = loginAs(t, a, proxy.URL, fmt.Sprintf("guess%d", i), "wrong guess", map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i)})
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("client A after %d failures: %d, want 429", auth.DefaultLoginBurst+1, last)
	}
	// Client B, behind the same proxy: signs in, with a Secure cookie and
	// HSTS, since the proxy says the client used https.
	code, res := loginAs(t, viaProxy("127.0.0.4"), proxy.URL, "alice", password, nil)
	if code != 200 {
		t.Fatalf("client B behind the same proxy: %d, want 200 (the limit must key on the forwarded address)", code)
	}
	if c := res.Header.Get("Set-Cookie"); !strings.Contains(c, "; Secure") {
		t.Fatalf("cookie through an https proxy: %q, want Secure", c)
	}
	if h := res.Header.Get("Strict-Transport-Security"); !strings.Contains(h, "max-age=63072000") {
		t.Fatalf("HSTS through an https proxy: %q", h)
	}

	// A peer that is not the proxy, claiming to be behind it.
	spoof := map[string]string{"X-Forwarded-For": "127.0.0.4", "X-Forwarded-Proto": "https", "Forwarded": "for=127.0.0.4;proto=https"}
	direct := from("127.0.0.2")
	code, res = loginAs(t, direct, ts.URL, "alice", password, spoof)
	if code != 200 {
		t.Fatalf("direct sign-in: %d", code)
	}
	if c := res.Header.Get("Set-Cookie"); strings.Contains(c, "Secure") || res.Header.Get("Strict-Transport-Security") != "" {
		t.Fatalf("a spoofed X-Forwarded-Proto from an untrusted peer made the cookie Secure or sent HSTS: %q", c)
	}
	for i := range auth.DefaultLoginBurst + 1 {
		spoof["X-Forwarded-For"] = fmt.Sprintf("203.0.113.%d", i)
		last, _ = loginAs(t, direct, ts.URL, fmt.Sprintf("spoof%d", i), "wrong guess", spoof)
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("an untrusted peer escaped its limit by varying X-Forwarded-For: %d, want 429", last)
	}
	// Its failures, all claiming to be 127.0.0.4, were not charged to B.
	if code, _ := loginAs(t, viaProxy("127.0.0.4"), proxy.URL, "alice", password, nil); code != 200 {
		t.Fatalf("client B after the spoofer's failures in its name: %d, want 200", code)
	}

	// The audit log records the forwarded client, not the proxy.
	out, err := curbside(t, "", "audit", "list", "--data", ts.Data, "--limit", "200")
	if err != nil {
		t.Fatalf("audit list: %v\n%s", err, out)
	}
	if !strings.Contains(out, "127.0.0.4") || !strings.Contains(out, "127.0.0.3") {
		t.Fatalf("the audit log lacks the forwarded addresses:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "login") && strings.Contains(line, " 127.0.0.1 ") {
			t.Fatalf("a sign-in through the proxy is recorded as the proxy's:\n%s", line)
		}
	}
}

// TestTrustedProxyAdminNetworks: behind the trusted proxy, admin_networks
// is checked against the forwarded client's address, not the proxy's. The
// policy admits 127.0.0.3 alone: that client reaches the console through
// the proxy (127.0.0.1, outside the range); a client behind the same proxy
// claiming 127.0.0.3 in X-Forwarded-For is refused (the proxy appends the
// address it saw), and so is a peer that is not the proxy sending the
// same header. The refusal is audited under the forwarded address.
func TestTrustedProxyAdminNetworks(t *testing.T) {
	ts := limitedServer(t, []string{"mfa_required=", "admin_networks=127.0.0.3/32"},
		func(c *server.Config) { c.TrustedProxies = "127.0.0.1/32" })
	ts.addUser(t, "root", "admin")
	target, _ := url.Parse(ts.URL)
	proxy := httptest.NewUnstartedServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Header["X-Forwarded-For"] = r.In.Header["X-Forwarded-For"]
		r.SetXForwarded()
		r.Out.Host = r.In.Host
	}})
	proxy.StartTLS()
	t.Cleanup(proxy.Close)
	roots := x509.NewCertPool()
	roots.AddCert(proxy.Certificate())

	code, res := loginAs(t, fromTLS("127.0.0.3", roots), proxy.URL, "root", password, nil)
	if code != 200 || len(res.Cookies()) == 0 {
		t.Fatalf("sign-in through the proxy: %d", code)
	}
	cookies := res.Cookies()
	console := func(c *http.Client, base string, header map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/api/v1/admin/users", nil)
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		e, _ := out["error"].(map[string]any)
		s, _ := e["code"].(string)
		return res.StatusCode, s
	}
	if code, e := console(fromTLS("127.0.0.3", roots), proxy.URL, nil); code != 200 {
		t.Fatalf("the console from 127.0.0.3 through the proxy: %d %s, want 200", code, e)
	}
	claim := map[string]string{"X-Forwarded-For": "127.0.0.3"}
	if code, e := console(fromTLS("127.0.0.4", roots), proxy.URL, claim); code != 403 || e != string(protocol.CodeNetwork) {
		t.Fatalf("127.0.0.4 through the proxy, claiming 127.0.0.3: %d %s, want 403 %s", code, e, protocol.CodeNetwork)
	}
	// A direct peer: plain HTTP to the server itself, cookie and all.
	if code, e := console(from("127.0.0.2"), ts.URL, claim); code != 403 || e != string(protocol.CodeNetwork) {
		t.Fatalf("127.0.0.2 directly, claiming 127.0.0.3: %d %s, want 403 %s", code, e, protocol.CodeNetwork)
	}

	out, err := curbside(t, "", "audit", "list", "--data", ts.Data, "--limit", "200")
	if err != nil {
		t.Fatalf("audit list: %v\n%s", err, out)
	}
	var refused []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "console.refused") {
			refused = append(refused, line)
		}
	}
	if len(refused) != 2 || !strings.Contains(strings.Join(refused, "\n"), "127.0.0.4") || !strings.Contains(strings.Join(refused, "\n"), "127.0.0.2") {
		t.Fatalf("console refusals in the audit log: want two, from 127.0.0.4 and 127.0.0.2:\n%s", strings.Join(refused, "\n"))
	}
}
