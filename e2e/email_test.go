package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/curbside-health/curbside/client"
	"github.com/curbside-health/curbside/server"
)

// smtpUser and smtpPass are what the test mail server accepts.
const (
	smtpUser = "curbside"
	smtpPass = "mail-pass-Q7"
)

// mailpit is a real SMTP server (axllent/mailpit) on loopback, whose
// HTTP API the tests read the delivered mail through.
type mailpit struct {
	SMTPPort int
	API      string
}

// mailpitBinary finds mailpit on PATH or in $(go env GOPATH)/bin. Without
// it the email tests are skipped, except under CI, where that is a
// failure: .ci/run installs it.
func mailpitBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "mailpit")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	const how = "mailpit is missing (run: go install github.com/axllent/mailpit@v1.33.1; .ci/run installs it)"
	if os.Getenv("CI") != "" {
		t.Fatalf("the email tests cannot run: %s", how)
	}
	t.Skipf("email tests skipped: %s", how)
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startMailpit starts mailpit with SMTP sign-in required (smtpUser,
// smtpPass; allowed without TLS because it is loopback) and stops it at
// the end of the test.
func startMailpit(t *testing.T) *mailpit {
	t.Helper()
	return startMailpitArgs(t, "--smtp-auth-allow-insecure")
}

// startMailpitArgs is startMailpit with SMTP sign-in required and extra
// arguments in place of allowing it without TLS.
func startMailpitArgs(t *testing.T, extra ...string) *mailpit {
	t.Helper()
	bin := mailpitBinary(t)
	dir := t.TempDir()
	auth := filepath.Join(dir, "smtp-auth")
	if err := os.WriteFile(auth, []byte(smtpUser+":"+smtpPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 { // a port taken meanwhile: try others
		mp := &mailpit{SMTPPort: freePort(t)}
		httpPort := freePort(t)
		mp.API = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
		logf, _ := os.Create(filepath.Join(dir, "mailpit.log"))
		cmd := exec.Command(bin, append([]string{"--smtp", fmt.Sprintf("127.0.0.1:%d", mp.SMTPPort), "--listen", fmt.Sprintf("127.0.0.1:%d", httpPort),
			"--smtp-auth-file", auth, "--database", filepath.Join(dir, "mailpit.db"), "--disable-version-check"}, extra...)...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			select {
			case <-exited:
			default:
				if res, err := http.Get(mp.API + "/api/v1/messages"); err == nil {
					res.Body.Close()
					if res.StatusCode == 200 {
						t.Cleanup(func() { cmd.Process.Kill(); <-exited; logf.Close() })
						return mp
					}
				}
				continue
			}
			break
		}
		cmd.Process.Kill()
		<-exited
		logf.Close()
	}
	b, _ := os.ReadFile(filepath.Join(dir, "mailpit.log"))
	t.Fatalf("mailpit did not start:\n%s", b)
	return nil
}

// mailOut is one delivered mail.
type mailOut struct {
	To      []string
	Subject string
	Text    string
	Raw     string // the whole message as sent, headers and all
}

// messages returns every mail delivered so far, oldest first.
func (mp *mailpit) messages(t *testing.T) []mailOut {
	t.Helper()
	var list struct {
		Messages []struct {
			ID string
		}
	}
	getJSON(t, mp.API+"/api/v1/messages?limit=500", &list)
	out := make([]mailOut, 0, len(list.Messages))
	for i := len(list.Messages) - 1; i >= 0; i-- {
		id := list.Messages[i].ID
		var m struct {
			To      []struct{ Address string }
			Subject string
			Text    string
		}
		getJSON(t, mp.API+"/api/v1/message/"+id, &m)
		res, err := http.Get(mp.API + "/api/v1/message/" + id + "/raw")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		mo := mailOut{Subject: m.Subject, Text: m.Text, Raw: string(raw)}
		for _, a := range m.To {
			mo.To = append(mo.To, a.Address)
		}
		out = append(out, mo)
	}
	return out
}

// to returns the mails delivered to addr whose subject contains subject.
func (mp *mailpit) to(t *testing.T, addr, subject string) []mailOut {
	t.Helper()
	var out []mailOut
	for _, m := range mp.messages(t) {
		if strings.Contains(m.Subject, subject) && strings.Contains(strings.Join(m.To, ","), addr) {
			out = append(out, m)
		}
	}
	return out
}

// await waits until a mail to addr with subject in its subject arrives.
func (mp *mailpit) await(t *testing.T, addr, subject string) mailOut {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if ms := mp.to(t, addr, subject); len(ms) > 0 {
			return ms[0]
		}
	}
	var subjects []string
	for _, m := range mp.messages(t) {
		subjects = append(subjects, fmt.Sprintf("%v %q", m.To, m.Subject))
	}
	t.Fatalf("no mail to %s about %q arrived; have %v", addr, subject, subjects)
	return mailOut{}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// bearer calls the API with a Bearer token and returns the status, the
// decoded answer and the raw body.
func bearer(t *testing.T, method, u, token string, body any) (int, map[string]any, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return res.StatusCode, out, string(raw)
}

// emailServer starts a server that checks for nudges and alerts every
// 200 ms, with an administrator root (address root@example.org) signed
// in; the second factor is not what these tests are about. It returns
// root's Bearer token.
func emailServer(t *testing.T) (*testServer, string) {
	t.Helper()
	ts := startServerWith(t, t.TempDir(), "127.0.0.1:0", func(c *server.Config) { c.CheckEvery = 200 * time.Millisecond })
	t.Cleanup(func() {
		if t.Failed() { // what the server said of mail and alerts
			b, _ := os.ReadFile(filepath.Join(ts.Data, "server.log"))
			for _, l := range strings.Split(string(b), "\n") {
				if strings.Contains(l, "mail") || strings.Contains(l, "alert") || strings.Contains(l, "nudge") {
					t.Log(l)
				}
			}
		}
	})
	ts.addUser(t, "root", "admin")
	if out, err := curbside(t, "", "policy", "set", "--data", ts.Data, "mfa_required="); err != nil {
		t.Fatalf("policy set: %v\n%s", err, out)
	}
	_, token := webLogin(t, ts, "root")
	ts.setEmail(t, token, "root", "root@example.org")
	return ts, token
}

// setEmail gives a user an email address in the directory.
func (ts *testServer) setEmail(t *testing.T, token, username, email string) {
	t.Helper()
	code, out, raw := bearer(t, "GET", ts.URL+"/api/v1/admin/users?q="+url.QueryEscape(username), token, nil)
	if code != 200 {
		t.Fatalf("users: %d %s", code, raw)
	}
	for _, u := range out["users"].([]any) {
		u := u.(map[string]any)
		if u["username"] == username {
			id := int64(u["id"].(float64))
			if code, _, raw := bearer(t, "PATCH", fmt.Sprintf("%s/api/v1/admin/users/%d", ts.URL, id), token, map[string]any{"email": email}); code != 200 {
				t.Fatalf("set email of %s: %d %s", username, code, raw)
			}
			return
		}
	}
	t.Fatalf("no user %s", username)
}

// setupEmail points the server at mp with the given password.
func (ts *testServer) setupEmail(t *testing.T, token string, mp *mailpit, pass string) map[string]any {
	t.Helper()
	code, out, raw := bearer(t, "PUT", ts.URL+"/api/v1/admin/email", token, map[string]any{
		"host": "127.0.0.1", "port": mp.SMTPPort, "security": "none", "username": smtpUser, "password": pass,
		"from": "messages@elm-street.example.org", "practice": "Elm Street Clinic",
	})
	if code != 200 {
		t.Fatalf("email settings: %d %s", code, raw)
	}
	if strings.Contains(raw, pass) {
		t.Fatalf("the settings' answer carries the password: %s", raw)
	}
	return out
}

var inviteLink = regexp.MustCompile(`http://[^\s]+/welcome#invite=([A-Za-z0-9_-]+)`)

// TestEmailSettingsAndInvitation: a wrong SMTP password is answered with
// words that say so; with the right one the test email arrives; "send by
// email" mails an invitation whose link signs the person up; the password
// is never in an answer or in the audit log.
func TestEmailSettingsAndInvitation(t *testing.T) {
	mp := startMailpit(t)
	ts, token := emailServer(t)

	ready := func() any {
		t.Helper()
		code, out, raw := bearer(t, "GET", ts.URL+"/api/v1/admin/email/ready", token, nil)
		if code != 200 {
			t.Fatalf("email ready: %d %s", code, raw)
		}
		return out["ready"]
	}
	if got := ready(); got != false {
		t.Fatalf("email ready before it is set up: %v", got)
	}
	out := ts.setupEmail(t, token, mp, "not-the-password")
	if got := ready(); got != true {
		t.Fatalf("email ready once set up: %v", got)
	}
	if out["password"] != "set" || out["password_source"] != "stored" {
		t.Fatalf("settings: %v", out)
	}
	code, ans, raw := bearer(t, "POST", ts.URL+"/api/v1/admin/email/test", token, map[string]any{})
	e, _ := ans["error"].(map[string]any)
	if code != http.StatusBadGateway || e["code"] != "mail_failed" || !strings.Contains(fmt.Sprint(e["message"]), "username or password") {
		t.Fatalf("test email with a wrong password: %d %s", code, raw)
	}
	if _, got, _ := bearer(t, "GET", ts.URL+"/api/v1/admin/email", token, nil); got["last"].(map[string]any)["ok"] != false {
		t.Fatalf("the last result does not show the failure: %v", got["last"])
	}

	ts.setupEmail(t, token, mp, smtpPass)
	if code, _, raw := bearer(t, "POST", ts.URL+"/api/v1/admin/email/test", token, map[string]any{}); code != 200 {
		t.Fatalf("test email: %d %s", code, raw)
	}
	test := mp.await(t, "root@example.org", "Test email")
	if !strings.Contains(test.Subject, "Elm Street Clinic") {
		t.Fatalf("test email subject: %q", test.Subject)
	}
	// Saving without a password keeps the stored one.
	code, _, raw = bearer(t, "PUT", ts.URL+"/api/v1/admin/email", token, map[string]any{
		"host": "127.0.0.1", "port": mp.SMTPPort, "security": "none", "username": smtpUser,
		"from": "messages@elm-street.example.org", "practice": "Elm Street Clinic",
	})
	if code != 200 {
		t.Fatalf("save without password: %d %s", code, raw)
	}
	if code, _, raw := bearer(t, "POST", ts.URL+"/api/v1/admin/email/test", token, map[string]any{"to": "second@example.org"}); code != 200 {
		t.Fatalf("test email after saving without a password: %d %s", code, raw)
	}
	mp.await(t, "second@example.org", "Test email")
	// Encryption off is refused for a server elsewhere.
	code, ans, _ = bearer(t, "PUT", ts.URL+"/api/v1/admin/email", token, map[string]any{
		"host": "smtp.example.org", "port": 25, "security": "none", "from": "m@example.org", "practice": "Elm Street Clinic",
	})
	if code != 400 || !strings.Contains(fmt.Sprint(ans["error"]), "security") {
		t.Fatalf("no encryption to a remote server: %d %v", code, ans)
	}

	// An invitation, sent by email to the address it names.
	code, ans, raw = bearer(t, "POST", ts.URL+"/api/v1/admin/invitations", token, map[string]any{
		"display": "Nora New", "email": "nora@example.org", "role": "staff"})
	if code != 201 {
		t.Fatalf("invitation: %d %s", code, raw)
	}
	inv := ans["invitation"].(map[string]any)
	link := inv["url"].(string)
	tok := link[strings.Index(link, "#invite=")+len("#invite="):]
	id := int64(inv["id"].(float64))
	if code, _, _ := bearer(t, "POST", fmt.Sprintf("%s/api/v1/admin/invitations/%d/email", ts.URL, id), token, map[string]any{"token": "x" + tok}); code != 404 {
		t.Fatalf("a wrong token was mailed: %d", code)
	}
	if code, _, raw := bearer(t, "POST", fmt.Sprintf("%s/api/v1/admin/invitations/%d/email", ts.URL, id), token, map[string]any{"token": tok}); code != 202 {
		t.Fatalf("send by email: %d %s", code, raw)
	}
	m := mp.await(t, "nora@example.org", "Elm Street Clinic")
	got := inviteLink.FindStringSubmatch(m.Text)
	if got == nil || got[1] != tok {
		t.Fatalf("the invitation mail does not carry the link:\n%s", m.Text)
	}
	accept := map[string]string{"token": got[1], "username": "nora", "display": "Nora New", "password": password}
	if code, out := postJSON(t, ts.URL+"/api/v1/invitations/accept", accept); code != 200 {
		t.Fatalf("sign-up through the mailed link: %d %v", code, out)
	}
	ts.device(t, "nora") // signs in

	// A reset link goes to the address in the directory.
	ts.addUser(t, "paul", "staff")
	ts.setEmail(t, token, "paul", "paul@example.org")
	_, users, _ := bearer(t, "GET", ts.URL+"/api/v1/admin/users?q=paul", token, nil)
	paul := int64(users["users"].([]any)[0].(map[string]any)["id"].(float64))
	code, ans, raw = bearer(t, "POST", fmt.Sprintf("%s/api/v1/admin/users/%d/password", ts.URL, paul), token, nil)
	if code != 200 {
		t.Fatalf("reset: %d %s", code, raw)
	}
	inv = ans["invitation"].(map[string]any)
	link = inv["url"].(string)
	tok = link[strings.Index(link, "#invite=")+len("#invite="):]
	if code, _, raw := bearer(t, "POST", fmt.Sprintf("%s/api/v1/admin/invitations/%d/email", ts.URL, int64(inv["id"].(float64))), token, map[string]any{"token": tok}); code != 202 {
		t.Fatalf("send reset by email: %d %s", code, raw)
	}
	if m := mp.await(t, "paul@example.org", "new password"); !strings.Contains(m.Text, tok) {
		t.Fatalf("the reset mail does not carry the link:\n%s", m.Text)
	}

	// Neither SMTP password is in the audit log or the settings' answer.
	_, _, auditRaw := bearer(t, "GET", ts.URL+"/api/v1/admin/audit?limit=200", token, nil)
	_, _, settingsRaw := bearer(t, "GET", ts.URL+"/api/v1/admin/email", token, nil)
	for _, pw := range []string{smtpPass, "not-the-password"} {
		if strings.Contains(auditRaw, pw) || strings.Contains(settingsRaw, pw) {
			t.Fatalf("an SMTP password reached the audit log or the settings' answer")
		}
	}
	if !strings.Contains(auditRaw, "email.settings") || !strings.Contains(auditRaw, "invitation.email") {
		t.Fatalf("the email changes are not in the audit log: %s", auditRaw)
	}
}

// TestEmailNudge: someone offline with a message waiting gets one email
// that names neither the sender nor anything of the message; no second
// one until they have connected again.
func TestEmailNudge(t *testing.T) {
	mp := startMailpit(t)
	ts, token := emailServer(t)
	ts.setupEmail(t, token, mp, smtpPass)
	ts.addUser(t, "alice", "staff")
	ts.addUser(t, "bob", "staff")
	ts.setEmail(t, token, "bob", "bob@example.org")
	if out, err := curbside(t, "", "policy", "set", "--data", ts.Data, "email_nudge_after=1s"); err != nil {
		t.Fatalf("policy set: %v\n%s", err, out)
	}
	a, b := ts.device(t, "alice"), ts.device(t, "bob")
	ca := connect(t, a)
	ctx := ctxT(t)
	const marker = "HEMOGLOBIN-7731 bed 12"
	if _, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: marker}); err != nil {
		t.Fatal(err)
	}
	nudge := mp.await(t, "bob@example.org", "message is waiting")
	if !strings.Contains(nudge.Text, ts.URL+"/") {
		t.Fatalf("the nudge has no link to the app:\n%s", nudge.Text)
	}
	// A second message, and several more checks: still one nudge.
	if _, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: marker + " again"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if n := len(mp.to(t, "bob@example.org", "message is waiting")); n != 1 {
		t.Fatalf("%d nudges before bob connected; want 1", n)
	}
	// Nobody is nudged while connected: alice has a socket open and
	// nothing waits for her; bob connects and receives both messages.
	cb := connect(t, b)
	ib := newInbox(t, cb)
	ib.waitFor("both messages", func(msgs []client.Incoming, _ []client.Event) bool { return len(msgs) >= 2 })
	cb.Close()
	<-cb.Done()
	time.Sleep(300 * time.Millisecond) // the disconnect is recorded
	if _, err := ca.Send(ctx, client.Outgoing{To: []int64{b.User().ID}, Text: marker + " third"}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); len(mp.to(t, "bob@example.org", "message is waiting")) < 2; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no second nudge after bob connected and went offline again")
		}
	}
	// No mail carries the message, the sender's name or username.
	for _, m := range mp.messages(t) {
		for _, bad := range []string{"HEMOGLOBIN", "Alice", "alice", "Bob Test"} {
			if strings.Contains(m.Raw, bad) {
				t.Fatalf("a mail (%q) carries %q:\n%s", m.Subject, bad, m.Raw)
			}
		}
	}
	if n := len(mp.to(t, "", "")); n != 2 {
		t.Fatalf("%d mails in all; want the 2 nudges to bob", n)
	}
}

// TestEmailAlerts: a low-disk threshold and a broken audit chain each
// mail the administrators once, and show in the console until cleared.
func TestEmailAlerts(t *testing.T) {
	mp := startMailpit(t)
	ts, token := emailServer(t)
	ts.setupEmail(t, token, mp, smtpPass)
	if out, err := curbside(t, "", "policy", "set", "--data", ts.Data, "alert_disk_free_bytes="+strconv.Itoa(1<<50)); err != nil {
		t.Fatalf("policy set: %v\n%s", err, out)
	}
	m := mp.await(t, "root@example.org", "disk is nearly full")
	if !strings.Contains(m.Text, "alert_disk_free_bytes") {
		t.Fatalf("disk alert:\n%s", m.Text)
	}
	_, out, _ := bearer(t, "GET", ts.URL+"/api/v1/admin/email", token, nil)
	if al, _ := out["alerts"].([]any); len(al) != 1 || al[0].(map[string]any)["key"] != "disk" {
		t.Fatalf("the console does not show the disk alert: %v", out["alerts"])
	}
	time.Sleep(time.Second) // five more checks
	if n := len(mp.to(t, "root@example.org", "disk is nearly full")); n != 1 {
		t.Fatalf("%d disk alerts; want 1 while the condition lasts", n)
	}
	if out, err := curbside(t, "", "policy", "set", "--data", ts.Data, "alert_disk_free_bytes=0"); err != nil {
		t.Fatalf("policy set: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, out, _ := bearer(t, "GET", ts.URL+"/api/v1/admin/email", token, nil)
		if al, _ := out["alerts"].([]any); len(al) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the disk alert did not clear: %v", out["alerts"])
		}
	}

	// An audit entry changed behind the server's back: the check at the
	// next start finds it and alerts.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(ts.Data, "curbside.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER audit_no_update`, `UPDATE audit SET detail = '{}' WHERE seq = 2`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	ts = ts.restart(t)
	m = mp.await(t, "root@example.org", "audit log does not verify")
	if !strings.Contains(m.Text, "entry 2") {
		t.Fatalf("audit alert:\n%s", m.Text)
	}
}

// TestEmailOverTLS: the real binary mails through mailpit over STARTTLS
// and over implicit TLS, each of which that mailpit requires, verifying
// mailpit's certificate against the roots in SSL_CERT_FILE (a CA of the
// test's own, as a practice trusting its mail relay's private CA would),
// and signing in with the password from CURBSIDE_SMTP_PASSWORD, which the
// console reports as from the environment and which is written nowhere in
// the data directory. A host name the certificate does not name is
// refused in the words for a certificate that cannot be verified.
func TestEmailOverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs mailpit and the real binary")
	}
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "smtp-cert.pem"), filepath.Join(dir, "smtp-key.pem")
	selfSigned(t, certPath, keyPath, "127.0.0.1")
	tlsFlags := []string{"--smtp-tls-cert", certPath, "--smtp-tls-key", keyPath}
	servers := map[string]*mailpit{
		"starttls": startMailpitArgs(t, append(tlsFlags, "--smtp-require-starttls")...),
		"tls":      startMailpitArgs(t, append(tlsFlags, "--smtp-require-tls")...),
	}

	data, addr := t.TempDir(), freeAddr(t)
	base := "http://" + addr
	startProcEnv(t, []string{"SSL_CERT_FILE=" + certPath, "CURBSIDE_SMTP_PASSWORD=" + smtpPass},
		data, filepath.Join(data, "server.log"), base, http.DefaultClient, "--listen", addr)
	ts := &testServer{URL: base, Data: data}
	ts.addUser(t, "root", "admin")
	if out, err := curbside(t, "", "policy", "set", "--data", data, "mfa_required="); err != nil {
		t.Fatalf("policy set: %v\n%s", err, out)
	}
	_, token := webLogin(t, ts, "root")
	ts.setEmail(t, token, "root", "root@example.org")
	// The settings carry no password: it comes from the environment.
	set := func(t *testing.T, host string, port int, security string) {
		t.Helper()
		code, out, raw := bearer(t, "PUT", base+"/api/v1/admin/email", token, map[string]any{
			"host": host, "port": port, "security": security, "username": smtpUser,
			"from": "messages@elm-street.example.org", "practice": "Elm Street Clinic",
		})
		if code != 200 || out["password_source"] != "env" {
			t.Fatalf("email settings: %d %s; want the password from the environment", code, raw)
		}
	}
	testMail := func(t *testing.T) (int, map[string]any, string) {
		t.Helper()
		return bearer(t, "POST", base+"/api/v1/admin/email/test", token, map[string]any{})
	}

	for _, security := range []string{"starttls", "tls"} {
		t.Run(security, func(t *testing.T) {
			mp := servers[security]
			set(t, "127.0.0.1", mp.SMTPPort, security)
			if code, _, raw := testMail(t); code != 200 {
				t.Fatalf("test email over %s: %d %s", security, code, raw)
			}
			m := mp.await(t, "root@example.org", "Test email")
			if !strings.Contains(m.Text, "Email is set up") {
				t.Fatalf("test email over %s:\n%s", security, m.Text)
			}
		})
	}

	t.Run("a name the certificate does not hold", func(t *testing.T) {
		set(t, "localhost", servers["starttls"].SMTPPort, "starttls")
		code, ans, raw := testMail(t)
		e, _ := ans["error"].(map[string]any)
		if code != http.StatusBadGateway || e["code"] != "mail_failed" || !strings.Contains(fmt.Sprint(e["message"]), "certificate could not be verified") {
			t.Fatalf("test email to a host the certificate does not name: %d %s", code, raw)
		}
	})

	scanForMarker(t, data, smtpPass)
}
