package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/curbside-health/curbside/model"
)

// Limits on assignments.
const (
	// MaxAssignments is how many users and groups one user may have
	// assigned.
	MaxAssignments = 200
	// maxLinks bounds the users read as one user's links; a practice
	// larger than this would need the rules evaluated in the query.
	maxLinks = 50000
)

// Assignment kinds.
const (
	AssignUser  = "user"
	AssignGroup = "group"
)

// Assignment is a user or a group assigned to a user: for a patient, a
// part of their care team.
type Assignment struct {
	Kind    string `json:"kind"` // AssignUser or AssignGroup
	ID      int64  `json:"id"`
	Name    string `json:"name"`           // username or group name
	Display string `json:"display"`        // display name, or the group's name
	Role    string `json:"role,omitempty"` // for a user
}

// linksQuery lists the users linked to user ?1 by an assignment in either
// direction: the users assigned to it, the members (through subgroups too)
// of the groups assigned to it, the users it is assigned to, and the users
// who have a group assigned that it is a member of (directly or through a
// subgroup).
const linksQuery = `WITH RECURSIVE
	down(id) AS (SELECT group_id FROM assignments WHERE user_id = ?1 AND group_id IS NOT NULL
		UNION SELECT g.id FROM groups g JOIN down ON g.parent_id = down.id),
	up(id) AS (SELECT group_id FROM group_members WHERE user_id = ?1
		UNION SELECT g.parent_id FROM groups g JOIN up ON g.id = up.id WHERE g.parent_id IS NOT NULL)
	SELECT member_id FROM assignments WHERE user_id = ?1 AND member_id IS NOT NULL
	UNION SELECT user_id FROM group_members WHERE group_id IN down
	UNION SELECT user_id FROM assignments WHERE member_id = ?1
	UNION SELECT user_id FROM assignments WHERE group_id IN up
	LIMIT ?2`

// Reach returns what the participation rules need to know about a user: its
// role and its links. A user that does not exist has an empty role.
func (s *Store) Reach(ctx context.Context, user int64) (*model.Reach, error) {
	r := &model.Reach{User: user, Links: map[int64]bool{}}
	err := s.read.QueryRowContext(ctx, `SELECT role FROM users WHERE id = ?`, user).Scan(&r.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return r, nil
	}
	if err != nil {
		return nil, err
	}
	rows, err := s.read.QueryContext(ctx, linksQuery, user, maxLinks)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		if id != user {
			r.Links[id] = true
		}
	}
	return r, rows.Err()
}

// SharesGroup reports whether users a and b are members of one group,
// directly or through subgroups.
func (s *Store) SharesGroup(ctx context.Context, a, b int64) (bool, error) {
	var yes bool
	err := s.read.QueryRowContext(ctx, `WITH RECURSIVE
		up(id) AS (SELECT group_id FROM group_members WHERE user_id = ?1
			UNION SELECT g.parent_id FROM groups g JOIN up ON g.id = up.id WHERE g.parent_id IS NOT NULL),
		down(id) AS (SELECT id FROM up UNION SELECT g.id FROM groups g JOIN down ON g.parent_id = down.id)
		SELECT EXISTS (SELECT 1 FROM group_members WHERE user_id = ?2 AND group_id IN down)`, a, b).Scan(&yes)
	return yes, err
}

// SearchReachable lists the active users r's user reaches whose username
// or display name contains q (all of them when q is empty), by display
// name, at most limit. r's own user is among them.
func (s *Store) SearchReachable(ctx context.Context, r *model.Reach, q string, limit int) ([]*model.User, error) {
	links := make([]int64, 0, len(r.Links)+1)
	links = append(links, r.User)
	for id := range r.Links {
		links = append(links, id)
	}
	ids, _ := json.Marshal(links)
	roles, _ := json.Marshal(model.RolesReached(r.Role))
	pat := "%" + likeEscape(q) + "%"
	rows, err := s.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users
		WHERE (username LIKE ?1 ESCAPE '\' OR display LIKE ?1 ESCAPE '\') AND state = 'active'
		AND (role IN (SELECT value FROM json_each(?2)) OR id IN (SELECT value FROM json_each(?3)))
		ORDER BY display COLLATE NOCASE, id LIMIT ?4`, pat, string(roles), string(ids), limit)
	if err != nil {
		return nil, err
	}
	return scanUsers(rows)
}

// Assignments lists the users and groups assigned to a user, users first,
// each by name.
func (s *Store) Assignments(ctx context.Context, user int64) ([]Assignment, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT 'user', u.id, u.username, u.display, u.role
		FROM assignments a JOIN users u ON u.id = a.member_id WHERE a.user_id = ?1
		UNION ALL SELECT 'group', g.id, g.name, g.name, '' FROM assignments a JOIN groups g ON g.id = a.group_id WHERE a.user_id = ?1
		ORDER BY 1 DESC, 4 COLLATE NOCASE, 2`, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Assignment{}
	for rows.Next() {
		var a Assignment
		if err := rows.Scan(&a.Kind, &a.ID, &a.Name, &a.Display, &a.Role); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Assign assigns a user or a group (kind AssignUser or AssignGroup) to
// user. Assigning what is already assigned changes nothing. ErrNotFound:
// the user or what is assigned does not exist; ErrConflict (with a reason):
// a user assigned to itself, or MaxAssignments reached.
func (s *Store) Assign(ctx context.Context, user int64, kind string, id int64) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRow(`SELECT 1 FROM users WHERE id = ?`, user).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("user %d: %w", user, model.ErrNotFound)
			}
			return err
		}
		var col, table string
		switch kind {
		case AssignUser:
			if id == user {
				return model.Refuse(model.ErrConflict, "a person cannot be assigned to themselves")
			}
			col, table = "member_id", "users"
		case AssignGroup:
			col, table = "group_id", "groups"
		default:
			return fmt.Errorf("assignment kind %q: %w", kind, model.ErrNotFound)
		}
		if err := tx.QueryRow(`SELECT 1 FROM `+table+` WHERE id = ?`, id).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%s %d: %w", kind, id, model.ErrNotFound)
			}
			return err
		}
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM assignments WHERE user_id = ?`, user).Scan(&n); err != nil {
			return err
		}
		if n >= MaxAssignments {
			return model.Refuse(model.ErrConflict, "a person can have at most %d assignments", MaxAssignments)
		}
		_, err := tx.Exec(`INSERT OR IGNORE INTO assignments (user_id, `+col+`, created_at) VALUES (?, ?, ?)`, user, id, nowMS())
		return err
	})
}

// Unassign removes an assignment; ErrNotFound if there was none.
func (s *Store) Unassign(ctx context.Context, user int64, kind string, id int64) error {
	col := "member_id"
	switch kind {
	case AssignUser:
	case AssignGroup:
		col = "group_id"
	default:
		return fmt.Errorf("assignment kind %q: %w", kind, model.ErrNotFound)
	}
	return s.exec1(ctx, `DELETE FROM assignments WHERE user_id = ? AND `+col+` = ?`, user, id)
}
