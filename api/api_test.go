package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/internal/apitest"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/store"
)

func TestBadRequests(t *testing.T) {
	f := apitest.New(t, "dan")
	for name, tc := range map[string]struct {
		body, ctype string
		want        int
	}{
		"not json":      {"{", "application/json", 400},
		"unknown field": {`{"username":"dan","password":"x","admin":true}`, "application/json", 400},
		"form post":     {"username=dan", "application/x-www-form-urlencoded", 415},
		"huge":          {`{"username":"` + strings.Repeat("a", 8000) + `"}`, "application/json", 413},
	} {
		res, err := http.Post(f.Srv.URL+"/api/v1/login", tc.ctype, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if res.StatusCode != tc.want || apitest.ErrCode(out) == "" {
			t.Errorf("%s: %d %v, want %d with an error code", name, res.StatusCode, out, tc.want)
		}
	}
}

func TestDeviceRegistration(t *testing.T) {
	f := apitest.New(t, "erin")
	uid := f.Users["erin"].ID
	d1, d2 := apitest.NewTestDevice(), apitest.NewTestDevice()

	tok := f.Login("erin")
	// A list signed by a key that is not the new device's is refused.
	forged := apitest.SignedList(uid, 1, d1, d1.Listed())
	forged.Sig[0] ^= 1
	if code, out := f.Do("POST", "/api/v1/devices", tok, map[string]any{"name": "x", "list": forged}); code != 400 || apitest.ErrCode(out) != "bad_device_list" {
		t.Fatalf("forged list: %d %v", code, out)
	}
	if code, out := f.Do("POST", "/api/v1/devices", tok, map[string]any{"name": "phone", "list": apitest.SignedList(uid, 1, d1, d1.Listed())}); code != 201 {
		t.Fatalf("register first device: %d %v", code, out)
	}
	// The session is now bound to the device, and cannot register another.
	if _, out := f.Do("GET", "/api/v1/me", tok, nil); int64(out["device"].(float64)) != d1.ID {
		t.Fatalf("session device = %v, want %d", out["device"], d1.ID)
	}
	if code, _ := f.Do("POST", "/api/v1/devices", tok, map[string]any{"name": "again", "list": apitest.SignedList(uid, 2, d2, d1.Listed(), d2.Listed())}); code != 409 {
		t.Fatalf("second registration on one session: %d", code)
	}

	tok2 := f.Login("erin")
	// A list that drops the existing device is refused: the server only
	// accepts lists that keep every active device.
	if code, out := f.Do("POST", "/api/v1/devices", tok2, map[string]any{"name": "laptop", "list": apitest.SignedList(uid, 2, d2, d2.Listed())}); code != 409 || apitest.ErrCode(out) != "conflict" {
		t.Fatalf("list without the first device: %d %v", code, out)
	}
	// A stale version is refused too.
	if code, _ := f.Do("POST", "/api/v1/devices", tok2, map[string]any{"name": "laptop", "list": apitest.SignedList(uid, 1, d2, d1.Listed(), d2.Listed())}); code != 409 {
		t.Fatalf("stale version: %d", code)
	}
	// A second device is only requested; d1 approves it.
	if code, out := f.AddDevice(uid, tok2, d2, tok, d1, 2, d1.Listed(), d2.Listed()); code != 200 {
		t.Fatalf("register second device: %d %v", code, out)
	}
	code, out := f.Do("GET", "/api/v1/keys/"+apitest.Itoa(uid), tok2, nil)
	if code != 200 {
		t.Fatalf("keys: %d %v", code, out)
	}
	active := out["active"].([]any)
	list := out["list"].(map[string]any)
	if len(active) != 2 || list["version"].(float64) != 2 || len(list["devices"].([]any)) != 2 {
		t.Fatalf("keys after two registrations: %v", out)
	}
	if code, _ := f.Do("GET", "/api/v1/keys/999", tok2, nil); code != 404 {
		t.Fatalf("keys of an unknown user: %d", code)
	}
	if _, ok := out["inactive"]; ok {
		t.Fatalf("an active user's keys say inactive: %v", out)
	}
}

// The keys of a disabled user list no active device and say why, so an app
// can tell "account off" from "no device yet".
func TestKeysOfInactiveUser(t *testing.T) {
	f := apitest.New(t, "fay", "gus")
	tok := f.Login("fay")
	if err := f.Store.SetUserState(context.Background(), f.Users["gus"].ID, model.StateDisabled); err != nil {
		t.Fatal(err)
	}
	code, out := f.Do("GET", "/api/v1/keys/"+apitest.Itoa(f.Users["gus"].ID), tok, nil)
	if code != 200 || out["inactive"] != true || len(out["active"].([]any)) != 0 {
		t.Fatalf("keys of a disabled user: %d %v", code, out)
	}
}

func TestConfig(t *testing.T) {
	f := apitest.New(t, "cfg")
	if err := f.Store.SetPolicy(context.Background(), map[string]string{"inactivity_lock": "2m", "quick_messages": "A|B"}); err != nil {
		t.Fatal(err)
	}
	code, out := f.Do("GET", "/api/v1/config", f.Login("cfg"), nil)
	pol, _ := out["policy"].(map[string]any)
	if code != 200 || pol["inactivity_lock_ms"].(float64) != 120000 || pol["retention_ms"].(float64) != 7*24*3600*1000 || len(out["quick_messages"].([]any)) != 2 {
		t.Fatalf("config: %d %v", code, out)
	}
	if code, _ := f.Do("GET", "/api/v1/config", "", nil); code != 401 {
		t.Fatalf("config without a session: %d", code)
	}
}

// TestConfigPractice checks the practice's name the apps print: absent
// with none set, the email settings' name once email is set up, and the
// policy's practice_name over it.
func TestConfigPractice(t *testing.T) {
	f := apitest.New(t, "cfgp")
	ctx := context.Background()
	tok := f.Login("cfgp")
	practice := func() any {
		t.Helper()
		code, out := f.Do("GET", "/api/v1/config", tok, nil)
		if code != 200 {
			t.Fatalf("config: %d %v", code, out)
		}
		return out["practice"]
	}
	if got := practice(); got != nil {
		t.Fatalf("practice with none set: %v", got)
	}
	// Email settings with the host cleared (email off) name nobody.
	if err := f.Store.SetMailSettings(ctx, &store.MailSettings{Practice: "Old Name"}, false); err != nil {
		t.Fatal(err)
	}
	if got := practice(); got != nil {
		t.Fatalf("practice with email off: %v", got)
	}
	if err := f.Store.SetMailSettings(ctx, &store.MailSettings{Host: "smtp.example.org", Port: 587, Security: "starttls", From: "messages@example.org", Practice: "Riverside Practice"}, false); err != nil {
		t.Fatal(err)
	}
	if got := practice(); got != "Riverside Practice" {
		t.Fatalf("practice from the email settings: %v", got)
	}
	if err := f.Store.SetPolicy(ctx, map[string]string{"practice_name": "Riverside Family Practice"}); err != nil {
		t.Fatal(err)
	}
	if got := practice(); got != "Riverside Family Practice" {
		t.Fatalf("practice from the policy: %v", got)
	}
}
