package api_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"testing"

	"github.com/curbside-health/curbside/devicecmd"
	"github.com/curbside-health/curbside/internal/apitest"
	"github.com/curbside-health/curbside/protocol"
)

func TestResumeDevice(t *testing.T) {
	f := apitest.New(t, "ruth", "sam")
	uid := f.Users["ruth"].ID
	d := apitest.NewTestDevice()
	tok := f.Login("ruth")
	if code, out := f.Do("POST", "/api/v1/devices", tok, map[string]any{"name": "browser", "list": apitest.SignedList(uid, 1, d, d.Listed())}); code != 201 {
		t.Fatalf("register: %d %v", code, out)
	}
	sharePath := "/api/v1/devices/" + apitest.Itoa(d.ID) + "/share"
	pin := map[string]any{"proof": make([]byte, 32)}
	code, out := f.Do("POST", sharePath, tok, pin)
	share, _ := out["share"].(string)
	if code != 200 || len(share) != 44 {
		t.Fatalf("share: %d %v", code, out)
	}
	if _, again := f.Do("POST", sharePath, tok, pin); again["share"] != share {
		t.Fatal("the share changed between two reads")
	}

	// The session expires; ruth signs in again on the same browser.
	tok2 := f.Login("ruth")
	path := "/api/v1/devices/" + apitest.Itoa(d.ID)
	if code, _ := f.Do("POST", path+"/resume", tok2, map[string]any{"sig": make([]byte, 64)}); code != 400 {
		t.Fatalf("resume without a challenge: %d", code)
	}
	_, ch := f.Do("POST", path+"/challenge", tok2, nil)
	nonce := apitest.DecodeB64(t, ch["nonce"].(string))
	// A signature by another key is refused, and uses up the challenge.
	other := apitest.NewTestDevice()
	if code, _ := f.Do("POST", path+"/resume", tok2, map[string]any{"sig": ed25519.Sign(other.Sign, protocol.ResumeBytes(uid, d.ID, nonce))}); code != 403 {
		t.Fatalf("resume with another key: %d", code)
	}
	if code, _ := f.Do("POST", path+"/resume", tok2, map[string]any{"sig": ed25519.Sign(d.Sign, protocol.ResumeBytes(uid, d.ID, nonce))}); code != 400 {
		t.Fatalf("reusing a spent challenge: %d", code)
	}
	_, ch = f.Do("POST", path+"/challenge", tok2, nil)
	nonce = apitest.DecodeB64(t, ch["nonce"].(string))
	if code, out := f.Do("POST", path+"/resume", tok2, map[string]any{"sig": ed25519.Sign(d.Sign, protocol.ResumeBytes(uid, d.ID, nonce))}); code != 200 {
		t.Fatalf("resume: %d %v", code, out)
	}
	if _, me := f.Do("GET", "/api/v1/me", tok2, nil); int64(me["device"].(float64)) != d.ID {
		t.Fatalf("after resume the session has device %v", me["device"])
	}
	if _, out := f.Do("POST", sharePath, tok2, pin); out["share"] != share {
		t.Fatal("the resumed device got a different share")
	}
	// Nobody else can resume ruth's device.
	if code, _ := f.Do("POST", path+"/challenge", f.Login("sam"), nil); code != 404 {
		t.Fatalf("another user's challenge: %d", code)
	}
	// A revoked device has no share and cannot be resumed.
	if err := f.Store.RevokeDevice(context.Background(), d.ID); err != nil {
		t.Fatal(err)
	}
	if code, _ := f.Do("POST", path+"/challenge", f.Login("ruth"), nil); code != 404 {
		t.Fatalf("challenge for a revoked device: %d", code)
	}
}

func TestCommandKeyIsStable(t *testing.T) {
	f := apitest.New(t, "kim")
	tok := f.Login("kim")
	_, a := f.Do("GET", "/api/v1/config", tok, nil)
	// A second API over the same store (a restart) publishes the same key.
	k, err := devicecmd.New(f.Store).PublicKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.StdEncoding.EncodeToString(k); got != a["command_key"] {
		t.Fatalf("command key changed: %s vs %v", got, a["command_key"])
	}
}
