package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/curbside-health/curbside/model"
)

func TestTrimAgent(t *testing.T) {
	long := strings.Repeat("a", MaxAgentLen-1) + "é" + "tail"
	got := TrimAgent(long)
	if len(got) > MaxAgentLen || !utf8.ValidString(got) || got != strings.Repeat("a", MaxAgentLen-1) {
		t.Fatalf("TrimAgent cut a long agent to %q (%d bytes)", got, len(got))
	}
	if TrimAgent("  Mozilla/5.0  ") != "Mozilla/5.0" {
		t.Fatal("TrimAgent keeps surrounding space")
	}
}

func TestTouchDeviceRecordsTheDay(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	u := addUser(t, s, "tess")
	addDevice(t, s, u, 41)
	day1 := time.Date(2026, 3, 4, 23, 59, 0, 0, time.UTC).UnixMilli()
	for _, at := range []int64{day1, day1 + 1000, day1 + 2*60*1000} { // the last is on the 5th
		if err := s.TouchDevice(ctx, 41, at); err != nil {
			t.Fatal(err)
		}
	}
	var days []string
	err := s.submit(ctx, func(tx *sql.Tx) error {
		rows, err := tx.Query(`SELECT day FROM device_days WHERE device_id = 41 ORDER BY day`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d string
			rows.Scan(&d)
			days = append(days, d)
		}
		return rows.Err()
	})
	if err != nil || strings.Join(days, ",") != "2026-03-04,2026-03-05" {
		t.Fatalf("device_days %v %v", days, err)
	}
	if d, _ := s.DeviceByID(ctx, 41); d.LastSeen != day1+2*60*1000 {
		t.Fatalf("last_seen %d", d.LastSeen)
	}
}

func TestDeviceInventoryFilter(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	a, b := addUser(t, s, "ann_x"), addUser(t, s, "annex")
	addDevice(t, s, a, 51)
	addDevice(t, s, b, 52)
	// "_" is a LIKE wildcard: searching for it must match only the literal.
	ds, total, err := s.Devices(ctx, DeviceFilter{Q: "ann_"})
	if err != nil || total != 1 || len(ds) != 1 || ds[0].Username != "ann_x" {
		t.Fatalf("q=ann_: %d %v %v", total, ds, err)
	}
	if _, err := s.WipeDevice(ctx, 52, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WipeDevice(ctx, 52, []byte(`{}`)); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("second wipe: %v", err)
	}
	if _, err := s.LockDevice(ctx, 52); !errors.Is(err, model.ErrConflict) {
		t.Fatalf("lock of a wiped device: %v", err)
	}
	if _, err := s.LockDevice(ctx, 99); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("lock of an unknown device: %v", err)
	}
	ds, total, _ = s.Devices(ctx, DeviceFilter{State: DeviceRevoked})
	if total != 1 || ds[0].ID != 52 || !ds[0].Wiped {
		t.Fatalf("revoked devices: %d %+v", total, ds)
	}
	ds, total, _ = s.Devices(ctx, DeviceFilter{Limit: 1, Offset: 1})
	if total != 2 || len(ds) != 1 {
		t.Fatalf("a page of one: total %d, %d rows", total, len(ds))
	}
	k1, err := s.CommandKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k2, _ := s.CommandKey(ctx); !k1.Equal(k2) {
		t.Fatal("the command key changed between two reads")
	}
}

// TestConsoleStatusFacts: a user is not signed in until a first session
// (the console shows "Invited" until then), and a wiped device records
// when it fetched its command, once.
func TestConsoleStatusFacts(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	u := addUser(t, s, "ivy")
	if got, _ := s.UserByID(ctx, u); got.SignedInAt != 0 {
		t.Fatalf("a new user has signed_in_at %d", got.SignedInAt)
	}
	if err := s.CreateSession(ctx, []byte("token-hash-1"), u, nowMS()+60000); err != nil {
		t.Fatal(err)
	}
	first, _ := s.UserByID(ctx, u)
	if first.SignedInAt == 0 {
		t.Fatal("the first session did not record the first sign-in")
	}
	if err := s.CreateSession(ctx, []byte("token-hash-2"), u, nowMS()+60000); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.UserByID(ctx, u); again.SignedInAt != first.SignedInAt {
		t.Fatalf("a later session moved the first sign-in from %d to %d", first.SignedInAt, again.SignedInAt)
	}

	addDevice(t, s, u, 77)
	if err := s.WipeFetched(ctx, 77, 1000); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.DeviceByID(ctx, 77); d.WipedAt != 0 {
		t.Fatal("a device never wiped recorded a fetched wipe")
	}
	if _, err := s.WipeDevice(ctx, 77, []byte(`{"cmd":"wipe"}`)); err != nil {
		t.Fatal(err)
	}
	for _, at := range []int64{2000, 3000} {
		if err := s.WipeFetched(ctx, 77, at); err != nil {
			t.Fatal(err)
		}
	}
	if d, _ := s.DeviceByID(ctx, 77); !d.Wiped || d.WipedAt != 2000 {
		t.Fatalf("wiped %v at %d, want the first fetch (2000)", d.Wiped, d.WipedAt)
	}
}
