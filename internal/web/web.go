// Package web holds the HTTP plumbing shared by Curbside's API packages:
// the route table and the one middleware that admits callers to it,
// handlers that return errors, the one error writer, bounded JSON decoding
// and client addresses.
package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/curbside-health/curbside/model"
	"github.com/curbside-health/curbside/protocol"
)

// HandlerFunc is an HTTP handler that returns an error instead of writing
// one.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts h to http.Handler, writing any error it returns with
// WriteError.
func Handle(log *slog.Logger, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			WriteError(log, w, r, err)
		}
	})
}

// WriteError is the one place API errors are written. An error that is
// not a *protocol.Error is a server fault: the client gets the catalogue's
// words for CodeInternal. Every server fault is logged here, once, at
// ERROR, with the request it came from; the client never sees its cause.
//
// A write refused because the disk is full (model.ErrStorageFull, however
// wrapped) is answered storage_full and not logged here: the store counts
// those refusals and logs them once a minute.
func WriteError(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	var e *protocol.Error
	full := errors.Is(err, model.ErrStorageFull)
	switch {
	case full:
		e = protocol.CodeStorageFull.Err()
	case !errors.As(err, &e):
		e = protocol.Internal(err)
	}
	status := e.Status()
	var se *protocol.StrictError
	if errors.As(err, &se) {
		// JSON that two parsers could read differently is no client's
		// mistake; the log names the key, the answer does not.
		log.Warn("request refused: ambiguous JSON", "method", r.Method, "path", r.URL.Path,
			"reason", se.Reason, "key", se.Key, "at", se.Path)
	}
	if status >= 500 && !full {
		attrs := []any{"method", r.Method, "path", r.URL.Path, "code", e.Code, "err", err}
		if c, ok := CallerOf(r.Context()); ok {
			attrs = append(attrs, "user", c.User, "device", c.Device)
		}
		log.Error("request failed", attrs...)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	} else if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "60")
	}
	WriteJSON(w, status, map[string]any{"error": map[string]any{"code": e.Code, "message": e.Message}})
}

// WriteJSON writes v as a JSON response.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if v == nil {
		return nil
	}
	return json.NewEncoder(w).Encode(v)
}

// DecodeJSON reads a JSON request body of at most limit bytes into v,
// rejecting unknown fields, trailing data and other content types. Requiring
// application/json also makes a cross-site form post impossible without a
// CORS preflight, which the server never grants.
//
// The body is held to protocol.CheckStrict's rules first: no object with a
// key twice, no key that matches a field only when case is ignored (which
// encoding/json would take), nesting at most protocol.MaxJSONDepth deep.
//
// Its refusals carry the catalogue's words: what encoding/json says ("cannot
// unmarshal array into Go struct field …") is about Go, not about what the
// person did, so it stays in the error's Cause and never reaches the client.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return protocol.CodeUnsupportedType.Err()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			e := protocol.CodeTooLarge.Err()
			e.Cause = err
			return e
		}
		e := protocol.CodeBadRequest.Err()
		e.Cause = err
		return e
	}
	if err := protocol.CheckStrict(body, v); err != nil {
		e := protocol.CodeBadRequest.Err()
		e.Cause = err // a *protocol.StrictError naming the key, for WriteError's log
		return e
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		e := protocol.CodeBadRequest.Err()
		e.Cause = err
		return e
	}
	return nil
}

// PathID returns the path value name as a positive whole number.
func PathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, protocol.Errorf(protocol.CodeBadRequest, "%s must be a positive whole number", name)
	}
	return id, nil
}

// Trimmed returns s without surrounding space, and whether it is then 1 to
// max bytes long: the check of a name or label typed into a form.
func Trimmed(s string, max int) (string, bool) {
	s = strings.TrimSpace(s)
	return s, s != "" && len(s) <= max
}
