package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestAttackMailedLinkHost: a console user who may mail a reset link
// (helpdesk and up) sends the request with a Host of their choosing. The
// mail goes out from the practice's own address to the person the
// directory names, so a link to another host would be a phishing mail
// the practice signed; the link must name the server's own address
// whatever the request said.
func TestAttackMailedLinkHost(t *testing.T) {
	mp := startMailpit(t)
	ts, token := emailServer(t)
	ts.setupEmail(t, token, mp, smtpPass)
	ts.addUser(t, "paul", "staff")
	ts.setEmail(t, token, "paul", "paul@example.org")
	_, users, _ := bearer(t, "GET", ts.URL+"/api/v1/admin/users?q=paul", token, nil)
	paul := int64(users["users"].([]any)[0].(map[string]any)["id"].(float64))
	code, ans, raw := bearer(t, "POST", fmt.Sprintf("%s/api/v1/admin/users/%d/password", ts.URL, paul), token, nil)
	if code != 200 {
		t.Fatalf("reset: %d %s", code, raw)
	}
	inv := ans["invitation"].(map[string]any)
	link := inv["url"].(string)
	tok := link[strings.Index(link, "#invite=")+len("#invite="):]

	body, _ := json.Marshal(map[string]any{"token": tok})
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/admin/invitations/%d/email", ts.URL, int64(inv["id"].(float64))), bytes.NewReader(body))
	req.Host = "curbside-login.evil.example"
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("send by email: %d %s", res.StatusCode, out)
	}
	m := mp.await(t, "paul@example.org", "new password")
	if strings.Contains(m.Text, "evil.example") || !strings.Contains(m.Text, ts.URL+"/welcome#invite="+tok) {
		t.Fatalf("the mailed link does not name the server's own address:\n%s", m.Text)
	}
}
