package store

import (
	"database/sql"
	"fmt"
)

// The hot path's statements, prepared once on the write connection and
// bound to each transaction with tx.Stmt, which reuses the preparation.
const (
	stmtQueueInsert = iota
	stmtQueueDepth
	stmtQueueDelete
	stmtMsgByID
	stmtMsgInsert
	stmtMsgDelivered
	stmtReceiptInsert
	stmtActiveDevices
	stmtContact
	stmtBlobReference
	numStmts
)

var stmtSQL = [numStmts]string{
	stmtQueueInsert: `INSERT INTO queue (device_id, seq, kind, message, event, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
	// The items a device has waiting, counted up to a limit (the count
	// walks the device's part of the queue's key, no further than needed).
	stmtQueueDepth:    `SELECT COUNT(*) FROM (SELECT 1 FROM queue WHERE device_id = ? LIMIT ?)`,
	stmtQueueDelete:   `DELETE FROM queue WHERE device_id = ? AND seq = ? RETURNING kind, message`,
	stmtMsgByID:       `SELECT sender_user, digest, accepted_at FROM messages WHERE msg_id = ?`,
	stmtMsgInsert:     `INSERT INTO messages (msg_id, sender_user, sender_device, conv, created, accepted_at, expires_at, flags, digest, recipients, devices, pending, env) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (msg_id) DO NOTHING RETURNING id`,
	stmtMsgDelivered:  `UPDATE messages SET pending = pending - 1, env = CASE WHEN pending <= 1 THEN NULL ELSE env END WHERE id = ? RETURNING sender_user, msg_id, expires_at`,
	stmtReceiptInsert: `INSERT OR IGNORE INTO receipts (message, user_id, kind, at) VALUES (?, ?, ?, ?)`,
	stmtActiveDevices: `SELECT id FROM devices WHERE user_id = ? AND state = 'active' ORDER BY id`,
	stmtContact:       `INSERT OR IGNORE INTO contacts (a, b) VALUES (?, ?)`,
	// A blob becomes referenced only through its own uploader, and only
	// while it is stored: an id of anyone else's, or of a blob expired or
	// swept, changes no row.
	stmtBlobReference: `UPDATE blobs SET referenced = 1 WHERE id = ? AND user_id = ? AND expires_at > ?`,
}

func (s *Store) prepare() error {
	for i, q := range stmtSQL {
		st, err := s.write.Prepare(q)
		if err != nil {
			return fmt.Errorf("store: prepare %q: %w", q, err)
		}
		s.stmts[i] = st
	}
	return nil
}

// stmt binds a prepared statement to tx, once per transaction: binding
// allocates, and a batch runs the same few statements hundreds of times.
// Only the writer goroutine calls it.
func (s *Store) stmt(tx *sql.Tx, i int) *sql.Stmt {
	if s.boundTx != tx {
		s.boundTx = tx
		clear(s.bound[:])
	}
	if s.bound[i] == nil {
		s.bound[i] = tx.Stmt(s.stmts[i])
	}
	return s.bound[i]
}
