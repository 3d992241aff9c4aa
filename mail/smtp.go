package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/textproto"
	"os"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// smtpSend delivers m through the server in s, signing in when a username
// is set. Connecting, TLS and signing in are one step and sending another,
// so that a failure says which went wrong.
func smtpSend(ctx context.Context, s Settings, password string, m Message) error {
	// Every step of the conversation within what is left of ctx's time.
	// (go-mail's own dialer, not one of ours: it does implicit TLS only
	// when it dials itself, and only then signs in as over TLS.)
	timeout := DefaultTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	opts := []gomail.Option{gomail.WithPort(s.Port), gomail.WithTimeout(timeout), gomail.WithHELO("curbside"),
		gomail.WithTLSConfig(&tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12})}
	switch s.Security {
	case SecurityTLS:
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSPolicy(gomail.TLSMandatory))
	case SecuritySTARTTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	switch {
	case s.Username == "":
	case s.Security == SecurityNone:
		// Only to this machine (Settings.Check), where a password in
		// the clear crosses no network; the automatic choice would
		// refuse PLAIN and LOGIN without TLS.
		opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc),
			gomail.WithUsername(s.Username), gomail.WithPassword(password))
	default:
		// The strongest mechanism the server offers over TLS.
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(s.Username), gomail.WithPassword(password))
	}
	c, err := gomail.NewClient(s.Host, opts...)
	if err != nil {
		return &sendErr{step: stepConnect, err: err}
	}
	msg := gomail.NewMsg()
	if err := msg.FromFormat(s.Practice, s.From); err != nil {
		return &sendErr{step: stepFrom, err: err}
	}
	if err := msg.To(m.To...); err != nil {
		return &sendErr{step: stepRecipient, err: err}
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, m.Body)
	if err := c.DialWithContext(ctx); err != nil {
		return &sendErr{step: stepConnect, err: err}
	}
	defer c.Close()
	if err := c.Send(msg); err != nil {
		step := stepSend
		var se *gomail.SendError
		if errors.As(err, &se) {
			switch se.Reason {
			case gomail.ErrSMTPMailFrom:
				step = stepFrom
			case gomail.ErrSMTPRcptTo:
				step = stepRecipient
			}
		}
		return &sendErr{step: step, err: err}
	}
	return nil
}

// Steps of an SMTP send, for Explain.
const (
	stepConnect   = "connect"
	stepFrom      = "from"
	stepRecipient = "recipient"
	stepSend      = "send"
)

// sendErr is a send that failed at step.
type sendErr struct {
	step string
	err  error
}

func (e *sendErr) Error() string { return "smtp " + e.step + ": " + e.err.Error() }
func (e *sendErr) Unwrap() error { return e.err }

// Explain says in words an administrator understands why a send failed,
// from the kind of the error (never its text, which may carry what the
// mail server said).
func Explain(err error) string {
	var tp *textproto.Error
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var ce *tls.CertificateVerificationError
	var ne net.Error
	var se *sendErr
	step := ""
	if errors.As(err, &se) {
		step = se.step
	}
	switch {
	case errors.Is(err, ErrNotConfigured):
		return "Email is not set up yet."
	case errors.Is(err, ErrQueueFull):
		return "Too many emails are waiting to be sent; try again in a few minutes."
	case errors.As(err, &tp) && step == stepConnect && (tp.Code == 535 || tp.Code == 534 || tp.Code == 530 || tp.Code == 454):
		return "The mail server refused the username or password. Check them and save again."
	case errors.As(err, &ue), errors.As(err, &he), errors.As(err, &ce):
		return "The mail server's certificate could not be verified. Check the host name, or ask your mail provider."
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "The mail server did not answer in time. Check the host, port and security."
	case step == stepConnect && isDial(err):
		return "The mail server could not be reached. Check the host and port."
	case step == stepConnect:
		return "The connection to the mail server failed. Check the port and security (STARTTLS is usually port 587, TLS port 465)."
	case step == stepFrom:
		return "The mail server refused the from address. Use an address your mail provider lets you send from."
	case step == stepRecipient:
		return "The mail server refused the recipient's address. Check the email address in the directory."
	}
	return "The email could not be sent. The server's log has the details."
}

func isDial(err error) bool {
	var oe *net.OpError
	var de *net.DNSError
	return errors.As(err, &de) || errors.As(err, &oe) && oe.Op == "dial"
}
