package console

import (
	"net/http"

	"github.com/curbside-health/curbside/auth"
	"github.com/curbside-health/curbside/internal/web"
	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

func (a *Console) policyRoutes() []web.Route {
	return []web.Route{
		{Pattern: "GET /api/v1/admin/policy", Access: web.Admin, Func: a.getPolicy},
		{Pattern: "PUT /api/v1/admin/policy", Access: web.Admin, Func: a.putPolicy},
	}
}

// policyHelp describes each policy key for the console: the kind of input
// and a sentence on what it does and where it is enforced.
var policyHelp = map[string][2]string{
	"password_min_length":  {"int", "Fewest characters in a new password (checked by the server whenever a password is set)."},
	"password_classes":     {"int", "How many of lower case, upper case, digits and symbols a new password must mix (1-4)."},
	"lockout_threshold":    {"int", "Failed sign-ins in a row with one username before each further try must wait: 30 seconds at first, doubling after every further failure. Nobody is locked out: a command-line client already set up signs in at once."},
	"lockout_cooldown":     {"duration", "The longest wait between sign-in tries after failures, e.g. 15m."},
	"session_idle":         {"duration", "A server session unused this long ends (automatic logoff), e.g. 12h."},
	"session_max":          {"duration", "A server session ends this long after sign-in, used or not."},
	"inactivity_lock":      {"duration", "Apps lock and drop decrypted messages from memory after this long without use, e.g. 5m."},
	"pin_required":         {"bool", "Apps must be protected with a PIN."},
	"pin_max_attempts":     {"int", "Wrong PINs in a row, counted by the server, after which a browser device is erased (its key is deleted and the device wiped); its person then signs in with the password and sets it up again."},
	"retention":            {"duration", "Undelivered messages, attachments and message metadata are deleted after this long (default 168h, 7 days)."},
	"attachment_max_bytes": {"int", "Largest attachment in bytes; the server refuses larger uploads."},
	"attachment_types":     {"list", "File types people may attach, as MIME patterns such as image/*."},
	"offline_grace":        {"duration", "How long after each unlock a browser may open its history without reaching the server (default 0: off). While it is on, the PIN alone protects a copied profile: see the note below."},
	"quick_messages":       {"list", "The organisation's quick replies, offered in every app."},
	"practice_name":        {"text", "The practice's name as people know it, printed at the top of every conversation someone prints or saves as a PDF. Empty: the name in the email settings, if email is set up."},
	"mfa_required":         {"roles", "Roles (admin, staff, external, patient) and administrator levels (owner, admin, helpdesk) that must sign in with a second factor."},
	"admin_networks":       {"cidrs", "Address ranges the admin console may be used from, such as 192.168.1.0/24; empty allows any."},
	"audit_retention":      {"duration", "Audit entries are kept this long (default 6 years)."},
	"invitation_ttl":       {"duration", "An invitation or password reset link works this long."},

	"attachment_quota_bytes": {"int", "Bytes of attachments one person may have stored at once; uploads past it are refused until older ones expire."},
	"attachment_quota_count": {"int", "Attachments one person may have stored at once."},
	"attachment_rate_bytes":  {"int", "Bytes of attachments one person may upload per minute, after a burst of as much."},
	"blob_grace":             {"duration", "An uploaded attachment that no sent message uses is deleted this long after upload (default 1h); attachments in messages keep the retention age."},
	"queue_max_per_device":   {"int", "Undelivered messages one device may have waiting; new messages to it are refused, with a clear error to the sender, until it connects."},
	"sessions_max_per_user":  {"int", "Sign-ins one person may have open at once; past it a new sign-in is refused until one ends."},
	"devices_max_per_user":   {"int", "Devices one person may set up (at most 32)."},
	"patient_urgent":         {"bool", "Patients may mark messages Urgent, which alerts through do-not-disturb (the server refuses it otherwise)."},
	"patient_ack":            {"bool", "Patients may ask for acknowledgement of their messages (the server refuses it otherwise)."},

	"email_nudge_after":     {"duration", "Someone with a message waiting this long and no device connected gets one email saying only that a message waits (0 turns these emails off)."},
	"alert_disk_free_bytes": {"int", "Owners and admins are emailed when free space in the data directory falls below this many bytes (0 turns the alert off)."},
	"push_interval":         {"duration", "A device that is offline gets at most one notification (Web Push) per this long, or until it connects again, however many messages wait (default 15m)."},
	"key_rotation":          {"duration", "Each device makes a new encryption key when its key is this old, and deletes the old one once the retention time has passed (default 168h, 7 days; 0 turns rotation off). A key stolen from a device later opens nothing sealed before that."},
	"push_urgent_dnd":       {"bool", "Urgent messages send a notification even while the person is on Do not disturb; other messages wait until they connect."},
}

type policyFieldOut struct {
	Key     string `json:"key"`
	Value   string `json:"value"`
	Default string `json:"default"`
	Kind    string `json:"kind"`
	Help    string `json:"help"`
	// Note says what the setting's current value means, where that needs
	// more than its help (offline_grace: what a copied profile then yields).
	Note string `json:"note,omitempty"`
}

func (a *Console) writePolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := a.Store.LoadPolicy(r.Context())
	if err != nil {
		return protocol.Internal(err)
	}
	values := map[string]string{}
	fields := []policyFieldOut{}
	for _, k := range model.PolicyKeys() {
		v, _ := p.Get(k)
		def, _ := model.DefaultPolicy.Get(k)
		values[k] = v
		f := policyFieldOut{Key: k, Value: v, Default: def, Kind: policyHelp[k][0], Help: policyHelp[k][1]}
		if k == "offline_grace" {
			f.Note = graceCost(p.OfflineGrace, p.PINMaxAttempts)
		}
		fields = append(fields, f)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"values": values, "fields": fields})
}

func (a *Console) getPolicy(w http.ResponseWriter, r *http.Request) error { return a.writePolicy(w, r) }

func (a *Console) putPolicy(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Values map[string]string `json:"values"`
	}
	if err := web.DecodeJSON(w, r, 64<<10, &req); err != nil {
		return err
	}
	if len(req.Values) == 0 {
		return badRequest("values: give at least one policy key and its new value")
	}
	old, err := a.Store.LoadPolicy(r.Context())
	if err != nil {
		return protocol.Internal(err)
	}
	next := old
	for k, v := range req.Values {
		if err := next.Set(k, v); err != nil {
			return protocol.Errorf(protocol.CodeBadRequest, "%v", err)
		}
	}
	if ip := web.ClientIP(r); !next.AdminAllowed(ip) {
		return protocol.Errorf(protocol.CodeConflict, "admin_networks would not include your own address %s, which would lock you out of the console; add it first", ip)
	}
	changes := map[string]any{}
	for k := range req.Values {
		from, _ := old.Get(k)
		to, _ := next.Get(k)
		if from != to {
			changes[k] = map[string]string{"from": from, "to": to}
		}
	}
	if err := a.Store.SetPolicy(auth.Record(r, "policy.update", "policy", changes), req.Values); err != nil {
		return protocol.Internal(err)
	}
	return a.writePolicy(w, r)
}
