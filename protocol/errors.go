package protocol

import "fmt"

// Code is a stable, machine-readable error code. Codes are part of the
// protocol: clients branch on them, so they are never renamed.
type Code string

// The catalogue of error codes shared by the HTTP API and the relay.
const (
	CodeBadFrame       Code = "bad_frame"          // the frame is not JSON or not a known type
	CodeBadEnvelope    Code = "bad_envelope"       // the envelope breaks a shape rule
	CodeBadDeviceList  Code = "bad_device_list"    // a device list breaks a shape or signature rule
	CodeTooLarge       Code = "too_large"          // a size limit was exceeded
	CodeBadRequest     Code = "bad_request"        // an HTTP body or parameter is malformed
	CodeUnauthorized   Code = "unauthorized"       // no valid session
	CodeForbidden      Code = "forbidden"          // the session may not do this
	CodeNotFound       Code = "not_found"          // no such user, group, device or message
	CodeConflict       Code = "conflict"           // the resource exists or changed meanwhile
	CodeIDReused       Code = "id_reused"          // a message id was reused with different content
	CodeDevicesChanged Code = "devices_changed"    // the recipients' device set is not what the server has
	CodeBadLogin       Code = "bad_login"          // wrong username or password
	CodeLocked         Code = "locked"             // the account is locked after failures, or by an admin
	CodeRateLimited    Code = "rate_limited"       // too many requests; retry later
	CodeWeakPassword   Code = "weak_password"      // the password breaks the password policy
	CodeNetwork        Code = "forbidden_network"  // the admin console is not open to this address
	CodeMFARequired    Code = "mfa_required"       // the console needs a sign-in confirmed with a second factor
	CodeInvitation     Code = "invitation_invalid" // an invitation link is unknown, used, withdrawn or expired
	CodeUnavailable    Code = "unavailable"        // the server is shutting down or its store failed
	CodeInternal       Code = "internal"           // a server fault; details are in the server's log
)

// Error is an error that carries a protocol code and a message that is safe
// to show to the client.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, a ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}
