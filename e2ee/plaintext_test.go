package e2ee

import (
	"reflect"
	"testing"
)

func TestPlaintext(t *testing.T) {
	p := &Plaintext{Type: TypeText, Text: "Room 4 ready", ReplyTo: "abcdefghijklmnop"}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"type":"text","text":"Room 4 ready","reply_to":"abcdefghijklmnop"}` {
		t.Fatalf("encoding changed: %s", b)
	}
	got, err := ParsePlaintext(b)
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}

	// Later versions add fields; older clients must still read the rest.
	got, err = ParsePlaintext([]byte(`{"type":"text","text":"hi","attachments":[{"name":"x.pdf"}]}`))
	if err != nil || got.Text != "hi" {
		t.Fatalf("unknown field: %+v, %v", got, err)
	}

	for _, bad := range []string{``, `[]`, `{"text":"no type"}`, `"text"`} {
		if _, err := ParsePlaintext([]byte(bad)); err == nil {
			t.Errorf("ParsePlaintext(%q) succeeded", bad)
		}
	}
	if _, err := (&Plaintext{}).Marshal(); err == nil {
		t.Error("marshalled a plaintext without a type")
	}
}
