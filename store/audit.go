package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
)

// Audit outcomes.
const (
	OutcomeOK   = "ok"
	OutcomeFail = "fail"
)

// AuditEntry is one row of the audit log. It holds metadata only: who did
// what to which account, device or setting, from where, and whether it
// worked; never message content.
type AuditEntry struct {
	Seq       int64  `json:"seq"`
	At        int64  `json:"at"` // ms since the Unix epoch, the server's clock
	Actor     int64  `json:"actor"`
	ActorName string `json:"actor_name"`
	Action    string `json:"action"` // dotted, e.g. "login.fail", "user.offboard"
	Target    string `json:"target"` // e.g. "user:12", "device:345", "policy"
	IP        string `json:"ip"`
	Outcome   string `json:"outcome"`
	Emergency bool   `json:"emergency,omitempty"`
	Detail    string `json:"detail,omitempty"` // JSON object, metadata only
	Prev      []byte `json:"prev"`
	Hash      []byte `json:"hash"`
}

// auditLabel starts every hashed entry, so a hash of this chain cannot be
// passed off as a hash of anything else.
const auditLabel = "curbside/audit/v1"

// AuditHash returns SHA-256(label || prev || canonical bytes of e): each
// field in a fixed order, integers as 8 bytes big-endian, strings with a
// 4-byte length before them.
func AuditHash(prev []byte, e *AuditEntry) []byte {
	h := sha256.New()
	var n [8]byte
	str := func(s string) {
		binary.BigEndian.PutUint32(n[:4], uint32(len(s)))
		h.Write(n[:4])
		h.Write([]byte(s))
	}
	num := func(v int64) {
		binary.BigEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	str(auditLabel)
	str(string(prev))
	num(e.Seq)
	num(e.At)
	num(e.Actor)
	str(e.ActorName)
	str(e.Action)
	str(e.Target)
	str(e.IP)
	str(e.Outcome)
	em := int64(0)
	if e.Emergency {
		em = 1
	}
	num(em)
	str(e.Detail)
	return h.Sum(nil)
}

// Audit appends e to the audit log; Seq, At (if zero), Prev and Hash are
// filled in.
func (s *Store) Audit(ctx context.Context, e *AuditEntry) error {
	return s.submit(ctx, func(tx *sql.Tx) error { return appendAudit(tx, e) })
}

// appendAudit appends e inside a write transaction. Write transactions are
// IMMEDIATE, so the head read here cannot change before the commit, even
// when the operator CLI writes from another process.
func appendAudit(tx *sql.Tx, e *AuditEntry) error {
	var seq int64
	var prev []byte
	err := tx.QueryRow(`SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &prev)
	if errors.Is(err, sql.ErrNoRows) {
		seq, prev, err = 0, []byte{}, nil
	}
	if err != nil {
		return err
	}
	if e.At == 0 {
		e.At = nowMS()
	}
	if e.Outcome == "" {
		e.Outcome = OutcomeOK
	}
	e.Seq = seq + 1
	e.Prev = prev
	e.Hash = AuditHash(prev, e)
	if _, err := tx.Exec(`INSERT INTO audit (seq, at, actor, actor_name, action, target, ip, outcome, emergency, detail, prev, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Seq, e.At, e.Actor, e.ActorName, e.Action, e.Target, e.IP, e.Outcome, e.Emergency, e.Detail, e.Prev, e.Hash); err != nil {
		return err
	}
	_, err = tx.Exec(`INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)
		ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`, e.Seq, e.Hash)
	return err
}
