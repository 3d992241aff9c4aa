package api_test

import (
	"crypto/rand"
	"encoding/json"
	"testing"

	"github.com/curbside-health/curbside/internal/apitest"
	"github.com/curbside-health/curbside/protocol"
)

func nonce() []byte {
	b := make([]byte, protocol.ApprovalNonceSize)
	rand.Read(b)
	return b
}

// A second device of a user is a request until one of the user's active
// devices approves it: it is in no list, its session has no device, and
// only the approving device's counter-signature makes it a device.
func TestDeviceRequestApproval(t *testing.T) {
	f := apitest.New(t, "erin", "finn")
	uid := f.Users["erin"].ID
	d1, d2 := apitest.NewTestDevice(), apitest.NewTestDevice()
	tok1 := f.Login("erin")
	if code, out := f.Do("POST", "/api/v1/devices", tok1, map[string]any{"name": "phone", "list": apitest.SignedList(uid, 1, d1, d1.Listed())}); code != 201 {
		t.Fatalf("first device: %d %v", code, out)
	}
	tok2 := f.Login("erin")
	self := apitest.SignedList(uid, 2, d2, d1.Listed(), d2.Listed())
	// Without a commitment the request cannot be approved, so it is refused.
	if code, out := f.Do("POST", "/api/v1/devices", tok2, map[string]any{"name": "laptop", "list": self}); code != 409 {
		t.Fatalf("request without a commitment: %d %v", code, out)
	}
	nN, nE := nonce(), nonce()
	code, out := f.Do("POST", "/api/v1/devices", tok2, map[string]any{"name": "laptop", "list": self, "commit": protocol.ApprovalCommit(nN)})
	if code != 202 || out["state"] != "pending" || int64(out["device"].(float64)) != d2.ID {
		t.Fatalf("request: %d %v", code, out)
	}
	// Pending: the session has no device, the keys are unchanged, and the
	// relay and the device routes are closed to it.
	if _, out := f.Do("GET", "/api/v1/me", tok2, nil); out["device"].(float64) != 0 {
		t.Fatalf("a pending device's session is bound: %v", out)
	}
	_, keys := f.Do("GET", "/api/v1/keys/"+apitest.Itoa(uid), f.Login("finn"), nil)
	if act := keys["active"].([]any); len(act) != 1 || keys["list"].(map[string]any)["version"].(float64) != 1 {
		t.Fatalf("keys while a device waits: %v", keys)
	}
	if code, out := f.Do("POST", "/api/v1/devices/"+apitest.Itoa(d2.ID)+"/share", tok2, map[string]any{"proof": make([]byte, 32)}); code != 404 || out["share"] != nil {
		t.Fatalf("share for a pending device: %d %v", code, out)
	}
	if code, _ := f.Do("GET", "/api/v1/devices/requests", tok2, nil); code != 403 {
		t.Fatalf("a pending device lists requests: %d", code)
	}
	// The existing device sees the request, with its keys and commitment.
	_, reqs := f.Do("GET", "/api/v1/devices/requests", tok1, nil)
	list := reqs["requests"].([]any)
	if len(list) != 1 || int64(list[0].(map[string]any)["id"].(float64)) != d2.ID || list[0].(map[string]any)["reveal"] != nil {
		t.Fatalf("requests: %v", reqs)
	}
	path := "/api/v1/devices/requests/" + apitest.Itoa(d2.ID)
	// Nothing can be revealed before the approver answered, and the
	// approval needs both nonces first.
	if code, _ := f.Do("POST", "/api/v1/devices/me/request/reveal", tok2, map[string]any{"nonce": nN}); code != 409 {
		t.Fatalf("reveal before the answer: %d", code)
	}
	if code, _ := f.Do("POST", path+"/approve", tok1, map[string]any{"list": apitest.SignedList(uid, 2, d1, d1.Listed(), d2.Listed())}); code != 409 {
		t.Fatalf("approval before the exchange: %d", code)
	}
	if code, out := f.Do("POST", path+"/answer", tok1, map[string]any{"nonce": nE}); code != 200 {
		t.Fatalf("answer: %d %v", code, out)
	}
	_, mine := f.Do("GET", "/api/v1/devices/me/request", tok2, nil)
	if got := apitest.DecodeB64(t, mine["request"].(map[string]any)["approver_nonce"].(string)); string(got) != string(nE) {
		t.Fatalf("the new device does not get the approver's nonce: %v", mine)
	}
	// A nonce that does not open the commitment is refused.
	if code, _ := f.Do("POST", "/api/v1/devices/me/request/reveal", tok2, map[string]any{"nonce": nonce()}); code != 409 {
		t.Fatalf("reveal of another nonce: %d", code)
	}
	if code, out := f.Do("POST", "/api/v1/devices/me/request/reveal", tok2, map[string]any{"nonce": nN}); code != 200 {
		t.Fatalf("reveal: %d %v", code, out)
	}
	// The new device cannot sign itself in, even with the exchange done.
	if code, out := f.Do("POST", path+"/approve", tok1, map[string]any{"list": self}); code != 400 || apitest.ErrCode(out) != "bad_device_list" {
		t.Fatalf("a self-signed list as approval: %d %v", code, out)
	}
	if code, out := f.Do("POST", path+"/approve", tok1, map[string]any{"list": apitest.SignedList(uid, 2, d1, d1.Listed(), d2.Listed())}); code != 200 {
		t.Fatalf("approve: %d %v", code, out)
	}
	_, mine = f.Do("GET", "/api/v1/devices/me/request", tok2, nil)
	if mine["state"] != "active" || int64(mine["device"].(float64)) != d2.ID {
		t.Fatalf("after approval: %v", mine)
	}
	_, keys = f.Do("GET", "/api/v1/keys/"+apitest.Itoa(uid), tok1, nil)
	var got protocol.DeviceList
	raw, _ := json.Marshal(keys["list"])
	json.Unmarshal(raw, &got)
	if got.Version != 2 || got.Signer != d1.ID || len(got.Devices) != 2 || len(keys["active"].([]any)) != 2 {
		t.Fatalf("keys after approval: %v", keys)
	}
	rows := apitest.AuditRows(t, f.Store)
	for _, a := range []string{"device.request", "device.approve"} {
		if !apitest.HasAudit(rows, [4]string{a, "device:" + apitest.Itoa(d2.ID), "erin", "ok"}) {
			t.Errorf("no %s audit entry: %v", a, rows)
		}
	}
}

// Deny deletes the request: the waiting device learns it is gone and can
// never be approved.
func TestDeviceRequestDeny(t *testing.T) {
	f := apitest.New(t, "gil")
	uid := f.Users["gil"].ID
	d1, d2 := apitest.NewTestDevice(), apitest.NewTestDevice()
	tok1 := f.Login("gil")
	f.Do("POST", "/api/v1/devices", tok1, map[string]any{"name": "phone", "list": apitest.SignedList(uid, 1, d1, d1.Listed())})
	tok2 := f.Login("gil")
	if code, _ := f.Do("POST", "/api/v1/devices", tok2, map[string]any{"name": "laptop", "list": apitest.SignedList(uid, 2, d2, d1.Listed(), d2.Listed()), "commit": protocol.ApprovalCommit(nonce())}); code != 202 {
		t.Fatalf("request: %d", code)
	}
	if code, _ := f.Do("DELETE", "/api/v1/devices/requests/"+apitest.Itoa(d2.ID), tok1, nil); code != 200 {
		t.Fatalf("deny: %d", code)
	}
	if code, _ := f.Do("GET", "/api/v1/devices/me/request", tok2, nil); code != 404 {
		t.Fatalf("a denied request is still there: %d", code)
	}
	_, reqs := f.Do("GET", "/api/v1/devices/requests", tok1, nil)
	if len(reqs["requests"].([]any)) != 0 {
		t.Fatalf("requests after deny: %v", reqs)
	}
	if !apitest.HasAudit(apitest.AuditRows(t, f.Store), [4]string{"device.deny", "device:" + apitest.Itoa(d2.ID), "gil", "ok"}) {
		t.Error("no device.deny audit entry")
	}
}
