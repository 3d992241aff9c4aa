package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"time"
)

// Policy is the organisation's security policy. Zero values never reach
// callers: LoadPolicy fills defaults for keys that were never set.
type Policy struct {
	PasswordMinLength int           // characters
	LockoutThreshold  int           // failed logins before a lockout
	LockoutCooldown   time.Duration // how long a lockout lasts
	Retention         time.Duration // undelivered ciphertext and message metadata live this long
	SessionIdle       time.Duration // a session unused this long ends
	SessionMax        time.Duration // a session ends this long after sign-in, used or not
}

// DefaultPolicy is the policy of a new installation.
var DefaultPolicy = Policy{
	PasswordMinLength: 12,
	LockoutThreshold:  5,
	LockoutCooldown:   15 * time.Minute,
	Retention:         7 * 24 * time.Hour,
	SessionIdle:       12 * time.Hour,
	SessionMax:        30 * 24 * time.Hour,
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

var policyFields = map[string]policyField{
	"password_min_length": intField(func(p *Policy) *int { return &p.PasswordMinLength }, 8, 128),
	"lockout_threshold":   intField(func(p *Policy) *int { return &p.LockoutThreshold }, 1, 100),
	"lockout_cooldown":    durField(func(p *Policy) *time.Duration { return &p.LockoutCooldown }, time.Second, 24*time.Hour),
	"retention":           durField(func(p *Policy) *time.Duration { return &p.Retention }, time.Second, 6*365*24*time.Hour),
	"session_idle":        durField(func(p *Policy) *time.Duration { return &p.SessionIdle }, time.Minute, 30*24*time.Hour),
	"session_max":         durField(func(p *Policy) *time.Duration { return &p.SessionMax }, time.Minute, 365*24*time.Hour),
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

// LoadPolicy reads the policy, with defaults for keys never set.
func (s *Store) LoadPolicy(ctx context.Context) (Policy, error) {
	p := DefaultPolicy
	rows, err := s.read.QueryContext(ctx, `SELECT key, value FROM policy`)
	if err != nil {
		return p, err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return p, err
		}
		if _, known := policyFields[k]; !known {
			continue // a key from a newer version; ignore rather than refuse
		}
		if err := p.Set(k, v); err != nil {
			return p, fmt.Errorf("stored %v", err)
		}
	}
	return p, rows.Err()
}

// SetPolicy validates and stores policy values.
func (s *Store) SetPolicy(ctx context.Context, kv map[string]string) error {
	var p Policy = DefaultPolicy
	for k, v := range kv {
		if err := p.Set(k, v); err != nil {
			return err
		}
	}
	return s.submit(ctx, func(tx *sql.Tx) error {
		for k := range kv {
			val, _ := p.Get(k)
			if _, err := tx.Exec(`INSERT INTO policy (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, val); err != nil {
				return err
			}
		}
		return nil
	})
}
