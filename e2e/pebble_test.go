package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Pebble, Let's Encrypt's test ACME CA, as the real CA of the HTTPS tests,
// with pebble-challtestsrv as its DNS server answering 127.0.0.1 for every
// name: Pebble then validates HTTP-01 and TLS-ALPN-01 against the curbside
// listeners on loopback, as Let's Encrypt would on the internet.

// testDomain is the name the HTTPS tests obtain certificates for.
const testDomain = "chat.curbside.test"

// tool finds a command on PATH or in $(go env GOPATH)/bin. Without it the
// test is skipped, except under CI (which .ci/run sets), where a missing
// part is a failure: a test that silently does not run proves nothing.
func tool(t *testing.T, name, install string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			if p := filepath.Join(dir, "bin", name); fileExists(p) {
				return p
			}
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing (install: %s); .ci/run installs it", name, install)
	}
	t.Skipf("%s is missing (install: %s); .ci/run installs it", name, install)
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// pebbleCA is a running Pebble.
type pebbleCA struct {
	Directory string         // the ACME directory URL
	APIRoot   string         // PEM file of the certificate Pebble's API is served with (--acme-root)
	Roots     *x509.CertPool // the root Pebble issues under, fetched from /roots/0
	RootPEM   []byte
	// HTTPPort and TLSPort are where Pebble validates HTTP-01 and
	// TLS-ALPN-01: the server's --http-listen and --https-listen.
	HTTPPort, TLSPort int
}

// freePorts returns n distinct loopback ports, each free for TCP and UDP
// at the moment: all are held until all are found, so none comes twice.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var held []io.Closer
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for tries := 0; len(ports) < n; tries++ {
		if tries > 20*n {
			t.Fatal("no free ports")
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, ln)
		port := ln.Addr().(*net.TCPAddr).Port
		if u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			held = append(held, u)
			ports = append(ports, port)
		}
	}
	return ports
}

// startPebble starts pebble-challtestsrv and Pebble, which validates
// challenges on ports HTTPPort and TLSPort of 127.0.0.1 (for the server
// under test to listen on) and issues certificates valid for validity.
func startPebble(t *testing.T, validity time.Duration) *pebbleCA {
	t.Helper()
	pebbleBin := tool(t, "pebble", "go install github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.3")
	challBin := tool(t, "pebble-challtestsrv", "go install github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@v2.10.3")
	dir := t.TempDir()
	ports := freePorts(t, 6)
	dnsPort, challMgmt, listen, mgmt, httpPort, tlsPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]
	run(t, dir, "challtestsrv", challBin, nil,
		"-dnsserver", fmt.Sprintf("127.0.0.1:%d", dnsPort), "-management", fmt.Sprintf("127.0.0.1:%d", challMgmt),
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")

	// Pebble's API is HTTPS; its certificate is made here, for 127.0.0.1.
	apiCert, apiKey := filepath.Join(dir, "api-cert.pem"), filepath.Join(dir, "api-key.pem")
	selfSigned(t, apiCert, apiKey, "127.0.0.1")
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":           fmt.Sprintf("127.0.0.1:%d", listen),
		"managementListenAddress": fmt.Sprintf("127.0.0.1:%d", mgmt),
		"certificate":             apiCert, "privateKey": apiKey,
		"httpPort": httpPort, "tlsPort": tlsPort,
		"ocspResponderURL": "", "externalAccountBindingRequired": false,
		"retryAfter": map[string]int{"authz": 1, "order": 1},
		"profiles":   map[string]any{"default": map[string]any{"description": "test", "validityPeriod": int(validity.Seconds())}},
	}}
	b, _ := json.Marshal(conf)
	confPath := filepath.Join(dir, "pebble.json")
	os.WriteFile(confPath, b, 0o600)
	// No sleeps before validation, no nonces refused at random, no
	// authorizations reused: each run does the whole of the protocol.
	env := []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"}
	run(t, dir, "pebble", pebbleBin, env, "-config", confPath, "-dnsserver", fmt.Sprintf("127.0.0.1:%d", dnsPort))

	pool := x509.NewCertPool()
	pemBytes, _ := os.ReadFile(apiCert)
	pool.AppendCertsFromPEM(pemBytes)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	ca := &pebbleCA{Directory: fmt.Sprintf("https://127.0.0.1:%d/dir", listen), APIRoot: apiCert, HTTPPort: httpPort, TLSPort: tlsPort}
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := hc.Get(fmt.Sprintf("https://127.0.0.1:%d/roots/0", mgmt))
		if err == nil {
			ca.RootPEM, _ = io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not start: %v\n%s", err, readLog(dir, "pebble"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	ca.Roots = x509.NewCertPool()
	if !ca.Roots.AppendCertsFromPEM(ca.RootPEM) {
		t.Fatalf("pebble's root is not PEM: %q", ca.RootPEM)
	}
	return ca
}

// run starts a helper process for the test, logging to dir/name.log, and
// stops it when the test ends.
func run(t *testing.T, dir, name, bin string, env []string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, readLog(dir, name))
		}
	})
}

func readLog(dir, name string) string {
	b, _ := os.ReadFile(filepath.Join(dir, name+".log"))
	return string(b)
}

// selfSigned writes a self-signed certificate for name (a DNS name or an
// address) and its key, and returns the certificate.
func selfSigned(t *testing.T, certPath, keyPath, name string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	// Written to a new file and renamed over the old, as an operator's
	// deployment tool would, so a reader never sees half a file.
	for path, blk := range map[string]*pem.Block{certPath: {Type: "CERTIFICATE", Bytes: der}, keyPath: {Type: "EC PRIVATE KEY", Bytes: kb}} {
		if err := os.WriteFile(path+".new", pem.EncodeToMemory(blk), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// httpsClient is an HTTP client that reaches testDomain (and any name) at
// 127.0.0.1 and verifies the server against roots.
func httpsClient(roots *x509.CertPool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		},
		TLSClientConfig: &tls.Config{RootCAs: roots},
	}}
}

// servedCert makes a TLS handshake with addr for name and returns the leaf
// certificate served, verified against roots (nil: not verified).
func servedCert(addr, name string, roots *x509.CertPool) (*x509.Certificate, error) {
	chain, err := servedChain(addr, name, roots)
	if err != nil {
		return nil, err
	}
	return chain[0], nil
}

// servedChain is servedCert for the whole chain the server sends.
func servedChain(addr, name string, roots *x509.CertPool) ([]*x509.Certificate, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: name, RootCAs: roots, InsecureSkipVerify: roots == nil})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates, nil
}

// spkiHash is the base64 SHA-256 of a certificate's public key, the form
// Chromium's --ignore-certificate-errors-spki-list takes.
func spkiHash(c *x509.Certificate) string {
	h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(h[:])
}
