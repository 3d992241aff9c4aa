package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// Invitation kinds.
const (
	InviteNew   = "new"   // accepting creates the account described
	InviteReset = "reset" // accepting sets the password of an existing account
	InviteSetup = "setup" // the first-run link that creates the owner
)

// Invitation statuses.
const (
	InvitePending = "pending"
	InviteUsed    = "used"
	InviteExpired = "expired"
	InviteRevoked = "revoked"
)

// Invitation is a single-use, expiring link that lets one person set a
// password: for a new account, for an existing one (imported, or after a
// reset), or for the organisation's first owner. Only a hash of its token
// is stored.
type Invitation struct {
	ID         int64   `json:"id"`
	Kind       string  `json:"kind"`
	Status     string  `json:"status"`
	User       int64   `json:"user,omitempty"`
	Username   string  `json:"username"`
	Display    string  `json:"display"`
	Email      string  `json:"email,omitempty"`
	Role       string  `json:"role"`
	AdminLevel string  `json:"admin_level,omitempty"`
	Groups     []int64 `json:"groups"`
	CreatedBy  int64   `json:"created_by"`
	CreatedAt  int64   `json:"created_at"`
	ExpiresAt  int64   `json:"expires_at"`
	UsedAt     int64   `json:"used_at,omitempty"`
	RevokedAt  int64   `json:"revoked_at,omitempty"`
}

const invitationColumns = `i.id, COALESCE(i.user_id, 0), CASE WHEN i.user_id IS NULL THEN i.username ELSE u.username END,
	CASE WHEN i.user_id IS NULL THEN i.display ELSE u.display END, i.email, CASE WHEN i.user_id IS NULL THEN i.role ELSE u.role END,
	CASE WHEN i.user_id IS NULL THEN i.admin_level ELSE u.admin_level END, i.groups, i.created_by, i.created_at, i.expires_at, i.used_at, i.revoked_at`

const invitationFrom = ` FROM invitations i LEFT JOIN users u ON u.id = i.user_id`

func scanInvitation(row interface{ Scan(...any) error }, now int64) (*Invitation, error) {
	var inv Invitation
	var groups string
	err := row.Scan(&inv.ID, &inv.User, &inv.Username, &inv.Display, &inv.Email, &inv.Role, &inv.AdminLevel, &groups,
		&inv.CreatedBy, &inv.CreatedAt, &inv.ExpiresAt, &inv.UsedAt, &inv.RevokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	inv.Groups = append([]int64{}, splitIDs(groups)...)
	switch {
	case inv.User != 0:
		inv.Kind = InviteReset
	case inv.CreatedBy == 0 && inv.AdminLevel == model.LevelOwner:
		inv.Kind = InviteSetup
	default:
		inv.Kind = InviteNew
	}
	switch {
	case inv.UsedAt != 0:
		inv.Status = InviteUsed
	case inv.RevokedAt != 0:
		inv.Status = InviteRevoked
	case inv.ExpiresAt <= now:
		inv.Status = InviteExpired
	default:
		inv.Status = InvitePending
	}
	return &inv, nil
}

// CreateInvitation stores inv under tokenHash and sets its ID. For a new
// account, the username must not be taken (ErrExists) by a user or by
// another pending invitation. For an existing account, the account's
// pending invitations are revoked in the same transaction: only the newest
// link works.
func (s *Store) CreateInvitation(ctx context.Context, inv *Invitation, tokenHash []byte) error {
	now := nowMS()
	return s.submit(ctx, func(tx *sql.Tx) error { return createInvitation(tx, inv, tokenHash, now) })
}

func createInvitation(tx *sql.Tx, inv *Invitation, tokenHash []byte, now int64) error {
	if inv.User == 0 && inv.Username != "" {
		var n int
		if err := tx.QueryRow(`SELECT (SELECT count(*) FROM users WHERE username = ?1) + (SELECT count(*) FROM invitations
			WHERE user_id IS NULL AND username = ?1 COLLATE NOCASE AND used_at = 0 AND revoked_at = 0 AND expires_at > ?2)`, inv.Username, now).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("username %q: %w", inv.Username, model.ErrExists)
		}
	}
	for _, g := range inv.Groups {
		if err := groupExists(tx, g); err != nil {
			return err
		}
	}
	var user any
	if inv.User != 0 {
		user = inv.User
		// One live link per account: a new reset link voids the older
		// ones, so a link sent before (and perhaps to the wrong place)
		// no longer sets the password.
		if _, err := tx.Exec(`UPDATE invitations SET revoked_at = ? WHERE user_id = ? AND used_at = 0 AND revoked_at = 0`, now, inv.User); err != nil {
			return err
		}
	}
	inv.CreatedAt = now
	return tx.QueryRow(`INSERT INTO invitations (token_hash, user_id, username, display, email, role, admin_level, groups, created_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, tokenHash, user, inv.Username, inv.Display, inv.Email, inv.Role, inv.AdminLevel,
		joinIDs(inv.Groups), inv.CreatedBy, now, inv.ExpiresAt).Scan(&inv.ID)
}

// InvitationByHash looks an invitation up by its token's hash.
func (s *Store) InvitationByHash(ctx context.Context, tokenHash []byte) (*Invitation, error) {
	return scanInvitation(s.read.QueryRowContext(ctx, `SELECT `+invitationColumns+invitationFrom+` WHERE i.token_hash = ?`, tokenHash), nowMS())
}

// ListInvitations lists invitations, newest first, at most limit.
func (s *Store) ListInvitations(ctx context.Context, limit int) ([]*Invitation, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+invitationColumns+invitationFrom+` ORDER BY i.id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	now := nowMS()
	out := []*Invitation{}
	for rows.Next() {
		inv, err := scanInvitation(rows, now)
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, rows.Err()
}

// RevokeInvitation makes a pending invitation unusable.
func (s *Store) RevokeInvitation(ctx context.Context, id int64) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE invitations SET revoked_at = ? WHERE id = ? AND used_at = 0 AND revoked_at = 0`, nowMS(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var one int
			if err := tx.QueryRow(`SELECT 1 FROM invitations WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
				return model.ErrNotFound
			}
			return model.ErrGone
		}
		return nil
	})
}

// RevokeSetupInvitations revokes every pending first-run link, before a
// new one is made.
func (s *Store) RevokeSetupInvitations(ctx context.Context) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE invitations SET revoked_at = ? WHERE created_by = 0 AND user_id IS NULL AND admin_level = 'owner' AND used_at = 0 AND revoked_at = 0`, nowMS())
		return err
	})
}

// AcceptInvitation uses the invitation with tokenHash, once: a reset sets
// the account's password (and ends its lockout and sessions); a new or
// set-up invitation creates the account, with username if the invitation
// (and display name) left to the person, and adds it to the invitation's groups. It returns
// the account, which is also the Result of the audit entry ctx carries.
func (s *Store) AcceptInvitation(ctx context.Context, tokenHash []byte, username, display, passwordHash string) (*model.User, *Invitation, error) {
	var u *model.User
	var inv *Invitation
	err := s.submit(ctx, func(tx *sql.Tx) error {
		now := nowMS()
		var err error
		inv, err = scanInvitation(tx.QueryRow(`SELECT `+invitationColumns+invitationFrom+` WHERE i.token_hash = ?`, tokenHash), now)
		if err != nil {
			return err
		}
		if inv.Status != InvitePending {
			return model.Refuse(model.ErrGone, "%s", inv.Status)
		}
		if inv.Kind == InviteSetup {
			// A set-up link is void once anyone holds an admin level.
			var admins int
			if err := tx.QueryRow(`SELECT count(*) FROM users WHERE admin_level != '' AND password_hash != ''`).Scan(&admins); err != nil {
				return err
			}
			if admins > 0 {
				return model.Refuse(model.ErrGone, "an administrator already exists")
			}
		}
		if _, err := tx.Exec(`UPDATE invitations SET used_at = ? WHERE id = ?`, now, inv.ID); err != nil {
			return err
		}
		if inv.User != 0 {
			if _, err := tx.Exec(`UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = 0, updated_at = ? WHERE id = ?`, passwordHash, now, inv.User); err != nil {
				return err
			}
			if _, err := tx.Exec(`DELETE FROM sessions WHERE user_id = ?`, inv.User); err != nil {
				return err
			}
			u, err = scanUser(tx.QueryRow(`SELECT `+userColumns+` FROM users WHERE id = ?`, inv.User))
			if err == nil {
				result(ctx, u)
			}
			return err
		}
		if inv.Username != "" {
			username = inv.Username
		}
		if inv.Display != "" {
			display = inv.Display
		}
		res, err := tx.Exec(`INSERT INTO users (username, display, role, state, admin_level, email, password_hash, created_at, updated_at)
			VALUES (?, ?, ?, 'active', ?, ?, ?, ?, ?)`, username, display, inv.Role, inv.AdminLevel, inv.Email, passwordHash, now, now)
		if isUnique(err) {
			return fmt.Errorf("username %q: %w", username, model.ErrExists)
		}
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		before, err := snapshotMembers(tx, inv.Groups...)
		if err != nil {
			return err
		}
		for _, g := range inv.Groups {
			if _, err := tx.Exec(`INSERT OR IGNORE INTO group_members (group_id, user_id) SELECT id, ? FROM groups WHERE id = ?`, id, g); err != nil {
				return err
			}
		}
		// The administrator who made the invitation chose its groups.
		by := &memberActor{by: inv.CreatedBy, via: protocol.ViaConsole}
		if inv.CreatedBy == 0 {
			by = &memberActor{via: protocol.ViaServer}
		}
		if err := recordMemberChanges(ctx, tx, before, by); err != nil {
			return err
		}
		u, err = scanUser(tx.QueryRow(`SELECT `+userColumns+` FROM users WHERE id = ?`, id))
		if err == nil {
			result(ctx, u)
		}
		return err
	})
	return u, inv, err
}

// NewAccount is one account for CreateAccounts: the user (no password), the
// groups to add them to, and the hash of their invitation's token.
type NewAccount struct {
	User       *model.User
	Groups     []int64
	Invitation *Invitation
	TokenHash  []byte
}

// CreateAccounts creates every account in one transaction, each with its
// group memberships and its set-password invitation: all of them or, on
// any error, none (the error names the username).
func (s *Store) CreateAccounts(ctx context.Context, accounts []*NewAccount) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		now := nowMS()
		var groups []int64
		for _, a := range accounts {
			groups = append(groups, a.Groups...)
		}
		before, err := snapshotMembers(tx, groups...)
		if err != nil {
			return err
		}
		for _, a := range accounts {
			u := a.User
			res, err := tx.Exec(`INSERT INTO users (username, display, role, state, admin_level, email, password_hash, created_at, updated_at)
				VALUES (?, ?, ?, 'active', ?, ?, '', ?, ?)`, u.Username, u.Display, u.Role, u.AdminLevel, u.Email, now, now)
			if isUnique(err) {
				return fmt.Errorf("user %q: %w", u.Username, model.ErrExists)
			}
			if err != nil {
				return err
			}
			u.ID, _ = res.LastInsertId()
			u.State, u.CreatedAt = model.StateActive, now
			for _, g := range a.Groups {
				if err := groupExists(tx, g); err != nil {
					return err
				}
				if _, err := tx.Exec(`INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?, ?)`, g, u.ID); err != nil {
					return err
				}
			}
			a.Invitation.User = u.ID
			if err := createInvitation(tx, a.Invitation, a.TokenHash, now); err != nil {
				return err
			}
		}
		return recordMemberChanges(ctx, tx, before, &memberActor{via: protocol.ViaSync})
	})
}
