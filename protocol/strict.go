package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxJSONDepth bounds how deeply objects and arrays may nest in anything the
// server decodes with CheckStrict: a frame, an envelope, an API body. The
// deepest the protocol uses is four (a send frame's env, its keys, one key
// object); the bound leaves room and keeps a hostile input from costing
// more than its length.
const MaxJSONDepth = 32

// StrictError says why CheckStrict refused a JSON text that encoding/json
// would decode: two readers could see different values in it. It has an
// object with a key twice (encoding/json and JSON.parse keep the last,
// other parsers the first), a key that matches a field only when case is
// ignored (encoding/json takes "CONV" for "conv"; JavaScript does not),
// nesting deeper than MaxJSONDepth, bytes that are not UTF-8
// (encoding/json replaces them, a browser drops the connection), or data
// after its value.
//
// Its words name the key and where it is: they are for the server's log.
// A client is told only a short reason that names no key.
type StrictError struct {
	Path   string // where the key is, as a JSON pointer ("/env/keys/0"), cut at 256 bytes; "" is the top level
	Key    string // the offending key, if the fault is about one, cut at 64 bytes
	Reason string // "duplicate key", "key differs from a field only in case", …
}

func (e *StrictError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("json: %s at %q", e.Reason, e.Path)
	}
	return fmt.Sprintf("json: %s %q at %q", e.Reason, e.Key, e.Path)
}

// Strict error reasons.
const (
	reasonDuplicate = "duplicate key"
	reasonCase      = "key differs from a field only in case"
	reasonDepth     = "nesting deeper than the limit"
	reasonUTF8      = "not valid UTF-8"
	reasonTrailing  = "data after the JSON value"
)

// CheckStrict checks that data is exactly one JSON value that reads the same
// to every conforming parser and to v's Go type: UTF-8, nested at most
// MaxJSONDepth deep, no object with a key twice, and, where v's type has a
// struct, every key that matches one of its fields matching it exactly
// (case included). Keys of no field are left to the caller: DecodeJSON and
// DecodeClientFrame refuse them, envelopes ignore them. v is used only for
// its type; nothing is stored in it.
//
// A refusal for one of those rules is a *StrictError; JSON that is not
// well formed gets encoding/json's syntax error. The cost is linear in
// len(data): json.Valid's pass, then one pass of a scanner that looks only
// at keys and brackets, with a set of keys per object. It allocates only
// for keys written with escapes and for objects of many keys.
func CheckStrict(data []byte, v any) error {
	if !utf8.Valid(data) {
		return &StrictError{Reason: reasonUTF8}
	}
	if !json.Valid(data) {
		// Valid says only yes or no; Unmarshal says where and why.
		var x any
		if err := json.Unmarshal(data, &x); err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) && strings.Contains(se.Error(), "after top-level value") {
				return &StrictError{Reason: reasonTrailing}
			}
			return err
		}
		return errors.New("json: not a valid JSON value")
	}
	w := strictScanner{data: data}
	w.space()
	return w.value(reflect.TypeOf(v), 0)
}

// StrictUnmarshal is json.Unmarshal after CheckStrict: the decoding every
// frame, envelope and API body takes.
func StrictUnmarshal(data []byte, v any) error {
	if err := CheckStrict(data, v); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// strictScanner steps through one JSON value that json.Valid has accepted,
// following the Go type it is to be decoded into so that it knows which
// keys name fields. Because the input is known to be well formed, it needs
// to find only where strings, objects and arrays begin and end; anything
// else it steps over a byte at a time.
type strictScanner struct {
	data []byte
	i    int
	path []pathSegment // where the scanner is, for the error
}

// pathSegment is one step of a StrictError's Path: an object key or, when
// key is nil, an array index.
type pathSegment struct {
	key   []byte
	index int
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// shape reduces t to what matters for key matching: nil when any key is a
// key of its own (interfaces, types that decode themselves such as
// json.RawMessage), else t without pointers.
func shape(t reflect.Type) reflect.Type {
	for t != nil {
		if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
			return nil
		}
		switch t.Kind() {
		case reflect.Pointer:
			t = t.Elem()
		case reflect.Interface:
			return nil
		default:
			return t
		}
	}
	return nil
}

func (w *strictScanner) fail(key []byte, reason string) error {
	var b strings.Builder
	for _, s := range w.path {
		b.WriteByte('/')
		if s.key == nil {
			b.WriteString(strconv.Itoa(s.index))
		} else {
			b.WriteString(escapePointer(string(s.key)))
		}
	}
	return &StrictError{Path: truncate(b.String(), 256), Key: truncate(string(key), 64), Reason: reason}
}

// space steps over white space.
func (w *strictScanner) space() {
	for w.i < len(w.data) {
		switch w.data[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// str steps over the string that starts at w.i and returns its contents as
// written, and whether they hold an escape.
func (w *strictScanner) str() (raw []byte, escaped bool) {
	start := w.i + 1
	j := start
	for j < len(w.data) {
		k := bytes.IndexAny(w.data[j:], `"\`)
		if k < 0 {
			break // cannot happen in valid JSON
		}
		j += k
		if w.data[j] == '"' {
			w.i = j + 1
			return w.data[start:j], escaped
		}
		escaped = true
		j += 2
	}
	w.i = len(w.data)
	return w.data[start:], escaped
}

func (w *strictScanner) value(t reflect.Type, depth int) error {
	if w.i >= len(w.data) {
		return nil
	}
	switch w.data[w.i] {
	case '"':
		w.str()
		return nil
	case '{', '[':
	default:
		// A number, true, false or null: up to the next delimiter.
		for w.i < len(w.data) {
			switch w.data[w.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return nil
			}
			w.i++
		}
		return nil
	}
	if depth >= MaxJSONDepth {
		return w.fail(nil, reasonDepth)
	}
	t = shape(t)
	if w.data[w.i] == '[' {
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		w.i++
		w.space()
		w.path = append(w.path, pathSegment{})
		for n := 0; w.i < len(w.data) && w.data[w.i] != ']'; n++ {
			w.path[len(w.path)-1].index = n
			if err := w.value(elem, depth+1); err != nil {
				return err
			}
			w.space()
			if w.i < len(w.data) && w.data[w.i] == ',' {
				w.i++
				w.space()
			}
		}
		w.path = w.path[:len(w.path)-1]
		w.i++ // ']'
		return nil
	}
	return w.object(t, depth)
}

// smallObject is how many keys an object may have before its duplicate check
// moves from a linear scan to a map: most objects in the protocol have a
// dozen keys or fewer, and a scan of those allocates nothing.
const smallObject = 16

func (w *strictScanner) object(t reflect.Type, depth int) error {
	var fields *structFields
	var elem reflect.Type // the type of every value, when t is a map
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			fields = fieldsOf(t)
		case reflect.Map:
			elem = t.Elem()
		}
	}
	var small [smallObject][]byte
	keys := small[:0]
	var many map[string]struct{}
	w.i++ // '{'
	w.space()
	for w.i < len(w.data) && w.data[w.i] == '"' {
		key, escaped := w.str()
		if escaped {
			// Keys are compared as every parser reads them: "con\u0076"
			// is "conv".
			var s string
			if err := json.Unmarshal(w.data[w.i-len(key)-2:w.i], &s); err != nil {
				return err
			}
			key = []byte(s)
		}
		if many != nil {
			if _, dup := many[string(key)]; dup {
				return w.fail(key, reasonDuplicate)
			}
			many[string(key)] = struct{}{}
		} else {
			for _, k := range keys {
				if bytes.Equal(k, key) {
					return w.fail(key, reasonDuplicate)
				}
			}
			if len(keys) < smallObject {
				keys = append(keys, key)
			} else {
				many = make(map[string]struct{}, 2*smallObject)
				for _, k := range keys {
					many[string(k)] = struct{}{}
				}
				many[string(key)] = struct{}{}
			}
		}
		vt := elem
		if fields != nil {
			f, exact := fields.byName[string(key)]
			switch {
			case exact:
				vt = f
			case fields.folds(key):
				return w.fail(key, reasonCase)
			}
		}
		w.space()
		w.i++ // ':'
		w.space()
		w.path = append(w.path, pathSegment{key: key})
		if err := w.value(vt, depth+1); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
		w.space()
		if w.i < len(w.data) && w.data[w.i] == ',' {
			w.i++
			w.space()
		}
	}
	w.i++ // '}'
	return nil
}

// escapePointer escapes a key as a JSON pointer segment (RFC 6901).
func escapePointer(key string) string {
	if !strings.ContainsAny(key, "~/") {
		return key
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(key)
}

// structFields are the JSON names a struct type decodes, as encoding/json
// finds them: tag names, else Go names, with embedded structs' fields
// promoted unless a shallower field has the name.
type structFields struct {
	byName map[string]reflect.Type
	names  [][]byte
}

// folds reports whether key equals a field name under Unicode case folding,
// the matching encoding/json falls back to (so "ſ" matches "s" and the
// Kelvin sign "K" matches "k").
func (f *structFields) folds(key []byte) bool {
	for _, n := range f.names {
		if bytes.EqualFold(n, key) {
			return true
		}
	}
	return false
}

var fieldCache sync.Map // reflect.Type → *structFields

func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{byName: map[string]reflect.Type{}}
	depthOf := map[string]int{}
	var walk func(t reflect.Type, depth int, seen map[reflect.Type]bool)
	walk = func(t reflect.Type, depth int, seen map[reflect.Type]bool) {
		if seen[t] {
			return
		}
		seen[t] = true
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if sf.Anonymous && name == "" {
				et := sf.Type
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					walk(et, depth+1, seen)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if d, ok := depthOf[name]; ok && d <= depth {
				continue
			}
			if _, ok := depthOf[name]; !ok {
				f.names = append(f.names, []byte(name))
			}
			depthOf[name] = depth
			f.byName[name] = sf.Type
		}
	}
	walk(t, 0, map[reflect.Type]bool{})
	got, _ := fieldCache.LoadOrStore(t, f)
	return got.(*structFields)
}

// strictReason is the short reason a client is given for a refusal by
// CheckStrict (what is "frame", "envelope", "request"): it names no key;
// the log does.
func strictReason(what string, err error) string {
	var se *StrictError
	if errors.As(err, &se) {
		switch se.Reason {
		case reasonDuplicate, reasonCase:
			return what + " has a duplicate key, or a key in the wrong case"
		case reasonDepth:
			return fmt.Sprintf("%s nests deeper than %d levels", what, MaxJSONDepth)
		case reasonUTF8:
			return what + " is not valid UTF-8"
		case reasonTrailing:
			return what + " has trailing data after its JSON object"
		}
	}
	return ""
}

// strictRefusal turns a CheckStrict error into the *Error a frame or an
// envelope is refused with: the code given, a short reason, and the
// StrictError (which names the key) as its cause for the log. A syntax
// error gets the code's catalogue words, as the decoder's own words are
// about Go.
func strictRefusal(code Code, what string, err error) *Error {
	if reason := strictReason(what, err); reason != "" {
		return &Error{Code: code, Message: reason, Cause: err}
	}
	return &Error{Code: code, Message: code.Message(), Cause: err}
}
