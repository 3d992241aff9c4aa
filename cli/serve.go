package cli

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/curbside-health/curbside/internal/logging"
	"github.com/curbside-health/curbside/push"
	"github.com/curbside-health/curbside/replica"
	"github.com/curbside-health/curbside/server"
)

// envOr returns the CURBSIDE_* environment variable for a flag, or def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(envName(name)); ok {
		return v
	}
	return def
}

// envInt is envOr for a whole number. A value that does not parse gives
// the default here; checkEnv reports it.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(envOr(name, strconv.Itoa(def))); err == nil {
		return n
	}
	return def
}

// envDuration is envOr for a duration.
func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(envOr(name, def.String())); err == nil {
		return d
	}
	return def
}

// checkEnv reports a CURBSIDE_* variable of a numeric flag that does not
// parse, which envInt and envDuration passed over.
func checkEnv(ints, durations []string) error {
	for _, n := range ints {
		if v := envOr(n, "0"); v != "" {
			if _, err := strconv.Atoi(v); err != nil {
				return usagef("environment %s=%q: want a whole number", envName(n), v)
			}
		}
	}
	for _, n := range durations {
		if v := envOr(n, "0s"); v != "" {
			if _, err := time.ParseDuration(v); err != nil {
				return usagef("environment %s=%q: want a duration such as 30s", envName(n), v)
			}
		}
	}
	return nil
}

func envName(flag string) string {
	return "CURBSIDE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", envOr("data", server.DefaultDataDir), "data directory (env CURBSIDE_DATA)")
}

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "serve")
	cfg := server.Config{Version: BuildOf(env.Version).Version}
	fs.StringVar(&cfg.DataDir, "data", envOr("data", server.DefaultDataDir), "data directory (env CURBSIDE_DATA)")
	fs.StringVar(&cfg.Listen, "listen", envOr("listen", ""), "address for plain HTTP (default "+server.DefaultListen+"); loopback only, unless --trusted-proxy names the proxy in front; not used with TLS (env CURBSIDE_LISTEN)")
	fs.StringVar(&cfg.PublicURL, "public-url", envOr("public-url", ""), "the origin people reach the server at, for links and passkeys, e.g. https://chat.example.org; default: https://DOMAIN with --domain (env CURBSIDE_PUBLIC_URL)")
	fs.StringVar(&cfg.Domain, "domain", envOr("domain", ""), "serve HTTPS for this DNS name with a certificate the server obtains and renews itself from Let's Encrypt, or from --acme-ca (env CURBSIDE_DOMAIN)")
	fs.StringVar(&cfg.Email, "email", envOr("email", ""), "contact address of the ACME account, for the CA's notices about the certificate (env CURBSIDE_EMAIL)")
	fs.StringVar(&cfg.ACMECA, "acme-ca", envOr("acme-ca", ""), "directory URL of an internal ACME CA to use instead of Let's Encrypt (env CURBSIDE_ACME_CA)")
	fs.StringVar(&cfg.ACMERoot, "acme-root", envOr("acme-root", ""), "PEM file of the root certificate the --acme-ca directory is served under, if the system does not trust it (env CURBSIDE_ACME_ROOT)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", envOr("tls-cert", ""), "serve HTTPS with this PEM certificate file (with intermediates), reloaded when it changes; needs --tls-key (env CURBSIDE_TLS_CERT)")
	fs.StringVar(&cfg.TLSKey, "tls-key", envOr("tls-key", ""), "PEM private key file of --tls-cert (env CURBSIDE_TLS_KEY)")
	fs.StringVar(&cfg.HTTPSListen, "https-listen", envOr("https-listen", ""), "address for HTTPS with --domain or --tls-cert (default "+server.DefaultHTTPSListen+") (env CURBSIDE_HTTPS_LISTEN)")
	fs.StringVar(&cfg.HTTPListen, "http-listen", envOr("http-listen", ""), "address for ACME's HTTP-01 challenge and the redirect to HTTPS, with --domain or --tls-cert (default "+server.DefaultHTTPListen+"; "+server.HTTPListenOff+": none) (env CURBSIDE_HTTP_LISTEN)")
	fs.DurationVar(&cfg.RenewCheck, "acme-renew-check", envDuration("acme-renew-check", 0), "how often the certificate from ACME is checked for renewal; 0: every 10 minutes (env CURBSIDE_ACME_RENEW_CHECK)")
	fs.StringVar(&cfg.TrustedProxies, "trusted-proxy", envOr("trusted-proxy", ""), "comma-separated CIDR ranges of reverse proxies whose X-Forwarded-For, X-Forwarded-Proto and Forwarded headers are believed, e.g. 127.0.0.1/32 (env CURBSIDE_TRUSTED_PROXY)")
	fs.IntVar(&cfg.MaxConns, "max-conns", envInt("max-conns", 0), "connections open at once, in total; 0: the process's file limit less a reserve (env CURBSIDE_MAX_CONNS)")
	fs.IntVar(&cfg.MaxConnsPerIP, "max-conns-per-ip", envInt("max-conns-per-ip", server.DefaultMaxConnsPerIP), "connections open at once from one address; raise it for a large practice behind one NAT, or -1 for no cap behind a reverse proxy (env CURBSIDE_MAX_CONNS_PER_IP)")
	fs.DurationVar(&cfg.ReadTimeout, "read-timeout", envDuration("read-timeout", server.DefaultReadTimeout), "longest time to read one request, headers and body; uploads and WebSockets are exempt (env CURBSIDE_READ_TIMEOUT)")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", envDuration("idle-timeout", server.DefaultIdleTimeout), "longest time a kept-alive connection waits for its next request (env CURBSIDE_IDLE_TIMEOUT)")
	pushOn := fs.Bool("push", envOr("push", "true") != "false", "wake offline devices with Web Push through the browsers' push services; false turns it off (env CURBSIDE_PUSH)")
	pushHosts := fs.String("push-hosts", envOr("push-hosts", ""), "push services the server sends to, comma-separated host names ('*.' for any name below one); empty: "+strings.Join(push.DefaultHosts, ",")+" (env CURBSIDE_PUSH_HOSTS)")
	fs.StringVar(&cfg.PushContact, "push-contact", envOr("push-contact", ""), "an https URL or e-mail address the push services may contact about this server's pushes; empty: --public-url when https (env CURBSIDE_PUSH_CONTACT)")
	fs.BoolVar(&cfg.PushAllowLoopback, "push-allow-loopback", false, "FOR TESTS ONLY: let pushes go to a push service on a loopback address, over http too")
	fs.StringVar(&cfg.Replica, "replica", envOr("replica", ""), "replicate the database and the data directory's files continuously to file:///path or s3://bucket/path?endpoint=URL&region=R (S3 credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or ~/.aws/credentials) (env CURBSIDE_REPLICA)")
	fs.DurationVar(&cfg.ReplicaSyncInterval, "replica-sync-interval", envDuration("replica-sync-interval", replica.DefaultSyncInterval), "how often changes are sent to the replica: at most this much is lost with the disk (env CURBSIDE_REPLICA_SYNC_INTERVAL)")
	fs.DurationVar(&cfg.ReplicaMaxLag, "replica-max-lag", envDuration("replica-max-lag", server.DefaultReplicaMaxLag), "how far behind the replica may fall before /healthz answers 503 (env CURBSIDE_REPLICA_MAX_LAG)")
	fs.DurationVar(&cfg.DrillEvery, "drill-every", envDuration("drill-every", server.DefaultDrillEvery), "how often the server restores its replica into a temporary directory and checks it (env CURBSIDE_DRILL_EVERY)")
	level := fs.String("log-level", envOr("log-level", "info"), "log level: debug, info, warn or error (env CURBSIDE_LOG_LEVEL)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkEnv([]string{"max-conns", "max-conns-per-ip"}, []string{"read-timeout", "idle-timeout", "acme-renew-check", "replica-sync-interval", "drill-every"}); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("serve takes no arguments (got %q)", fs.Arg(0))
	}
	cfg.PushOff = !*pushOn
	for _, h := range strings.Split(*pushHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			cfg.PushHosts = append(cfg.PushHosts, h)
		}
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", *level)
	}
	// The SMTP password is read from the environment only, never a flag
	// (which any user of the machine could read in the process list).
	cfg.SMTPPassword = envOr("smtp-password", "")
	cfg.Logger = slog.New(logging.Limit(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: lv}), logging.DefaultWindow, logging.DefaultBurst))
	cfg.Logger.Info("curbside starting", "version", BuildOf(env.Version).String(), "data", cfg.DataDir)
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	return server.Run(ctx, cfg)
}
