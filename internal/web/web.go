// Package web holds the HTTP plumbing shared by Curbside's API packages:
// handlers that return errors, the one error writer, bounded JSON decoding
// and client addresses.
package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"

	"github.com/curbside-health/curbside/protocol"
)

// Error is an API error: a stable code, an HTTP status and a message safe
// for the client. Cause, if set, is logged and never sent.
type Error struct {
	Status  int
	Code    protocol.Code
	Message string
	Cause   error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return string(e.Code) + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns an API error.
func Errorf(status int, code protocol.Code, format string, a ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, a...)}
}

// Internal wraps an unexpected error: the client sees a generic message,
// the log sees the cause.
func Internal(cause error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: protocol.CodeInternal, Message: "internal error; the server's log has details", Cause: cause}
}

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

// WriteError is the one place API errors are written. Unknown errors become
// 500s whose cause goes to the log only.
func WriteError(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		var pe *protocol.Error
		if errors.As(err, &pe) {
			e = &Error{Status: http.StatusBadRequest, Code: pe.Code, Message: pe.Message}
			if pe.Code == protocol.CodeTooLarge {
				e.Status = http.StatusRequestEntityTooLarge
			}
		} else {
			e = Internal(err)
		}
	}
	if e.Status >= 500 {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "code", e.Code, "err", err)
	}
	if e.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "60")
	}
	WriteJSON(w, e.Status, map[string]any{"error": map[string]any{"code": e.Code, "message": e.Message}})
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
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return Errorf(http.StatusUnsupportedMediaType, protocol.CodeBadRequest, "send the request body as application/json")
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return Errorf(http.StatusRequestEntityTooLarge, protocol.CodeTooLarge, "request body is larger than %d bytes", limit)
		}
		return Errorf(http.StatusBadRequest, protocol.CodeBadRequest, "request body is not valid JSON for this endpoint: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Errorf(http.StatusBadRequest, protocol.CodeBadRequest, "request body has data after its JSON value")
	}
	return nil
}

// ClientIP returns the address of the peer. Curbside is reached directly,
// not through a proxy, so forwarding headers are not trusted.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
