package store

import (
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/curbside-health/curbside/model"
)

const userColumns = `id, username, display, role, state, admin_level, email, offboarded_at, password_hash, failed_logins, locked_until, created_at, signed_in_at`

// dest lists where scanUser puts userColumns, so that a query joining
// users can scan them after its own columns.
func userDest(u *model.User) []any {
	return []any{&u.ID, &u.Username, &u.Display, &u.Role, &u.State, &u.AdminLevel, &u.Email, &u.OffboardedAt, &u.PasswordHash, &u.FailedLogins, &u.LockedUntil, &u.CreatedAt, &u.SignedInAt}
}

func scanUser(row interface{ Scan(...any) error }) (*model.User, error) {
	var u model.User
	err := row.Scan(userDest(&u)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.ErrNotFound
	}
	return &u, err
}

// CreateUser adds a user; passwordHash is already hashed by the caller.
func (s *Store) CreateUser(ctx context.Context, u *model.User) error {
	now := nowMS()
	return s.submit(ctx, func(tx *sql.Tx) error {
		if u.AdminLevel == model.LevelNone && u.Role == model.RoleAdmin {
			u.AdminLevel = model.LevelAdmin // the role admin has always meant console access
		}
		res, err := tx.Exec(`INSERT INTO users (username, display, role, state, admin_level, email, password_hash, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, u.Username, u.Display, u.Role, u.State, u.AdminLevel, u.Email, u.PasswordHash, now, now)
		if err != nil {
			if isUnique(err) {
				return fmt.Errorf("user %q: %w", u.Username, model.ErrExists)
			}
			return err
		}
		u.ID, _ = res.LastInsertId()
		u.CreatedAt = now
		return nil
	})
}

// UserByName looks a user up by username (case-insensitively).
func (s *Store) UserByName(ctx context.Context, name string) (*model.User, error) {
	return scanUser(s.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, name))
}

// UserByID looks a user up by id.
func (s *Store) UserByID(ctx context.Context, id int64) (*model.User, error) {
	return scanUser(s.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
}

// SearchUsers lists users whose username or display name contains q
// (all users when q is empty), by display name, at most limit.
func (s *Store) SearchUsers(ctx context.Context, q string, limit int) ([]*model.User, error) {
	pat := "%" + likeEscape(q) + "%"
	rows, err := s.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users
		WHERE username LIKE ?1 ESCAPE '\' OR display LIKE ?1 ESCAPE '\'
		ORDER BY display COLLATE NOCASE, id LIMIT ?2`, pat, limit)
	if err != nil {
		return nil, err
	}
	return scanUsers(rows)
}

// SetPassword replaces a user's password hash, clears failed logins and,
// in the same transaction, ends every session of the user: whoever signed
// in with the old password is signed out. It returns how many sessions
// ended.
func (s *Store) SetPassword(ctx context.Context, id int64, hash string) (sessions int64, err error) {
	err = s.submit(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = 0, updated_at = ? WHERE id = ?`, hash, nowMS(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return model.ErrNotFound
		}
		res, err = tx.Exec(`DELETE FROM sessions WHERE user_id = ?`, id)
		if err == nil {
			sessions, _ = res.RowsAffected()
			note(ctx, NoteSessionsEnded, sessions)
		}
		return err
	})
	return sessions, err
}

// SetUserState changes a user's state. Leaving the active state also ends
// every session of the user, in the same transaction.
func (s *Store) SetUserState(ctx context.Context, id int64, state string) error {
	return s.submit(ctx, func(tx *sql.Tx) error { return setUserState(tx, id, state) })
}

func setUserState(tx *sql.Tx, id int64, state string) error {
	res, err := tx.Exec(`UPDATE users SET state = ?, failed_logins = CASE WHEN ?1 = 'active' THEN 0 ELSE failed_logins END,
			locked_until = CASE WHEN ?1 = 'active' THEN 0 ELSE locked_until END, updated_at = ? WHERE id = ?`, state, nowMS(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return model.ErrNotFound
	}
	if state != model.StateActive {
		_, err = tx.Exec(`DELETE FROM sessions WHERE user_id = ?`, id)
	}
	return err
}

// LoginFailed records a failed sign-in step of a user and returns the
// consecutive failures counted so far and the time (Unix ms) before which
// the next attempt will not be checked. failed_logins holds the count and
// locked_until that time; a failure more than forgetMS after it starts the
// count again. now is the caller's clock (Unix ms) and wait gives the
// pause that follows the nth failure, so the schedule (the policy's) stays
// with the caller.
func (s *Store) LoginFailed(ctx context.Context, id, now int64, wait func(fails int) int64, forgetMS int64) (fails int, nextAt int64, err error) {
	err = s.submit(ctx, func(tx *sql.Tx) error {
		var prev int
		var until int64
		if err := tx.QueryRow(`SELECT failed_logins, locked_until FROM users WHERE id = ?`, id).Scan(&prev, &until); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return model.ErrNotFound
			}
			return err
		}
		if now-until > forgetMS {
			prev = 0
		}
		fails = prev + 1
		nextAt = now + wait(fails)
		_, err := tx.Exec(`UPDATE users SET failed_logins = ?, locked_until = ?, updated_at = ? WHERE id = ?`, fails, nextAt, now, id)
		return err
	})
	return fails, nextAt, err
}

// LoginSucceeded clears a user's failed sign-ins and any wait they set.
func (s *Store) LoginSucceeded(ctx context.Context, id int64) error {
	return s.exec1(ctx, `UPDATE users SET failed_logins = 0, locked_until = 0 WHERE id = ?`, id)
}

// exec1 runs one statement that must change exactly one row.
func (s *Store) exec1(ctx context.Context, query string, args ...any) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(query, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return model.ErrNotFound
		}
		return nil
	})
}

// isUnique reports whether err is SQLite's refusal of a duplicate in a
// UNIQUE column (or primary key), by the driver's extended result code.
func isUnique(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// UserFilter selects users for the console's list.
type UserFilter struct {
	Query  string // in username, display name or email
	Role   string
	State  string
	Level  string // an admin level, or "any" for every user with one
	Limit  int
	Offset int
}

// ListUsers returns one page of the users matching f, by display name, and
// how many match in all.
func (s *Store) ListUsers(ctx context.Context, f UserFilter) ([]*model.User, int, error) {
	where := []string{`(username LIKE ?1 ESCAPE '\' OR display LIKE ?1 ESCAPE '\' OR email LIKE ?1 ESCAPE '\')`}
	args := []any{"%" + likeEscape(f.Query) + "%"}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Role != "" {
		add("role = ?%d", f.Role)
	}
	if f.State != "" {
		add("state = ?%d", f.State)
	}
	switch f.Level {
	case "":
	case "any":
		where = append(where, "admin_level != ''")
	default:
		add("admin_level = ?%d", f.Level)
	}
	cond := strings.Join(where, " AND ")
	var total int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	args = append(args, f.Limit, f.Offset)
	rows, err := s.read.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM users WHERE %s ORDER BY display COLLATE NOCASE, id LIMIT ?%d OFFSET ?%d`,
		userColumns, cond, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, err
	}
	out, err := scanUsers(rows)
	if out == nil {
		out = []*model.User{}
	}
	return out, total, err
}

// scanUsers reads every row of rows (userColumns) and closes them.
func scanUsers(rows *sql.Rows) ([]*model.User, error) {
	defer rows.Close()
	var out []*model.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func likeEscape(q string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q)
}

// UserUpdate holds the profile fields an administrator may change; nil
// leaves a field as it is.
type UserUpdate struct {
	Display    *string
	Role       *string
	Email      *string
	AdminLevel *string
}

// UpdateUser changes a user's profile and returns the user as stored.
// Taking away the last owner's level is refused with ErrConflict: the
// organisation must always have someone who can manage administrators.
func (s *Store) UpdateUser(ctx context.Context, id int64, up UserUpdate) (*model.User, error) {
	var u *model.User
	err := s.submit(ctx, func(tx *sql.Tx) error {
		cur, err := scanUser(tx.QueryRow(`SELECT `+userColumns+` FROM users WHERE id = ?`, id))
		if err != nil {
			return err
		}
		if up.Display != nil {
			cur.Display = *up.Display
		}
		if up.Role != nil {
			cur.Role = *up.Role
		}
		if up.Email != nil {
			cur.Email = *up.Email
		}
		if up.AdminLevel != nil && *up.AdminLevel != cur.AdminLevel {
			if cur.AdminLevel == model.LevelOwner {
				if err := notLastOwner(tx, id); err != nil {
					return err
				}
			}
			cur.AdminLevel = *up.AdminLevel
		}
		if _, err := tx.Exec(`UPDATE users SET display = ?, role = ?, email = ?, admin_level = ?, updated_at = ? WHERE id = ?`,
			cur.Display, cur.Role, cur.Email, cur.AdminLevel, nowMS(), id); err != nil {
			return err
		}
		u = cur
		return nil
	})
	return u, err
}

func notLastOwner(tx *sql.Tx, id int64) error {
	var others int
	if err := tx.QueryRow(`SELECT count(*) FROM users WHERE admin_level = 'owner' AND state = 'active' AND id != ?`, id).Scan(&others); err != nil {
		return err
	}
	if others == 0 {
		return model.Refuse(model.ErrConflict, "this is the only active owner; make another user owner first")
	}
	return nil
}

// keepAnOwner refuses (ErrConflict) to let user id stop being an active
// owner when no other active owner exists; ErrNotFound if there is no such
// user.
func keepAnOwner(tx *sql.Tx, id int64) error {
	var level string
	if err := tx.QueryRow(`SELECT admin_level FROM users WHERE id = ?`, id).Scan(&level); errors.Is(err, sql.ErrNoRows) {
		return model.ErrNotFound
	} else if err != nil {
		return err
	}
	if level != model.LevelOwner {
		return nil
	}
	return notLastOwner(tx, id)
}

// SetUserStateChecked is SetUserState that refuses to take the last active
// owner out of the active state.
func (s *Store) SetUserStateChecked(ctx context.Context, id int64, state string) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		if state != model.StateActive {
			if err := keepAnOwner(tx, id); err != nil {
				return err
			}
		}
		return setUserState(tx, id, state)
	})
}

// Offboard disables a user at once: state disabled, the offboarding time
// recorded, every session ended. It returns how many sessions ended. The
// caller wipes the user's devices. The audit entry it carries notes the
// sessions ended and how many devices are left to wipe.
func (s *Store) Offboard(ctx context.Context, id int64) (sessions int64, err error) {
	err = s.submit(ctx, func(tx *sql.Tx) error {
		if err := keepAnOwner(tx, id); err != nil {
			return err
		}
		res, err := tx.Exec(`DELETE FROM sessions WHERE user_id = ?`, id)
		if err != nil {
			return err
		}
		sessions, _ = res.RowsAffected()
		note(ctx, NoteSessionsEnded, sessions)
		if _, err := tx.Exec(`UPDATE invitations SET revoked_at = ? WHERE user_id = ? AND used_at = 0 AND revoked_at = 0`, nowMS(), id); err != nil {
			return err
		}
		var devices int64
		if err := tx.QueryRow(`SELECT count(*) FROM devices WHERE user_id = ? AND wipe IS NULL`, id).Scan(&devices); err != nil {
			return err
		}
		note(ctx, NoteDevicesToWipe, devices)
		_, err = tx.Exec(`UPDATE users SET state = 'disabled', offboarded_at = ?, updated_at = ?1 WHERE id = ?`, nowMS(), id)
		return err
	})
	return sessions, err
}

// ClearLockout ends a user's lockout cooldown and failed-login count.
func (s *Store) ClearLockout(ctx context.Context, id int64) error {
	return s.exec1(ctx, `UPDATE users SET failed_logins = 0, locked_until = 0, updated_at = ? WHERE id = ?`, nowMS(), id)
}

// SessionCount returns how many live sessions a user has.
func (s *Store) SessionCount(ctx context.Context, user int64) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE user_id = ? AND expires_at > ?`, user, nowMS()).Scan(&n)
	return n, err
}

// AdminCount returns how many active users have an admin level.
func (s *Store) AdminCount(ctx context.Context) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE admin_level != '' AND state = 'active' AND password_hash != ''`).Scan(&n)
	return n, err
}
