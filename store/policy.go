package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/curbside-health/curbside/model"
)

// LoadPolicy reads the policy, with defaults for keys never set.
func (s *Store) LoadPolicy(ctx context.Context) (model.Policy, error) {
	p := model.DefaultPolicy
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
		if !model.KnownPolicyKey(k) {
			continue // a key from a newer version; ignore rather than refuse
		}
		if err := p.Set(k, v); err != nil {
			return p, fmt.Errorf("stored %v", err)
		}
	}
	return p, rows.Err()
}

// policyIn reads the policy inside a transaction, for a limit that must
// hold against concurrent writers (sessions, devices per user).
func policyIn(tx *sql.Tx) (model.Policy, error) {
	p := model.DefaultPolicy
	rows, err := tx.Query(`SELECT key, value FROM policy`)
	if err != nil {
		return p, err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return p, err
		}
		if model.KnownPolicyKey(k) {
			if err := p.Set(k, v); err != nil {
				return p, fmt.Errorf("stored %v", err)
			}
		}
	}
	return p, rows.Err()
}

// SetPolicy validates and stores policy values.
func (s *Store) SetPolicy(ctx context.Context, kv map[string]string) error {
	p := model.DefaultPolicy
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
