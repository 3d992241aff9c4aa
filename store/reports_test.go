package store

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/curbside-health/curbside/model"
)

func TestActivityReport(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	alice, bob := addUser(t, s, "alice"), addUser(t, s, "bob")
	addDevice(t, s, alice, 11)
	addDevice(t, s, bob, 21)
	send := func(id string, from, dev, to, toDev int64, expires time.Time) {
		t.Helper()
		m := newMsg(id, from, dev, []int64{to}, []int64{toDev})
		m.ExpiresAt = expires.UnixMilli()
		if _, err := s.Accept(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// Soon to expire: they are swept before the first report.
	soon := time.Now().Add(-time.Millisecond)
	for i := range 3 {
		send(fmt.Sprintf("A%019d", i), alice, 11, bob, 21, soon)
	}
	send("B0000000000000000000", bob, 21, alice, 11, soon)
	if _, msgs, err := s.Sweep(ctx, time.Now().UnixMilli(), 100); err != nil || msgs != 4 {
		t.Fatalf("sweep: %d %v", msgs, err)
	}
	// The table is empty now, so SQLite reuses ids from 1: these must be
	// counted too.
	later := time.Now().Add(time.Hour)
	send("A1000000000000000000", alice, 11, bob, 21, later)
	send("B1000000000000000000", bob, 21, alice, 11, later)
	send("B1000000000000000001", bob, 21, alice, 11, later)

	today := time.Now().UTC().Format(DayLayout)
	err := s.submit(ctx, func(tx *sql.Tx) error {
		for _, d := range []struct {
			day string
			dev int64
		}{{today, 11}, {today, 21}, {time.Now().UTC().AddDate(0, 0, -1).Format(DayLayout), 11}} {
			if _, err := tx.Exec(`INSERT INTO device_days (day, device_id) VALUES (?, ?)`, d.day, d.dev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Audit(ctx, &AuditEntry{Action: "login.fail", Outcome: OutcomeFail, ActorName: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Audit(ctx, &AuditEntry{Action: "login.ok", ActorName: "alice"}); err != nil {
		t.Fatal(err)
	}

	from := time.Now().AddDate(0, 0, -2)
	a, err := s.ActivityReport(ctx, from, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Days) != 3 || a.Days[2] != today {
		t.Fatalf("days %v", a.Days)
	}
	sent := map[string]int64{}
	for _, m := range a.Messages {
		if m.Day != today {
			t.Fatalf("message row on %s", m.Day)
		}
		sent[m.Username] = m.Sent
	}
	if sent["alice"] != 4 || sent["bob"] != 3 || len(a.Messages) != 2 {
		t.Fatalf("messages %+v", a.Messages)
	}
	if a.ActiveDevices[2].Count != 2 || a.ActiveDevices[1].Count != 1 || a.ActiveDevices[0].Count != 0 || a.Totals.ActiveDevices != 2 {
		t.Fatalf("devices %+v totals %+v", a.ActiveDevices, a.Totals)
	}
	if a.FailedLogins[2].Count != 2 || a.Totals.FailedLogins != 2 || a.Totals.Messages != 7 || a.Totals.Senders != 2 {
		t.Fatalf("failed %+v totals %+v", a.FailedLogins, a.Totals)
	}

	// A second report, and then one after everything expired, count the
	// same: rolled-up rows are not counted twice, and the counts outlive
	// the messages.
	if _, err := s.ActivityReport(ctx, from, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, msgs, err := s.Sweep(ctx, later.Add(time.Second).UnixMilli(), 100); err != nil || msgs != 3 {
		t.Fatalf("second sweep: %d %v", msgs, err)
	}
	b, err := s.ActivityReport(ctx, from, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if b.Totals.Messages != 7 || len(b.Messages) != 2 {
		t.Fatalf("after expiry: %+v", b.Messages)
	}
	// A range without today has none of it.
	c, _ := s.ActivityReport(ctx, from, from)
	if len(c.Messages) != 0 || c.Totals.FailedLogins != 0 || len(c.Days) != 1 {
		t.Fatalf("old range: %+v", c)
	}
}

func TestInventory(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	alice := addUser(t, s, "alice")
	addUser(t, s, "bob")
	addDevice(t, s, alice, 11)
	addDevice(t, s, alice, 12)
	if err := s.RevokeDevice(ctx, 12); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUserState(ctx, alice, model.StateLocked); err != nil {
		t.Fatal(err)
	}
	inv, err := s.Inventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]int64{}
	for _, c := range inv.Users {
		users[c.Role+"/"+c.State] = c.Count
	}
	if users["staff/active"] != 1 || users["staff/locked"] != 1 {
		t.Fatalf("users %+v", inv.Users)
	}
	devs := map[string]int64{}
	for _, c := range inv.Devices {
		devs[c.State] = c.Count
	}
	if devs[DeviceActive] != 1 || devs[DeviceRevoked] != 1 || len(inv.DeviceAgents) != 1 || inv.DeviceAgents[0].Count != 1 {
		t.Fatalf("devices %+v agents %+v", inv.Devices, inv.DeviceAgents)
	}
}
