package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
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

// Audit appends e to the audit log in a transaction of its own; Seq, At (if
// zero), Prev and Hash are filled in. It is for entries that record no
// change of state: a refused or failed attempt, a read of the log or of a
// report. An action that changes state records its entry in its own
// transaction, with WithAudit.
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

// MaxAuditPage is the most entries one QueryAudit call returns.
const MaxAuditPage = 500

// AuditQuery filters the audit log. Zero fields do not filter.
type AuditQuery struct {
	Text    string // substring of actor_name, action, target or detail (case-insensitive)
	Action  string // action prefix: "user." matches user.create and user.offboard, "login.fail" matches itself
	Actor   int64  // the acting user's id
	Outcome string // OutcomeOK or OutcomeFail
	// Emergency keeps only entries marked as emergency (break-glass)
	// access, for their review.
	Emergency bool
	From      int64 // at >= From, ms
	To        int64 // at < To, ms
	Before    int64 // seq < Before: the keyset cursor of the next page
	Limit     int   // 1..MaxAuditPage; 0 means MaxAuditPage
}

// where returns the SQL condition and arguments for q.
func (q *AuditQuery) where() (string, []any) {
	conds := []string{"1"}
	var args []any
	if q.Text != "" {
		p := "%" + likeEscape(q.Text) + "%"
		conds = append(conds, `(actor_name LIKE ? ESCAPE '\' OR action LIKE ? ESCAPE '\' OR target LIKE ? ESCAPE '\' OR detail LIKE ? ESCAPE '\' OR ip LIKE ? ESCAPE '\')`)
		args = append(args, p, p, p, p, p)
	}
	if q.Action != "" {
		// A prefix match written as a range, so the audit_action index
		// serves it, and so "_" in an action is not a wildcard.
		conds = append(conds, `action >= ? AND action < ?`)
		args = append(args, q.Action, q.Action+"\U0010FFFF")
	}
	if q.Actor != 0 {
		conds = append(conds, `actor = ?`)
		args = append(args, q.Actor)
	}
	if q.Outcome != "" {
		conds = append(conds, `outcome = ?`)
		args = append(args, q.Outcome)
	}
	if q.Emergency {
		conds = append(conds, `emergency != 0`)
	}
	if q.From != 0 {
		conds = append(conds, `at >= ?`)
		args = append(args, q.From)
	}
	if q.To != 0 {
		conds = append(conds, `at < ?`)
		args = append(args, q.To)
	}
	if q.Before != 0 {
		conds = append(conds, `seq < ?`)
		args = append(args, q.Before)
	}
	return strings.Join(conds, " AND "), args
}

const auditColumns = `seq, at, actor, actor_name, action, target, ip, outcome, emergency, detail, prev, hash`

func scanAudit(row interface{ Scan(...any) error }) (*AuditEntry, error) {
	var e AuditEntry
	err := row.Scan(&e.Seq, &e.At, &e.Actor, &e.ActorName, &e.Action, &e.Target, &e.IP, &e.Outcome, &e.Emergency, &e.Detail, &e.Prev, &e.Hash)
	return &e, err
}

// QueryAudit returns the newest entries matching q, newest first, and the
// cursor of the next page (the Before of the following call), or 0 when
// there are no more.
func (s *Store) QueryAudit(ctx context.Context, q AuditQuery) (entries []*AuditEntry, nextBefore int64, err error) {
	limit := q.Limit
	if limit <= 0 || limit > MaxAuditPage {
		limit = MaxAuditPage
	}
	cond, args := q.where()
	// One more than asked tells whether a next page exists.
	rows, err := s.read.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit WHERE `+cond+` ORDER BY seq DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, 0, err
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if len(entries) > limit {
		entries = entries[:limit]
		nextBefore = entries[limit-1].Seq
	}
	return entries, nextBefore, nil
}

// EachAudit calls fn for every entry matching q, oldest first, from one
// consistent snapshot; q.Limit is ignored. Exports use it: no page limit,
// constant memory.
func (s *Store) EachAudit(ctx context.Context, q AuditQuery, fn func(*AuditEntry) error) error {
	cond, args := q.where()
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit WHERE `+cond+` ORDER BY seq`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Kinds of problem AuditVerify reports.
const (
	AuditEdited    = "edited"    // an entry's hash does not match its content
	AuditLink      = "link"      // an entry's prev is not the hash of the entry before it
	AuditMissing   = "missing"   // a seq is absent from the middle of the chain
	AuditTruncated = "truncated" // entries up to the head's seq are absent at the end
	AuditHeadBad   = "head"      // the head's seq or hash does not match the last entry
)

// AuditVerify is the result of checking the audit chain.
type AuditVerify struct {
	OK       bool   `json:"ok"`
	Entries  int64  `json:"entries"`   // entries checked (those after the base)
	BaseSeq  int64  `json:"base_seq"`  // entries up to this seq were pruned at the retention age
	HeadSeq  int64  `json:"head_seq"`  // the head as audit_head records it
	HeadHash string `json:"head_hash"` // hex
	FirstBad int64  `json:"first_bad,omitempty"`
	Kind     string `json:"kind,omitempty"`    // one of the Audit* kinds
	Problem  string `json:"problem,omitempty"` // what is wrong, in words
}

// VerifyAudit walks the audit chain from its base (where pruning left it)
// to its head and reports the first entry that does not check: a seq out
// of sequence (missing), a prev that is not the hash of the entry before
// (link), a hash that is not the hash of the entry's own content (edited),
// or a head that does not match the last entry (truncated, head). It reads
// one snapshot, so a server appending meanwhile does not disturb it.
func (s *Store) VerifyAudit(ctx context.Context) (*AuditVerify, error) {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var v AuditVerify
	var headHash, baseHash []byte
	err = tx.QueryRowContext(ctx, `SELECT seq, hash, base_seq, base_hash FROM audit_head WHERE id = 1`).Scan(&v.HeadSeq, &headHash, &v.BaseSeq, &baseHash)
	if errors.Is(err, sql.ErrNoRows) {
		headHash, baseHash, err = []byte{}, []byte{}, nil
	}
	if err != nil {
		return nil, err
	}
	v.HeadHash = hex.EncodeToString(headHash)
	bad := func(seq int64, kind, format string, a ...any) (*AuditVerify, error) {
		v.OK, v.FirstBad, v.Kind = false, seq, kind
		v.Problem = fmt.Sprintf(format, a...)
		return &v, nil
	}

	rows, err := tx.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit WHERE seq > ? ORDER BY seq`, v.BaseSeq)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	want, prev := v.BaseSeq+1, baseHash
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		switch {
		case e.Seq != want:
			rows.Close()
			if want == e.Seq-1 {
				return bad(want, AuditMissing, "missing (deleted from the chain)")
			}
			return bad(want, AuditMissing, "missing, with the %d entries up to %d (deleted from the chain)", e.Seq-want-1, e.Seq-1)
		case !bytes.Equal(e.Prev, prev):
			rows.Close()
			return bad(e.Seq, AuditLink, "link broken (its prev is not the hash of entry %d: that entry was replaced, or this one was)", e.Seq-1)
		case !bytes.Equal(AuditHash(e.Prev, e), e.Hash):
			rows.Close()
			return bad(e.Seq, AuditEdited, "edited (hash does not match)")
		}
		v.Entries++
		want, prev = e.Seq+1, e.Hash
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	last := want - 1
	switch {
	case last < v.HeadSeq:
		return bad(last+1, AuditTruncated, "missing: the log ends at %d but its head says %d (entries deleted from the end)", last, v.HeadSeq)
	case last > v.HeadSeq:
		return bad(v.HeadSeq+1, AuditHeadBad, "after the head: the head says %d but the log goes on to %d (the head was rolled back)", v.HeadSeq, last)
	case !bytes.Equal(prev, headHash):
		return bad(v.HeadSeq, AuditHeadBad, "does not match the head's hash (the head or the last entry was rewritten)")
	}
	v.OK = true
	return &v, nil
}

// PruneAudit deletes entries older than before (ms), oldest first and at
// most batch of them, and reports how many it deleted. It stops at the
// first entry at or after before, so the chain stays one unbroken run even
// if the clock once went back. audit_head's base moves up to the last
// deleted entry in the same transaction, first: the delete trigger allows
// only entries at or below the base, and VerifyAudit starts from there.
// The audit entry ctx carries (audit.prune) is appended after the deletion
// in the same transaction, noting how many were deleted, and only when
// some were.
func (s *Store) PruneAudit(ctx context.Context, before int64, batch int) (int64, error) {
	var n int64
	err := s.submit(ctx, func(tx *sql.Tx) error {
		var baseSeq int64
		err := tx.QueryRow(`SELECT base_seq FROM audit_head WHERE id = 1`).Scan(&baseSeq)
		if errors.Is(err, sql.ErrNoRows) {
			nothingDone(ctx)
			return nil // an empty log
		}
		if err != nil {
			return err
		}
		// The newest entry of the old run: the one before the first
		// entry that is young enough, within this batch.
		var upTo sql.NullInt64
		err = tx.QueryRow(`WITH run AS (SELECT seq, at FROM audit WHERE seq > ? ORDER BY seq LIMIT ?)
			SELECT COALESCE((SELECT min(seq) - 1 FROM run WHERE at >= ?), (SELECT max(seq) FROM run))`, baseSeq, batch, before).Scan(&upTo)
		if err != nil {
			return err
		}
		if !upTo.Valid || upTo.Int64 <= baseSeq {
			nothingDone(ctx)
			return nil
		}
		var hash []byte
		if err := tx.QueryRow(`SELECT hash FROM audit WHERE seq = ?`, upTo.Int64).Scan(&hash); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE audit_head SET base_seq = ?, base_hash = ? WHERE id = 1`, upTo.Int64, hash); err != nil {
			return err
		}
		res, err := tx.Exec(`DELETE FROM audit WHERE seq <= ?`, upTo.Int64)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		note(ctx, "deleted", n)
		return nil
	})
	return n, err
}
