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
		"duplicate key": {"application/json", `{"name":"a","name":"b"}`, protocol.CodeBadRequest},
		"case variant":  {"application/json", `{"name":"a","NAME":"b"}`, protocol.CodeBadRequest},
		"case alone":    {"application/json", `{"Count":1}`, protocol.CodeBadRequest},
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

// TestDecodeJSONStrictLogsTheKey: a body refused for a duplicate or
// case-variant key, however deep, is answered bad_request with the
// catalogue's words, and only the server's log names the key.
func TestDecodeJSONStrictLogsTheKey(t *testing.T) {
	type item struct {
		ID int64 `json:"id"`
	}
	type body struct {
		Items []item `json:"items"`
	}
	for name, tc := range map[string]struct{ body, key string }{
		"nested case variant": {`{"items":[{"id":1},{"ID":2}]}`, "ID"},
		"nested duplicate":    {`{"items":[{"id":1,"id":2}]}`, "id"},
		"top duplicate":       {`{"items":[],"items":[{"id":3}]}`, "items"},
	} {
		t.Run(name, func(t *testing.T) {
			var logged bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logged, nil))
			h := Handle(log, func(w http.ResponseWriter, r *http.Request) error {
				var v body
				return DecodeJSON(w, r, 1024, &v)
			})
			r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"bad_request"`) {
				t.Fatalf("answer %d %s, want 400 bad_request", rec.Code, rec.Body)
			}
			if strings.Contains(rec.Body.String(), `\"`+tc.key+`\"`) || strings.Contains(rec.Body.String(), "duplicate") {
				t.Errorf("the answer names the fault: %s", rec.Body)
			}
			if !strings.Contains(logged.String(), "key="+tc.key) {
				t.Errorf("the log does not name key %q: %s", tc.key, logged.String())
			}
		})
	}
}
