package mail

import (
	"errors"
	"strings"
	"testing"
)

func TestSettingsCheck(t *testing.T) {
	good := Settings{Host: "smtp.example.org", Port: 587, Security: SecuritySTARTTLS, Username: "u", From: "messages@example.org", Practice: "Elm Street Clinic"}
	for _, tc := range []struct {
		name  string
		edit  func(*Settings)
		field string // "" when valid
	}{
		{"good", func(*Settings) {}, ""},
		{"implicit TLS", func(s *Settings) { s.Security, s.Port = SecurityTLS, 465 }, ""},
		{"none on loopback", func(s *Settings) { s.Host, s.Security = "127.0.0.1", SecurityNone }, ""},
		{"none on localhost", func(s *Settings) { s.Host, s.Security = "localhost", SecurityNone }, ""},
		{"none on ::1", func(s *Settings) { s.Host, s.Security = "::1", SecurityNone }, ""},
		{"none elsewhere", func(s *Settings) { s.Security = SecurityNone }, "security"},
		{"none on a LAN address", func(s *Settings) { s.Host, s.Security = "192.168.1.5", SecurityNone }, "security"},
		{"unknown security", func(s *Settings) { s.Security = "ssl" }, "security"},
		{"port 0", func(s *Settings) { s.Port = 0 }, "port"},
		{"port too big", func(s *Settings) { s.Port = 70000 }, "port"},
		{"host with a scheme", func(s *Settings) { s.Host = "smtp://x" }, "host"},
		{"host too long", func(s *Settings) { s.Host = strings.Repeat("a", MaxHostLen+1) }, "host"},
		{"from not an address", func(s *Settings) { s.From = "Clinic" }, "from"},
		{"from with a name", func(s *Settings) { s.From = "Clinic <m@example.org>" }, "from"},
		{"no practice", func(s *Settings) { s.Practice = " " }, "practice"},
		{"practice with a line break", func(s *Settings) { s.Practice = "A\r\nBcc: x@y.org" }, "practice"},
		{"practice too long", func(s *Settings) { s.Practice = strings.Repeat("é", MaxPracticeLen+1) }, "practice"},
		{"username with a line break", func(s *Settings) { s.Username = "a\nb" }, "username"},
		{"username too long", func(s *Settings) { s.Username = strings.Repeat("u", MaxUsernameLen+1) }, "username"},
	} {
		s := good
		tc.edit(&s)
		err := s.Check()
		var fe *FieldError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field):
			t.Errorf("%s: got %v, want an error on %s", tc.name, err, tc.field)
		}
	}
	// No host turns email off, whatever else is given.
	off := Settings{Port: 99999, From: "x"}
	if err := off.Check(); err != nil || off.Configured() || off != (Settings{}) {
		t.Fatalf("empty host: %v %+v", err, off)
	}
}

func TestCheckPassword(t *testing.T) {
	if err := CheckPassword("s3cret pass phrase"); err != nil {
		t.Fatal(err)
	}
	if CheckPassword(strings.Repeat("p", MaxPasswordLen+1)) == nil {
		t.Fatal("a password past the limit was taken")
	}
	if CheckPassword("a\r\nb") == nil {
		t.Fatal("a password with a line break was taken")
	}
}
