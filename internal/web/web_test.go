package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/curbside-health/curbside/protocol"
)

// TestDecodeJSONSpeaksTheCatalogue: every refusal of DecodeJSON carries the
// catalogue's words for its code, never encoding/json's wording about Go
// types and struct fields.
func TestDecodeJSONSpeaksTheCatalogue(t *testing.T) {
	type body struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	for name, tc := range map[string]struct {
		ctype, body string
		code        protocol.Code
	}{
		"wrong type":    {"application/json", `{"name":["a","b"]}`, protocol.CodeBadRequest},
		"not json":      {"application/json", `{`, protocol.CodeBadRequest},
		"unknown field": {"application/json", `{"admin":true}`, protocol.CodeBadRequest},
		"trailing data": {"application/json", `{"name":"a"} {}`, protocol.CodeBadRequest},
		"too large":     {"application/json", `{"name":"` + strings.Repeat("a", 200) + `"}`, protocol.CodeTooLarge},
		"form post":     {"application/x-www-form-urlencoded", `name=a`, protocol.CodeUnsupportedType},
	} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.ctype)
			var v body
			err := DecodeJSON(httptest.NewRecorder(), r, 64, &v)
			var e *protocol.Error
			if !errors.As(err, &e) {
				t.Fatalf("DecodeJSON = %v, want a *protocol.Error", err)
			}
			if e.Code != tc.code || e.Message != tc.code.Message() {
				t.Fatalf("DecodeJSON = %s %q, want %s with the catalogue's words %q", e.Code, e.Message, tc.code, tc.code.Message())
			}
			for _, bad := range []string{"Go struct", "unmarshal", "json:", "invalid character"} {
				if strings.Contains(e.Message, bad) {
					t.Errorf("message %q shows %q", e.Message, bad)
				}
			}
		})
	}
	r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(`{"name":"a","count":2}`))
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	var v body
	if err := DecodeJSON(httptest.NewRecorder(), r, 64, &v); err != nil || v.Name != "a" || v.Count != 2 {
		t.Fatalf("a good body: %v %+v", err, v)
	}
}
