package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/caddyserver/certmagic"
)

// acmeCerts obtains and renews the certificate for Config.Domain from an
// ACME CA (Let's Encrypt, or Config.ACMECA) with certmagic. Certificates,
// their keys and the ACME account key are kept under DATA/certs, so a
// backup of the data directory carries them and a restored server does not
// ask the CA again. certmagic staples OCSP responses where the CA offers
// them, and renews in the background when a third of the lifetime is left
// (or when the CA's renewal information says so).
type acmeCerts struct {
	magic  *certmagic.Config
	issuer *certmagic.ACMEIssuer
	cache  *certmagic.Cache
}

// certsDir is where certmagic keeps certificates and account keys.
func certsDir(dataDir string) string { return filepath.Join(dataDir, "certs") }

// newACME sets certmagic up for cfg. Nothing is asked of the CA until
// manage, once the listeners for the challenges are open.
func newACME(cfg Config, log *slog.Logger) (*acmeCerts, error) {
	zl := zapToSlog(log.With("part", "certmagic"))
	var roots *x509.CertPool
	if cfg.ACMERoot != "" {
		pem, err := os.ReadFile(cfg.ACMERoot)
		if err != nil {
			return nil, fmt.Errorf("--acme-root: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--acme-root %s: no PEM certificate in the file; want the internal CA's root certificate", cfg.ACMERoot)
		}
	}
	a := &acmeCerts{}
	a.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return a.magic, nil },
		RenewCheckInterval: cfg.RenewCheck,
		Logger:             zl,
	})
	a.magic = certmagic.New(a.cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: certsDir(cfg.DataDir)},
		Logger:  zl,
		OnEvent: func(_ context.Context, event string, data map[string]any) error {
			switch event {
			case "cert_obtained":
				log.Info("certificate obtained", "domain", cfg.Domain, "renewal", data["renewal"])
			case "cert_failed":
				log.Error("certificate not obtained; check that DNS for the domain points at this server and that the HTTP and HTTPS ports are reachable from the internet (retrying)",
					"domain", cfg.Domain, "renewal", data["renewal"], "err", data["error"])
			}
			return nil
		},
	})
	ca := cfg.ACMECA
	if ca == "" {
		ca = certmagic.LetsEncryptProductionCA
	}
	httpsPort, _ := listenPort(cfg.httpsListen())
	iss := certmagic.ACMEIssuer{
		CA: ca, Email: cfg.Email, Agreed: true, TrustedRoots: roots,
		AltTLSALPNPort: httpsPort, ListenHost: listenHost(cfg.httpsListen()),
		DisableHTTPChallenge: cfg.httpListen() == "",
		Logger:               zl,
	}
	if hl := cfg.httpListen(); hl != "" {
		iss.AltHTTPPort, _ = listenPort(hl)
	}
	a.issuer = certmagic.NewACMEIssuer(a.magic, iss)
	a.magic.Issuers = []certmagic.Issuer{a.issuer}
	return a, nil
}

// manage starts obtaining (or loading from DATA/certs) the certificate and
// keeping it renewed. It returns at once: a CA that is slow or down does
// not keep the server from starting, and certmagic retries.
func (a *acmeCerts) manage(ctx context.Context, domain string) error {
	return a.magic.ManageAsync(ctx, []string{domain})
}

// tlsConfig serves the managed certificate and answers TLS-ALPN-01.
func (a *acmeCerts) tlsConfig() *tls.Config {
	c := baseTLSConfig()
	c.GetCertificate = a.magic.GetCertificate
	c.NextProtos = append(c.NextProtos, a.magic.TLSConfig().NextProtos...)
	return c
}

// httpHandler answers HTTP-01 challenges and passes everything else on.
func (a *acmeCerts) httpHandler(next http.Handler) http.Handler {
	return a.issuer.HTTPChallengeHandler(next)
}

func (a *acmeCerts) stop() { a.cache.Stop() }

func listenPort(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}

func listenHost(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}
