package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// certReloadCheck is how long a loaded certificate is served before the
// files are looked at again. A handshake after that stats both files (two
// system calls) and, when either changed, loads the pair anew: renewing a
// certificate is copying the new files into place, with no restart and no
// signal.
const certReloadCheck = time.Second

// certFiles serves the certificate in a PEM certificate file and key file,
// reloading it when the files change (--tls-cert, --tls-key).
type certFiles struct {
	certPath, keyPath string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string    // the files' sizes and modification times when loaded
	checked time.Time // when the files were last looked at
	failed  string    // the stamp of files that did not load, logged once
}

// loadCertFiles loads the pair for the first time; an error says how to
// fix the files.
func loadCertFiles(certPath, keyPath string, log *slog.Logger) (*certFiles, error) {
	cf := &certFiles{certPath: certPath, keyPath: keyPath, log: log}
	stamp, err := cf.stampNow()
	if err != nil {
		return nil, err
	}
	cert, err := cf.load()
	if err != nil {
		return nil, err
	}
	cf.cert, cf.stamp, cf.checked = cert, stamp, time.Now()
	cf.logLoaded("certificate loaded", cert)
	return cf, nil
}

// GetCertificate is tls.Config.GetCertificate: the current certificate,
// reloaded first when the files changed since it was loaded. Files that do
// not load (a copy half done, a key that does not match) leave the
// previous certificate in service and are logged at ERROR once.
func (cf *certFiles) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	now := time.Now()
	if now.Sub(cf.checked) < certReloadCheck {
		return cf.cert, nil
	}
	cf.checked = now
	stamp, err := cf.stampNow()
	if err != nil || stamp == cf.stamp || stamp == cf.failed {
		if err != nil && cf.failed != err.Error() {
			cf.failed = err.Error()
			cf.log.Error("certificate files not readable; still serving the loaded certificate", "err", err)
		}
		return cf.cert, nil
	}
	cert, err := cf.load()
	if err != nil {
		cf.failed = stamp
		cf.log.Error("changed certificate files do not load; still serving the loaded certificate", "err", err)
		return cf.cert, nil
	}
	cf.cert, cf.stamp, cf.failed = cert, stamp, ""
	cf.logLoaded("certificate reloaded", cert)
	return cert, nil
}

func (cf *certFiles) stampNow() (string, error) {
	var b strings.Builder
	for _, p := range []string{cf.certPath, cf.keyPath} {
		fi, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%d/%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String(), nil
}

func (cf *certFiles) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(cf.certPath, cf.keyPath)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s / --tls-key %s: %w (want PEM files: the certificate, then any intermediates, and the private key that matches it)", cf.certPath, cf.keyPath, err)
	}
	return &cert, nil
}

func (cf *certFiles) logLoaded(msg string, cert *tls.Certificate) {
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return
		}
	}
	if time.Now().After(leaf.NotAfter) {
		cf.log.Error("the certificate has expired: browsers will refuse it; replace the files (they are reloaded without a restart)",
			"file", cf.certPath, "names", leaf.DNSNames, "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
		return
	}
	cf.log.Info(msg, "file", cf.certPath, "names", leaf.DNSNames, "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
}
