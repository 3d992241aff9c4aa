package client

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/curbside-health/curbside/e2ee"
	"github.com/curbside-health/curbside/protocol"
)

// The web app's body carries a reply's quote, a group message's mentions
// and a voice note's attachment fields; the Go client opens such a message,
// reads what it knows and ignores the rest (PROTOCOL.md section 5, the plaintext).
func TestOpenEnvelopeWithAppBodyFields(t *testing.T) {
	alice := newAccount(t, 1, "alice", 1)
	bob := newAccount(t, 2, "bob", 1)
	srv := newDirectoryServer(t, newDirectory(alice, bob), nil)
	c := clientFor(t, srv.URL, bob, 0)

	// The bytes as the browser writes them.
	body := []byte(`{"type":"text","text":"Yes, 5 mg @Bob","reply_to":"AAAAAAAAAAAAAAAAAAAAAA",` +
		`"quote":{"from":2,"text":"Metoprolol dose?"},"mentions":[2],` +
		`"attachments":[{"blob":"b1","key":"AAAA","sha256":"AAAA","size":3,"name":"Voice note.webm","mime":"audio/webm","voice":true,"duration_ms":4200}],` +
		`"a_field_from_the_future":{"x":1}}`)
	rs := []e2ee.Recipient{{User: bob.user.ID, Device: bob.devices[0].ID(), Enc: bob.devices[0].EncPublic()}}
	env, err := e2ee.Seal(protocol.Envelope{Conv: protocol.DirectConv(1, 2), From: protocol.Party{User: 1, Device: alice.devices[0].ID()},
		Created: time.Now().UnixMilli()}, rs, body, alice.devices[0].SignKey())
	if err != nil {
		t.Fatal(err)
	}
	in, err := c.OpenEnvelope(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if in.Text != "Yes, 5 mg @Bob" || in.ReplyTo != "AAAAAAAAAAAAAAAAAAAAAA" {
		t.Fatalf("text %q reply_to %q", in.Text, in.ReplyTo)
	}
	pt := in.Plaintext
	if pt.Quote == nil || pt.Quote.From != 2 || pt.Quote.Text != "Metoprolol dose?" || !slices.Equal(pt.Mentions, []int64{2}) {
		t.Fatalf("quote %+v mentions %v", pt.Quote, pt.Mentions)
	}
	if len(pt.Attachments) != 1 || pt.Attachments[0].MIME != "audio/webm" || pt.Attachments[0].Size != 3 {
		t.Fatalf("attachments %+v", pt.Attachments)
	}

	// And the other way: what the Go client writes with a quote and
	// mentions is the shape the web app reads.
	b, err := (&e2ee.Plaintext{Type: e2ee.TypeText, Text: "ok", ReplyTo: "AAAAAAAAAAAAAAAAAAAAAA",
		Quote: &e2ee.Quote{From: 1, Text: "Yes, 5 mg"}, Mentions: []int64{1}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"text","text":"ok","reply_to":"AAAAAAAAAAAAAAAAAAAAAA","quote":{"from":1,"text":"Yes, 5 mg"},"mentions":[1]}`; string(b) != want {
		t.Fatalf("encoded %s\nwant %s", b, want)
	}
}
