package server

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigValidateListen: each deployment shape's settings are checked,
// and every refusal says how to fix it.
func TestConfigValidateListen(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.pem")
	os.WriteFile(file, []byte("x"), 0o600)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" for valid; otherwise words the message must have
	}{
		{"loopback, plain", Config{Listen: "127.0.0.1:8080"}, ""},
		{"default listen", Config{}, ""},
		{"public address, plain", Config{Listen: "0.0.0.0:8080"}, "--domain NAME --email ADDRESS"},
		{"public address names all three shapes", Config{Listen: ":8080"}, "--trusted-proxy CIDR"},
		{"public address names own certificates", Config{Listen: ":8080"}, "--tls-cert FILE --tls-key FILE"},
		{"behind a trusted proxy", Config{Listen: "0.0.0.0:8080", TrustedProxies: "10.0.0.0/8"}, ""},
		{"bad proxy range", Config{TrustedProxies: "10.0.0.0/40"}, "--trusted-proxy"},
		{"domain needs email", Config{Domain: "chat.example.org"}, "--domain needs --email"},
		{"domain and email", Config{Domain: "chat.example.org", Email: "a@example.org"}, ""},
		{"domain with an internal CA", Config{Domain: "chat.practice.lan", ACMECA: "https://ca.practice.lan/dir"}, ""},
		{"domain is a URL", Config{Domain: "https://chat.example.org", Email: "a@example.org"}, "want the DNS name"},
		{"domain is an address", Config{Domain: "192.0.2.1", Email: "a@example.org"}, "want the DNS name"},
		{"email alone", Config{Email: "a@example.org"}, "--email needs --domain"},
		{"acme-ca alone", Config{ACMECA: "https://ca/dir"}, "--acme-ca needs --domain"},
		{"acme-ca over http", Config{Domain: "chat.practice.lan", ACMECA: "http://ca/dir"}, "https:// directory URL"},
		{"acme-root alone", Config{ACMERoot: file}, "--acme-root is the root"},
		{"acme-root missing", Config{Domain: "chat.practice.lan", ACMECA: "https://ca/dir", ACMERoot: filepath.Join(dir, "nope")}, "--acme-root"},
		{"cert without key", Config{TLSCert: file}, "go together"},
		{"cert and key", Config{TLSCert: file, TLSKey: file}, ""},
		{"cert file missing", Config{TLSCert: filepath.Join(dir, "nope"), TLSKey: file}, "--tls-cert"},
		{"domain and cert", Config{Domain: "chat.example.org", Email: "a@example.org", TLSCert: file, TLSKey: file}, "choose one"},
		{"TLS on any address", Config{TLSCert: file, TLSKey: file, HTTPSListen: "0.0.0.0:8443", HTTPListen: "0.0.0.0:8080"}, ""},
		{"http listener off", Config{TLSCert: file, TLSKey: file, HTTPListen: HTTPListenOff}, ""},
		{"plain listen with TLS", Config{TLSCert: file, TLSKey: file, Listen: "127.0.0.1:8080"}, "--https-listen"},
		{"https-listen without TLS", Config{HTTPSListen: ":443"}, "are for TLS"},
		{"bad https-listen", Config{TLSCert: file, TLSKey: file, HTTPSListen: "443"}, "--https-listen \"443\": want host:port"},
		{"http public URL with TLS", Config{Domain: "chat.example.org", Email: "a@example.org", PublicURL: "http://chat.example.org"}, "must say https://"},
		{"https public URL with TLS", Config{TLSCert: file, TLSKey: file, PublicURL: "https://chat.example.org"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.DataDir = dir
			err := tc.cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("accepted; want a refusal saying %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("refusal %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestPublicURLFromDomain: --domain gives the public URL, with the HTTPS
// port when it is not 443.
func TestPublicURLFromDomain(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Domain: "chat.example.org"}, "https://chat.example.org"},
		{Config{Domain: "chat.example.org", HTTPSListen: "127.0.0.1:8443"}, "https://chat.example.org:8443"},
		{Config{Domain: "chat.example.org", PublicURL: "https://other.example.org"}, "https://other.example.org"},
		{Config{}, ""},
	} {
		if got := tc.cfg.publicURL(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.cfg, got, tc.want)
		}
	}
}

// TestRedirectToHTTPS: plain HTTP answers only with a redirect to the same
// path over HTTPS, to the configured public URL whatever Host says.
func TestRedirectToHTTPS(t *testing.T) {
	for _, tc := range []struct {
		origin, httpsAddr, host, path, want string
	}{
		{"https://chat.example.org", ":443", "evil.example", "/app?x=1", "https://chat.example.org/app?x=1"},
		{"https://chat.example.org:8443", "127.0.0.1:8443", "chat.example.org:8080", "/", "https://chat.example.org:8443/"},
		{"https://chat.practice.lan/", ":443", "evil.example", "//evil.example/x", "https://chat.practice.lan//evil.example/x"},
		{"", ":443", "chat.practice.lan:80", "/login", "https://chat.practice.lan/login"},
		{"", ":443", "[::1]:80", "/", "https://[::1]/"},
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		r.Host = tc.host
		w := httptest.NewRecorder()
		redirectToHTTPS(tc.origin, tc.httpsAddr).ServeHTTP(w, r)
		if w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != tc.want {
			t.Errorf("%s%s: %d %q, want %q", tc.host, tc.path, w.Code, w.Header().Get("Location"), tc.want)
		}
	}
}

// TestBaseTLSConfig: TLS 1.2 at least, and no suite without forward
// secrecy or AEAD.
func TestBaseTLSConfig(t *testing.T) {
	c := baseTLSConfig()
	if c.MinVersion != tls.VersionTLS12 {
		t.Fatalf("min version %x", c.MinVersion)
	}
	for _, id := range c.CipherSuites {
		name := tls.CipherSuiteName(id)
		if !strings.HasPrefix(name, "TLS_ECDHE_") || !(strings.Contains(name, "GCM") || strings.Contains(name, "CHACHA20")) {
			t.Errorf("suite %s", name)
		}
	}
}

// writeCert writes a self-signed certificate for name to certPath and
// keyPath, and returns it.
func writeCert(t *testing.T, certPath, keyPath, name string) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	c, _ := x509.ParseCertificate(der)
	return c
}

// TestCertFilesReload: replaced files are served from the next handshake
// after certReloadCheck, without a restart; files that do not load leave
// the previous certificate in service and are logged at ERROR once.
func TestCertFilesReload(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCert(t, certPath, keyPath, "one.example")
	var logs bytes.Buffer
	cf, err := loadCertFiles(certPath, keyPath, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	serving := func() string {
		c, err := cf.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(c.Certificate[0])
		return leaf.SerialNumber.String()
	}
	if got := serving(); got != first.SerialNumber.String() {
		t.Fatalf("serving %s", got)
	}
	second := writeCert(t, certPath, keyPath, "two.example")
	cf.checked = time.Now().Add(-certReloadCheck) // as if the cache time had passed
	if got := serving(); got != second.SerialNumber.String() {
		t.Fatalf("after replacing the files: serving %s, want %s", got, second.SerialNumber)
	}
	// A half-copied pair: the key of another certificate.
	os.WriteFile(keyPath, []byte("-----BEGIN EC PRIVATE KEY-----\nbroken\n-----END EC PRIVATE KEY-----\n"), 0o600)
	for range 3 {
		cf.checked = time.Now().Add(-certReloadCheck)
		if got := serving(); got != second.SerialNumber.String() {
			t.Fatalf("after a broken key: serving %s, want the previous %s", got, second.SerialNumber)
		}
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Fatalf("want the broken files logged once at ERROR, got %d:\n%s", n, logs.String())
	}
	if _, err := loadCertFiles(certPath, keyPath, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "want PEM files") {
		t.Fatalf("a broken pair at start: %v", err)
	}
}

// TestRedirectToHTTPSRequestTarget: a request line whose target is not a
// path (an absolute URI without one, "x:@evil.example") cannot add to the
// host of the redirect: the name and port stay the configured ones.
func TestRedirectToHTTPSRequestTarget(t *testing.T) {
	for _, target := range []string{"x:@evil.example", "x:.evil.example/p", "http:evil.example", "*"} {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: chat.example.org\r\n\r\n")))
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		w := httptest.NewRecorder()
		redirectToHTTPS("https://chat.example.org", ":443").ServeHTTP(w, r)
		loc, _ := url.Parse(w.Header().Get("Location"))
		if w.Code == http.StatusPermanentRedirect && (loc == nil || loc.Host != "chat.example.org" || loc.User != nil || !strings.HasPrefix(loc.Path, "/")) {
			t.Errorf("GET %s: redirected to %q", target, w.Header().Get("Location"))
		}
	}
}
