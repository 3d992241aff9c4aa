package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzStrictJSON checks CheckStrict against a slow reference that walks the
// same rules with encoding/json's own tokenizer (Decoder.Token), so a
// difference in how the fast scanner finds strings, escapes, keys or
// nesting shows up as a disagreement. It also checks that a refusal of a
// frame is a protocol error and that what is accepted decodes. The seed
// corpus is in testdata/fuzz/FuzzStrictJSON.
func FuzzStrictJSON(f *testing.F) {
	for _, s := range []string{
		sendFrame(f),
		sendFrame(f, `"conv":"d:1:2"`, `"conv":"g:5","CONV":"d:1:2"`),
		sendFrame(f, `"conv":"d:1:2"`, `"conv":"g:5","conv":"d:1:2"`),
		sendFrame(f, `"device":20,`, `"device":21,"device":20,`),
		sendFrame(f, `"keys":`, `"\u212Aeys":`),
		`{"type":"typing","conv":"g:1","TYPE":"send"}`,
		`{"type":"presence","status":"away"} {}`,
		`{"a\"b":1,"a\u0022b":2}`,
		`{"a\\":{"b\\\\":[1,"\"",{"c":[]}]}}`,
		`{"x":` + strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1) + `}`,
		"{\"a\":\"\xff\"}",
		`[{"a":1},{"a":1,"a":2}]`,
		` {"n":-1.5e+10,"t":true,"f":false,"z":null} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range []any{(*clientFrameShape)(nil), (*any)(nil)} {
			got, want := CheckStrict(data, v), referenceStrict(data, v)
			if (got == nil) != (want == nil) {
				t.Fatalf("%T: CheckStrict says %v, the reference %v", v, got, want)
			}
			var gs, ws *StrictError
			if json.Valid(data) && errors.As(got, &gs) != errors.As(want, &ws) || gs != nil && ws != nil && *gs != *ws {
				t.Fatalf("%T: CheckStrict says %v, the reference %v", v, got, want)
			}
			if got == nil {
				// As a JSON value, that is: 2e400 is JSON, not a float64.
				dec := json.NewDecoder(bytes.NewReader(data))
				dec.UseNumber()
				var x any
				if err := dec.Decode(&x); err != nil {
					t.Fatalf("accepted, but does not decode: %v", err)
				}
			}
		}
		if _, err := DecodeClientFrame(data); err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Code == "" || pe.Message == "" {
				t.Fatalf("rejection is not a protocol error with a message: %v", err)
			}
		}
	})
}

// referenceStrict is CheckStrict written the slow, obvious way.
func referenceStrict(data []byte, v any) error {
	if !utf8.Valid(data) {
		return &StrictError{Reason: reasonUTF8}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var path []string
	fail := func(key, reason string) error {
		p := ""
		for _, s := range path {
			p += "/" + escapePointer(s)
		}
		return &StrictError{Path: truncate(p, 256), Key: truncate(key, 64), Reason: reason}
	}
	var value func(t reflect.Type, depth int) error
	value = func(t reflect.Type, depth int) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return nil
		}
		if depth >= MaxJSONDepth {
			return fail("", reasonDepth)
		}
		t = shape(t)
		if d == '[' {
			var elem reflect.Type
			if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				elem = t.Elem()
			}
			for i := 0; dec.More(); i++ {
				path = append(path, fmt.Sprint(i))
				if err := value(elem, depth+1); err != nil {
					return err
				}
				path = path[:len(path)-1]
			}
			_, err := dec.Token()
			return err
		}
		var names map[string]reflect.Type
		var elem reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			names = fieldsOf(t).byName
		} else if t != nil && t.Kind() == reflect.Map {
			elem = t.Elem()
		}
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key := tok.(string)
			if seen[key] {
				return fail(key, reasonDuplicate)
			}
			seen[key] = true
			vt := elem
			if names != nil {
				if ft, ok := names[key]; ok {
					vt = ft
				} else {
					for n := range names {
						if strings.EqualFold(n, key) {
							return fail(key, reasonCase)
						}
					}
				}
			}
			path = append(path, key)
			if err := value(vt, depth+1); err != nil {
				return err
			}
			path = path[:len(path)-1]
		}
		_, err = dec.Token()
		return err
	}
	if err := value(reflect.TypeOf(v), 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return &StrictError{Reason: reasonTrailing}
	}
	return nil
}
