package cli

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"strings"

	"github.com/curbside-health/curbside/internal/logging"
	"github.com/curbside-health/curbside/server"
)

// envOr returns the CURBSIDE_* environment variable for a flag, or def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv("CURBSIDE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); ok {
		return v
	}
	return def
}

func dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", envOr("data", server.DefaultDataDir), "data directory (env CURBSIDE_DATA)")
}

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "serve")
	cfg := server.Config{Version: env.Version}
	fs.StringVar(&cfg.DataDir, "data", envOr("data", server.DefaultDataDir), "data directory (env CURBSIDE_DATA)")
	fs.StringVar(&cfg.Listen, "listen", envOr("listen", server.DefaultListen), "address for plain HTTP; loopback only without TLS (env CURBSIDE_LISTEN)")
	fs.StringVar(&cfg.PublicURL, "public-url", envOr("public-url", ""), "the origin people reach the server at, for links and passkeys, e.g. https://chat.example.org (env CURBSIDE_PUBLIC_URL)")
	level := fs.String("log-level", envOr("log-level", "info"), "log level: debug, info, warn or error (env CURBSIDE_LOG_LEVEL)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("serve takes no arguments (got %q)", fs.Arg(0))
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", *level)
	}
	cfg.Logger = slog.New(logging.Limit(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: lv}), logging.DefaultWindow, logging.DefaultBurst))
	cfg.Logger.Info("curbside starting", "version", env.Version, "data", cfg.DataDir)
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	return server.Run(ctx, cfg)
}
