package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// Group membership events. A write that can change who is in a group's
// conversation (members added or removed, a subgroup moved, accounts
// created into groups) takes a snapshot of the members of every group it
// may change, before it changes anything, and records the difference
// afterwards in member_events, in the same transaction: the change and its
// events commit together or not at all, whichever process writes. The
// server fans the rows out to devices (FanOutMemberEvents).

// memberSnapshot is the members, direct and through subgroups, of some
// groups, by group.
type memberSnapshot map[int64]map[int64]bool

// aboveAndSelf lists the groups given and every group above each of them.
const aboveAndSelf = `WITH RECURSIVE up(id) AS (SELECT value FROM json_each(?1)
	UNION SELECT g.parent_id FROM groups g JOIN up ON g.id = up.id WHERE g.parent_id IS NOT NULL)
	SELECT id FROM up JOIN groups USING (id)`

// snapshotMembers takes the members of the groups whose members a change
// of groups' own (direct) members or nesting may change: those groups and
// every group above them.
func snapshotMembers(tx *sql.Tx, groups ...int64) (memberSnapshot, error) {
	ids, _ := json.Marshal(groups)
	affected, err := scanIDs(tx.Query(aboveAndSelf, string(ids)))
	if err != nil {
		return nil, err
	}
	snap := memberSnapshot{}
	for _, g := range affected {
		if snap[g], err = membersIn(tx, g); err != nil {
			return nil, err
		}
	}
	return snap, nil
}

func membersIn(tx *sql.Tx, group int64) (map[int64]bool, error) {
	ids, err := scanIDs(tx.Query(subtree+`SELECT DISTINCT user_id FROM group_members WHERE group_id IN sub`, group))
	if err != nil {
		return nil, err
	}
	m := make(map[int64]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m, nil
}

// memberActor is who made a membership change, as events name them.
type memberActor struct {
	by     int64
	byName string
	via    string
}

// actorOf reads who is making the write from the audit entries ctx
// carries (WithAudit), even when another write took them: the first
// entry's actor, and the "via" any entry's detail names ("cli" for the
// operator CLI, "import" for the directory import). Without an entry the
// change is the server's own.
func actorOf(tx *sql.Tx, ctx context.Context) (memberActor, error) {
	set, _ := ctx.Value(pendingKey{}).(*pendingSet)
	if set == nil || len(set.list) == 0 {
		return memberActor{via: protocol.ViaServer}, nil
	}
	a := memberActor{by: set.list[0].Entry.Actor, via: protocol.ViaServer}
	for _, p := range set.list {
		switch p.Detail["via"] {
		case "cli":
			a.via = protocol.ViaCLI
		case "import":
			a.via = protocol.ViaSync
		}
	}
	if a.by != 0 {
		if a.via == protocol.ViaServer {
			a.via = protocol.ViaConsole
		}
		err := tx.QueryRow(`SELECT display FROM users WHERE id = ?`, a.by).Scan(&a.byName)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return a, err
		}
	}
	return a, nil
}

// recordMemberChanges compares the members of each group of before with
// its members now and records an event for each user who joined or left,
// for the members before and after. over, when set, says who made the
// change instead of ctx (the directory import; the administrator who
// made an invitation whose groups its account joins).
func recordMemberChanges(ctx context.Context, tx *sql.Tx, before memberSnapshot, over *memberActor) error {
	groups := make([]int64, 0, len(before))
	for g := range before {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i] < groups[j] })
	var actor *memberActor
	now := nowMS()
	for _, g := range groups {
		after, err := membersIn(tx, g)
		if err != nil {
			return err
		}
		var added, removed []int64
		for u := range after {
			if !before[g][u] {
				added = append(added, u)
			}
		}
		for u := range before[g] {
			if !after[u] {
				removed = append(removed, u)
			}
		}
		if len(added)+len(removed) == 0 {
			continue
		}
		if actor == nil {
			a, err := actorOf(tx, ctx)
			if err != nil {
				return err
			}
			if over != nil {
				a = *over
				if a.by != 0 && a.byName == "" {
					if err := tx.QueryRow(`SELECT display FROM users WHERE id = ?`, a.by).Scan(&a.byName); err != nil && !errors.Is(err, sql.ErrNoRows) {
						return err
					}
				}
			}
			actor = &a
		}
		everyone := make([]int64, 0, len(after)+len(removed))
		for u := range after {
			everyone = append(everyone, u)
		}
		everyone = append(everyone, removed...)
		sort.Slice(everyone, func(i, j int) bool { return everyone[i] < everyone[j] })
		recipients := joinIDs(everyone)
		sort.Slice(added, func(i, j int) bool { return added[i] < added[j] })
		sort.Slice(removed, func(i, j int) bool { return removed[i] < removed[j] })
		for _, ch := range []struct {
			kind  string
			users []int64
		}{{protocol.MemberAdded, added}, {protocol.MemberRemoved, removed}} {
			for _, u := range ch.users {
				if _, err := tx.Exec(`INSERT INTO member_events (group_id, kind, user_id, name, by_user, by_name, via, at, recipients)
					VALUES (?, ?, ?, COALESCE((SELECT display FROM users WHERE id = ?3), ''), ?, ?, ?, ?, ?)`,
					g, ch.kind, u, actor.by, actor.byName, actor.via, now, recipients); err != nil {
					return fmt.Errorf("store: record member event: %w", err)
				}
			}
		}
	}
	return nil
}

// memberFanOutBatch bounds the events one FanOutMemberEvents transaction
// queues.
const memberFanOutBatch = 200

// FanOutMemberEvents queues the recorded membership events, oldest first,
// for every active device of each event's recipients, and deletes them;
// the items reach the notifier like any others. It reports how many events
// it queued; when none are waiting it reads one row and writes nothing.
// The queued items live as long as the policy's retention.
func (s *Store) FanOutMemberEvents(ctx context.Context) (int, error) {
	var one int
	err := s.read.QueryRowContext(ctx, `SELECT 1 FROM member_events LIMIT 1`).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	pol, err := s.LoadPolicy(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	err = wait(func(done func(error)) error {
		return s.submitItemsAsync(ctx, func(tx *sql.Tx, q *queuer) error {
			n = 0
			expires := nowMS() + pol.Retention.Milliseconds()
			rows, err := tx.Query(`SELECT id, group_id, kind, user_id, name, by_user, by_name, via, at, recipients
				FROM member_events ORDER BY id LIMIT ?`, memberFanOutBatch)
			if err != nil {
				return err
			}
			type row struct {
				id         int64
				ev         protocol.MemberEvent
				recipients string
			}
			var evs []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.id, &r.ev.Group, &r.ev.Kind, &r.ev.User, &r.ev.Name, &r.ev.By, &r.ev.ByName, &r.ev.Via, &r.ev.TS, &r.recipients); err != nil {
					rows.Close()
					return err
				}
				r.ev.Type, r.ev.Conv = protocol.TMember, protocol.GroupConv(r.ev.Group)
				evs = append(evs, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, r := range evs {
				for _, u := range splitIDs(r.recipients) {
					devs, err := activeDeviceIDs(s.stmt(tx, stmtActiveDevices), u)
					if err != nil {
						return err
					}
					for _, d := range devs {
						if err := q.member(tx, d, r.ev, expires); err != nil {
							return err
						}
					}
				}
				if _, err := tx.Exec(`DELETE FROM member_events WHERE id = ?`, r.id); err != nil {
					return err
				}
				n++
			}
			return nil
		}, done)
	})
	return n, err
}

func (q *queuer) member(tx *sql.Tx, device int64, ev protocol.MemberEvent, expires int64) error {
	seq := q.s.nextSeq()
	ev.Seq = 0
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if _, err := q.s.stmt(tx, stmtQueueInsert).Exec(device, seq, kindMember, nil, b, expires); err != nil {
		return err
	}
	ev.Seq = seq
	q.items = append(q.items, model.Item{Device: device, Seq: seq, Member: &ev})
	return nil
}
