package mail

import (
	"fmt"
	"net"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Connection security for SMTP.
const (
	SecuritySTARTTLS = "starttls" // plain connection upgraded with STARTTLS, which must succeed (port 587)
	SecurityTLS      = "tls"      // TLS from the first byte, "implicit TLS" (port 465)
	SecurityNone     = "none"     // no encryption: only to a server on this machine (loopback)
)

// Size limits of the settings' fields.
const (
	MaxHostLen     = 253
	MaxUsernameLen = 256
	MaxPasswordLen = 512 // bytes
	MaxFromLen     = 254
	MaxPracticeLen = 100
)

// Settings is the SMTP configuration as the console shows and edits it.
// The password is apart: it is written, never read back.
type Settings struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Security string `json:"security"`
	Username string `json:"username"`
	From     string `json:"from"`
	Practice string `json:"practice"`
}

// Configured reports whether email is set up: a host is named.
func (s *Settings) Configured() bool { return s.Host != "" }

// FieldError is a setting that is not valid, with words that say the fix.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, a ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, a...)}
}

// Check trims the settings and checks them. Empty settings (no host) turn
// email off and are valid.
func (s *Settings) Check() error {
	s.Host = strings.TrimSpace(s.Host)
	s.Username = strings.TrimSpace(s.Username)
	s.From = strings.TrimSpace(s.From)
	s.Practice = strings.TrimSpace(s.Practice)
	s.Security = strings.TrimSpace(s.Security)
	if s.Host == "" {
		*s = Settings{}
		return nil
	}
	if len(s.Host) > MaxHostLen || strings.ContainsAny(s.Host, " /:@[]") && net.ParseIP(strings.Trim(s.Host, "[]")) == nil {
		return fieldErr("host", "want the mail server's name or address, such as smtp.example-practice.org")
	}
	if s.Port < 1 || s.Port > 65535 {
		return fieldErr("port", "want a port from 1 to 65535 (587 for STARTTLS, 465 for TLS)")
	}
	switch s.Security {
	case SecuritySTARTTLS, SecurityTLS:
	case SecurityNone:
		if !loopback(s.Host) {
			return fieldErr("security", "no encryption is allowed only for a mail server on this machine (localhost); choose STARTTLS or TLS")
		}
	default:
		return fieldErr("security", "want starttls, tls or none")
	}
	if len(s.Username) > MaxUsernameLen || !printable(s.Username) {
		return fieldErr("username", "at most %d characters, without line breaks", MaxUsernameLen)
	}
	addr, err := mail.ParseAddress(s.From)
	if err != nil || addr.Address != s.From || len(s.From) > MaxFromLen {
		return fieldErr("from", "want the address mail is sent from, such as messages@example-practice.org")
	}
	if s.Practice == "" || utf8.RuneCountInString(s.Practice) > MaxPracticeLen || !printable(s.Practice) {
		return fieldErr("practice", "want the practice's name as people know it, at most %d characters", MaxPracticeLen)
	}
	return nil
}

// CheckPassword checks an SMTP password before it is stored.
func CheckPassword(pw string) error {
	if len(pw) > MaxPasswordLen {
		return fieldErr("password", "at most %d bytes", MaxPasswordLen)
	}
	if !printable(pw) {
		return fieldErr("password", "must not contain line breaks or other control characters")
	}
	return nil
}

// loopback reports whether host names this machine.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
