package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/console"
	"github.com/curbside-health/curbside/internal/apitest"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
	"github.com/curbside-health/curbside/store"
)

// TestCreateUserAndAcceptInvitation follows an account from the console to
// its first sign-in: created with no password, the link refuses a password
// the policy does not allow, sets one once, and cannot be used again.
func TestCreateUserAndAcceptInvitation(t *testing.T) {
	f, tokens := apitest.NewConsole(t)
	adm := tokens[model.LevelAdmin]
	gid, _ := f.Store.CreateGroup(context.Background(), "Nurses")
	code, out := f.Do("POST", "/api/v1/admin/users", adm, map[string]any{"username": "nina", "display": "Nina Nurse", "role": "staff",
		"email": "nina@example.org", "groups": []int64{gid}})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, out)
	}
	url := out["invitation"].(map[string]any)["url"].(string)
	if !strings.HasPrefix(url, f.Srv.URL+"/welcome#invite=") {
		t.Fatalf("link %q is not on the server's origin", url)
	}
	tok := apitest.TokenOf(t, url)
	// Without a password the account cannot sign in yet.
	if code, _ := f.Do("POST", "/api/v1/login", "", map[string]string{"username": "nina", "password": "anything at all 1"}); code != 401 {
		t.Fatalf("sign-in before the password is set: %d", code)
	}
	ninaID := apitest.Itoa(int64(out["user"].(map[string]any)["id"].(float64)))
	code, out = f.Do("POST", "/api/v1/invitations/show", "", map[string]string{"token": tok})
	if code != 200 || out["invitation"].(map[string]any)["kind"] != "reset" || out["invitation"].(map[string]any)["username"] != "nina" {
		t.Fatalf("show: %d %v", code, out)
	}
	// Her first password: the welcome page greets a new colleague.
	if out["invitation"].(map[string]any)["new_account"] != true {
		t.Fatalf("show: a never-used account is not new_account: %v", out)
	}
	// The policy is enforced at acceptance.
	f.Do("PUT", "/api/v1/admin/policy", adm, map[string]any{"values": map[string]string{"password_min_length": "16", "password_classes": "3"}})
	for _, pw := range []string{"short", "all lower case letters", "ALLUPPERandlowercase"} {
		code, out = f.Do("POST", "/api/v1/invitations/accept", "", map[string]string{"token": tok, "password": pw})
		if code != 400 || apitest.ErrCode(out) != string(protocol.CodeWeakPassword) {
			t.Fatalf("weak password %q: %d %v", pw, code, out)
		}
	}
	code, out = f.Do("POST", "/api/v1/invitations/accept", "", map[string]string{"token": tok, "password": "Nina's 2nd password!"})
	if code != 200 {
		t.Fatalf("accept: %d %v", code, out)
	}
	if code, _ := f.Do("POST", "/api/v1/login", "", map[string]string{"username": "nina", "password": "Nina's 2nd password!"}); code != 200 {
		t.Fatalf("sign-in after accepting: %d", code)
	}
	code, out = f.Do("POST", "/api/v1/invitations/accept", "", map[string]string{"token": tok, "password": "Another pass 3rd!!"})
	if code != http.StatusGone || apitest.ErrCode(out) != string(protocol.CodeInvitationGone) {
		t.Fatalf("second use: %d %v", code, out)
	}
	// Once she has signed in, a reset link replaces a password in use.
	code, out = f.Do("POST", "/api/v1/admin/users/"+ninaID+"/password", adm, nil)
	if code != 200 {
		t.Fatalf("reset: %d %v", code, out)
	}
	code, out = f.Do("POST", "/api/v1/invitations/show", "", map[string]string{"token": apitest.TokenOf(t, out["invitation"].(map[string]any)["url"].(string))})
	if code != 200 || out["invitation"].(map[string]any)["new_account"] != false {
		t.Fatalf("show after a reset of a used account: %d %v", code, out)
	}
	g, _ := f.Store.GroupByID(context.Background(), gid)
	if len(g.Members) != 1 || g.Members[0].Username != "nina" {
		t.Fatalf("group members %v", g.Members)
	}
	// Only owners make admins.
	code, _ = f.Do("POST", "/api/v1/admin/users", adm, map[string]any{"username": "ada", "display": "Ada", "role": "staff", "admin_level": "admin"})
	if code != http.StatusForbidden {
		t.Fatalf("admin making an admin: %d", code)
	}
	code, _ = f.Do("POST", "/api/v1/admin/users", tokens[model.LevelOwner], map[string]any{"username": "ada", "display": "Ada", "role": "staff", "admin_level": "admin"})
	if code != http.StatusCreated {
		t.Fatalf("owner making an admin: %d", code)
	}
	for _, bad := range []map[string]any{
		{"username": "nina", "display": "Dup", "role": "staff"},
		{"username": "bad name", "display": "X", "role": "staff"},
		{"username": "zed", "display": "", "role": "staff"},
		{"username": "zed", "display": "Zed", "role": "nurse"},
		{"username": "zed", "display": "Zed", "role": "staff", "email": "not-an-address"},
		{"username": "zed", "display": "Zed", "role": "staff", "groups": []int64{999}},
	} {
		if code, out := f.Do("POST", "/api/v1/admin/users", adm, bad); code < 400 || code >= 500 || apitest.ErrCode(out) == "" {
			t.Errorf("bad user %v: %d %v", bad, code, out)
		}
	}
}

// TestNewAccountInvitation: an invitation that leaves the username to the
// person creates the account on acceptance, in the invited groups.
func TestNewAccountInvitation(t *testing.T) {
	f, tokens := apitest.NewConsole(t)
	code, out := f.Do("POST", "/api/v1/admin/invitations", tokens[model.LevelAdmin], map[string]any{"display": "Pat Patient", "role": "patient"})
	if code != http.StatusCreated {
		t.Fatalf("invite: %d %v", code, out)
	}
	tok := apitest.TokenOf(t, out["invitation"].(map[string]any)["url"].(string))
	if code, out = f.Do("POST", "/api/v1/invitations/accept", "", map[string]string{"token": tok, "password": apitest.TestPassword}); code != 400 {
		t.Fatalf("no username: %d %v", code, out)
	}
	if code, out = f.Do("POST", "/api/v1/invitations/accept", "", map[string]string{"token": tok, "username": "sam", "password": apitest.TestPassword}); code != 409 {
		t.Fatalf("a taken username: %d %v", code, out)
	}
	if code, out = f.Do("POST", "/api/v1/invitations/accept", "", map[string]string{"token": tok, "username": "pat", "password": apitest.TestPassword}); code != 200 {
		t.Fatalf("accept: %d %v", code, out)
	}
	u, err := f.Store.UserByName(context.Background(), "pat")
	if err != nil || u.Role != "patient" || u.Display != "Pat Patient" {
		t.Fatalf("pat: %+v %v", u, err)
	}
	// Listing shows it used; revoking a used one is a conflict.
	_, out = f.Do("GET", "/api/v1/admin/invitations", tokens[model.LevelAdmin], nil)
	inv := out["invitations"].([]any)[0].(map[string]any)
	if inv["status"] != "used" {
		t.Fatalf("status %v", inv["status"])
	}
	if code, _ := f.Do("DELETE", "/api/v1/admin/invitations/"+apitest.Itoa(int64(inv["id"].(float64))), tokens[model.LevelAdmin], nil); code != 409 {
		t.Fatalf("revoking a used invitation: %d", code)
	}
	if code, out := f.Do("POST", "/api/v1/invitations/show", "", map[string]string{"token": "not-a-real-token"}); code != 404 || apitest.ErrCode(out) != string(protocol.CodeInvitation) {
		t.Fatalf("unknown token: %d %v", code, out)
	}
}

// TestImportCSV imports a file with a bad row both ways: "all" imports
// nothing and says so; "valid" imports the good rows; each error names its
// line, counting a quoted field that spans two lines.
func TestImportCSV(t *testing.T) {
	f, tokens := apitest.NewConsole(t)
	adm := tokens[model.LevelAdmin]
	f.Store.CreateGroup(context.Background(), "Nurses")
	csv := "username,display,role,email,groups\n" +
		"ann,Ann One,staff,ann@example.org,Nurses\n" +
		"\"bob\",\"Bob\nTwo lines\",external,,\n" +
		"sam,Sam Again,staff,,\n" + // line 5: exists already
		"cy,Cy,doctor,,\n" + // line 6: bad role
		"dee,Dee,patient,,Nope\n" // line 7: unknown group
	imp := func(mode string) console.ImportResult {
		code, body := f.Raw("POST", "/api/v1/admin/import?mode="+mode, adm, "text/csv", csv)
		if code != 200 {
			t.Fatalf("import %s: %d %s", mode, code, body)
		}
		var res console.ImportResult
		json.Unmarshal([]byte(body), &res)
		return res
	}
	res := imp("all")
	if res.Imported != 0 || res.Failed != 3 || !strings.HasPrefix(res.Summary, "Nothing was imported") {
		t.Fatalf("mode all: %+v", res)
	}
	lines := map[int]string{}
	for _, r := range res.Rows {
		lines[r.Line] = r.Error
	}
	if !strings.Contains(lines[5], "already exists") || !strings.Contains(lines[6], "role") || !strings.Contains(lines[7], "Nope") || len(lines) != 5 {
		t.Fatalf("row errors by line: %v", lines)
	}
	if _, err := f.Store.UserByName(context.Background(), "ann"); err == nil {
		t.Fatal("mode all imported ann despite bad rows")
	}
	res = imp("valid")
	if res.Imported != 2 || res.Failed != 3 || !strings.HasPrefix(res.Summary, "Only the good rows") {
		t.Fatalf("mode valid: %+v", res)
	}
	for _, r := range res.Rows {
		if r.OK != (r.InvitationURL != "") {
			t.Fatalf("row %+v: an imported row has a link, a failed one none", r)
		}
	}
	g, _ := f.Store.GroupByName(context.Background(), "Nurses")
	if len(g.Members) != 1 || g.Members[0].Username != "ann" {
		t.Fatalf("Nurses: %v", g.Members)
	}
	for name, body := range map[string]string{
		"no header":      "",
		"unknown column": "username,display,role,shoe_size\n",
		"missing role":   "username,display\n",
		"broken quote":   "username,display,role\n\"x,y,staff\n",
	} {
		if code, b := f.Raw("POST", "/api/v1/admin/import?mode=all", adm, "text/csv", body); code != 400 {
			t.Errorf("%s: %d %s", name, code, b)
		}
	}
	if code, _ := f.Raw("POST", "/api/v1/admin/import?mode=all", adm, "text/csv", strings.Repeat("x", console.MaxImportBytes+10)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized file: %d", code)
	}
	if code, _ := f.Raw("POST", "/api/v1/admin/import?mode=some", adm, "text/csv", csv); code != 400 {
		t.Errorf("unknown mode: %d", code)
	}
}

// TestImportReportsEveryProblemOfARow: a row with several mistakes names
// them all, so one round of fixes is enough.
func TestImportReportsEveryProblemOfARow(t *testing.T) {
	f, tokens := apitest.NewConsole(t)
	csv := "username,display,role,email,groups\n" +
		"bad name!,,doctor,not-an-address,Nope;Nada\n"
	code, body := f.Raw("POST", "/api/v1/admin/import?mode=all", tokens[model.LevelAdmin], "text/csv", csv)
	if code != 200 {
		t.Fatalf("import: %d %s", code, body)
	}
	var res console.ImportResult
	json.Unmarshal([]byte(body), &res)
	if len(res.Rows) != 1 {
		t.Fatalf("rows: %+v", res.Rows)
	}
	msg := res.Rows[0].Error
	for _, want := range []string{"username", "display", "role", "email", `"Nope"`, `"Nada"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("the row's error %q does not mention %s", msg, want)
		}
	}
}

// TestOffboard: one request ends sessions, revokes devices and disables the
// account, and the audit log says when.
func TestOffboard(t *testing.T) {
	f, tokens := apitest.NewConsole(t)
	sam := f.Users["sam"]
	dev := apitest.NewTestDevice()
	f.Do("POST", "/api/v1/devices", tokens["sam"], map[string]any{"name": "phone", "list": apitest.SignedList(sam.ID, 1, dev, dev.Listed())})
	code, out := f.Do("POST", "/api/v1/admin/users/"+apitest.Itoa(sam.ID)+"/offboard", tokens[model.LevelAdmin], nil)
	if code != 200 || out["revoked_devices"].(float64) != 1 || out["revoked_sessions"].(float64) != 1 {
		t.Fatalf("offboard: %d %v", code, out)
	}
	if code, _ := f.Do("GET", "/api/v1/me", tokens["sam"], nil); code != 401 {
		t.Fatalf("sam's session after offboarding: %d", code)
	}
	// The right password of a disabled account is answered as a wrong one.
	if code, out := f.Do("POST", "/api/v1/login", "", map[string]string{"username": "sam", "password": apitest.TestPassword}); code != http.StatusUnauthorized || apitest.ErrCode(out) != "bad_login" {
		t.Fatalf("sam signing in after offboarding: %d %v", code, out)
	}
	d, _ := f.Store.DeviceByID(context.Background(), dev.Listed().ID)
	if d.State != store.DeviceRevoked {
		t.Fatalf("device state %s", d.State)
	}
	// The account's entry, written with its disabling, says what that
	// transaction did and how many devices were left to wipe; each wipe
	// follows with its own entry.
	var n int
	f.Store.ReadDB().QueryRow(`SELECT count(*) FROM audit WHERE action = 'user.offboard' AND target = ?
		AND detail LIKE '%"devices_to_wipe":1%' AND detail LIKE '%"sessions_ended":1%'`, auth.UserTarget(sam.ID)).Scan(&n)
	if n != 1 {
		t.Fatalf("%d offboarding audit entries", n)
	}
	f.Store.ReadDB().QueryRow(`SELECT count(*) FROM audit WHERE action = 'device.wipe' AND target = ? AND seq > (SELECT seq FROM audit WHERE action = 'user.offboard')`,
		auth.DeviceTarget(dev.Listed().ID)).Scan(&n)
	if n != 1 {
		t.Fatalf("%d device.wipe entries after the offboarding", n)
	}
	// The last owner cannot be offboarded, disabled or demoted.
	own := f.Users[model.LevelOwner]
	for _, req := range []struct{ method, path string }{
		{"POST", "/api/v1/admin/users/" + apitest.Itoa(own.ID) + "/offboard"},
	} {
		if code, _ := f.Do(req.method, req.path, tokens[model.LevelOwner], nil); code != http.StatusForbidden {
			t.Fatalf("owner offboarding themselves: %d", code)
		}
	}
	if code, _ := f.Do("POST", "/api/v1/admin/users/"+apitest.Itoa(own.ID)+"/state", tokens[model.LevelAdmin], map[string]string{"state": "disabled"}); code != http.StatusForbidden {
		t.Fatalf("an admin disabling the owner: %d", code)
	}
}

// TestHelpdeskLimits: helpdesk resets passwords and clears lockouts of
// ordinary users but cannot edit them or touch administrators.
func TestHelpdeskLimits(t *testing.T) {
	f, tokens := apitest.NewConsole(t)
	hd := tokens[model.LevelHelpdesk]
	sam := apitest.Itoa(f.Users["sam"].ID)
	if code, out := f.Do("POST", "/api/v1/admin/users/"+sam+"/password", hd, nil); code != 200 || out["invitation"] == nil {
		t.Fatalf("helpdesk reset: %d %v", code, out)
	}
	if code, _ := f.Do("POST", "/api/v1/admin/users/"+sam+"/unlock", hd, nil); code != 200 {
		t.Fatalf("helpdesk unlock: %d", code)
	}
	if code, _ := f.Do("POST", "/api/v1/admin/users/"+apitest.Itoa(f.Users[model.LevelAdmin].ID)+"/password", hd, nil); code != http.StatusForbidden {
		t.Fatalf("helpdesk resetting an admin: %d", code)
	}
	if code, _ := f.Do("PATCH", "/api/v1/admin/users/"+sam, hd, map[string]string{"display": "X"}); code != http.StatusForbidden {
		t.Fatalf("helpdesk editing: %d", code)
	}
}

// TestGroupsAPI: subgroups through the console, and a loop refused.
func TestGroupsAPI(t *testing.T) {
	f, tokens := apitest.NewConsole(t)
	adm := tokens[model.LevelAdmin]
	code, out := f.Do("POST", "/api/v1/admin/groups", adm, map[string]any{"name": "Nursing", "description": "All nurses"})
	if code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	parent := int64(out["group"].(map[string]any)["id"].(float64))
	code, out = f.Do("POST", "/api/v1/admin/groups", adm, map[string]any{"name": "Nights", "parent": parent})
	child := int64(out["group"].(map[string]any)["id"].(float64))
	// The six-year log keeps what was done to which group, not its name (a
	// group's name can say more about its patients than the log needs).
	for _, e := range apitest.MFAAuditRows(t, f.Store) {
		if strings.Contains(e.Detail, "Nursing") || strings.Contains(e.Detail, "Nights") {
			t.Fatalf("the audit entry %s %s holds a group's name: %s", e.Action, e.Target, e.Detail)
		}
	}
	f.Do("POST", "/api/v1/admin/groups/"+apitest.Itoa(child)+"/members", adm, map[string]any{"add": []int64{f.Users["sam"].ID}})
	_, out = f.Do("GET", "/api/v1/admin/groups/"+apitest.Itoa(parent), adm, nil)
	if m := out["group"].(map[string]any)["members"].([]any); len(m) != 1 {
		t.Fatalf("Nursing has %d members through Nights", len(m))
	}
	if code, _ := f.Do("PATCH", "/api/v1/admin/groups/"+apitest.Itoa(parent), adm, map[string]any{"parent": child}); code != 409 {
		t.Fatalf("a loop: %d", code)
	}
	if code, _ := f.Do("POST", "/api/v1/admin/groups", adm, map[string]any{"name": "nursing"}); code != 409 {
		t.Fatalf("a duplicate name: %d", code)
	}
	if code, _ := f.Do("POST", "/api/v1/admin/groups/"+apitest.Itoa(child)+"/members", adm, map[string]any{"add": []int64{424242}}); code != 404 {
		t.Fatalf("an unknown member: %d", code)
	}
}

// TestDisplayNameAuditedAsChanged: the six-year log records that a
// person's display name or email changed, never the name or address
// itself, whether it is made at creation or changed later; the directory
// has the name.
func TestDisplayNameAuditedAsChanged(t *testing.T) {
	f, tokens := apitest.NewConsole(t)
	adm := tokens[model.LevelAdmin]
	code, out := f.Do("POST", "/api/v1/admin/users", adm, map[string]any{"username": "quinn", "display": "Quinn Hospicecare", "role": "patient", "email": "quinn.first@example.org"})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, out)
	}
	id := apitest.Itoa(int64(out["user"].(map[string]any)["id"].(float64)))
	if code, out := f.Do("PATCH", "/api/v1/admin/users/"+id, adm, map[string]string{"display": "Quinn Oncologyward", "email": "quinn.second@example.org"}); code != 200 {
		t.Fatalf("update: %d %v", code, out)
	}
	rows := apitest.MFAAuditRows(t, f.Store)
	for _, e := range rows {
		for _, leak := range []string{"Hospicecare", "Oncologyward", "quinn.first", "quinn.second"} {
			if strings.Contains(e.Detail, leak) {
				t.Fatalf("the audit entry %s %s holds %q: %s", e.Action, e.Target, leak, e.Detail)
			}
		}
	}
	upd := apitest.FindAudit(rows, "user.update", `"display"`)
	if upd == nil {
		t.Fatalf("no user.update entry for the display name: %v", rows)
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(upd.Detail), &d); err != nil {
		t.Fatal(err)
	}
	if d["display"] != "changed" || d["email"] != "changed" {
		t.Fatalf("user.update detail %s, want display and email \"changed\"", upd.Detail)
	}
	if u, _ := f.Store.UserByName(context.Background(), "quinn"); u.Display != "Quinn Oncologyward" {
		t.Fatalf("the directory has %q", u.Display)
	}
}
