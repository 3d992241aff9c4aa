package client

import (
	"context"
	"encoding/json"

	"github.com/curbside-health/curbside/protocol"
)

// Ack acknowledges queued items by seq: the server deletes them and will
// not deliver them again, and an acknowledged message's id joins the
// client's deduplication set (which Save persists). Acks are batched and
// written by a background goroutine; Close writes any still pending.
func (cn *Conn) Ack(seqs ...int64) {
	if len(seqs) == 0 {
		return
	}
	cn.amu.Lock()
	cn.acks = append(cn.acks, seqs...)
	for _, s := range seqs {
		if m, ok := cn.receiptFor[s]; ok {
			cn.receipts = append(cn.receipts, m)
			delete(cn.receiptFor, s)
		}
		if id, ok := cn.unacked[s]; ok {
			// Marked seen before it leaves delivered (under the same
			// lock), so deliverMsg never finds it in neither.
			cn.c.markSeen(id)
			delete(cn.unacked, s)
			delete(cn.delivered, id)
		}
	}
	cn.amu.Unlock()
	select {
	case cn.ackWake <- struct{}{}:
	default:
	}
}

func (cn *Conn) ackLoop() {
	defer cn.wg.Done()
	defer close(cn.ackDone)
	for {
		select {
		case <-cn.ackWake:
			cn.flushAcks(cn.ctx)
		case <-cn.ackStop:
			return
		case <-cn.ctx.Done():
			return
		}
	}
}

// flushAcks writes every pending ack, in frames of at most MaxAckSeqs,
// then the signed delivered receipts of the messages they acknowledged.
func (cn *Conn) flushAcks(ctx context.Context) {
	defer func() {
		cn.amu.Lock()
		r := cn.receipts
		cn.receipts = nil
		cn.amu.Unlock()
		cn.sendDelivered(ctx, r)
	}()
	for {
		cn.amu.Lock()
		n := min(len(cn.acks), protocol.MaxAckSeqs)
		batch := make([]int64, n)
		copy(batch, cn.acks)
		cn.acks = cn.acks[n:]
		if len(cn.acks) == 0 {
			cn.acks = nil
		}
		cn.amu.Unlock()
		if n == 0 {
			return
		}
		b, _ := json.Marshal(&protocol.ClientFrame{Type: protocol.TAck, Seqs: batch})
		if cn.write(ctx, b) != nil {
			return // the connection is failing; unacked items come again
		}
	}
}
