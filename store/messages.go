package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// Queue item kinds.
const (
	kindMsg   = 1
	kindEvent = 2
	// kindMember is a group membership event (member_events.go).
	kindMember = 3
)

// Receipt kinds as stored.
var receiptKinds = map[string]int{
	protocol.ReceiptDelivered:    1,
	protocol.ReceiptRead:         2,
	protocol.ReceiptAcknowledged: 3,
}

// SetNotifier installs the function that receives new queue items. Call it
// before submitting messages.
func (s *Store) SetNotifier(n model.Notifier) { s.notify = n }

// submitItemsAsync runs fn like submitAsync; if it commits, the items fn
// queued go to the notifier before done is called.
func (s *Store) submitItemsAsync(ctx context.Context, fn func(tx *sql.Tx, q *queuer) error, done func(error)) error {
	q := &queuer{s: s}
	return s.submitAsync(ctx, func(tx *sql.Tx) error {
		q.items = q.items[:0] // a retried operation starts afresh
		return fn(tx, q)
	}, func(err error) {
		if err == nil && s.notify != nil && len(q.items) > 0 {
			s.notify(q.items)
		}
		done(err)
	})
}

// wait runs an async operation and waits for its outcome.
func wait(start func(done func(error)) error) error {
	ch := make(chan error, 1)
	if err := start(func(err error) { ch <- err }); err != nil {
		return err
	}
	return <-ch
}

// queuer appends items to the queue within a transaction and remembers them
// for the notifier.
type queuer struct {
	s     *Store
	items []model.Item
}

func (q *queuer) message(tx *sql.Tx, device, msgRow, ts, expires int64, env []byte) error {
	seq := q.s.nextSeq()
	if _, err := q.s.stmt(tx, stmtQueueInsert).Exec(device, seq, kindMsg, msgRow, nil, expires); err != nil {
		return err
	}
	q.items = append(q.items, model.Item{Device: device, Seq: seq, TS: ts, Env: env})
	return nil
}

func (q *queuer) event(tx *sql.Tx, device int64, ev protocol.Event, expires int64) error {
	seq := q.s.nextSeq()
	ev.Seq = 0
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if _, err := q.s.stmt(tx, stmtQueueInsert).Exec(device, seq, kindEvent, nil, b, expires); err != nil {
		return err
	}
	ev.Seq = seq
	q.items = append(q.items, model.Item{Device: device, Seq: seq, Event: &ev})
	return nil
}

// Accept stores a message durably and queues it for its devices. A resend
// (same id, same sender, same bytes) reports Dup with the original time; the
// same id with other content is ErrIDReused.
func (s *Store) Accept(ctx context.Context, m *model.NewMessage) (model.AcceptResult, error) {
	var res model.AcceptResult
	err := wait(func(done func(error)) error {
		return s.AcceptAsync(ctx, m, func(r model.AcceptResult, err error) { res = r; done(err) })
	})
	return res, err
}

// AcceptAsync is Accept that returns once the message is queued for the
// writer; done is called on the writer goroutine when it is durable (or
// failed), after its queue items reached the notifier. It must not block.
func (s *Store) AcceptAsync(ctx context.Context, m *model.NewMessage, done func(model.AcceptResult, error)) error {
	var res model.AcceptResult
	return s.submitItemsAsync(ctx, func(tx *sql.Tx, q *queuer) error {
		res = model.AcceptResult{}
		now := nowMS()
		var row int64
		err := s.stmt(tx, stmtMsgInsert).QueryRow(m.Env.ID, m.Env.From.User, m.Env.From.Device, m.Env.Conv,
			m.Env.Created, now, m.ExpiresAt, m.Env.Flags, m.Digest, joinIDs(m.Recipients), joinIDs(m.Deliver),
			len(m.Deliver), m.Raw).Scan(&row)
		if errors.Is(err, sql.ErrNoRows) {
			// The id exists: a resend of the same message, or a reuse.
			var sender, at int64
			var digest []byte
			if err := s.stmt(tx, stmtMsgByID).QueryRow(m.Env.ID).Scan(&sender, &digest, &at); err != nil {
				return err
			}
			if sender != m.Env.From.User || string(digest) != string(m.Digest) {
				return model.ErrIDReused
			}
			res = model.AcceptResult{TS: at, Dup: true}
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.referenceBlobs(tx, m.Env.From.User, m.Env.Blobs, now); err != nil {
			return err
		}
		if m.MaxQueued > 0 {
			for _, d := range m.Deliver {
				n, err := s.queueDepth(tx, d, m.MaxQueued)
				if err != nil {
					return err
				}
				if n >= m.MaxQueued {
					return model.Refuse(model.ErrQueueFull, "not sent: a recipient's device already has %d undelivered messages waiting, the most your practice allows; it takes new ones once it connects and receives them", n)
				}
			}
		}
		for _, d := range m.Deliver {
			if err := q.message(tx, d, row, now, m.ExpiresAt, m.Raw); err != nil {
				return err
			}
			s.depth.added(d)
		}
		for _, p := range m.Contacts {
			if _, err := s.stmt(tx, stmtContact).Exec(p[0], p[1]); err != nil {
				return err
			}
		}
		res.TS = now
		return nil
	}, func(err error) { done(res, err) })
}

// referenceBlobs marks the blobs a message names as referenced, so that
// they keep their lifetime; a blob that is not the sender's own stored blob
// refuses the message (and the transaction that accepts it) with
// model.ErrBlobGone. A message naming none costs nothing.
func (s *Store) referenceBlobs(tx *sql.Tx, sender int64, ids []string, now int64) error {
	for _, id := range ids {
		res, err := s.stmt(tx, stmtBlobReference).Exec(id, sender, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return model.Refuse(model.ErrBlobGone, "not sent: an attachment of this message is no longer on the server (attachments not sent soon after they are added are removed); attach the file again and send the message again")
		}
	}
	return nil
}

// Accepted reports whether a message with this id was already accepted from
// sender with exactly this digest, and when. It lets a resend be answered
// as a duplicate even when something it was checked against has changed
// since (the recipients' devices).
func (s *Store) Accepted(ctx context.Context, msgID string, sender int64, digest []byte) (ts int64, ok bool, err error) {
	var from int64
	var d []byte
	err = s.read.QueryRowContext(ctx, `SELECT sender_user, digest, accepted_at FROM messages WHERE msg_id = ?`, msgID).Scan(&from, &d, &ts)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return ts, from == sender && string(d) == string(digest), nil
}

// PendingMaxBytes bounds the envelope bytes of one page of Pending (1 MiB),
// so that reading a device's queue holds little memory however large its
// messages are.
const PendingMaxBytes = 1 << 20

// Pending returns up to limit unexpired queue items of a device with
// seq > after, in seq order, stopping early once the page holds
// PendingMaxBytes of envelopes (it always holds at least one item when
// any is waiting). Only an empty page means nothing more is waiting.
// Expired items are left for the sweeper but never delivered.
func (s *Store) Pending(ctx context.Context, device, after int64, limit int) ([]model.Item, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT q.seq, q.kind, q.event, m.accepted_at, m.env
		FROM queue q LEFT JOIN messages m ON m.id = q.message
		WHERE q.device_id = ? AND q.seq > ? AND q.expires_at > ? ORDER BY q.seq LIMIT ?`, device, after, nowMS(), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Item
	bytes := 0
	for bytes < PendingMaxBytes && rows.Next() {
		var seq, kind int64
		var event, env []byte
		var ts sql.NullInt64
		if err := rows.Scan(&seq, &kind, &event, &ts, &env); err != nil {
			return nil, err
		}
		it := model.Item{Device: device, Seq: seq}
		if kind == kindMember {
			var ev protocol.MemberEvent
			if err := json.Unmarshal(event, &ev); err != nil {
				return nil, fmt.Errorf("store: queue item %d/%d: %w", device, seq, err)
			}
			ev.Seq = seq
			it.Member = &ev
		} else if kind == kindEvent {
			var ev protocol.Event
			if err := json.Unmarshal(event, &ev); err != nil {
				return nil, fmt.Errorf("store: queue item %d/%d: %w", device, seq, err)
			}
			ev.Seq = seq
			it.Event = &ev
		} else {
			if env == nil {
				continue // recalled or expired between the two deletes; nothing to send
			}
			it.TS, it.Env = ts.Int64, env
			bytes += len(env)
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// Ack deletes the items a device acknowledges. The first acknowledgement of
// a message by any device of a recipient user records that user's delivered
// receipt and queues it for the sender's devices. Unknown seqs are ignored:
// acknowledgements are idempotent.
func (s *Store) Ack(ctx context.Context, user, device int64, seqs []int64) error {
	return wait(func(done func(error)) error { return s.AckAsync(ctx, user, device, seqs, done) })
}

// AckAsync is Ack that returns once queued; done reports the outcome.
func (s *Store) AckAsync(ctx context.Context, user, device int64, seqs []int64, done func(error)) error {
	return s.submitItemsAsync(ctx, func(tx *sql.Tx, q *queuer) error {
		now := nowMS()
		for _, seq := range seqs {
			var kind int64
			var msg sql.NullInt64
			err := s.stmt(tx, stmtQueueDelete).QueryRow(device, seq).Scan(&kind, &msg)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			if kind != kindMsg || !msg.Valid {
				continue
			}
			var sender, expires int64
			var msgID string
			err = s.stmt(tx, stmtMsgDelivered).QueryRow(msg.Int64).Scan(&sender, &msgID, &expires)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			if sender == user {
				continue // the sender's other device; no receipt
			}
			if err := s.receipt(tx, q, msg.Int64, msgID, sender, user, device, protocol.ReceiptDelivered, now, expires, false); err != nil {
				return err
			}
		}
		return nil
	}, done)
}

// receipt records a receipt once and queues it for the sender's devices
// (and, when toOwnDevices, for the recipient's other devices, so they know
// the message was read elsewhere).
func (s *Store) receipt(tx *sql.Tx, q *queuer, msgRow int64, msgID string, sender, user, device int64, kind string, now, expires int64, toOwnDevices bool) error {
	return s.queueReceipt(tx, q, msgRow, msgID, sender, user, device, kind, nil, now, expires, toOwnDevices)
}

// kindDeliveredSigned is the stored kind of the first signed delivered
// receipt of a recipient user: the unsigned one (kind 1) is the server's
// own record, made when a device acks, and the signed one is queued once
// besides it.
const kindDeliveredSigned = 4

// queueReceipt is receipt with the signing device's attestation, which the
// queued event carries as the device sent it; signed nil is the server's
// own unsigned record (a delivered receipt made by an ack).
func (s *Store) queueReceipt(tx *sql.Tx, q *queuer, msgRow int64, msgID string, sender, user, device int64, kind string, signed *protocol.Signed, now, expires int64, toOwnDevices bool) error {
	stored := receiptKinds[kind]
	if signed != nil && kind == protocol.ReceiptDelivered {
		stored = kindDeliveredSigned
	}
	res, err := s.stmt(tx, stmtReceiptInsert).Exec(msgRow, user, stored, now)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // already recorded; the first time stands
	}
	ev := protocol.Event{Type: protocol.TReceipt, Msg: msgID, User: user, Device: device, Kind: kind, TS: now}
	if signed != nil {
		ev.Conv, ev.At, ev.Sig = signed.Conv, signed.At, signed.Sig
	}
	targets, err := activeDeviceIDs(s.stmt(tx, stmtActiveDevices), sender)
	if err != nil {
		return err
	}
	if toOwnDevices {
		own, err := activeDeviceIDs(s.stmt(tx, stmtActiveDevices), user)
		if err != nil {
			return err
		}
		for _, d := range own {
			if d != device {
				targets = append(targets, d)
			}
		}
	}
	for _, d := range targets {
		if err := q.event(tx, d, ev, expires); err != nil {
			return err
		}
	}
	return nil
}

func activeDeviceIDs(st *sql.Stmt, user int64) ([]int64, error) {
	return scanIDs(st.Query(user))
}

// scanIDs reads a one-column result of ids; never nil on success.
func scanIDs(rows *sql.Rows, err error) ([]int64, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// msgMeta is what the receipt, recall and details operations need of a
// message.
type msgMeta struct {
	row, sender, created, accepted, expires int64
	flags                                   uint32
	conv                                    string
	recipients, devices                     []int64
	recalled                                bool
}

func (s *Store) meta(q interface {
	QueryRow(string, ...any) *sql.Row
}, msgID string) (*msgMeta, error) {
	var m msgMeta
	var rcpt, devs string
	err := q.QueryRow(`SELECT id, sender_user, created, accepted_at, expires_at, flags, conv, recipients, devices, recalled
		FROM messages WHERE msg_id = ?`, msgID).Scan(&m.row, &m.sender, &m.created, &m.accepted, &m.expires, &m.flags, &m.conv, &rcpt, &devs, &m.recalled)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	m.recipients, m.devices = splitIDs(rcpt), splitIDs(devs)
	return &m, nil
}

// Receipt records a signed delivered, read or acknowledged receipt from a
// recipient's device and queues it, signature and all, for the sender's
// devices (and, read or acknowledged, for the recipient's other devices).
// Repeats are ignored. Acknowledging a message that did not request it is
// ErrForbidden, as is any receipt from a user who is not a recipient, or
// one whose signed conversation is not the message's.
func (s *Store) Receipt(ctx context.Context, user, device int64, msgID, kind string, signed protocol.Signed) error {
	return wait(func(done func(error)) error { return s.ReceiptAsync(ctx, user, device, msgID, kind, signed, done) })
}

// ReceiptAsync is Receipt that returns once queued; done reports the outcome.
func (s *Store) ReceiptAsync(ctx context.Context, user, device int64, msgID, kind string, signed protocol.Signed, done func(error)) error {
	return s.submitItemsAsync(ctx, func(tx *sql.Tx, q *queuer) error {
		m, err := s.meta(tx, msgID)
		if err != nil {
			return err
		}
		if !contains(m.recipients, user) {
			return model.Refuse(model.ErrForbidden, "you are not a recipient of this message")
		}
		if signed.Conv != m.conv {
			return model.Refuse(model.ErrForbidden, "the receipt names another conversation than the message's")
		}
		if kind == protocol.ReceiptAcknowledged && m.flags&protocol.FlagAckRequested == 0 {
			return model.Refuse(model.ErrForbidden, "this message did not request acknowledgement")
		}
		now := nowMS()
		// Reading implies delivery; record it if the ack has not yet.
		if err := s.receipt(tx, q, m.row, msgID, m.sender, user, device, protocol.ReceiptDelivered, now, m.expires, false); err != nil {
			return err
		}
		return s.queueReceipt(tx, q, m.row, msgID, m.sender, user, device, kind, &signed, now, m.expires, kind != protocol.ReceiptDelivered)
	}, done)
}

// Recall withdraws a message its sender sent: every undelivered copy is
// deleted, and every device it was sent to gets a recall event carrying
// the sending device's signature, which clients obey (once it verifies) by
// deleting the message. Recalling twice is harmless.
func (s *Store) Recall(ctx context.Context, user, device int64, msgID string, signed protocol.Signed) error {
	return wait(func(done func(error)) error { return s.RecallAsync(ctx, user, device, msgID, signed, done) })
}

// RecallAsync is Recall that returns once queued; done reports the outcome.
func (s *Store) RecallAsync(ctx context.Context, user, device int64, msgID string, signed protocol.Signed, done func(error)) error {
	return s.submitItemsAsync(ctx, func(tx *sql.Tx, q *queuer) error {
		m, err := s.meta(tx, msgID)
		if err != nil {
			return err
		}
		if m.sender != user {
			return model.Refuse(model.ErrForbidden, "only the sender can recall a message")
		}
		if signed.Conv != m.conv {
			return model.Refuse(model.ErrForbidden, "the recall names another conversation than the message's")
		}
		if m.recalled {
			return nil
		}
		if _, err := tx.Exec(`UPDATE messages SET recalled = 1, pending = 0, env = NULL WHERE id = ?`, m.row); err != nil {
			return err
		}
		now := nowMS()
		ev := protocol.Event{Type: protocol.TRecall, Msg: msgID, User: user, Device: device, TS: now,
			Conv: signed.Conv, At: signed.At, Sig: signed.Sig}
		for _, d := range m.devices {
			if _, err := tx.Exec(`DELETE FROM queue WHERE device_id = ? AND kind = 1 AND message = ?`, d, m.row); err != nil {
				return err
			}
			// Every device gets the event, not only those that had the
			// message: a copy may be on its way to a device right now.
			if err := q.event(tx, d, ev, m.expires); err != nil {
				return err
			}
		}
		return nil
	}, done)
}

// Details returns a message's metadata and per-recipient receipt times, for
// its sender only.
func (s *Store) Details(ctx context.Context, user int64, msgID string) (*model.MessageStatus, error) {
	m, err := s.meta(s.read, msgID)
	if err != nil {
		return nil, err
	}
	if m.sender != user {
		return nil, model.Refuse(model.ErrForbidden, "only the sender can see a message's details")
	}
	d := &model.MessageStatus{Msg: msgID, Conv: m.conv, Created: m.created, Accepted: m.accepted,
		AckRequested: m.flags&protocol.FlagAckRequested != 0, Recalled: m.recalled}
	byUser := map[int64]*model.RecipientStatus{}
	for _, r := range m.recipients {
		d.Recipients = append(d.Recipients, model.RecipientStatus{User: r})
	}
	for i := range d.Recipients {
		byUser[d.Recipients[i].User] = &d.Recipients[i]
	}
	rows, err := s.read.QueryContext(ctx, `SELECT user_id, kind, at FROM receipts WHERE message = ?`, m.row)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var u, kind, at int64
		if err := rows.Scan(&u, &kind, &at); err != nil {
			return nil, err
		}
		r := byUser[u]
		if r == nil {
			continue
		}
		switch kind {
		case 1:
			r.Delivered = at
		case 2:
			r.Read = at
		case 3:
			r.Acknowledged = at
		}
	}
	return d, rows.Err()
}

// Sweep deletes queue items and messages past their expiry, at most batch
// of each, and reports how many it deleted.
func (s *Store) Sweep(ctx context.Context, now int64, batch int) (items, msgs int64, err error) {
	err = s.submit(ctx, func(tx *sql.Tx) error {
		// Count messages for the activity reports before any are deleted.
		if err := rollupActivity(tx); err != nil {
			return err
		}
		res, err := tx.Exec(`DELETE FROM queue WHERE (device_id, seq) IN
			(SELECT device_id, seq FROM queue WHERE expires_at <= ? LIMIT ?)`, now, batch)
		if err != nil {
			return err
		}
		items, _ = res.RowsAffected()
		res, err = tx.Exec(`DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE expires_at <= ? LIMIT ?)`, now, batch)
		if err != nil {
			return err
		}
		msgs, _ = res.RowsAffected()
		return clampActivityCursor(tx)
	})
	return items, msgs, err
}

// AddContacts stores contact pairs (a < b) made without a message: a
// person opened a direct conversation with someone the rules let them
// reach (PROTOCOL.md section 4.1, the contact frame).
func (s *Store) AddContacts(ctx context.Context, pairs [][2]int64) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		for _, p := range pairs {
			if _, err := s.stmt(tx, stmtContact).Exec(p[0], p[1]); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetDoNotDisturb records whether user's last chosen status is
// do-not-disturb.
func (s *Store) SetDoNotDisturb(ctx context.Context, user int64, on bool) error {
	return s.submit(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE users SET dnd = ? WHERE id = ?`, on, user)
		return err
	})
}

// DoNotDisturbUsers returns the users whose last chosen status is
// do-not-disturb, for warming the relay's presence.
func (s *Store) DoNotDisturbUsers(ctx context.Context) ([]int64, error) {
	return scanIDs(s.read.QueryContext(ctx, `SELECT id FROM users WHERE dnd != 0 ORDER BY id`))
}

// AllContacts returns every stored contact pair, for warming a cache.
func (s *Store) AllContacts(ctx context.Context) ([][2]int64, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT a, b FROM contacts`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]int64
	for rows.Next() {
		var p [2]int64
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// QueueDepth reports how many items are queued and how many messages still
// hold ciphertext, for health reporting and tests.
func (s *Store) QueueDepth(ctx context.Context) (items, withCiphertext int64, err error) {
	err = s.read.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM queue), (SELECT count(*) FROM messages WHERE env IS NOT NULL)`).Scan(&items, &withCiphertext)
	return
}

// deleteQueueOf deletes everything queued for a device, releasing the
// ciphertext of messages no other device waits for.
func deleteQueueOf(tx *sql.Tx, device int64) error {
	rows, err := tx.Query(`DELETE FROM queue WHERE device_id = ? RETURNING message`, device)
	if err != nil {
		return err
	}
	var msgs []int64
	for rows.Next() {
		var m sql.NullInt64
		if err := rows.Scan(&m); err != nil {
			rows.Close()
			return err
		}
		if m.Valid {
			msgs = append(msgs, m.Int64)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range msgs {
		if _, err := tx.Exec(`UPDATE messages SET pending = pending - 1, env = CASE WHEN pending <= 1 THEN NULL ELSE env END WHERE id = ?`, m); err != nil {
			return err
		}
	}
	return nil
}

func joinIDs(ids []int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}

func splitIDs(s string) []int64 {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	out := make([]int64, 0, len(parts))
	for _, p := range parts {
		if n, err := strconv.ParseInt(p, 10, 64); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func contains(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// queueDepth returns how many items device has queued, or an upper bound
// on it below max: counting the queue for every message would cost a scan
// of a slow device's whole backlog per message. The bound is the last exact
// count plus the items queued since; acks and expiry only lower the real
// number, so while the bound is under max the device has room. Only a bound
// that reaches max is counted again, exactly (and at most max rows).
func (s *Store) queueDepth(tx *sql.Tx, device int64, max int) (int, error) {
	if n, ok := s.depth.bound(device); ok && n < max {
		return n, nil
	}
	var n int
	if err := s.stmt(tx, stmtQueueDepth).QueryRow(device, max).Scan(&n); err != nil {
		return 0, err
	}
	s.depth.set(device, n)
	return n, nil
}

// depthBounds holds, per device, an upper bound on its queued items. Only
// the writer goroutine uses it. A rolled-back insert leaves the bound too
// high, which is safe: it only makes the next check count.
type depthBounds map[int64]int

func (b depthBounds) bound(device int64) (int, bool) {
	n, ok := b[device]
	return n, ok
}

func (b depthBounds) set(device int64, n int) {
	if len(b) >= 100000 { // bounded memory: a forgotten bound costs one count
		clear(b)
	}
	b[device] = n
}

func (b depthBounds) added(device int64) {
	if n, ok := b[device]; ok {
		b[device] = n + 1
	}
}
