package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/protocol"
)

// adminPost signs name in over HTTP and posts to a console route.
func adminPost(t *testing.T, ts *testServer, name, path string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"username": name, "password": password})
	res, err := http.Post(ts.URL+"/api/v1/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var lr struct{ Token string }
	json.NewDecoder(res.Body).Decode(&lr)
	res.Body.Close()
	req, _ := http.NewRequest("POST", ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+lr.Token)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("POST %s: %d", path, res.StatusCode)
	}
}

// closeCode waits for a connection to end and returns its close code.
func closeCode(t *testing.T, cn *client.Conn) websocket.StatusCode {
	t.Helper()
	return closeCodeWithin(t, cn, 30*time.Second)
}

// closeCodeWithin is closeCode with a bound of its own on the wait.
func closeCodeWithin(t *testing.T, cn *client.Conn, bound time.Duration) websocket.StatusCode {
	t.Helper()
	select {
	case <-cn.Done():
	case <-time.After(bound):
		t.Fatalf("the connection was not ended within %v", bound)
	}
	return websocket.CloseStatus(cn.Err())
}

// A device connected to the relay is disconnected at once when an admin
// locks it (4002: sign in again) or wipes it (4001: revoked).
func TestLockAndWipeDisconnect(t *testing.T) {
	ts := newTestServer(t)
	ts.addUser(t, "alice", "staff")
	ts.addUser(t, "root", "admin")
	if out, err := curbside(t, "", "policy", "set", "--data", ts.Data, "mfa_required="); err != nil {
		t.Fatalf("policy set: %v\n%s", err, out)
	}
	phone := ts.device(t, "alice")
	laptop := ts.device(t, "alice")
	cPhone, cLaptop := connect(t, phone), connect(t, laptop)

	adminPost(t, ts, "root", fmt.Sprintf("/api/v1/admin/devices/%d/lock", phone.DeviceID()))
	if code := closeCode(t, cPhone); code != protocol.CloseSessionEnded {
		t.Fatalf("lock closed the connection with %d (%v), want %d", code, cPhone.Err(), protocol.CloseSessionEnded)
	}
	// Its session is gone: it cannot reconnect without signing in again.
	ctx := ctxT(t)
	var ae *client.Error
	if _, err := phone.Connect(ctx); err == nil || !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Fatalf("reconnect after lock: %v", err)
	}
	// The laptop's connection is untouched.
	select {
	case <-cLaptop.Done():
		t.Fatalf("the other device was disconnected: %v", cLaptop.Err())
	default:
	}

	adminPost(t, ts, "root", fmt.Sprintf("/api/v1/admin/devices/%d/wipe", laptop.DeviceID()))
	if code := closeCode(t, cLaptop); code != protocol.CloseRevoked {
		t.Fatalf("wipe closed the connection with %d (%v), want %d", code, cLaptop.Err(), protocol.CloseRevoked)
	}
	cmd, err := laptop.WipeCommand(ctx)
	if err != nil || cmd == nil || cmd.Kind != protocol.CommandWipe || cmd.Device != laptop.DeviceID() {
		t.Fatalf("wipe command: %+v %v", cmd, err)
	}
}
