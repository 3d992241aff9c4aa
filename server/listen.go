package server

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"

	"github.com/curbside-health/curbside/internal/web"
)

// The three ways to serve other machines than this one (DESIGN: deployment
// shapes), and the words every refusal of a non-loopback address uses.
const deploymentShapes = "to serve other machines, choose one: " +
	"--domain NAME --email ADDRESS (a public server: certificates from Let's Encrypt, renewed automatically); " +
	"--tls-cert FILE --tls-key FILE, or --domain NAME --acme-ca URL (behind the practice firewall: your certificate, or your internal ACME CA); " +
	"--trusted-proxy CIDR (behind a reverse proxy that terminates TLS)"

// Defaults of the TLS listeners.
const (
	DefaultHTTPSListen = ":443"
	// DefaultHTTPListen serves ACME's HTTP-01 challenge and redirects
	// everything else to HTTPS; HTTPListenOff turns it off.
	DefaultHTTPListen = ":80"
	HTTPListenOff     = "off"
)

// tlsOn reports whether the server terminates TLS itself.
func (c Config) tlsOn() bool { return c.Domain != "" || c.TLSCert != "" || c.TLSKey != "" }

func (c Config) httpsListen() string { return cmp.Or(c.HTTPSListen, DefaultHTTPSListen) }

// httpListen is the address of the challenge and redirect listener, or ""
// for none.
func (c Config) httpListen() string {
	if c.HTTPListen == HTTPListenOff {
		return ""
	}
	return cmp.Or(c.HTTPListen, DefaultHTTPListen)
}

func (c Config) plainListen() string { return cmp.Or(c.Listen, DefaultListen) }

// publicURL is the configured public URL, or the one --domain implies.
func (c Config) publicURL() string {
	if c.PublicURL != "" || c.Domain == "" {
		return c.PublicURL
	}
	u := "https://" + c.Domain
	if p, err := listenPort(c.httpsListen()); err == nil && p != 443 {
		u += fmt.Sprintf(":%d", p)
	}
	return u
}

// validateListen checks the TLS, proxy and listening settings: the rule that
// plain HTTP on a non-loopback address needs a trusted proxy in front, and
// that a TLS deployment's links say https.
func (c *Config) validateListen() error {
	proxies, err := web.ParseProxies(c.TrustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxy: %v", err)
	}
	if c.Email != "" && c.Domain == "" {
		return errors.New("--email needs --domain, the name to obtain a certificate for")
	}
	if c.ACMECA != "" && c.Domain == "" {
		return errors.New("--acme-ca needs --domain, the name to obtain a certificate for")
	}
	if c.ACMERoot != "" && c.ACMECA == "" {
		return errors.New("--acme-root is the root certificate of an internal ACME CA: give that CA's directory URL with --acme-ca")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together: give the certificate file and its private key file")
	}
	if c.Domain != "" && c.TLSCert != "" {
		return errors.New("--domain obtains a certificate and --tls-cert uses yours: choose one (with --tls-cert, give the address people use with --public-url)")
	}
	if c.Domain != "" {
		if d := c.Domain; strings.ContainsAny(d, "/:@ ") || !strings.Contains(d, ".") || net.ParseIP(d) != nil {
			return fmt.Errorf("--domain %q: want the DNS name people use, such as chat.example-practice.org (no scheme, port or path)", d)
		}
		if c.Email == "" && c.ACMECA == "" {
			return errors.New("--domain needs --email: Let's Encrypt writes there about the certificate (or give --acme-ca for an internal CA)")
		}
		if c.ACMECA != "" {
			if u, err := url.Parse(c.ACMECA); err != nil || u.Scheme != "https" || u.Host == "" {
				return fmt.Errorf("--acme-ca %q: want the https:// directory URL of the ACME CA, such as https://ca.practice.lan/acme/acme/directory", c.ACMECA)
			}
		}
	}
	for _, f := range []struct{ flag, path string }{{"--tls-cert", c.TLSCert}, {"--tls-key", c.TLSKey}, {"--acme-root", c.ACMERoot}} {
		if f.path != "" {
			if _, err := os.Stat(f.path); err != nil {
				return fmt.Errorf("%s: %v", f.flag, err)
			}
		}
	}
	if !c.tlsOn() {
		if c.HTTPSListen != "" || c.HTTPListen != "" {
			return errors.New("--https-listen and --http-listen are for TLS: give --domain or --tls-cert, or use --listen for plain HTTP")
		}
		if c.Listener != nil {
			return nil
		}
		host, _, err := net.SplitHostPort(c.plainListen())
		if err != nil {
			return fmt.Errorf("--listen %q: want host:port, e.g. 127.0.0.1:8080", c.Listen)
		}
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) && proxies.Empty() {
			// Without TLS, passwords and session tokens would cross the
			// network in the clear.
			return fmt.Errorf("--listen %q: plain HTTP is served on loopback only (127.0.0.1 or [::1]); %s", c.Listen, deploymentShapes)
		}
		return nil
	}
	if c.Listen != "" {
		return fmt.Errorf("--listen %q serves plain HTTP; with TLS the addresses are --https-listen (default %s) and --http-listen (default %s, or %s)", c.Listen, DefaultHTTPSListen, DefaultHTTPListen, HTTPListenOff)
	}
	if _, err := listenPort(c.httpsListen()); err != nil {
		return fmt.Errorf("--https-listen %q: want host:port, e.g. :443", c.HTTPSListen)
	}
	if hl := c.httpListen(); hl != "" {
		if _, err := listenPort(hl); err != nil {
			return fmt.Errorf("--http-listen %q: want host:port, e.g. :80, or %s", c.HTTPListen, HTTPListenOff)
		}
	}
	if strings.HasPrefix(strings.ToLower(c.PublicURL), "http:") {
		return fmt.Errorf("--public-url %q: this server serves HTTPS, so its links must say https://", c.PublicURL)
	}
	return nil
}

// trustedProxies is Config.TrustedProxies parsed (Validate has checked it).
func (c Config) trustedProxies() web.Proxies {
	p, _ := web.ParseProxies(c.TrustedProxies)
	return p
}

// baseTLSConfig is the TLS every listener of Curbside's offers: TLS 1.2 at
// least, and for 1.2 only forward-secret AEAD suites (TLS 1.3's are all
// of that kind and not configurable).
func baseTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos: []string{"h2", "http/1.1"},
	}
}

// redirectToHTTPS answers every request on the plain HTTP port with a
// permanent redirect to the same path over HTTPS: to origin, the
// configured public URL, when there is one (a forged Host cannot send the
// visitor elsewhere), otherwise to the host asked for on the port of
// httpsAddr. Nothing else is served in the clear.
//
// Only the path and query of the request are carried over. A request line
// may name a target that is not a path ("x:@evil.example", which
// RequestURI gives back as it came); appended to the origin, that would
// name another host.
func redirectToHTTPS(origin, httpsAddr string) http.Handler {
	origin = strings.TrimSuffix(origin, "/")
	port := ""
	if p, err := listenPort(httpsAddr); err == nil && p != 443 {
		port = fmt.Sprintf(":%d", p)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := origin
		if base == "" {
			host := r.Host
			if h, _, err := net.SplitHostPort(r.Host); err == nil {
				host = h
			}
			if _, err := netip.ParseAddr(host); err == nil && strings.Contains(host, ":") {
				host = "[" + host + "]"
			}
			if host == "" || strings.ContainsAny(host, "/\\@ ") {
				http.Error(w, "Use https://", http.StatusBadRequest)
				return
			}
			base = "https://" + host + port
		}
		path := r.URL.EscapedPath()
		if !strings.HasPrefix(path, "/") {
			path = "/"
		}
		if r.URL.RawQuery != "" {
			path += "?" + r.URL.RawQuery
		}
		w.Header().Set("Connection", "close")
		http.Redirect(w, r, base+path, http.StatusPermanentRedirect)
	})
}

// httpServer is an http.Server over h with the configured timeouts.
func httpServer(h http.Handler, lim Config, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(readHeaderTimeout, lim.ReadTimeout),
		ReadTimeout:       lim.ReadTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// listeners are what the server accepts connections on.
type listeners struct {
	main            net.Listener // the app: plain HTTP, or TLS under tls
	tls             *tls.Config  // nil: plain HTTP
	redirect        net.Listener // nil: none; ACME's HTTP-01 and the redirect to HTTPS
	redirectHandler http.Handler
	acme            *acmeCerts // nil: not obtaining certificates
	scheme, tlsMode string
}

// openListeners opens the listeners cfg asks for, each under the
// connection limits, and prepares the certificates.
func openListeners(cfg Config, lim Config, proxies web.Proxies, log *slog.Logger) (*listeners, error) {
	ls := &listeners{scheme: "http", tlsMode: "off (loopback only)"}
	if !proxies.Empty() {
		ls.tlsMode = "off (behind a trusted proxy)"
	}
	if cfg.TLSCert != "" {
		files, err := loadCertFiles(cfg.TLSCert, cfg.TLSKey, log)
		if err != nil {
			return nil, err
		}
		ls.tls = baseTLSConfig()
		ls.tls.GetCertificate = files.GetCertificate
		ls.tlsMode = "certificate files (reloaded when they change)"
	}
	if cfg.Domain != "" {
		a, err := newACME(cfg, log)
		if err != nil {
			return nil, err
		}
		ls.acme, ls.tls = a, a.tlsConfig()
		ls.tlsMode = "ACME (" + cmp.Or(cfg.ACMECA, "Let's Encrypt") + ")"
	}
	addr := cfg.plainListen()
	if ls.tls != nil {
		addr, ls.scheme = cfg.httpsListen(), "https"
	}
	main := cfg.Listener
	if main == nil {
		var err error
		if main, err = net.Listen("tcp", addr); err != nil {
			ls.close()
			return nil, fmt.Errorf("listen on %s: %w (is another server running? choose another address with %s)", addr, err, listenFlag(ls.tls != nil))
		}
	}
	limited := limitListener(main, lim.MaxConns, max(lim.MaxConnsPerIP, 0), log)
	if !proxies.Empty() {
		limited.exempt = func(ip string) bool {
			a, err := netip.ParseAddr(ip)
			return err == nil && proxies.Trusts(a)
		}
	}
	ls.main = limited
	if hl := cfg.httpListen(); ls.tls != nil && hl != "" {
		rln, err := net.Listen("tcp", hl)
		if err != nil {
			ls.close()
			return nil, fmt.Errorf("listen on %s: %w (it answers ACME's HTTP-01 challenge and redirects to HTTPS; choose another with --http-listen, or turn it off with --http-listen %s)", hl, err, HTTPListenOff)
		}
		ls.redirect = limited.also(rln)
		ls.redirectHandler = redirectToHTTPS(cfg.publicURL(), cfg.httpsListen())
		if ls.acme != nil {
			ls.redirectHandler = ls.acme.httpHandler(ls.redirectHandler)
		}
		log.Info("redirecting plain HTTP to HTTPS", "addr", rln.Addr().String())
	}
	return ls, nil
}

func listenFlag(tls bool) string {
	if tls {
		return "--https-listen"
	}
	return "--listen"
}

// close stops certificate maintenance and closes what is still open.
func (ls *listeners) close() {
	if ls.acme != nil {
		ls.acme.stop()
	}
	if ls.main != nil {
		ls.main.Close()
	}
	if ls.redirect != nil {
		ls.redirect.Close()
	}
}
