package api_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/internal/apitest"
)

// A device subscribes to Web Push, checks, and unsubscribes; what it sends
// is checked strictly, and only known push services over https are taken.
func TestPushSubscription(t *testing.T) {
	f := apitest.New(t, "ruth")
	d := apitest.NewTestDevice()
	tok := f.Login("ruth")
	if code, out := f.Do("POST", "/api/v1/devices", tok, map[string]any{"name": "phone", "list": apitest.SignedList(f.Users["ruth"].ID, 1, d, d.Listed())}); code != 201 {
		t.Fatalf("register: %d %v", code, out)
	}
	_, cfg := f.Do("GET", "/api/v1/config", tok, nil)
	vapid, _ := cfg["push"].(map[string]any)["vapid_key"].(string)
	if raw, err := base64.RawURLEncoding.DecodeString(vapid); err != nil || len(raw) != 65 || raw[0] != 4 {
		t.Fatalf("config's VAPID key %q is not an uncompressed P-256 key", vapid)
	}
	k, _ := ecdh.P256().GenerateKey(rand.Reader)
	p256dh := base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes())
	auth := base64.RawURLEncoding.EncodeToString(make([]byte, 16))
	sub := func(endpoint, p256dh, auth string) map[string]any {
		return map[string]any{"endpoint": endpoint, "expirationTime": nil, "keys": map[string]string{"p256dh": p256dh, "auth": auth}}
	}
	good := "https://fcm.googleapis.com/fcm/send/abc"
	for _, c := range []struct {
		name string
		body map[string]any
		code string
	}{
		{"plain http", sub("http://fcm.googleapis.com/fcm/send/abc", p256dh, auth), "push_refused"},
		{"not a push service", sub("https://intranet.example-practice.org/hook", p256dh, auth), "push_refused"},
		{"an inside address", sub("https://10.0.0.8/push", p256dh, auth), "push_refused"},
		{"loopback", sub("https://127.0.0.1/push", p256dh, auth), "push_refused"},
		{"too long", sub(good+strings.Repeat("x", 1100), p256dh, auth), "push_refused"},
		{"a key off the curve", sub(good, base64.RawURLEncoding.EncodeToString(append([]byte{4}, make([]byte, 64)...)), auth), "bad_request"},
		{"a short secret", sub(good, p256dh, base64.RawURLEncoding.EncodeToString(make([]byte, 8))), "bad_request"},
		{"not base64", sub(good, "!!", auth), "bad_request"},
	} {
		if code, out := f.Do("PUT", "/api/v1/devices/me/push", tok, c.body); apitest.ErrCode(out) != c.code || code < 400 {
			t.Errorf("%s: %d %v, want %s", c.name, code, out, c.code)
		}
	}
	if _, out := f.Do("GET", "/api/v1/devices/me/push", tok, nil); out["subscribed"] != false {
		t.Fatalf("a refused subscription was stored: %v", out)
	}
	if code, out := f.Do("PUT", "/api/v1/devices/me/push", tok, sub(good, p256dh, auth)); code != 200 || out["subscribed"] != true {
		t.Fatalf("subscribe: %d %v", code, out)
	}
	if _, out := f.Do("GET", "/api/v1/devices/me/push", tok, nil); out["subscribed"] != true {
		t.Fatalf("status: %v", out)
	}
	if code, out := f.Do("DELETE", "/api/v1/devices/me/push", tok, nil); code != 200 || out["subscribed"] != false {
		t.Fatalf("unsubscribe: %d %v", code, out)
	}
	if _, out := f.Do("GET", "/api/v1/devices/me/push", tok, nil); out["subscribed"] != false {
		t.Fatalf("after unsubscribing: %v", out)
	}
	// A session without a device has nothing to subscribe.
	if code, _ := f.Do("PUT", "/api/v1/devices/me/push", f.Login("ruth"), sub(good, p256dh, auth)); code != 403 {
		t.Fatalf("without a device: %d", code)
	}
}
