package e2e

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/curbside-health/curbside/client"
)

// TestHTTPSFromACME: the real binary, given --domain and Pebble as its ACME
// CA, obtains a certificate by itself (HTTP-01 or TLS-ALPN-01 against its
// own listeners; TestACMEEachChallengeAlone proves each alone) and keeps it
// in the data directory; a Go client signs in
// and messages over HTTPS and WSS, verifying the chain against Pebble's
// root; plain HTTP only redirects; responses carry HSTS and the session
// cookie is Secure; Chromium loads the app over HTTPS and sends a message;
// and the certificate is renewed before it expires, without a restart.
func TestHTTPSFromACME(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Pebble and the real binary")
	}
	// Short-lived certificates, so that renewal (at a third of the
	// lifetime left) comes within the test.
	ca := startPebble(t, 30*time.Second)
	httpPort, tlsPort := ca.HTTPPort, ca.TLSPort
	data := t.TempDir()
	base := fmt.Sprintf("https://%s:%d", testDomain, tlsPort)
	hc := httpsClient(ca.Roots)
	startProcArgs(t, data, base, hc,
		"--domain", testDomain, "--acme-ca", ca.Directory, "--acme-root", ca.APIRoot, "--email", "admin@curbside.test",
		"--https-listen", fmt.Sprintf("127.0.0.1:%d", tlsPort), "--http-listen", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"--acme-renew-check", "1s")
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", tlsPort)
	first, err := servedCert(tlsAddr, testDomain, ca.Roots)
	if err != nil {
		t.Fatalf("the served certificate does not verify against Pebble's root: %v", err)
	}
	if first.Subject.CommonName != testDomain && !contains(first.DNSNames, testDomain) {
		t.Fatalf("certificate for %v", first.DNSNames)
	}
	t.Logf("certificate from %s, valid until %s", first.Issuer.CommonName, first.NotAfter.Format(time.TimeOnly))

	// The certificate and the ACME account key are in the data directory.
	var keys, certs int
	filepath.Walk(filepath.Join(data, "certs"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".key") {
			keys++
		}
		if err == nil && strings.HasSuffix(p, ".crt") {
			certs++
		}
		return nil
	})
	if keys < 2 || certs < 1 {
		t.Fatalf("DATA/certs holds %d keys and %d certificates; want the account key, the certificate and its key", keys, certs)
	}

	t.Run("plain HTTP redirects to HTTPS", func(t *testing.T) {
		nc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/api/v1/me?x=1", httpPort), nil)
		req.Host = "evil.example"
		res, err := nc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if want := base + "/api/v1/me?x=1"; res.StatusCode != http.StatusPermanentRedirect || res.Header.Get("Location") != want {
			t.Fatalf("%d %q, want 308 to %s", res.StatusCode, res.Header.Get("Location"), want)
		}
	})

	t.Run("HSTS and Secure cookies", func(t *testing.T) {
		ts := &testServer{URL: base, Data: data}
		ts.addUser(t, "carol", "staff")
		res, err := hc.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if h := res.Header.Get("Strict-Transport-Security"); !strings.Contains(h, "max-age=63072000") {
			t.Fatalf("Strict-Transport-Security %q", h)
		}
		res, err = hc.Post(base+"/api/v1/login", "application/json", strings.NewReader(`{"username":"carol","password":"`+password+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if c := res.Header.Get("Set-Cookie"); res.StatusCode != 200 || !strings.Contains(c, "; Secure") {
			t.Fatalf("login: %d, Set-Cookie %q", res.StatusCode, c)
		}
	})

	ts := &testServer{URL: base, Data: data}
	ts.addUser(t, "alice", "staff")
	ts.addUser(t, "bob", "staff")
	login := func(name string) *client.Client {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := client.Login(ctx, base, name, password, "https device", client.WithHTTPClient(hc))
		if err != nil {
			t.Fatalf("login %s over HTTPS: %v", name, err)
		}
		return c
	}
	bob := login("bob")
	bobIn := newInbox(t, connect(t, bob))

	t.Run("Go client over HTTPS and WSS", func(t *testing.T) {
		alice := login("alice")
		cn := connect(t, alice)
		ctx := ctxT(t)
		acc, err := cn.Send(ctx, client.Outgoing{To: []int64{bob.User().ID}, Text: "over wss"})
		if err != nil {
			t.Fatalf("send over WSS: %v", err)
		}
		if m := bobIn.message(acc.ID); m.Text != "over wss" {
			t.Fatalf("bob got %q", m.Text)
		}
	})

	t.Run("Chromium over HTTPS", func(t *testing.T) {
		needBrowser(t)
		ts.addUser(t, "dora", "staff")
		// Chromium trusts the key of Pebble's intermediate, which signs
		// this certificate and its renewals (each renewal has a new key).
		chain, err := servedChain(tlsAddr, testDomain, ca.Roots)
		if err != nil || len(chain) < 2 {
			t.Fatalf("chain of %d: %v", len(chain), err)
		}
		text := fmt.Sprintf("over https from chromium %d", time.Now().UnixNano())
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "node", "webui/test/https.mjs", "--url", base, "--spki", spkiHash(chain[1]),
			"--username", "dora", "--password", password, "--to", "Bob Test", "--text", text)
		cmd.Dir = ".."
		out, err := cmd.CombinedOutput()
		t.Logf("webui/test/https.mjs:\n%s", out)
		if err != nil {
			t.Fatalf("browser over HTTPS: %v", err)
		}
		bobIn.waitFor("the browser's message", func(msgs []client.Incoming, _ []client.Event) bool {
			for _, m := range msgs {
				if m.Text == text {
					return true
				}
			}
			return false
		})
	})

	t.Run("renewal", func(t *testing.T) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			c, err := servedCert(tlsAddr, testDomain, ca.Roots)
			if err == nil && c.SerialNumber.Cmp(first.SerialNumber) != 0 {
				if !c.NotAfter.After(first.NotAfter) {
					t.Fatalf("renewed certificate ends %s, the first %s", c.NotAfter, first.NotAfter)
				}
				t.Logf("renewed: valid until %s", c.NotAfter.Format(time.TimeOnly))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the certificate was not renewed (last: %v)", err)
			}
			time.Sleep(250 * time.Millisecond)
		}
		// The renewed certificate serves the API as the first did.
		res, err := hc.Get(base + "/healthz")
		if err != nil {
			t.Fatalf("after renewal: %v", err)
		}
		res.Body.Close()
	})
}

// trusting is httpsClient trusting exactly certs.
func trusting(certs ...*x509.Certificate) *http.Client {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return httpsClient(pool)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestHTTPSCertFilesReload: the real binary with --tls-cert and --tls-key
// serves that certificate, and once the files are replaced new handshakes
// get the new one, with no restart and no signal.
func TestHTTPSCertFilesReload(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	dir, data := t.TempDir(), t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := selfSigned(t, certPath, keyPath, testDomain)
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	base := "https://" + testDomain + ":" + port
	startProcArgs(t, data, base, trusting(first),
		"--tls-cert", certPath, "--tls-key", keyPath, "--https-listen", addr, "--http-listen", "off")
	if c, err := servedCert(addr, testDomain, nil); err != nil || c.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatalf("serving %v, %v; want the first certificate", c.SerialNumber, err)
	}
	second := selfSigned(t, certPath, keyPath, testDomain)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := servedCert(addr, testDomain, nil)
		if err == nil && c.SerialNumber.Cmp(second.SerialNumber) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving %v (%v) after the files were replaced", c.SerialNumber, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The server is the same process, answering over the new certificate.
	res, err := trusting(second).Get(base + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz after the reload: %v", err)
	}
	res.Body.Close()
}

// TestACMEEachChallengeAlone: each of the two challenges the server
// answers obtains a certificate on its own, with the other made
// impossible. acmez, under certmagic, falls back from a failed challenge
// to the next, so a run where both can work proves only that one of them
// does.
//   - TLS-ALPN-01: --http-listen off, so nothing answers on the port where
//     Pebble would validate HTTP-01 (and the server does not offer it).
//   - HTTP-01: the HTTPS listener is on a port other than the one where
//     Pebble validates TLS-ALPN-01, where nothing listens.
//
// In each, the server's log names the challenge that completed the
// authorization, and no other was solved.
func TestACMEEachChallengeAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Pebble and the real binary")
	}
	for _, want := range []string{"tls-alpn-01", "http-01"} {
		t.Run(want, func(t *testing.T) {
			ca := startPebble(t, time.Hour)
			data := t.TempDir()
			httpsPort := ca.TLSPort
			httpListen := "off"
			if want == "http-01" {
				httpsPort = freePorts(t, 1)[0]
				httpListen = fmt.Sprintf("127.0.0.1:%d", ca.HTTPPort)
			}
			base := fmt.Sprintf("https://%s:%d", testDomain, httpsPort)
			// startProcArgs returns once /healthz answers over HTTPS,
			// verified against Pebble's root: the certificate is issued.
			startProcArgs(t, data, base, httpsClient(ca.Roots),
				"--domain", testDomain, "--acme-ca", ca.Directory, "--acme-root", ca.APIRoot, "--email", "admin@curbside.test",
				"--https-listen", fmt.Sprintf("127.0.0.1:%d", httpsPort), "--http-listen", httpListen)
			log, _ := os.ReadFile(filepath.Join(data, "server.log"))
			tried, finalized := solvedBy(string(log))
			t.Logf("challenges tried: %v; the authorization was finalized after %q", tried, finalized)
			if finalized != want {
				t.Fatalf("the authorization was finalized after %q, want %q (tried %v)", finalized, want, tried)
			}
		})
	}
}

// solvedBy reads the ACME client's records in a server log: the challenge
// types tried, in order, and the one that was being tried when the
// authorization was finalized (valid).
func solvedBy(log string) (tried []string, finalized string) {
	var current string
	for _, line := range strings.Split(log, "\n") {
		switch {
		case strings.Contains(line, "trying to solve challenge"):
			current = logField(line, "challenge_type")
			tried = append(tried, current)
		case strings.Contains(line, "authorization finalized") && logField(line, "authz_status") == "valid":
			finalized = current
		}
	}
	return tried, finalized
}

// logField is the value of key in a line of the server's text log
// (key=value, the value quoted when it holds spaces), or "".
func logField(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+2:]
	if q, err := strconv.QuotedPrefix(v); err == nil {
		s, _ := strconv.Unquote(q)
		return s
	}
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return v
}
