package relay

import (
	"encoding/json"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// itemFrame returns a queue item as the server frame a device receives,
// appended to dst. A message goes out as the envelope its sender sent,
// byte for byte; an event (receipt, recall) as its JSON.
func itemFrame(dst []byte, it *model.Item) []byte {
	if it.Member != nil {
		b, _ := json.Marshal(it.Member)
		return append(dst, b...)
	}
	if it.Event != nil {
		b, _ := json.Marshal(it.Event)
		return append(dst, b...)
	}
	return protocol.AppendMsgFrame(dst, it.Seq, it.TS, it.Env)
}

// detailsFrame returns the details frame answering the request ref.
func detailsFrame(ref string, m *model.MessageStatus) []byte {
	d := protocol.Details{Type: protocol.TDetails, Ref: ref, Msg: m.Msg, Conv: m.Conv, Created: m.Created,
		Sent: m.Accepted, AckRequested: m.AckRequested, Recalled: m.Recalled,
		Recipients: make([]protocol.RecipientStatus, len(m.Recipients))}
	for i, r := range m.Recipients {
		d.Recipients[i] = protocol.RecipientStatus{User: r.User, Delivered: r.Delivered, Read: r.Read, Acknowledged: r.Acknowledged}
	}
	b, _ := json.Marshal(d)
	return b
}
