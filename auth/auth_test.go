package auth

import (
	"crypto/tls"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("s3cret-password")
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=47104,t=1,p=1$") {
		t.Fatalf("hash %q %v", h, err)
	}
	if ok, _ := CheckPassword(h, "s3cret-password"); !ok {
		t.Fatal("right password refused")
	}
	if ok, _ := CheckPassword(h, "s3cret-passwore"); ok {
		t.Fatal("wrong password accepted")
	}
	if _, err := CheckPassword("$argon2id$v=19$m=x", "a"); err == nil {
		t.Fatal("malformed hash accepted")
	}
	if CheckPasswordPolicy("short", 12) == nil || CheckPasswordPolicy("twelve chars", 12) != nil {
		t.Fatal("password length policy")
	}
}

func TestPasskeyRelyingParty(t *testing.T) {
	for _, c := range []struct {
		public, host   string
		tls            bool
		rpID, origin   string
		wantErrContain string
	}{
		{host: "localhost:8080", rpID: "localhost", origin: "http://localhost:8080"},
		{host: "chat.example.org", tls: true, rpID: "chat.example.org", origin: "https://chat.example.org"},
		{host: "127.0.0.1:8080", wantErrContain: "IP address"},
		{host: "[::1]:8080", wantErrContain: "IP address"},
		// Behind a proxy the Host header may be anything: the public URL wins.
		{public: "https://chat.example.org", host: "10.0.0.5:8080", rpID: "chat.example.org", origin: "https://chat.example.org"},
		{public: "https://chat.example.org:8443", host: "localhost", rpID: "chat.example.org", origin: "https://chat.example.org:8443"},
		{public: "https://192.0.2.7", host: "localhost", wantErrContain: "IP address"},
	} {
		a := &Auth{publicURL: c.public}
		r := httptest.NewRequest("GET", "/api/v1/me/passkeys/begin", nil)
		r.Host = c.host
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		wa, err := a.relyingParty(r)
		if c.wantErrContain != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErrContain) {
				t.Errorf("%+v: err %v", c, err)
			}
			continue
		}
		if err != nil || wa.Config.RPID != c.rpID || !slices.Equal(wa.Config.RPOrigins, []string{c.origin}) {
			t.Errorf("%+v: %v %+v", c, err, wa)
		}
	}
}
