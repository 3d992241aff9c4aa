package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/curbside-health/curbside/protocol"
)

// DefaultRequestTimeout bounds one HTTP API call when the caller's context
// has no deadline of its own.
const DefaultRequestTimeout = 30 * time.Second

// maxResponseBytes bounds an API response body; the largest legitimate one
// is a group listing with its members.
const maxResponseBytes = 8 << 20

// User is a directory entry as the API shows it.
type User struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Display  string `json:"display"`
	Role     string `json:"role"`
	State    string `json:"state"`
}

// Group is a group the caller belongs to, with its members.
type Group struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Members []User `json:"members"`
}

// Error is an error the server reported: an HTTP API error (Status set) or
// a relay error frame (Status 0). Code is the stable protocol code to branch
// on; Message is the server's explanation.
type Error struct {
	Status  int
	Code    protocol.Code
	Message string
	// Ref is the message id or frame ref a relay error is about.
	Ref string
	// Devices is set with protocol.CodeDevicesChanged: for each recipient
	// user id, the device ids the server holds active.
	Devices map[string][]int64
	// Seqs is set on a refused ack: the queue items still waiting, which
	// the connection acks again with its next ack.
	Seqs []int64
}

// StorageFull reports whether err is the server refusing because its disk
// is full (protocol.CodeStorageFull): nothing was stored, and the same
// request (for a message, the same envelope: Outgoing.ID keeps it) should
// be sent again later, once an administrator has freed space.
func StorageFull(err error) bool { return ErrorCode(err) == protocol.CodeStorageFull }

// UpdateRequired reports whether err is the server refusing this client
// because it speaks an older protocol version (protocol.CodeUpdateRequired,
// or a connection closed with protocol.CloseUpdateRequired): nothing will
// work until the program is updated, so do not retry.
func UpdateRequired(err error) bool {
	return ErrorCode(err) == protocol.CodeUpdateRequired || websocket.CloseStatus(err) == protocol.CloseUpdateRequired
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Code))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	return b.String()
}

// ErrorCode returns the protocol code of a server error anywhere in err's
// chain, or "" if err did not come from the server.
func ErrorCode(err error) protocol.Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// apiError is the JSON body of an HTTP API error.
type apiError struct {
	Error struct {
		Code    protocol.Code `json:"code"`
		Message string        `json:"message"`
	} `json:"error"`
}

// errorFromResponse turns a non-2xx response into an *Error. A body that is
// not the API's error shape (a proxy's HTML page) still yields a code from
// the status, so callers can branch on it.
func errorFromResponse(status int, body []byte) *Error {
	var ae apiError
	if json.Unmarshal(body, &ae) == nil && ae.Error.Code != "" {
		return &Error{Status: status, Code: ae.Error.Code, Message: ae.Error.Message}
	}
	code := protocol.CodeInternal
	switch {
	case status == http.StatusUnauthorized:
		code = protocol.CodeUnauthorized
	case status == http.StatusForbidden:
		code = protocol.CodeForbidden
	case status == http.StatusNotFound:
		code = protocol.CodeNotFound
	case status == http.StatusConflict:
		code = protocol.CodeConflict
	case status == http.StatusTooManyRequests:
		code = protocol.CodeRateLimited
	case status == http.StatusServiceUnavailable || status == http.StatusBadGateway:
		code = protocol.CodeUnavailable
	case status >= 400 && status < 500:
		code = protocol.CodeBadRequest
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &Error{Status: status, Code: code, Message: msg}
}

// api is the HTTP half of a client: a base URL, an HTTP client and the
// session's bearer token.
type api struct {
	base  string // scheme://host[:port], no trailing slash
	hc    *http.Client
	token string
}

// do sends one JSON request and decodes the JSON answer into out (unless
// out is nil or the answer is empty).
func (a *api) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	ctype := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, ctype = bytes.NewReader(b), "application/json"
	}
	return a.send(ctx, method, path, ctype, body, out)
}

// send sends one request with a body of type ctype (none when body is nil)
// and decodes the JSON answer into out (unless out is nil or the answer is
// empty).
func (a *api) send(ctx context.Context, method, path, ctype string, body io.Reader, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultRequestTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if len(raw) > maxResponseBytes {
		return fmt.Errorf("%s %s: the answer is larger than %d bytes", method, path, maxResponseBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errorFromResponse(resp.StatusCode, raw)
	}
	if out == nil || len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the expected JSON: %w", method, path, err)
	}
	return nil
}

type loginRequest struct {
	Username string       `json:"username"`
	Password string       `json:"password"`
	Device   *deviceProof `json:"device,omitempty"`
}

// deviceProof is a sign-in's proof that it comes from a device that
// already holds its keys (protocol.LoginProofBytes).
type deviceProof struct {
	ID    int64  `json:"id"`
	Nonce []byte `json:"nonce"`
	Sig   []byte `json:"sig"`
}

type loginResponse struct {
	Token     string `json:"token"`
	User      User   `json:"user"`
	ExpiresAt int64  `json:"expires_at"`
	// MFA is set when the account has a second sign-in step.
	MFA *struct {
		Methods []string `json:"methods"`
	} `json:"mfa,omitempty"`
}

type meResponse struct {
	User   User  `json:"user"`
	Device int64 `json:"device"`
}

// keysResponse is GET /api/v1/keys/{user}.
type keysResponse struct {
	User   User                 `json:"user"`
	List   *protocol.DeviceList `json:"list"`
	Active []int64              `json:"active"`
	// AdminApproved: an administrator approved the list's one device for
	// a user who had none left (PROTOCOL.md 3.2).
	AdminApproved bool `json:"admin_approved,omitempty"`
	// Revoked: the user's revoked devices and when (PROTOCOL.md 3.4).
	Revoked []struct {
		ID int64 `json:"id"`
		At int64 `json:"at"`
	} `json:"revoked"`
}

type registerRequest struct {
	Name   string               `json:"name"`
	List   *protocol.DeviceList `json:"list"`
	Commit []byte               `json:"commit,omitempty"`
}

type registerResponse struct {
	Device int64  `json:"device"`
	State  string `json:"state"` // "active", or "pending" approval
	// Approval says who approves a pending device: "device" (another of
	// the user's) or "admin" (the user has none left).
	Approval string `json:"approval,omitempty"`
}

func (a *api) login(ctx context.Context, username, password string, proof *deviceProof) (*loginResponse, error) {
	var out loginResponse
	if err := a.do(ctx, http.MethodPost, "/api/v1/login", loginRequest{username, password, proof}, &out); err != nil {
		return nil, err
	}
	if out.MFA != nil {
		return nil, errors.New("login: this account signs in with a second step (an authenticator app or a passkey), which this client does not support yet; use the web app")
	}
	if out.Token == "" || out.User.ID <= 0 {
		return nil, errors.New("login: the server's answer has no token or user")
	}
	return &out, nil
}

func (a *api) keys(ctx context.Context, user int64) (*keysResponse, error) {
	var out keysResponse
	if err := a.do(ctx, http.MethodGet, "/api/v1/keys/"+strconv.FormatInt(user, 10), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
