package auth_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/apitest"
)

func TestLoginAndSession(t *testing.T) {
	f := apitest.New(t, "alice")
	b, _ := json.Marshal(map[string]string{"username": "alice", "password": apitest.TestPassword})
	res, err := http.Post(f.Srv.URL+"/api/v1/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == auth.SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v: want HttpOnly and SameSite=Strict", cookie)
	}
	// The cookie authenticates a browser request.
	req, _ := http.NewRequest("GET", f.Srv.URL+"/api/v1/me", nil)
	req.AddCookie(cookie)
	res, _ = http.DefaultClient.Do(req)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("me with cookie: %d", res.StatusCode)
	}

	token := f.Login("alice")
	if code, out := f.Do("GET", "/api/v1/me", token, nil); code != 200 || out["user"].(map[string]any)["username"] != "alice" {
		t.Fatalf("me: %d %v", code, out)
	}
	if code, out := f.Do("GET", "/api/v1/me", "", nil); code != 401 || apitest.ErrCode(out) != "unauthorized" {
		t.Fatalf("me without a token: %d %v", code, out)
	}
	if code, _ := f.Do("GET", "/api/v1/me", "forged", nil); code != 401 {
		t.Fatalf("me with a forged token: %d", code)
	}
	if code, _ := f.Do("POST", "/api/v1/logout", token, nil); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := f.Do("GET", "/api/v1/me", token, nil); code != 401 {
		t.Fatalf("token still valid after logout: %d", code)
	}
	// The password hash never leaves the server.
	_, out := f.Do("GET", "/api/v1/users/alice", f.Login("alice"), nil)
	if b, _ := json.Marshal(out); bytes.Contains(b, []byte("argon2")) {
		t.Fatalf("user lookup leaks the hash: %s", b)
	}
}

func TestLockoutAfterFailures(t *testing.T) {
	f := apitest.New(t, "bob")
	// Five wrong passwords lock the account (the default threshold)...
	for i := range 5 {
		code, out := f.Do("POST", "/api/v1/login", "", map[string]string{"username": "bob", "password": "wrong password!"})
		want := "bad_login"
		if i == 4 {
			want = "locked"
		}
		if apitest.ErrCode(out) != want {
			t.Fatalf("attempt %d: %d %v, want %s", i+1, code, out, want)
		}
	}
	// ...and then even the right one is refused until the cooldown ends.
	code, out := f.Do("POST", "/api/v1/login", "", map[string]string{"username": "bob", "password": apitest.TestPassword})
	if code != http.StatusLocked || apitest.ErrCode(out) != "locked" {
		t.Fatalf("right password during lockout: %d %v", code, out)
	}
}

func TestLoginRateLimitPerAddress(t *testing.T) {
	f := apitest.New(t, "carol")
	f.Auth.SetLoginLimit(time.Hour, 0) // no attempt is earned back however slow the machine
	var last int
	var out map[string]any
	for range auth.DefaultLoginBurst + 1 {
		last, out = f.Do("POST", "/api/v1/login", "", map[string]string{"username": "nobody", "password": "whatever it is"})
	}
	if last != http.StatusTooManyRequests || apitest.ErrCode(out) != "rate_limited" {
		t.Fatalf("after %d attempts: %d %v", auth.DefaultLoginBurst+1, last, out)
	}
}

func TestWebLoginKeepsTokenInCookie(t *testing.T) {
	f := apitest.New(t, "web")
	code, out := f.Do("POST", "/api/v1/login", "", map[string]any{"username": "web", "password": apitest.TestPassword, "web": true})
	if code != 200 {
		t.Fatalf("web login: %d %v", code, out)
	}
	if _, has := out["token"]; has {
		t.Fatalf("a web login returned the token in the body: %v", out)
	}
}
