package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// A write the store refused for a full disk is answered 507 storage_full
// with the catalogue's words, however it was wrapped (even inside
// protocol.Internal), and is not logged per request: the store logs those
// refusals once a minute. Any other fault is internal and is logged.
func TestWriteErrorStorageFull(t *testing.T) {
	full := fmt.Errorf("%w: %w", model.ErrStorageFull, syscall.ENOSPC)
	tests := []struct {
		name   string
		err    error
		status int
		code   protocol.Code
		logged bool
	}{
		{"storage full", full, http.StatusInsufficientStorage, protocol.CodeStorageFull, false},
		{"storage full wrapped as internal", protocol.Internal(fmt.Errorf("put blob: %w", full)), http.StatusInsufficientStorage, protocol.CodeStorageFull, false},
		{"another fault", errors.New("disk I/O error"), http.StatusInternalServerError, protocol.CodeInternal, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			w := httptest.NewRecorder()
			WriteError(slog.New(slog.NewTextHandler(&logs, nil)), w, httptest.NewRequest("POST", "/api/v1/blobs", nil), tt.err)
			var body struct {
				Error struct {
					Code    protocol.Code `json:"code"`
					Message string        `json:"message"`
				} `json:"error"`
			}
			json.Unmarshal(w.Body.Bytes(), &body)
			if w.Code != tt.status || body.Error.Code != tt.code || body.Error.Message != tt.code.Message() {
				t.Fatalf("answered %d %+v, want %d %s with the catalogue's words", w.Code, body.Error, tt.status, tt.code)
			}
			if strings.Contains(w.Body.String(), "no space") {
				t.Fatalf("the answer shows the cause: %s", w.Body.String())
			}
			if got := strings.Contains(logs.String(), "request failed"); got != tt.logged {
				t.Fatalf("logged %v, want %v: %s", got, tt.logged, logs.String())
			}
		})
	}
}

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
