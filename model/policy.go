package model

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/curbside-health/curbside/protocol"
)

// Policy is the organisation's security policy. Zero values never reach
// callers: LoadPolicy fills defaults for keys that were never set.
type Policy struct {
	PasswordMinLength int           // characters
	LockoutThreshold  int           // failed sign-ins in a row before each further try waits
	LockoutCooldown   time.Duration // the longest wait between tries (the backoff's cap)
	Retention         time.Duration // undelivered ciphertext and message metadata live this long
	SessionIdle       time.Duration // a session unused this long ends
	SessionMax        time.Duration // a session ends this long after sign-in, used or not

	InactivityLock     time.Duration // clients lock and drop decrypted state after this long idle
	PINRequired        bool          // clients must set a PIN for quick unlock
	PINMaxAttempts     int           // wrong PINs in a row, counted by the server, before a browser device is wiped
	AttachmentMaxBytes int           // largest attachment, before encryption
	AttachmentTypes    []string      // MIME patterns clients may attach ("image/*")
	OfflineGrace       time.Duration // how long a device may open its local store without the server
	QuickMessages      []string      // the organisation's canned replies
	PracticeName       string        // the practice's name as people know it, at the top of every printed conversation; "": none

	PasswordClasses int           // of lower case, upper case, digits and symbols, how many a new password needs (1-4)
	MFARequired     []string      // roles and admin levels that must sign in with a second factor
	AdminNetworks   []string      // CIDR ranges the console may be used from; empty: any
	AuditRetention  time.Duration // audit entries are kept this long
	InvitationTTL   time.Duration // an invitation link works this long

	AttachmentQuotaBytes int           // bytes of unexpired attachments one user may store
	AttachmentQuotaCount int           // unexpired attachments one user may store
	AttachmentRateBytes  int           // bytes one user may upload per minute (after a burst of as much)
	BlobGrace            time.Duration // an uploaded attachment no message names is deleted this long after upload
	QueueMaxPerDevice    int           // undelivered items one device may have waiting before new messages to it are refused
	SessionsMaxPerUser   int           // sessions one user may hold at once before a new sign-in is refused
	DevicesMaxPerUser    int           // active devices one user may register
	PatientUrgent        bool          // patients may mark messages Urgent (protocol.FlagUrgent)
	PatientAck           bool          // patients may ask for acknowledgement (protocol.FlagAckRequested)

	EmailNudgeAfter    time.Duration // a user with a message waiting this long and no device connected is emailed once; 0: never
	AlertDiskFreeBytes int           // free bytes in the data directory below which administrators are alerted; 0: never

	PushInterval  time.Duration // an offline device is woken by Web Push at most once this long, or until it connects
	PushUrgentDND bool          // urgent messages wake a device even while its user is on do-not-disturb

	KeyRotation time.Duration // devices make a new encryption key when theirs is this old; 0: never
}

// MinKeyRotationGap is the shortest time the server lets pass between two
// rotations of one device's encryption key, when the policy's key_rotation
// is longer: a device that rotates more often is refused.
const MinKeyRotationGap = time.Hour

// KeyRotationGap returns the shortest time allowed between two rotations of
// one device's key: MinKeyRotationGap, or key_rotation when that is
// shorter and not 0.
func (p *Policy) KeyRotationGap() time.Duration {
	if p.KeyRotation > 0 && p.KeyRotation < MinKeyRotationGap {
		return p.KeyRotation
	}
	return MinKeyRotationGap
}

// MaxDevicesOfUser is the most active devices a user may have: a signed
// device list holds at most this many (protocol.MaxDevicesOfUser).
const MaxDevicesOfUser = protocol.MaxDevicesOfUser

// DefaultPolicy is the policy of a new installation.
var DefaultPolicy = Policy{
	PasswordMinLength: 12,
	LockoutThreshold:  5,
	LockoutCooldown:   15 * time.Minute,
	Retention:         7 * 24 * time.Hour,
	SessionIdle:       12 * time.Hour,
	SessionMax:        30 * 24 * time.Hour,

	InactivityLock:     5 * time.Minute,
	PINRequired:        true,
	PINMaxAttempts:     10,
	AttachmentMaxBytes: 25 << 20,
	AttachmentTypes: []string{"image/*", "application/pdf", "audio/*", "video/*", "text/plain",
		"application/msword", "application/vnd.openxmlformats-officedocument.*", "application/vnd.ms-excel",
		"application/vnd.oasis.opendocument.*", "application/rtf"},
	OfflineGrace: 0, // off: an offline copy of the share can be searched for the PIN (SECURITY.md)
	QuickMessages: []string{"On my way", "Call me when you can", "Seen, thanks", "Patient is ready",
		"Running 10 minutes late"},

	PasswordClasses: 1,
	MFARequired:     []string{LevelOwner, LevelAdmin, LevelHelpdesk},
	AdminNetworks:   []string{},
	AuditRetention:  6 * 365 * 24 * time.Hour, // HIPAA documentation: 6 years
	InvitationTTL:   7 * 24 * time.Hour,

	AttachmentQuotaBytes: 2 << 30, // 2 GiB
	AttachmentQuotaCount: 1000,
	AttachmentRateBytes:  100 << 20, // 100 MiB a minute
	BlobGrace:            time.Hour,
	QueueMaxPerDevice:    10000,
	SessionsMaxPerUser:   20,
	DevicesMaxPerUser:    16,

	EmailNudgeAfter:    30 * time.Minute,
	AlertDiskFreeBytes: 1 << 30, // 1 GiB
	PushInterval:       15 * time.Minute,
	PushUrgentDND:      true,

	KeyRotation: 7 * 24 * time.Hour,
}

// policyKeys maps each stored key to its field, with a parser and printer.
type policyField struct {
	get func(*Policy) string
	set func(*Policy, string) error
}

func intField(f func(*Policy) *int, lo, hi int) policyField {
	return policyField{
		get: func(p *Policy) string { return strconv.Itoa(*f(p)) },
		set: func(p *Policy, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < lo || n > hi {
				return fmt.Errorf("want a whole number from %d to %d", lo, hi)
			}
			*f(p) = n
			return nil
		},
	}
}

func durField(f func(*Policy) *time.Duration, lo, hi time.Duration) policyField {
	return policyField{
		get: func(p *Policy) string { return f(p).String() },
		set: func(p *Policy, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < lo || d > hi {
				return fmt.Errorf("want a duration from %s to %s (e.g. 168h)", lo, hi)
			}
			*f(p) = d
			return nil
		},
	}
}

func boolField(f func(*Policy) *bool) policyField {
	return policyField{
		get: func(p *Policy) string { return strconv.FormatBool(*f(p)) },
		set: func(p *Policy, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false")
			}
			*f(p) = b
			return nil
		},
	}
}

// listField is a list of short strings, stored as a JSON array and set
// either as one or as items separated by '|'.
func listField(f func(*Policy) *[]string, maxItems, maxLen int) policyField {
	return policyField{
		get: func(p *Policy) string { b, _ := json.Marshal(*f(p)); return string(b) },
		set: func(p *Policy, v string) error {
			var items []string
			if strings.HasPrefix(strings.TrimSpace(v), "[") {
				if err := json.Unmarshal([]byte(v), &items); err != nil {
					return fmt.Errorf("want a JSON array of strings")
				}
			} else if strings.TrimSpace(v) != "" {
				items = strings.Split(v, "|")
			}
			out := []string{}
			for _, it := range items {
				it = strings.TrimSpace(it)
				if it == "" {
					continue
				}
				if len(it) > maxLen {
					return fmt.Errorf("an item is longer than %d characters", maxLen)
				}
				out = append(out, it)
			}
			if len(out) > maxItems {
				return fmt.Errorf("at most %d items", maxItems)
			}
			*f(p) = out
			return nil
		},
	}
}

// checkedListField is a listField whose every item each must accept; each
// may also rewrite the item into its normal form.
func checkedListField(f func(*Policy) *[]string, maxItems, maxLen int, each func(string) (string, error)) policyField {
	lf := listField(f, maxItems, maxLen)
	return policyField{
		get: lf.get,
		set: func(p *Policy, v string) error {
			var q Policy
			if err := lf.set(&q, v); err != nil {
				return err
			}
			items := *f(&q)
			for i, it := range items {
				norm, err := each(it)
				if err != nil {
					return err
				}
				items[i] = norm
			}
			*f(p) = items
			return nil
		},
	}
}

// textField is one line of printable text of at most maxLen characters,
// trimmed; empty is allowed.
func textField(f func(*Policy) *string, maxLen int) policyField {
	return policyField{
		get: func(p *Policy) string { return *f(p) },
		set: func(p *Policy, v string) error {
			v = strings.TrimSpace(v)
			if utf8.RuneCountInString(v) > maxLen {
				return fmt.Errorf("at most %d characters", maxLen)
			}
			for _, r := range v {
				if !unicode.IsPrint(r) {
					return fmt.Errorf("one line of text, without line breaks or other control characters")
				}
			}
			*f(p) = v
			return nil
		},
	}
}

// MaxPracticeName is the longest practice name, in characters.
const MaxPracticeName = 100

// cidrListField is a list of CIDR ranges (a bare address is one host).
func cidrListField(f func(*Policy) *[]string) policyField {
	return checkedListField(f, 100, 50, func(c string) (string, error) {
		pfx, err := parsePrefix(c)
		if err != nil {
			return "", fmt.Errorf("%q is not an address range such as 192.168.1.0/24", c)
		}
		return pfx.String(), nil
	})
}

// parsePrefix parses a CIDR range or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// AdminAllowed reports whether the console may be used from ip under the
// policy's AdminNetworks (any address when the list is empty).
func (p *Policy) AdminAllowed(ip string) bool {
	if len(p.AdminNetworks) == 0 {
		return true
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, c := range p.AdminNetworks {
		if pfx, err := netip.ParsePrefix(c); err == nil && pfx.Contains(a) {
			return true
		}
	}
	return false
}

// MFARequiredFor reports whether the policy asks u to sign in with a
// second factor, by role or admin level.
func (p *Policy) MFARequiredFor(u *User) bool {
	for _, r := range p.MFARequired {
		if r == u.Role || (u.AdminLevel != LevelNone && r == u.AdminLevel) {
			return true
		}
	}
	return false
}

// roleListField is a list of roles and admin levels.
func roleListField(f func(*Policy) *[]string) policyField {
	return checkedListField(f, 10, 20, func(r string) (string, error) {
		if !ValidRole(r) && LevelRank(r) <= 0 {
			return "", fmt.Errorf("%q is not a role (admin, staff, external, patient) or admin level (owner, admin, helpdesk)", r)
		}
		return r, nil
	})
}

var policyFields = map[string]policyField{
	"password_min_length":  intField(func(p *Policy) *int { return &p.PasswordMinLength }, 8, 128),
	"lockout_threshold":    intField(func(p *Policy) *int { return &p.LockoutThreshold }, 1, 100),
	"lockout_cooldown":     durField(func(p *Policy) *time.Duration { return &p.LockoutCooldown }, time.Second, 24*time.Hour),
	"retention":            durField(func(p *Policy) *time.Duration { return &p.Retention }, time.Second, 6*365*24*time.Hour),
	"session_idle":         durField(func(p *Policy) *time.Duration { return &p.SessionIdle }, time.Minute, 30*24*time.Hour),
	"session_max":          durField(func(p *Policy) *time.Duration { return &p.SessionMax }, time.Minute, 365*24*time.Hour),
	"inactivity_lock":      durField(func(p *Policy) *time.Duration { return &p.InactivityLock }, 10*time.Second, 24*time.Hour),
	"pin_required":         boolField(func(p *Policy) *bool { return &p.PINRequired }),
	"pin_max_attempts":     intField(func(p *Policy) *int { return &p.PINMaxAttempts }, 3, 100),
	"attachment_max_bytes": intField(func(p *Policy) *int { return &p.AttachmentMaxBytes }, 1024, 1<<30),
	"attachment_types":     listField(func(p *Policy) *[]string { return &p.AttachmentTypes }, 100, 100),
	"offline_grace":        durField(func(p *Policy) *time.Duration { return &p.OfflineGrace }, 0, 30*24*time.Hour),
	"quick_messages":       listField(func(p *Policy) *[]string { return &p.QuickMessages }, 50, 200),
	"practice_name":        textField(func(p *Policy) *string { return &p.PracticeName }, MaxPracticeName),
	"password_classes":     intField(func(p *Policy) *int { return &p.PasswordClasses }, 1, 4),
	"mfa_required":         roleListField(func(p *Policy) *[]string { return &p.MFARequired }),
	"admin_networks":       cidrListField(func(p *Policy) *[]string { return &p.AdminNetworks }),
	"audit_retention":      durField(func(p *Policy) *time.Duration { return &p.AuditRetention }, 365*24*time.Hour, 20*365*24*time.Hour),
	"invitation_ttl":       durField(func(p *Policy) *time.Duration { return &p.InvitationTTL }, time.Hour, 90*24*time.Hour),

	"attachment_quota_bytes": intField(func(p *Policy) *int { return &p.AttachmentQuotaBytes }, 1<<20, 1<<40),
	"attachment_quota_count": intField(func(p *Policy) *int { return &p.AttachmentQuotaCount }, 1, 1000000),
	"attachment_rate_bytes":  intField(func(p *Policy) *int { return &p.AttachmentRateBytes }, 1<<20, 1<<40),
	"blob_grace":             durField(func(p *Policy) *time.Duration { return &p.BlobGrace }, time.Second, 24*time.Hour),
	"queue_max_per_device":   intField(func(p *Policy) *int { return &p.QueueMaxPerDevice }, 100, 10000000),
	"sessions_max_per_user":  intField(func(p *Policy) *int { return &p.SessionsMaxPerUser }, 1, 1000),
	"devices_max_per_user":   intField(func(p *Policy) *int { return &p.DevicesMaxPerUser }, 1, MaxDevicesOfUser),
	"patient_urgent":         boolField(func(p *Policy) *bool { return &p.PatientUrgent }),
	"patient_ack":            boolField(func(p *Policy) *bool { return &p.PatientAck }),

	"email_nudge_after":     durField(func(p *Policy) *time.Duration { return &p.EmailNudgeAfter }, 0, 7*24*time.Hour),
	"alert_disk_free_bytes": intField(func(p *Policy) *int { return &p.AlertDiskFreeBytes }, 0, 1<<50),
	"push_interval":         durField(func(p *Policy) *time.Duration { return &p.PushInterval }, time.Minute, 24*time.Hour),
	"push_urgent_dnd":       boolField(func(p *Policy) *bool { return &p.PushUrgentDND }),

	"key_rotation": durField(func(p *Policy) *time.Duration { return &p.KeyRotation }, 0, 365*24*time.Hour),
}

// PolicyKeys lists the policy's keys in order.
func PolicyKeys() []string {
	keys := make([]string, 0, len(policyFields))
	for k := range policyFields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Get returns a policy value by key, as text.
func (p *Policy) Get(key string) (string, bool) {
	f, ok := policyFields[key]
	if !ok {
		return "", false
	}
	return f.get(p), true
}

// Set parses and sets a policy value by key.
func (p *Policy) Set(key, value string) error {
	f, ok := policyFields[key]
	if !ok {
		return fmt.Errorf("unknown policy key %q (known: %v)", key, PolicyKeys())
	}
	if err := f.set(p, value); err != nil {
		return fmt.Errorf("policy %s=%q: %v", key, value, err)
	}
	return nil
}

// KnownPolicyKey reports whether key names a policy value.
func KnownPolicyKey(key string) bool {
	_, ok := policyFields[key]
	return ok
}

// ClientPolicy is the part of the policy clients enforce, as GET
// /api/v1/config gives it: durations in milliseconds.
type ClientPolicy struct {
	RetentionMS        int64    `json:"retention_ms"`
	InactivityLockMS   int64    `json:"inactivity_lock_ms"`
	PINRequired        bool     `json:"pin_required"`
	PINMaxAttempts     int      `json:"pin_max_attempts"`
	AttachmentMaxBytes int      `json:"attachment_max_bytes"`
	AttachmentTypes    []string `json:"attachment_types"`
	OfflineGraceMS     int64    `json:"offline_grace_ms"`
	PatientUrgent      bool     `json:"patient_urgent"` // patients may mark messages Urgent
	PatientAck         bool     `json:"patient_ack"`    // patients may ask for acknowledgement
	// KeyRotationMS is how old a device's encryption key may grow before
	// the device makes a new one (0: never).
	KeyRotationMS int64 `json:"key_rotation_ms"`
}

// Client returns the part of the policy clients enforce.
func (p *Policy) Client() ClientPolicy {
	return ClientPolicy{
		RetentionMS: p.Retention.Milliseconds(), InactivityLockMS: p.InactivityLock.Milliseconds(),
		PINRequired: p.PINRequired, PINMaxAttempts: p.PINMaxAttempts, AttachmentMaxBytes: p.AttachmentMaxBytes, AttachmentTypes: p.AttachmentTypes,
		OfflineGraceMS: p.OfflineGrace.Milliseconds(),
		PatientUrgent:  p.PatientUrgent, PatientAck: p.PatientAck,
		KeyRotationMS: p.KeyRotation.Milliseconds(),
	}
}
