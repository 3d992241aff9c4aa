// Package server wires Curbside together: it opens the store, builds the
// directory API and the relay, applies the security headers every response
// carries, and runs the HTTP server until its context ends.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/curbside-health/curbside/api"
	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/console"
	"github.com/curbside-health/curbside/devicecmd"
	curbsideembed "github.com/curbside-health/curbside/embed"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/mail"
	"github.com/curbside-health/curbside/push"
	"github.com/curbside-health/curbside/relay"
	"github.com/curbside-health/curbside/store"
	"github.com/curbside-health/curbside/webui"
)

// Defaults for Config.
const (
	DefaultDataDir = "./curbside-data"
	DefaultListen  = "127.0.0.1:8080"

	// DefaultReadTimeout bounds reading one whole request, headers and
	// body. Attachment uploads set a longer deadline of their own, and a
	// WebSocket is free of it once upgraded (the server clears a hijacked
	// connection's deadlines).
	DefaultReadTimeout = 30 * time.Second
	// DefaultIdleTimeout is how long a kept-alive connection may wait
	// for its next request.
	DefaultIdleTimeout = 120 * time.Second

	readHeaderTimeout = 10 * time.Second
	shutdownGrace     = 10 * time.Second
	maxHeaderBytes    = 16 << 10
)

// Config is the server's configuration.
type Config struct {
	DataDir string // where the database lives
	// Listen is host:port for plain HTTP (empty: DefaultListen), on
	// loopback unless TrustedProxies are set; unused with TLS.
	Listen  string
	Logger  *slog.Logger
	Version string // reported to clients
	// PublicURL is the origin people reach the server at (links in
	// invitations, passkeys); empty: https://Domain with Domain set, else
	// the listening address, or each request's own origin.
	PublicURL string

	// Domain, with TLS from an ACME CA: the name whose certificate the
	// server obtains and renews itself (HTTP-01, TLS-ALPN-01), from Let's
	// Encrypt unless ACMECA names another CA. Email is the ACME account's
	// contact. ACMERoot is a PEM file of the root an internal CA's
	// directory is served under, when the system does not trust it.
	Domain, Email    string
	ACMECA, ACMERoot string
	// TLSCert and TLSKey are PEM files of a certificate the operator
	// provides; the server reloads them when they change.
	TLSCert, TLSKey string
	// HTTPSListen is host:port for HTTPS (empty: DefaultHTTPSListen), and
	// HTTPListen for the HTTP-01 challenge and the redirect to HTTPS
	// (empty: DefaultHTTPListen; HTTPListenOff: none). Used with TLS only.
	HTTPSListen, HTTPListen string
	// RenewCheck is how often managed certificates are checked for
	// renewal; 0: certmagic's default (10 minutes).
	RenewCheck time.Duration
	// TrustedProxies is a comma-separated list of CIDR ranges of reverse
	// proxies whose X-Forwarded-For, X-Forwarded-Proto and Forwarded
	// headers are believed (internal/web.Proxies). With any, plain HTTP
	// may listen on a non-loopback address, for the proxy to reach.
	TrustedProxies string

	// MaxConns caps the connections open at once, in total; 0: the
	// process's file limit less a reserve (defaultMaxConns).
	MaxConns int
	// MaxConnsPerIP caps the connections open at once from one address;
	// 0: DefaultMaxConnsPerIP, negative: no per-address cap.
	MaxConnsPerIP int
	// ReadTimeout bounds reading one request, headers and body; 0:
	// DefaultReadTimeout.
	ReadTimeout time.Duration
	// IdleTimeout bounds the wait for a kept-alive connection's next
	// request; 0: DefaultIdleTimeout.
	IdleTimeout time.Duration

	// SMTPPassword, if set, is the SMTP password, in place of the one the
	// console stores (from CURBSIDE_SMTP_PASSWORD).
	SMTPPassword string
	// CheckEvery is how often unread nudges and the health alerts (disk,
	// store writes) are checked; 0: DefaultCheckEvery.
	CheckEvery time.Duration

	// PushOff turns Web Push off: offline devices are not woken, and the
	// app says so. Push needs the server to reach the browsers' push
	// services on the internet.
	PushOff bool
	// PushHosts are the push services' host names the server sends to
	// ("*.example.com" for any name below it); empty: push.DefaultHosts.
	PushHosts []string
	// PushContact is the VAPID subject push services may contact about
	// this server's pushes: an https URL or an e-mail address; empty: the
	// PublicURL when it is https.
	PushContact string
	// PushAllowLoopback lets pushes go to loopback addresses over http
	// or https. For tests with a push service on this machine only.
	PushAllowLoopback bool
	// Replica, if set, is the URL the database and the data directory's
	// files are replicated to continuously (file:///path or
	// s3://bucket/path?endpoint=…&region=…); ReplicaSyncInterval how
	// often (0: replica.DefaultSyncInterval); DrillEvery how often a
	// restore drill runs (0: DefaultDrillEvery).
	Replica             string
	ReplicaSyncInterval time.Duration
	DrillEvery          time.Duration
	// ReplicaMaxLag is how far behind the replica may fall before
	// /healthz fails; 0: DefaultReplicaMaxLag.
	ReplicaMaxLag time.Duration

	// Listener, if set, is used instead of listening on Listen, or on
	// HTTPSListen with TLS (tests).
	Listener net.Listener
	// Ready, if set, is called with the bound address once the server
	// accepts connections.
	Ready func(addr net.Addr)
}

// Validate checks the configuration and says how to fix it.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("--data needs a directory")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("--public-url %q: want an origin such as https://chat.example-practice.org", c.PublicURL)
		}
	}
	if files := fileLimit(); files > 0 && c.MaxConns > 0 && uint64(c.MaxConns)+minFDReserve > files {
		return fmt.Errorf("--max-conns %d: the process may open only %d files, and the database and attachments need some; choose at most %d or raise the limit (ulimit -n, LimitNOFILE=)", c.MaxConns, files, int64(files)-minFDReserve)
	}
	if c.MaxConns < 0 {
		return fmt.Errorf("--max-conns %d: want a positive number, or 0 for the default", c.MaxConns)
	}
	if len(c.SMTPPassword) > mail.MaxPasswordLen {
		return fmt.Errorf("CURBSIDE_SMTP_PASSWORD is longer than %d bytes", mail.MaxPasswordLen)
	}
	for _, h := range c.PushHosts {
		if h = strings.TrimPrefix(h, "*."); h == "" || strings.ContainsAny(h, "/:*@ ") {
			return fmt.Errorf("--push-hosts %q: want host names such as fcm.googleapis.com or *.push.apple.com, separated by commas", strings.Join(c.PushHosts, ","))
		}
	}
	if c.PushContact != "" && !strings.HasPrefix(c.PushContact, "https://") && !strings.Contains(c.PushContact, "@") {
		return fmt.Errorf("--push-contact %q: want an https URL or an e-mail address push services may write to", c.PushContact)
	}
	if c.ReadTimeout < 0 || c.IdleTimeout < 0 || c.CheckEvery < 0 {
		return errors.New("--read-timeout, --idle-timeout and the check interval want a positive duration, or 0 for the default")
	}
	if c.ReplicaSyncInterval < 0 || c.DrillEvery < 0 {
		return errors.New("--replica-sync-interval and --drill-every want a positive duration, or 0 for the default")
	}
	if c.RenewCheck < 0 {
		return errors.New("--acme-renew-check wants a positive duration, or 0 for the default")
	}
	return c.validateListen()
}

// limits returns the configuration with every connection limit and timeout
// left at zero set to its default.
func (c Config) limits() Config {
	if c.MaxConns == 0 {
		c.MaxConns = defaultMaxConns(fileLimit())
	}
	if c.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.CheckEvery == 0 {
		c.CheckEvery = DefaultCheckEvery
	}
	return c
}

// Run serves until ctx ends, then shuts down gracefully.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg.PublicURL = cfg.publicURL()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	st, err := store.Open(ctx, cfg.DataDir, store.Options{Logger: log, Replicated: cfg.Replica != ""})
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("store open", "path", st.Path(), "schema", store.SchemaVersion)
	backup, err := startBackup(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	// Closed after everything that writes has stopped (deferred later, so
	// run earlier) and before the store closes: its last sync sees every
	// write.
	defer backup.close()

	p, err := NewParts(st, cfg, log)
	if err != nil {
		return err
	}
	if backup != nil {
		p.Console.Backup = backup
		p.Health.Register("replication", replicationCheck(backup.Rep.Status, cfg.replicaMaxLag()))
	}
	auditCtx, stopAudit := context.WithCancel(ctx)
	auditDone := make(chan struct{})
	go func() { defer close(auditDone); runMaintenance(auditCtx, st, log, p.Mail.Alerts) }()
	backupDone := make(chan struct{})
	go func() {
		defer close(backupDone)
		if backup != nil {
			backup.run(auditCtx, p.Mail.Alerts, cfg.limits().CheckEvery)
		}
	}()
	defer func() { stopAudit(); <-backupDone }()
	// Stopped before the store closes (deferred earlier, so run later).
	defer func() { stopAudit(); <-auditDone }()

	var ready atomic.Bool
	mux := http.NewServeMux()
	web.Mount(mux, log, p.Auth, p.Routes(&ready))
	rl := p.Relay

	lim := cfg.limits()
	proxies := cfg.trustedProxies()
	srv := httpServer(proxies.Handler(secure(SameOrigin(cfg.PublicURL, log, mux))), lim, log)
	ls, err := openListeners(cfg, lim, proxies, log)
	if err != nil {
		rl.Close()
		return err
	}
	defer ls.close()
	log.Info("connection limits", "max_conns", lim.MaxConns, "max_conns_per_ip", lim.MaxConnsPerIP, "open_files", fileLimit(),
		"read_timeout", lim.ReadTimeout, "idle_timeout", lim.IdleTimeout)
	p.Console.MailOrigin = mailOrigin(cfg.PublicURL, ls.scheme, ls.main.Addr())
	if p.Console.MailOrigin == "" {
		log.Warn("no --public-url: invitation links cannot be sent by email (the console still shows them to copy), and unread reminders link to the listening address")
	}
	errc := make(chan error, 2)
	var redirect *http.Server
	if ls.tls != nil {
		srv.TLSConfig = ls.tls
		go func() { errc <- srv.ServeTLS(ls.main, "", "") }()
	} else {
		go func() { errc <- srv.Serve(ls.main) }()
	}
	if ls.redirect != nil {
		redirect = httpServer(ls.redirectHandler, lim, log)
		go func() { errc <- redirect.Serve(ls.redirect) }()
	}
	if ls.acme != nil {
		if err := ls.acme.manage(ctx, cfg.Domain); err != nil {
			rl.Close()
			return fmt.Errorf("--domain %s: %w", cfg.Domain, err)
		}
	}
	origin := cfg.PublicURL
	if origin == "" {
		origin = ls.scheme + "://" + ls.main.Addr().String()
	}
	mailDone := make(chan struct{}, 2)
	go func() { defer func() { mailDone <- struct{}{} }(); p.Mail.Run(auditCtx) }()
	go func() {
		defer func() { mailDone <- struct{}{} }()
		runMailJobs(auditCtx, lim.CheckEvery, st, cfg.DataDir, p.Mail, rl, strings.TrimSuffix(origin, "/")+"/", log)
	}()
	// Stopped before the store closes, like the maintenance goroutine.
	defer func() { stopAudit(); <-mailDone; <-mailDone }()
	logMailSetup(ctx, p.Mail, log)
	ready.Store(true)
	log.Info("serving", "addr", ls.scheme+"://"+ls.main.Addr().String(), "tls", ls.tlsMode, "public_url", cfg.PublicURL,
		"trusted_proxies", proxies.String(), "startup", time.Since(start).Round(time.Millisecond))
	logSetupLink(ctx, p.Apps, origin, log)
	if cfg.Ready != nil {
		cfg.Ready(ls.main.Addr())
	}

	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	ready.Store(false)
	log.Info("shutting down")
	rl.Close()
	p.Close()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil && err == nil {
		err = serr
	}
	if redirect != nil {
		redirect.Close()
	}
	// The failed sign-ins counted in the last minute go to the audit log
	// before the store closes.
	p.Auth.FlushFailures()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Parts are the server's pieces, wired over one store.
type Parts struct {
	Auth    *auth.Auth
	Apps    *api.API
	Console *console.Console
	Relay   *relay.Relay
	Assets  *curbsideembed.Handler
	Mail    *mail.Service
	// Health is what GET /healthz checks: the store's writes ("writes"),
	// and whatever other parts register.
	Health *Health
	Push   *push.Sender // nil when push is off
}

// Close stops what the parts run besides the relay (which Relay.Close
// stops first): the push workers.
func (p *Parts) Close() {
	if p.Push != nil {
		p.Push.Close()
	}
}

// NewParts builds the server's pieces over st, as Run does (the API tests
// mount the same).
func NewParts(st *store.Store, cfg Config, log *slog.Logger) (*Parts, error) {
	a := auth.New(st, auth.Options{Logger: log, PublicURL: cfg.PublicURL})
	assets, err := curbsideembed.New(webui.App())
	if err != nil {
		return nil, err
	}
	sender, err := newPush(st, cfg, log)
	if err != nil {
		return nil, err
	}
	rcfg := relay.Config{Store: st, Logger: log, Sessions: a, MemberEvents: st}
	if sender != nil {
		rcfg.Waker = sender
	}
	rl, err := relay.New(rcfg)
	if err != nil {
		if sender != nil {
			sender.Close()
		}
		return nil, err
	}
	cmds := devicecmd.New(st)
	ml := mail.New(st, cfg.DataDir, mail.Options{Logger: log, EnvPassword: cfg.SMTPPassword})
	health := NewHealth()
	health.Register(checkWrites, writesCheck(st))
	return &Parts{
		Health: health,
		Auth:   a,
		Relay:  rl,
		Assets: assets,
		Mail:   ml,
		Push:   sender,
		Apps: &api.API{Auth: a, Store: st, Log: log, Commands: cmds, DevicesChanged: rl.DevicesChanged, EndDevice: rl.EndDevice, DeviceRequested: rl.DeviceRequested,
			Version: cfg.Version, PublicURL: cfg.PublicURL, Push: sender},
		Console: &console.Console{Auth: a, Store: st, Log: log, Commands: cmds, Mail: ml, DevicesChanged: rl.DevicesChanged,
			EndDevice: rl.EndDevice, Connected: rl.Connected, RulesChanged: func() {
				// A change of the rules may be one of a group's members,
				// whose events go out now rather than at the next poll.
				rl.RulesChanged()
				rl.MembersChanged()
			}, Version: cfg.Version, PublicURL: cfg.PublicURL},
	}, nil
}

// newPush starts the Web Push sender, with the VAPID key kept in the
// database (made on the first start), or returns nil when push is off.
func newPush(st *store.Store, cfg Config, log *slog.Logger) (*push.Sender, error) {
	if cfg.PushOff {
		log.Info("web push: off (--push=false); offline devices are not woken")
		return nil, nil
	}
	key, err := st.VAPIDKey(context.Background())
	if err != nil {
		return nil, fmt.Errorf("web push: the VAPID key: %w", err)
	}
	contact := cfg.PushContact
	if contact == "" && strings.HasPrefix(cfg.PublicURL, "https://") {
		contact = cfg.PublicURL
	}
	if contact == "" {
		// Push services want a way to reach the sender; Apple's refuse
		// pushes without one. --push-contact sets it.
		contact = "curbside@localhost"
	}
	hosts := cfg.PushHosts
	if len(hosts) == 0 {
		hosts = push.DefaultHosts
	}
	if cfg.PushAllowLoopback {
		log.Warn("web push: loopback push services allowed (--push-allow-loopback); for tests only")
	}
	s, err := push.New(push.Config{Store: st, Logger: log, Key: key, Contact: contact, Guard: push.NewGuard(hosts, cfg.PushAllowLoopback)})
	if err != nil {
		return nil, err
	}
	log.Info("web push: on", "push_services", strings.Join(hosts, ","), "contact", contact)
	return s, nil
}

// Routes is the parts' HTTP surface (see the function Routes).
func (p *Parts) Routes(ready *atomic.Bool) []web.Route {
	return Routes(p.Auth, p.Apps, p.Console, p.Relay, p.Assets, p.Health, ready)
}

// logMailSetup says in one line at start whether email is set up.
func logMailSetup(ctx context.Context, m *mail.Service, log *slog.Logger) {
	set, src, err := m.Settings(ctx)
	switch {
	case err != nil:
		log.Error("email settings not read", "err", err)
	case !set.Configured():
		log.Info("email off: no SMTP server set (the console's Email page sets one)")
	default:
		log.Info("email on", "smtp_host", set.Host, "smtp_port", set.Port, "security", set.Security, "password", src)
	}
}

// mailOrigin is the origin of links the server mails: the public URL, or
// the address of a listener on loopback, which is the address people use
// there; "" when neither, as the listening address of a server that
// others reach (0.0.0.0, a name behind a proxy) is not one they could
// open.
func mailOrigin(publicURL, scheme string, addr net.Addr) string {
	if publicURL != "" {
		return strings.TrimSuffix(publicURL, "/")
	}
	if a, ok := addr.(*net.TCPAddr); ok && a.IP.IsLoopback() {
		return scheme + "://" + a.String()
	}
	return ""
}

// logSetupLink logs, on a fresh data directory, the single-use link that
// creates the owner account, under origin (the public URL, or the
// listening address).
func logSetupLink(ctx context.Context, apps *api.API, origin string, log *slog.Logger) {
	link, exp, err := apps.SetupLink(ctx, origin)
	if err != nil {
		log.Error("first-run set-up link not made", "err", err)
	} else if link != "" {
		log.Warn("first run: no administrator yet; open this single-use link to create the owner account (or use curbside user add --role admin)",
			"url", link, "expires", exp.UTC().Format(time.RFC3339))
	}
}

// secure adds the headers every response carries. The policy is strict: no
// inline script, nothing from other origins, no framing.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		// The microphone is for voice notes, recorded by the app itself;
		// photos come through the file picker (<input capture>), which
		// needs no camera permission.
		h.Set("Permissions-Policy", "camera=(), microphone=(self), geolocation=()")
		if web.IsHTTPS(r) {
			// Two years: browsers then refuse plain HTTP to this name,
			// so a network attacker cannot strip TLS from a later visit.
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}
