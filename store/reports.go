package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Activity reports are made from metadata only: who sent how many messages
// on which day (from the messages table, rolled up into activity_daily
// before the retention sweep deletes the rows), how many devices were in
// use each day (device_days) and how many sign-ins failed (the audit log).
// Nothing here reads a ciphertext or a conversation id.

// activityCursor names the server_state row holding the highest
// messages.id already counted in activity_daily.
const activityCursor = "activity_rollup_id"

// DayLayout is the layout of report days: UTC dates.
const DayLayout = "2006-01-02"

// dayOf is the SQL expression for the UTC day of a ms column.
func dayOf(col string) string {
	return `strftime('%Y-%m-%d', ` + col + ` / 1000, 'unixepoch')`
}

func readCursor(tx *sql.Tx) (int64, error) {
	var b []byte
	err := tx.QueryRow(`SELECT value FROM server_state WHERE name = ?`, activityCursor).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("store: activity roll-up position %q: %w", b, err)
	}
	return n, nil
}

func writeCursor(tx *sql.Tx, n int64) error {
	_, err := tx.Exec(`INSERT INTO server_state (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, activityCursor, []byte(strconv.FormatInt(n, 10)))
	return err
}

// rollupActivity adds the messages accepted since the last roll-up to
// activity_daily, one count per sender and UTC day of acceptance. It runs
// inside a write transaction: in the sweep's, before expired messages are
// deleted, so no message leaves the table uncounted.
func rollupActivity(tx *sql.Tx) error {
	cur, err := readCursor(tx)
	if err != nil {
		return err
	}
	var top sql.NullInt64
	if err := tx.QueryRow(`SELECT max(id) FROM messages`).Scan(&top); err != nil {
		return err
	}
	if !top.Valid || top.Int64 <= cur {
		return nil
	}
	if _, err := tx.Exec(`INSERT INTO activity_daily (day, user_id, sent)
		SELECT `+dayOf("accepted_at")+`, sender_user, count(*) FROM messages WHERE id > ? AND id <= ? GROUP BY 1, 2
		ON CONFLICT (day, user_id) DO UPDATE SET sent = sent + excluded.sent`, cur, top.Int64); err != nil {
		return err
	}
	return writeCursor(tx, top.Int64)
}

// clampActivityCursor runs after messages were deleted. messages.id is a
// plain rowid, which SQLite hands out as max(id)+1: once the newest rows
// are gone, new messages may get ids at or below the cursor and would never
// be counted. Every row left was counted (the roll-up ran first, in the
// same transaction), so lowering the cursor to the highest id left is
// exact.
func clampActivityCursor(tx *sql.Tx) error {
	cur, err := readCursor(tx)
	if err != nil {
		return err
	}
	var top int64
	if err := tx.QueryRow(`SELECT COALESCE(max(id), 0) FROM messages`).Scan(&top); err != nil {
		return err
	}
	if top < cur {
		return writeCursor(tx, top)
	}
	return nil
}

// RollupActivity brings activity_daily up to date with the messages table
// now; reports call it before they read.
func (s *Store) RollupActivity(ctx context.Context) error {
	return s.submit(ctx, rollupActivity)
}

// DayCount is a count for one UTC day.
type DayCount struct {
	Day   string `json:"day"`
	Count int64  `json:"count"`
}

// UserDay is how many messages one user sent on one UTC day.
type UserDay struct {
	Day      string `json:"day"`
	User     int64  `json:"user"`
	Username string `json:"username"`
	Display  string `json:"display"`
	Sent     int64  `json:"sent"`
}

// ActivityTotals sums an activity report's range.
type ActivityTotals struct {
	Messages      int64 `json:"messages"`       // messages sent
	Senders       int64 `json:"senders"`        // users who sent at least one
	ActiveDevices int64 `json:"active_devices"` // distinct devices in use on at least one day
	FailedLogins  int64 `json:"failed_logins"`
}

// Activity is the activity report of a range of UTC days.
type Activity struct {
	From          string         `json:"from"`
	To            string         `json:"to"`
	Days          []string       `json:"days"` // every day of the range, oldest first
	Messages      []UserDay      `json:"messages"`
	ActiveDevices []DayCount     `json:"active_devices"` // one per day, zeros included
	FailedLogins  []DayCount     `json:"failed_logins"`  // one per day, zeros included
	Totals        ActivityTotals `json:"totals"`
}

// ActivityReport returns the activity of the UTC days from..to (inclusive,
// both DayLayout dates), after rolling up the newest messages.
func (s *Store) ActivityReport(ctx context.Context, from, to time.Time) (*Activity, error) {
	from, to = from.UTC().Truncate(24*time.Hour), to.UTC().Truncate(24*time.Hour)
	if to.Before(from) {
		return nil, fmt.Errorf("store: report range ends before it starts")
	}
	if err := s.RollupActivity(ctx); err != nil {
		return nil, err
	}
	a := &Activity{From: from.Format(DayLayout), To: to.Format(DayLayout),
		Days: []string{}, Messages: []UserDay{}, ActiveDevices: []DayCount{}, FailedLogins: []DayCount{}}
	index := map[string]int{}
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		day := d.Format(DayLayout)
		index[day] = len(a.Days)
		a.Days = append(a.Days, day)
		a.ActiveDevices = append(a.ActiveDevices, DayCount{Day: day})
		a.FailedLogins = append(a.FailedLogins, DayCount{Day: day})
	}
	// One snapshot for all three, so the totals agree with the rows.
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	rows, err := tx.QueryContext(ctx, `SELECT a.day, a.user_id, COALESCE(u.username, ''), COALESCE(u.display, ''), a.sent
		FROM activity_daily a LEFT JOIN users u ON u.id = a.user_id
		WHERE a.day >= ? AND a.day <= ? ORDER BY a.day, u.username COLLATE NOCASE, a.user_id`, a.From, a.To)
	if err != nil {
		return nil, err
	}
	senders := map[int64]bool{}
	for rows.Next() {
		var d UserDay
		if err := rows.Scan(&d.Day, &d.User, &d.Username, &d.Display, &d.Sent); err != nil {
			rows.Close()
			return nil, err
		}
		a.Messages = append(a.Messages, d)
		a.Totals.Messages += d.Sent
		senders[d.User] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	a.Totals.Senders = int64(len(senders))

	rows, err = tx.QueryContext(ctx, `SELECT day, count(*) FROM device_days WHERE day >= ? AND day <= ? GROUP BY day`, a.From, a.To)
	if err != nil {
		return nil, err
	}
	if err := fillDays(rows, index, a.ActiveDevices); err != nil {
		return nil, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(DISTINCT device_id) FROM device_days WHERE day >= ? AND day <= ?`, a.From, a.To).Scan(&a.Totals.ActiveDevices); err != nil {
		return nil, err
	}

	// A coalesced row (auth/failaudit.go) stands for "count" failures.
	rows, err = tx.QueryContext(ctx, `SELECT `+dayOf("at")+`, sum(coalesce(CASE WHEN json_valid(detail) THEN json_extract(detail, '$.count') END, 1)) FROM audit
		WHERE action = 'login.fail' AND at >= ? AND at < ? GROUP BY 1`, from.UnixMilli(), to.AddDate(0, 0, 1).UnixMilli())
	if err != nil {
		return nil, err
	}
	if err := fillDays(rows, index, a.FailedLogins); err != nil {
		return nil, err
	}
	for _, d := range a.FailedLogins {
		a.Totals.FailedLogins += d.Count
	}
	return a, nil
}

// fillDays reads (day, count) rows into the matching entries of out.
func fillDays(rows *sql.Rows, index map[string]int, out []DayCount) error {
	defer rows.Close()
	for rows.Next() {
		var day string
		var n int64
		if err := rows.Scan(&day, &n); err != nil {
			return err
		}
		if i, ok := index[day]; ok {
			out[i].Count = n
		}
	}
	return rows.Err()
}

// Count is a count of directory rows sharing some attributes.
type Count struct {
	Role  string `json:"role,omitempty"`
	State string `json:"state,omitempty"`
	Level string `json:"level,omitempty"`
	Agent string `json:"agent,omitempty"`
	Count int64  `json:"count"`
}

// Inventory counts what the directory holds, for the asset inventory.
type Inventory struct {
	Users           []Count `json:"users"`            // by role and state
	AdminLevels     []Count `json:"admin_levels"`     // users with console access, by level
	MFAUsers        int64   `json:"mfa_users"`        // users with a confirmed TOTP or a passkey
	Devices         []Count `json:"devices"`          // by state
	WipesIssued     int64   `json:"wipes_issued"`     // devices holding a remote-wipe command
	DeviceAgents    []Count `json:"device_agents"`    // active devices, by the browser or program that registered them
	Sessions        int64   `json:"sessions"`         // signed-in sessions
	Attachments     int64   `json:"attachments"`      // ciphertext blobs held
	AttachmentBytes int64   `json:"attachment_bytes"` // their size
}

// Inventory returns the directory's counts.
func (s *Store) Inventory(ctx context.Context) (*Inventory, error) {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	inv := &Inventory{}
	counts := func(q string, scan func(rows *sql.Rows, c *Count) error) ([]Count, error) {
		rows, err := tx.QueryContext(ctx, q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []Count{}
		for rows.Next() {
			var c Count
			if err := scan(rows, &c); err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, rows.Err()
	}
	if inv.Users, err = counts(`SELECT role, state, count(*) FROM users GROUP BY role, state ORDER BY role, state`,
		func(r *sql.Rows, c *Count) error { return r.Scan(&c.Role, &c.State, &c.Count) }); err != nil {
		return nil, err
	}
	if inv.AdminLevels, err = counts(`SELECT admin_level, count(*) FROM users WHERE admin_level != '' GROUP BY admin_level ORDER BY admin_level`,
		func(r *sql.Rows, c *Count) error { return r.Scan(&c.Level, &c.Count) }); err != nil {
		return nil, err
	}
	if inv.Devices, err = counts(`SELECT state, count(*) FROM devices GROUP BY state ORDER BY state`,
		func(r *sql.Rows, c *Count) error { return r.Scan(&c.State, &c.Count) }); err != nil {
		return nil, err
	}
	if inv.DeviceAgents, err = counts(`SELECT agent, count(*) FROM devices WHERE state = 'active' GROUP BY agent ORDER BY count(*) DESC, agent LIMIT 100`,
		func(r *sql.Rows, c *Count) error { return r.Scan(&c.Agent, &c.Count) }); err != nil {
		return nil, err
	}
	err = tx.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM users WHERE id IN (SELECT user_id FROM mfa_totp WHERE confirmed = 1) OR id IN (SELECT user_id FROM passkeys)),
		(SELECT count(*) FROM devices WHERE wipe IS NOT NULL),
		(SELECT count(*) FROM sessions),
		(SELECT count(*) FROM blobs), (SELECT COALESCE(sum(size), 0) FROM blobs)`).
		Scan(&inv.MFAUsers, &inv.WipesIssued, &inv.Sessions, &inv.Attachments, &inv.AttachmentBytes)
	if err != nil {
		return nil, err
	}
	return inv, nil
}
