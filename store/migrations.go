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
