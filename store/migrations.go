package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order, each in its own transaction, and never
// edited once released: a change is a new entry. The schema version is
// SQLite's user_version.
var migrations = []string{
	// 1: directory, sessions, policy, store-and-forward queue.
	`
CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	username      TEXT    NOT NULL UNIQUE COLLATE NOCASE,
	display       TEXT    NOT NULL,
	role          TEXT    NOT NULL CHECK (role IN ('admin', 'staff', 'external', 'patient')),
	state         TEXT    NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'locked', 'disabled')),
	password_hash TEXT    NOT NULL,
	failed_logins INTEGER NOT NULL DEFAULT 0,
	locked_until  INTEGER NOT NULL DEFAULT 0, -- ms; a lockout cooldown, distinct from state 'locked'
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
);

CREATE TABLE groups (
	id         INTEGER PRIMARY KEY,
	name       TEXT    NOT NULL UNIQUE COLLATE NOCASE,
	created_at INTEGER NOT NULL
);

CREATE TABLE group_members (
	group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX group_members_user ON group_members (user_id);

-- id is derived from sign_key (protocol.DeviceID).
CREATE TABLE devices (
	id         INTEGER PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name       TEXT    NOT NULL,
	enc_key    BLOB    NOT NULL,
	sign_key   BLOB    NOT NULL,
	state      TEXT    NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'revoked')),
	created_at INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL
);
CREATE INDEX devices_user ON devices (user_id);

-- The newest signed device list of each user, as the signing device sent it.
CREATE TABLE device_lists (
	user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	version INTEGER NOT NULL,
	list    BLOB    NOT NULL
);

-- Only a hash of each session token is stored.
CREATE TABLE sessions (
	token_hash BLOB    PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	device_id  INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	last_used  INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE policy (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;

-- One row per accepted message. env is the ciphertext envelope; it is set to
-- NULL as soon as no device still waits for it (all acknowledged, recalled or
-- expired). The metadata row stays until expires_at for the details view.
CREATE TABLE messages (
	id            INTEGER PRIMARY KEY,
	msg_id        TEXT    NOT NULL UNIQUE,
	sender_user   INTEGER NOT NULL,
	sender_device INTEGER NOT NULL,
	conv          TEXT    NOT NULL,
	created       INTEGER NOT NULL, -- the sender's clock, ms
	accepted_at   INTEGER NOT NULL, -- the server's clock, ms
	expires_at    INTEGER NOT NULL,
	flags         INTEGER NOT NULL,
	digest        BLOB    NOT NULL, -- SHA-256 of the envelope, to tell a resend from a reused id
	recipients    TEXT    NOT NULL, -- recipient user ids, comma-separated
	devices       TEXT    NOT NULL, -- recipient device ids, comma-separated
	pending       INTEGER NOT NULL, -- devices that have not acknowledged
	recalled      INTEGER NOT NULL DEFAULT 0,
	env           BLOB
);
CREATE INDEX messages_expiry ON messages (expires_at);

-- Receipt times per message and recipient user; kind 1 delivered, 2 read,
-- 3 acknowledged.
CREATE TABLE receipts (
	message INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	user_id INTEGER NOT NULL,
	kind    INTEGER NOT NULL,
	at      INTEGER NOT NULL,
	PRIMARY KEY (message, user_id, kind)
) WITHOUT ROWID;

-- The store-and-forward queue: what each device has yet to acknowledge.
-- kind 1 is a message (message = messages.id), 2 an event (event = JSON of
-- protocol.Event without its seq).
CREATE TABLE queue (
	device_id  INTEGER NOT NULL,
	seq        INTEGER NOT NULL,
	kind       INTEGER NOT NULL,
	message    INTEGER,
	event      BLOB,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;

-- Pairs of users who have exchanged a message; presence is shown to them.
CREATE TABLE contacts (
	a INTEGER NOT NULL,
	b INTEGER NOT NULL,
	PRIMARY KEY (a, b)
) WITHOUT ROWID;
`,
	// 2: per-device key shares for the browser's local store; attachment blobs.
	`
-- The share is half of what unwraps a browser's local store; the server
-- releases it only to a session bound to the device, and deletes it on wipe.
ALTER TABLE devices ADD COLUMN share BLOB;

-- Ciphertext blobs (attachments). The bytes live in files under blobs/.
CREATE TABLE blobs (
	id         TEXT    PRIMARY KEY,
	user_id    INTEGER NOT NULL,
	size       INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX blobs_expiry ON blobs (expires_at);
`,
	// 3: the admin console: admin levels, subgroups, device inventory and
	// remote wipe, invitations, the audit log, MFA, activity roll-ups.
	`
-- admin_level is what a user may do in the console, apart from the role
-- (what kind of person they are when messaging). '' is no console access.
ALTER TABLE users ADD COLUMN admin_level TEXT NOT NULL DEFAULT '' CHECK (admin_level IN ('', 'helpdesk', 'admin', 'owner'));
UPDATE users SET admin_level = 'admin' WHERE role = 'admin';
ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN offboarded_at INTEGER NOT NULL DEFAULT 0; -- ms; 0 while never offboarded

-- A subgroup's members are members of every group above it.
ALTER TABLE groups ADD COLUMN parent_id INTEGER REFERENCES groups (id) ON DELETE SET NULL;
ALTER TABLE groups ADD COLUMN description TEXT NOT NULL DEFAULT '';

-- agent: the browser or program that registered the device (User-Agent).
-- wipe: the signed wipe command a wiped device is given on next contact.
ALTER TABLE devices ADD COLUMN agent TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN wipe BLOB;

-- mfa: how the session's sign-in was confirmed ('' password only, 'totp',
-- 'recovery', 'passkey'); ip and agent of the sign-in, for the console.
ALTER TABLE sessions ADD COLUMN mfa TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';

-- Invitations: single-use, expiring links. user_id set: the link sets the
-- password of that existing account (imported, or reset); otherwise
-- accepting it creates the account described here.
CREATE TABLE invitations (
	id          INTEGER PRIMARY KEY,
	token_hash  BLOB    NOT NULL UNIQUE,
	user_id     INTEGER REFERENCES users (id) ON DELETE CASCADE,
	username    TEXT    NOT NULL DEFAULT '',
	display     TEXT    NOT NULL DEFAULT '',
	email       TEXT    NOT NULL DEFAULT '',
	role        TEXT    NOT NULL DEFAULT 'staff',
	admin_level TEXT    NOT NULL DEFAULT '',
	groups      TEXT    NOT NULL DEFAULT '', -- group ids, comma-separated
	created_by  INTEGER NOT NULL DEFAULT 0,   -- 0: the server itself (first-run setup)
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	used_at     INTEGER NOT NULL DEFAULT 0,
	revoked_at  INTEGER NOT NULL DEFAULT 0
);

-- The audit log: append-only (the triggers refuse edits) and hash-chained:
-- hash = SHA-256(prev hash || the entry's canonical bytes), so an edited or
-- deleted row breaks the chain at that row. audit_head repeats the newest
-- seq and hash, so a truncated tail shows too.
CREATE TABLE audit (
	seq        INTEGER PRIMARY KEY,
	at         INTEGER NOT NULL,
	actor      INTEGER NOT NULL DEFAULT 0,
	actor_name TEXT    NOT NULL DEFAULT '',
	action     TEXT    NOT NULL,
	target     TEXT    NOT NULL DEFAULT '',
	ip         TEXT    NOT NULL DEFAULT '',
	outcome    TEXT    NOT NULL DEFAULT 'ok',
	emergency  INTEGER NOT NULL DEFAULT 0,
	detail     TEXT    NOT NULL DEFAULT '',
	prev       BLOB    NOT NULL,
	hash       BLOB    NOT NULL
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_action ON audit (action, at);
CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  INTEGER NOT NULL,
	hash BLOB    NOT NULL,
	-- The chain's start after old entries were pruned at the retention age.
	base_seq  INTEGER NOT NULL DEFAULT 0,
	base_hash BLOB    NOT NULL DEFAULT x''
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN
	SELECT RAISE(ABORT, 'the audit log is append-only');
END;
-- Only entries below the chain's base (moved up first by pruning at the
-- retention age) may be deleted.
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
	WHEN old.seq > COALESCE((SELECT base_seq FROM audit_head WHERE id = 1), 0) BEGIN
	SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- MFA: one TOTP secret per user (confirmed once a code from it was
-- entered), single-use recovery codes (hashed), passkeys.
CREATE TABLE mfa_totp (
	user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	secret     TEXT    NOT NULL,
	confirmed  INTEGER NOT NULL DEFAULT 0,
	last_step  INTEGER NOT NULL DEFAULT 0, -- a code is accepted once
	created_at INTEGER NOT NULL
);
CREATE TABLE mfa_recovery (
	user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	code_hash BLOB    NOT NULL,
	used_at   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (user_id, code_hash)
) WITHOUT ROWID;
CREATE TABLE passkeys (
	id         BLOB    PRIMARY KEY, -- the credential id
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name       TEXT    NOT NULL,
	credential TEXT    NOT NULL, -- JSON of the WebAuthn credential (public key, sign count, flags)
	created_at INTEGER NOT NULL,
	last_used  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- Small server-held values: the signing key of remote-wipe commands (not a
-- message key), the activity roll-up's position.
CREATE TABLE server_state (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;

-- Activity roll-ups for reports, from metadata only, made from the
-- messages table before the retention sweep deletes its rows.
CREATE TABLE activity_daily (
	day     TEXT    NOT NULL, -- YYYY-MM-DD, UTC
	user_id INTEGER NOT NULL,
	sent    INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (day, user_id)
) WITHOUT ROWID;
CREATE TABLE device_days (
	day       TEXT    NOT NULL,
	device_id INTEGER NOT NULL,
	PRIMARY KEY (day, device_id)
) WITHOUT ROWID;
`,
	// 4: attachment quotas count each user's unexpired blobs on every upload.
	`CREATE INDEX blobs_user ON blobs (user_id, expires_at);`,
	// 5: the access epoch, a counter that triggers move on every commit
	// that can end a session or change who may receive messages, by any
	// process writing this file (the server or the operator CLI). The relay
	// reads this one row a second instead of rereading every session.
	`
CREATE TABLE access_epoch (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n  INTEGER NOT NULL
);
INSERT INTO access_epoch (id, n) VALUES (1, 0);
CREATE TRIGGER access_epoch_session_end AFTER DELETE ON sessions
BEGIN UPDATE access_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER access_epoch_user AFTER UPDATE OF state, password_hash ON users
BEGIN UPDATE access_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER access_epoch_device AFTER UPDATE OF state ON devices
BEGIN UPDATE access_epoch SET n = n + 1 WHERE id = 1; END;

-- A device's wipe-check key: the public half of an Ed25519 key the device
-- keeps usable while locked, with which it proves itself to fetch its
-- wipe command (its signing key is sealed under the PIN).
ALTER TABLE devices ADD COLUMN wipe_key BLOB;
`,
	// 6: participation rules: the users and groups assigned to a user (a
	// patient's care team, an external provider's contacts).
	`
CREATE TABLE assignments (
	id         INTEGER PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	member_id  INTEGER REFERENCES users (id) ON DELETE CASCADE,
	group_id   INTEGER REFERENCES groups (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	CHECK ((member_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX assignments_user_member ON assignments (user_id, member_id) WHERE member_id IS NOT NULL;
CREATE UNIQUE INDEX assignments_user_group ON assignments (user_id, group_id) WHERE group_id IS NOT NULL;
CREATE INDEX assignments_member ON assignments (member_id) WHERE member_id IS NOT NULL;
CREATE INDEX assignments_group ON assignments (group_id) WHERE group_id IS NOT NULL;
`,
	// 7: a blob is referenced once a message of its uploader names it; the
	// sweep deletes unreferenced blobs after the policy's blob_grace. Blobs
	// stored before this version may be in messages that could not say so,
	// so they count as referenced and keep their lifetime.
	`
ALTER TABLE blobs ADD COLUMN referenced INTEGER NOT NULL DEFAULT 0;
UPDATE blobs SET referenced = 1;
CREATE INDEX blobs_unreferenced ON blobs (created_at) WHERE referenced = 0;
`,
	// 8: the access epoch also moves on every commit that changes who may
	// reach whom or what a message may carry: the policy, group membership
	// and nesting, assignments and roles. The relay then drops its caches
	// of them within a poll, whichever process made the change, so the
	// relay never refuses what a client was just told is allowed (or lets
	// through for a few seconds what was just forbidden).
	`
CREATE TRIGGER access_epoch_policy_insert AFTER INSERT ON policy
BEGIN UPDATE access_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER access_epoch_policy_update AFTER UPDATE ON policy
BEGIN UPDATE access_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER access_epoch_policy_delete AFTER DELETE ON policy
BEGIN UPDATE access_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER access_epoch_member_insert AFTER INSERT ON group_members
BEGIN UPDATE access_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER access_epoch_member_delete AFTER DELETE ON group_members
BEGIN UPDATE access_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER access_epoch_group_parent AFTER UPDATE OF parent_id ON groups
BEGIN UPDATE access_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER access_epoch_group_delete AFTER DELETE ON groups
BEGIN UPDATE access_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER access_epoch_assignment_insert AFTER INSERT ON assignments
BEGIN UPDATE access_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER access_epoch_assignment_delete AFTER DELETE ON assignments
BEGIN UPDATE access_epoch SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER access_epoch_user_role AFTER UPDATE OF role ON users
BEGIN UPDATE access_epoch SET n = n + 1 WHERE id = 1; END;
`,
	// 9: email: the SMTP settings (the password sealed with the data
	// directory's secret.key) and the unread nudges sent, at most one per
	// user until one of their devices connects again.
	`
CREATE TABLE mail_settings (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	host       TEXT    NOT NULL,
	port       INTEGER NOT NULL,
	security   TEXT    NOT NULL,
	username   TEXT    NOT NULL,
	password   BLOB, -- AES-256-GCM under secret.key; NULL: none stored
	from_addr  TEXT    NOT NULL,
	practice   TEXT    NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE TABLE mail_nudges (
	user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	sent_at INTEGER NOT NULL
);
`,
	// 10: Web Push: one subscription per device (its push service endpoint
	// and the keys that encrypt to it). The VAPID key that signs pushes is
	// kept in server_state, so a restored backup keeps every subscription
	// working. A device that leaves the active state (revoked, wiped)
	// loses its subscription in the same transaction.
	`
CREATE TABLE push_subscriptions (
	device_id  INTEGER PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
	endpoint   TEXT    NOT NULL,
	p256dh     BLOB    NOT NULL,
	auth       BLOB    NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE TRIGGER push_subscription_device_ended AFTER UPDATE OF state ON devices
	WHEN new.state <> 'active' BEGIN
	DELETE FROM push_subscriptions WHERE device_id = new.id;
END;
`,
	// 11: what the console's status is read from: when a user first
	// signed in (0: never, shown as invited) and when a wiped device
	// fetched its wipe command (0: not yet, shown as wipe sent). Users
	// who hold a session or a device have signed in already.
	`
ALTER TABLE users ADD COLUMN signed_in_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN wiped_at INTEGER NOT NULL DEFAULT 0;
UPDATE users SET signed_in_at = created_at
	WHERE id IN (SELECT user_id FROM sessions UNION SELECT user_id FROM devices);
`,
	// 12: group membership events. Each change of a group's members is
	// recorded in the transaction that makes it, by whichever process
	// makes it (the server or the operator CLI), with who made it and
	// who should hear of it (the members before and after, as a list of
	// ids); the server then queues it for those users' devices (queue
	// kind 3: event holds protocol.MemberEvent as JSON, without its seq)
	// and deletes the row.
	`
CREATE TABLE member_events (
	id         INTEGER PRIMARY KEY,
	group_id   INTEGER NOT NULL,
	kind       TEXT    NOT NULL CHECK (kind IN ('added', 'removed')),
	user_id    INTEGER NOT NULL,
	name       TEXT    NOT NULL,
	by_user    INTEGER NOT NULL DEFAULT 0,
	by_name    TEXT    NOT NULL DEFAULT '',
	via        TEXT    NOT NULL,
	at         INTEGER NOT NULL,
	recipients TEXT    NOT NULL
);
`,
	// 13: the PIN proof: the server keeps SHA-256 of each browser device's
	// PIN proof and counts wrong proofs in a row; the key share is released
	// only on a right one (store/pin.go). NULL: a device set up before, or
	// not yet past its set-up, whose share goes to its session as before.
	`
ALTER TABLE devices ADD COLUMN pin_verifier BLOB;
ALTER TABLE devices ADD COLUMN pin_failures INTEGER NOT NULL DEFAULT 0;
`,
	// 14: devices waiting to be approved by one of the user's active
	// devices (PROTOCOL.md 3.1). A request is not a device: it is in no
	// device list, gets no queue and cannot connect to the relay. It ends
	// with the session that made it.
	`
CREATE TABLE device_requests (
	id             INTEGER PRIMARY KEY,
	user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash     BLOB    NOT NULL UNIQUE REFERENCES sessions (token_hash) ON DELETE CASCADE,
	name           TEXT    NOT NULL,
	agent          TEXT    NOT NULL DEFAULT '',
	enc_key        BLOB    NOT NULL,
	sign_key       BLOB    NOT NULL,
	commit_hash    BLOB    NOT NULL,
	approver_id    INTEGER NOT NULL DEFAULT 0,
	approver_nonce BLOB,
	reveal_nonce   BLOB,
	created_at     INTEGER NOT NULL
);
CREATE INDEX device_requests_user ON device_requests (user_id);
`,
	// 15: recovery, for a user with no device left (PROTOCOL.md 3.2): such
	// a request holds the new device's own list, and an administrator,
	// after a second-factor step-up, takes the approver's part
	// (admin_approver, their user id) and types the code the device
	// shows; three wrong codes end the request. device_lists.approved_by
	// names the administrator whose approval stored the current list (0:
	// a device of the user signed it after approving).
	`
ALTER TABLE device_requests ADD COLUMN recovery_list BLOB;
ALTER TABLE device_requests ADD COLUMN admin_approver INTEGER NOT NULL DEFAULT 0;
ALTER TABLE device_requests ADD COLUMN code_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE device_lists ADD COLUMN approved_by INTEGER NOT NULL DEFAULT 0;
`,
	// 16: whether a user's last chosen status is do-not-disturb, which
	// holds back Web Push while their devices are offline: kept, so a
	// restart of the server does not wake them (relay/presence.go).
	`
ALTER TABLE users ADD COLUMN dnd INTEGER NOT NULL DEFAULT 0;
`,
	// 17: when each device was revoked (wiped or removed), which peers are
	// told so that they refuse what it signs after (PROTOCOL.md 3.4). For
	// a device revoked before, its last contact is the best bound known.
	`
ALTER TABLE devices ADD COLUMN revoked_at INTEGER NOT NULL DEFAULT 0;
UPDATE devices SET revoked_at = last_seen WHERE state = 'revoked';
`,
	// 18: a device rotates its encryption key (RotateDeviceKey): enc_key is
	// replaced and enc_rotated_at (ms; 0: never rotated) bounds how often.
	`
ALTER TABLE devices ADD COLUMN enc_rotated_at INTEGER NOT NULL DEFAULT 0;
`,
}

// SchemaVersion is the schema version this binary writes.
var SchemaVersion = len(migrations)

func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: read schema version: %w", err)
	}
	return v, nil
}

func checkVersion(ctx context.Context, db *sql.DB) error {
	v, err := schemaVersion(ctx, db)
	if err != nil {
		return err
	}
	if v > SchemaVersion {
		return fmt.Errorf("store: the database has schema version %d but this curbside knows only up to %d: run a newer curbside (downgrades are not supported)", v, SchemaVersion)
	}
	return nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	if err := checkVersion(ctx, db); err != nil {
		return err
	}
	v, _ := schemaVersion(ctx, db)
	for i := v; i < len(migrations); i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migration %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: migration %d: %w", i+1, err)
		}
	}
	return nil
}
