package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/curbside-health/curbside/model"
)

// Group is a named set of users that share a group conversation. A group
// may have a parent: a subgroup's members are members of every group above
// it too ("Night shift" under "Nursing" reaches the Nursing conversation).
type Group struct {
	ID          int64         `json:"id"`
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Parent      int64         `json:"parent,omitempty"` // 0: a top-level group
	Members     []*model.User `json:"members"`          // direct and through subgroups
	Direct      []int64       `json:"direct"`           // the ids of the direct members
}

// subtree is a CTE of the ids of group ?1 and every group below it.
const subtree = `WITH RECURSIVE sub(id) AS (SELECT ?1 UNION SELECT g.id FROM groups g JOIN sub ON g.parent_id = sub.id) `

// CreateGroup adds an empty top-level group.
func (s *Store) CreateGroup(ctx context.Context, name string) (int64, error) {
	return s.CreateGroupIn(ctx, name, "", 0)
}

// CreateGroupIn adds an empty group under parent (0: top level). The new
// group's id is also the Result of the audit entry ctx carries.
func (s *Store) CreateGroupIn(ctx context.Context, name, description string, parent int64) (int64, error) {
	var id int64
	err := s.submit(ctx, func(tx *sql.Tx) error {
		if err := groupExists(tx, parent); err != nil {
			return err
		}
		err := tx.QueryRow(`INSERT INTO groups (name, description, parent_id, created_at) VALUES (?, ?, NULLIF(?, 0), ?) RETURNING id`,
			name, description, parent, nowMS()).Scan(&id)
		if isUnique(err) {
			return fmt.Errorf("group %q: %w", name, model.ErrExists)
		}
		if err != nil {
			return err
		}
		result(ctx, id)
		return nil
	})
	return id, err
}

func groupExists(tx *sql.Tx, id int64) error {
	if id == 0 {
		return nil
	}
	var one int
	err := tx.QueryRow(`SELECT 1 FROM groups WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("group %d: %w", id, model.ErrNotFound)
	}
	return err
}

// UpdateGroup renames, redescribes or moves a group (parent 0: top level).
// A move under the group itself or one of its subgroups is ErrConflict.
func (s *Store) UpdateGroup(ctx context.Context, id int64, name, description string, parent int64) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		if err := groupExists(tx, id); err != nil {
			return err
		}
		if err := groupExists(tx, parent); err != nil {
			return err
		}
		if parent != 0 {
			var loop int
			if err := tx.QueryRow(subtree+`SELECT count(*) FROM sub WHERE id = ?2`, id, parent).Scan(&loop); err != nil {
				return err
			}
			if loop > 0 {
				return model.Refuse(model.ErrConflict, "a group cannot be moved under itself or one of its subgroups")
			}
		}
		// A move changes the members of the groups above the old parent
		// and the new one.
		before, err := snapshotMembers(tx, id, parent)
		if err != nil {
			return err
		}
		_, err = tx.Exec(`UPDATE groups SET name = ?, description = ?, parent_id = NULLIF(?, 0) WHERE id = ?`, name, description, parent, id)
		if isUnique(err) {
			return fmt.Errorf("group %q: %w", name, model.ErrExists)
		}
		if err != nil {
			return err
		}
		return recordMemberChanges(ctx, tx, before, nil)
	})
}

// DeleteGroup deletes a group; its subgroups move up to its parent.
func (s *Store) DeleteGroup(ctx context.Context, id int64) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		var parent sql.NullInt64
		err := tx.QueryRow(`SELECT parent_id FROM groups WHERE id = ?`, id).Scan(&parent)
		if errors.Is(err, sql.ErrNoRows) {
			return model.ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE groups SET parent_id = ? WHERE parent_id = ?`, parent, id); err != nil {
			return err
		}
		_, err = tx.Exec(`DELETE FROM groups WHERE id = ?`, id)
		return err
	})
}

// SetGroupMembers adds (add=true) or removes users from a group.
func (s *Store) SetGroupMembers(ctx context.Context, group int64, users []int64, add bool) error {
	if add {
		return s.ChangeGroupMembers(ctx, group, users, nil)
	}
	return s.ChangeGroupMembers(ctx, group, nil, users)
}

// ChangeGroupMembers adds the users of add to a group and removes those of
// remove, in one transaction, with a membership event for each user who
// joins or leaves the group's conversation or one above it.
func (s *Store) ChangeGroupMembers(ctx context.Context, group int64, add, remove []int64) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRow(`SELECT 1 FROM groups WHERE id = ?`, group).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return model.ErrNotFound
			}
			return err
		}
		before, err := snapshotMembers(tx, group)
		if err != nil {
			return err
		}
		for _, u := range add {
			if _, err := tx.Exec(`INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?, ?)`, group, u); err != nil {
				return err
			}
		}
		for _, u := range remove {
			if _, err := tx.Exec(`DELETE FROM group_members WHERE group_id = ? AND user_id = ?`, group, u); err != nil {
				return err
			}
		}
		return recordMemberChanges(ctx, tx, before, nil)
	})
}

// GroupByName looks a group up by name, with its members.
func (s *Store) GroupByName(ctx context.Context, name string) (*Group, error) {
	var g Group
	err := s.read.QueryRowContext(ctx, `SELECT id, name, description, COALESCE(parent_id, 0) FROM groups WHERE name = ?`, name).Scan(&g.ID, &g.Name, &g.Description, &g.Parent)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.withMembers(ctx, &g)
}

// GroupByID looks a group up by id, with its members.
func (s *Store) GroupByID(ctx context.Context, id int64) (*Group, error) {
	var g Group
	err := s.read.QueryRowContext(ctx, `SELECT id, name, description, COALESCE(parent_id, 0) FROM groups WHERE id = ?`, id).Scan(&g.ID, &g.Name, &g.Description, &g.Parent)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.withMembers(ctx, &g)
}

func (s *Store) withMembers(ctx context.Context, g *Group) (*Group, error) {
	rows, err := s.read.QueryContext(ctx, subtree+`SELECT `+userColumns+`, EXISTS (SELECT 1 FROM group_members d WHERE d.group_id = ?1 AND d.user_id = u.id)
		FROM users u WHERE u.id IN (SELECT user_id FROM group_members WHERE group_id IN sub) ORDER BY u.display COLLATE NOCASE, u.id`, g.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	g.Members = []*model.User{}
	g.Direct = []int64{}
	for rows.Next() {
		var u model.User
		var direct bool
		if err := rows.Scan(append(userDest(&u), &direct)...); err != nil {
			return nil, err
		}
		g.Members = append(g.Members, &u)
		if direct {
			g.Direct = append(g.Direct, u.ID)
		}
	}
	return g, rows.Err()
}

// GroupsOf lists the groups a user belongs to, directly or through a
// subgroup, with their members.
func (s *Store) GroupsOf(ctx context.Context, user int64) ([]*Group, error) {
	return s.groups(ctx, `WITH RECURSIVE up(id) AS (SELECT group_id FROM group_members WHERE user_id = ?1
		UNION SELECT g.parent_id FROM groups g JOIN up ON g.id = up.id WHERE g.parent_id IS NOT NULL)
		SELECT id, name, description, COALESCE(parent_id, 0) FROM groups WHERE id IN up ORDER BY name COLLATE NOCASE`, user)
}

// AllGroups lists every group with its members, by name.
func (s *Store) AllGroups(ctx context.Context) ([]*Group, error) {
	return s.groups(ctx, `SELECT id, name, description, COALESCE(parent_id, 0) FROM groups ORDER BY name COLLATE NOCASE`)
}

func (s *Store) groups(ctx context.Context, query string, args ...any) ([]*Group, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var gs []*Group
	for rows.Next() {
		var g Group
		if err := rows.Scan(&g.ID, &g.Name, &g.Description, &g.Parent); err != nil {
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

// GroupMemberIDs returns the ids of a group's members, direct and through
// subgroups; ErrNotFound if the group does not exist.
func (s *Store) GroupMemberIDs(ctx context.Context, group int64) ([]int64, error) {
	rows, err := s.read.QueryContext(ctx, subtree+`SELECT g.id, m.user_id FROM groups g
		LEFT JOIN (SELECT DISTINCT user_id FROM group_members WHERE group_id IN sub) m WHERE g.id = ?1`, group)
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
		return nil, model.ErrNotFound
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
