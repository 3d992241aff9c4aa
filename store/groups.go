package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Group is a named set of users that share a group conversation.
type Group struct {
	ID      int64   `json:"id"`
	Name    string  `json:"name"`
	Members []*User `json:"members"`
}

// CreateGroup adds an empty group.
func (s *Store) CreateGroup(ctx context.Context, name string) (int64, error) {
	var id int64
	err := s.submit(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRow(`INSERT INTO groups (name, created_at) VALUES (?, ?) RETURNING id`, name, nowMS()).Scan(&id)
		if isUnique(err) {
			return fmt.Errorf("group %q: %w", name, ErrExists)
		}
		return err
	})
	return id, err
}

// SetGroupMembers adds (add=true) or removes users from a group.
func (s *Store) SetGroupMembers(ctx context.Context, group int64, users []int64, add bool) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRow(`SELECT 1 FROM groups WHERE id = ?`, group).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		q := `INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?, ?)`
		if !add {
			q = `DELETE FROM group_members WHERE group_id = ? AND user_id = ?`
		}
		for _, u := range users {
			if _, err := tx.Exec(q, group, u); err != nil {
				return err
			}
		}
		return nil
	})
}

// GroupByName looks a group up by name, with its members.
func (s *Store) GroupByName(ctx context.Context, name string) (*Group, error) {
	var g Group
	err := s.read.QueryRowContext(ctx, `SELECT id, name FROM groups WHERE name = ?`, name).Scan(&g.ID, &g.Name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.withMembers(ctx, &g)
}

// GroupByID looks a group up by id, with its members.
func (s *Store) GroupByID(ctx context.Context, id int64) (*Group, error) {
	var g Group
	err := s.read.QueryRowContext(ctx, `SELECT id, name FROM groups WHERE id = ?`, id).Scan(&g.ID, &g.Name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.withMembers(ctx, &g)
}

func (s *Store) withMembers(ctx context.Context, g *Group) (*Group, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+prefixed("u.", userColumns)+` FROM group_members m JOIN users u ON u.id = m.user_id
		WHERE m.group_id = ? ORDER BY u.display COLLATE NOCASE, u.id`, g.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	g.Members = []*User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		g.Members = append(g.Members, u)
	}
	return g, rows.Err()
}

// GroupsOf lists the groups a user belongs to, with their members.
func (s *Store) GroupsOf(ctx context.Context, user int64) ([]*Group, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT g.id, g.name FROM group_members m JOIN groups g ON g.id = m.group_id
		WHERE m.user_id = ? ORDER BY g.name COLLATE NOCASE`, user)
	if err != nil {
		return nil, err
	}
	var gs []*Group
	for rows.Next() {
		var g Group
		if err := rows.Scan(&g.ID, &g.Name); err != nil {
			rows.Close()
			return nil, err
		}
		gs = append(gs, &g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, g := range gs {
		if _, err := s.withMembers(ctx, g); err != nil {
			return nil, err
		}
	}
	return gs, nil
}

// GroupMemberIDs returns the ids of a group's members; ErrNotFound if the
// group does not exist.
func (s *Store) GroupMemberIDs(ctx context.Context, group int64) ([]int64, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT g.id, m.user_id FROM groups g LEFT JOIN group_members m ON m.group_id = g.id WHERE g.id = ?`, group)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := false
	var out []int64
	for rows.Next() {
		var gid int64
		var uid sql.NullInt64
		if err := rows.Scan(&gid, &uid); err != nil {
			return nil, err
		}
		found = true
		if uid.Valid {
			out = append(out, uid.Int64)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrNotFound
	}
	return out, nil
}

func prefixed(p, cols string) string {
	out := ""
	start := 0
	for i := 0; i <= len(cols); i++ {
		if i == len(cols) || cols[i] == ',' {
			col := cols[start:i]
			for len(col) > 0 && col[0] == ' ' {
				col = col[1:]
			}
			if out != "" {
				out += ", "
			}
			out += p + col
			start = i + 1
		}
	}
	return out
}
