// Package mail sends Curbside's email: invitation and password-reset
// links, unread nudges, and alerts to the practice's administrators. It
// holds the SMTP settings (the password sealed with the data directory's
// secret.key, or taken from the environment), a bounded queue that one
// goroutine sends from with timeouts, and the result of the last send for
// the console.
//
// No mail carries anything clinical: an invitation carries its link and
// the practice's name; a nudge says only that a message is waiting, with
// a link to the app; an alert names a condition of the server. The server
// never holds message plaintext, and mail does not name senders or
// recipients of messages either.
package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/store"
)

// Defaults for Options.
const (
	DefaultQueueSize = 256              // mails waiting to be sent before Enqueue refuses more
	DefaultTimeout   = 30 * time.Second // one SMTP conversation, connect to quit
	// PasswordEnv is the environment variable that, when set, gives the
	// SMTP password instead of the stored one (read by curbside serve).
	PasswordEnv = "CURBSIDE_SMTP_PASSWORD"
)

// Errors of Enqueue and Send.
var (
	ErrNotConfigured = errors.New("mail: email is not set up")
	ErrQueueFull     = errors.New("mail: the send queue is full")
)

// Message is one email, plain text.
type Message struct {
	To      []string
	Subject string
	Body    string
	Kind    string // what it is, for the log and the last result: invitation, nudge, alert, test
}

// Result is the outcome of the last send.
type Result struct {
	At    int64  `json:"at"` // ms; 0: nothing sent since start
	Kind  string `json:"kind,omitempty"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"` // words for the console (Explain), never the raw cause
}

// Options configures a Service.
type Options struct {
	Logger    *slog.Logger
	QueueSize int
	Timeout   time.Duration
	// EnvPassword, if not empty, is the SMTP password, and wins over the
	// stored one (from PasswordEnv).
	EnvPassword string
}

// Service is the email of one server.
type Service struct {
	st      *store.Store
	secrets *Secrets
	log     *slog.Logger
	opts    Options
	queue   chan Message
	// send delivers one message; a test replaces it.
	send func(ctx context.Context, s Settings, password string, m Message) error

	mu   sync.Mutex
	last Result

	// Alerts are the server's alerts to its administrators.
	Alerts *Alerts
}

// New returns the email service of the data directory dir over st. Call
// Run to start sending.
func New(st *store.Store, dir string, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	s := &Service{st: st, secrets: NewSecrets(dir), log: opts.Logger, opts: opts, queue: make(chan Message, opts.QueueSize), send: smtpSend}
	s.Alerts = newAlerts(s, opts.Logger)
	return s
}

// Password sources, as the console shows them.
const (
	PasswordNone   = "none"   // no password: the server takes mail without signing in
	PasswordStored = "stored" // sealed in the database
	PasswordEnvSet = "env"    // from CURBSIDE_SMTP_PASSWORD
)

// Settings returns the settings and where the password comes from.
func (s *Service) Settings(ctx context.Context) (Settings, string, error) {
	m, err := s.st.MailSettings(ctx)
	if errors.Is(err, model.ErrNotFound) {
		return Settings{}, s.passwordSource(nil), nil
	}
	if err != nil {
		return Settings{}, "", err
	}
	return settingsOf(m), s.passwordSource(m.Password), nil
}

// settingsOf is the stored row's settings, without the password.
func settingsOf(m *store.MailSettings) Settings {
	return Settings{Host: m.Host, Port: m.Port, Security: m.Security, Username: m.Username, From: m.From, Practice: m.Practice}
}

func (s *Service) passwordSource(sealed []byte) string {
	switch {
	case s.opts.EnvPassword != "":
		return PasswordEnvSet
	case sealed != nil:
		return PasswordStored
	}
	return PasswordNone
}

// Save checks and stores new settings. password nil keeps the stored
// password; an empty one removes it; any other is sealed and stored.
func (s *Service) Save(ctx context.Context, set Settings, password *string) error {
	if err := set.Check(); err != nil {
		return err
	}
	row := &store.MailSettings{Host: set.Host, Port: set.Port, Security: set.Security, Username: set.Username, From: set.From, Practice: set.Practice}
	if password != nil {
		if err := CheckPassword(*password); err != nil {
			return err
		}
		if *password != "" {
			sealed, err := s.secrets.Seal([]byte(*password))
			if err != nil {
				return err
			}
			row.Password = sealed
		}
	}
	return s.st.SetMailSettings(ctx, row, password == nil)
}

// load returns the settings and the password to sign in with.
func (s *Service) load(ctx context.Context) (Settings, string, error) {
	m, err := s.st.MailSettings(ctx)
	if errors.Is(err, model.ErrNotFound) || err == nil && m.Host == "" {
		return Settings{}, "", ErrNotConfigured
	}
	if err != nil {
		return Settings{}, "", err
	}
	set := settingsOf(m)
	if s.opts.EnvPassword != "" {
		return set, s.opts.EnvPassword, nil
	}
	if m.Password == nil {
		return set, "", nil
	}
	pw, err := s.secrets.Open(m.Password)
	if err != nil {
		return Settings{}, "", err
	}
	return set, string(pw), nil
}

// Configured reports whether email is set up.
func (s *Service) Configured(ctx context.Context) bool {
	set, _, err := s.Settings(ctx)
	return err == nil && set.Configured()
}

// Practice returns the practice's name for mail, or "" if email is not
// set up.
func (s *Service) Practice(ctx context.Context) string {
	set, _, _ := s.Settings(ctx)
	return set.Practice
}

// Enqueue queues m to be sent by Run, without waiting. It refuses when
// email is not set up (ErrNotConfigured) or the queue is full
// (ErrQueueFull, logged).
func (s *Service) Enqueue(ctx context.Context, m Message) error {
	if !s.Configured(ctx) {
		return ErrNotConfigured
	}
	select {
	case s.queue <- m:
		return nil
	default:
		s.log.Error("mail not queued: the send queue is full", "kind", m.Kind, "queue", cap(s.queue))
		return ErrQueueFull
	}
}

// Send sends m now and returns the outcome, within the send timeout. The
// console's test email uses it, so the person who pressed the button
// reads the outcome.
func (s *Service) Send(ctx context.Context, m Message) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	set, pw, err := s.load(ctx)
	if err == nil {
		err = s.send(ctx, set, pw, m)
	}
	s.record(m, err)
	return err
}

// Run sends queued mail until ctx ends.
func (s *Service) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-s.queue:
			s.Send(ctx, m)
		}
	}
}

// record keeps the last result and logs a failure at ERROR (the server's
// log handler rate-limits repeats).
func (s *Service) record(m Message, err error) {
	r := Result{At: time.Now().UnixMilli(), Kind: m.Kind, OK: err == nil}
	if err != nil {
		r.Error = Explain(err)
		s.log.Error("mail not sent", "kind", m.Kind, "recipients", len(m.To), "err", err)
	} else {
		s.log.Info("mail sent", "kind", m.Kind, "recipients", len(m.To))
	}
	s.mu.Lock()
	s.last = r
	s.mu.Unlock()
}

// Last returns the result of the last send since start.
func (s *Service) Last() Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Queued returns how many mails wait to be sent.
func (s *Service) Queued() int { return len(s.queue) }

func (m Message) String() string { return fmt.Sprintf("%s mail to %d", m.Kind, len(m.To)) }
