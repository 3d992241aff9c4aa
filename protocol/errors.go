package protocol

import (
	"fmt"
	"net/http"
	"sort"
	"time"
)

// Code is a stable, machine-readable error code. Codes are part of the
// protocol: clients branch on them, so they are never renamed.
type Code string

// The catalogue of error codes shared by the HTTP API and the relay. Each
// code is answered with one HTTP status (Status) and, where the answer
// gives no more specific words, one message (Message); both are in
// catalogue below.
const (
	CodeBadFrame           Code = "bad_frame"               // the frame is not JSON or not a known type
	CodeBadEnvelope        Code = "bad_envelope"            // the envelope breaks a shape rule
	CodeBadDeviceList      Code = "bad_device_list"         // a device list breaks a shape or signature rule
	CodeTooLarge           Code = "too_large"               // a size limit was exceeded
	CodeBadRequest         Code = "bad_request"             // an HTTP body or parameter is malformed
	CodeUnsupportedType    Code = "unsupported_type"        // the body is not of the content type the endpoint takes
	CodeUnauthorized       Code = "unauthorized"            // no valid session
	CodeForbidden          Code = "forbidden"               // the session may not do this
	CodeNotFound           Code = "not_found"               // no such user, group, device or message
	CodeConflict           Code = "conflict"                // the resource exists or changed meanwhile
	CodeIDReused           Code = "id_reused"               // a message id was reused with different content
	CodeDevicesChanged     Code = "devices_changed"         // the recipients' device set is not what the server has
	CodeBadLogin           Code = "bad_login"               // wrong username or password
	CodeLocked             Code = "locked"                  // the account is locked after failures, or by an admin
	CodeRateLimited        Code = "rate_limited"            // too many requests; retry later
	CodeWeakPassword       Code = "weak_password"           // the password breaks the password policy
	CodeNetwork            Code = "forbidden_network"       // the admin console is not open to this address
	CodeMFARequired        Code = "mfa_required"            // the console needs a sign-in confirmed with a second factor
	CodeEnrollRequired     Code = "mfa_enrollment_required" // the policy requires a second factor and none is set up yet
	CodeWrongCode          Code = "wrong_code"              // a sign-in's second-step code is not right (or was used)
	CodeStepUpRequired     Code = "step_up_required"        // an action needs the administrator's own second-factor code, and none was given or none is set up
	CodeApprovalCodeWrong  Code = "approval_code_wrong"     // the code typed to approve a device is not the one that device shows
	CodeCodeNotAccepted    Code = "code_not_accepted"       // a code given while signed in (to confirm a set-up) is not right
	CodeMFAExpired         Code = "mfa_expired"             // the sign-in's second step timed out, was used, or had too many wrong codes
	CodePasskeyUnavailable Code = "passkey_unavailable"     // passkeys cannot be used at this address (no secure origin)
	CodePasskeyFailed      Code = "passkey_failed"          // the browser's passkey answer did not verify
	CodeInvitation         Code = "invitation_invalid"      // an invitation link is unknown
	CodeInvitationGone     Code = "invitation_gone"         // an invitation link was used, withdrawn or has expired
	CodeCrossSite          Code = "cross_site"              // a state-changing request came from another origin
	CodeNotReachable       Code = "not_reachable"           // the participation rules do not let the sender reach that person
	CodeFlagNotAllowed     Code = "flag_not_allowed"        // the policy does not let the sender mark a message urgent or ask for acknowledgement
	CodeUnavailable        Code = "unavailable"             // the server is shutting down or its store failed
	CodeTooManyConnections Code = "too_many_connections"    // the server holds as many connections as it may
	CodeTooManyFromAddress Code = "too_many_from_address"   // the client's address holds as many connections as one address may
	CodeLimitReached       Code = "limit_reached"           // a per-user limit of the practice (attachments, sessions, devices) is reached
	CodeQueueFull          Code = "queue_full"              // a recipient device has as many undelivered messages waiting as it may hold
	CodeRecipientInactive  Code = "recipient_inactive"      // the person addressed is disabled or locked and receives nothing
	CodeNoDevice           Code = "no_device"               // (the apps, before sending) the person addressed has no active device to encrypt to
	CodeSenderUnknown      Code = "sender_unknown"          // (the apps, receiving) a message's sender cannot be looked up: hidden by the participation rules, or gone
	CodeAttachmentGone     Code = "attachment_gone"         // a blob the message names is not the sender's, or no longer stored
	CodeStorageFull        Code = "storage_full"            // the server's disk is full: nothing was stored; the client keeps it and retries
	CodeMailNotSetUp       Code = "mail_not_set_up"         // email is not set up, or the person has no email address
	CodeMailFailed         Code = "mail_failed"             // the mail server refused or could not be reached
	CodePushRefused        Code = "push_refused"            // the browser's push service is not one the server sends to
	CodePushUnavailable    Code = "push_unavailable"        // Web Push is turned off on this server
	CodeUpdateRequired     Code = "update_required"         // the client speaks an older protocol version than the server
	CodeWrongPIN           Code = "wrong_pin"               // the PIN proof is not right; the server counted it (the words say how many attempts are left)
	CodePINLockedOut       Code = "pin_locked_out"          // too many wrong PINs in a row: the server deleted the key share and wiped the device
	CodeInternal           Code = "internal"                // a server fault; details are in the server's log
)

type codeInfo struct {
	status  int
	message string
}

// catalogue gives every code its HTTP status and the words shown when an
// answer has none more specific. The words are for the person using the
// app, not for a programmer.
var catalogue = map[Code]codeInfo{
	CodeBadFrame:           {http.StatusBadRequest, "The app sent something the server does not understand. Update or reload the app."},
	CodeBadEnvelope:        {http.StatusBadRequest, "The app sent a message the server cannot accept. Update or reload the app."},
	CodeBadDeviceList:      {http.StatusBadRequest, "This device's keys could not be checked. Set up the device again."},
	CodeTooLarge:           {http.StatusRequestEntityTooLarge, "That is larger than the server accepts."},
	CodeBadRequest:         {http.StatusBadRequest, "The request is not complete or not valid."},
	CodeUnsupportedType:    {http.StatusUnsupportedMediaType, "The request was sent in a form the server does not take here."},
	CodeUnauthorized:       {http.StatusUnauthorized, "Sign in first: the session is missing, expired or ended."},
	CodeForbidden:          {http.StatusForbidden, "You are not allowed to do this."},
	CodeNotFound:           {http.StatusNotFound, "That could not be found. It may have been removed or may have expired."},
	CodeConflict:           {http.StatusConflict, "That changed meanwhile. Reload and try again."},
	CodeIDReused:           {http.StatusConflict, "This message id was already used for a different message; choose a new id."},
	CodeDevicesChanged:     {http.StatusConflict, "Their devices changed while the message was being sent, so it was not sent. Try again."},
	CodeBadLogin:           {http.StatusUnauthorized, "Wrong username or password."},
	CodeLocked:             {http.StatusLocked, "This account is locked. Try again later or ask your administrator."},
	CodeRateLimited:        {http.StatusTooManyRequests, "Too many attempts. Wait a minute and try again."},
	CodeWeakPassword:       {http.StatusBadRequest, "That password does not meet your practice's password rules."},
	CodeNetwork:            {http.StatusForbidden, "The admin console cannot be used from this network."},
	CodeMFARequired:        {http.StatusForbidden, "Sign in again and confirm with your second sign-in step."},
	CodeEnrollRequired:     {http.StatusForbidden, "Your practice requires a second sign-in step. Set one up to continue."},
	CodeWrongCode:          {http.StatusUnauthorized, "That code is not right or was already used."},
	CodeStepUpRequired:     {http.StatusForbidden, "To do this, confirm it is you: enter the code from your authenticator app, or a recovery code. If you have neither, set up an authenticator app under Your account first."},
	CodeApprovalCodeWrong:  {http.StatusBadRequest, "That code does not match the one on the person's device. Check it with them and type it again, with a new code from your authenticator app; after three wrong codes they must ask again from their device."},
	CodeCodeNotAccepted:    {http.StatusBadRequest, "That code is not right or was already used: enter the code the app shows now."},
	CodeMFAExpired:         {http.StatusUnauthorized, "This sign-in has expired. Sign in with your password again."},
	CodePasskeyUnavailable: {http.StatusBadRequest, "Passkeys cannot be used at this address."},
	CodePasskeyFailed:      {http.StatusBadRequest, "The passkey could not be checked. Try again, or use a code."},
	CodeInvitation:         {http.StatusNotFound, "This link is not valid: ask your administrator for a new one."},
	CodeInvitationGone:     {http.StatusGone, "This link can no longer be used; ask your administrator for a new one."},
	CodeCrossSite:          {http.StatusForbidden, "This request came from another site and was refused."},
	CodeNotReachable:       {http.StatusForbidden, "This person cannot be reached from your account. Ask your practice to add them to your care team."},
	CodeFlagNotAllowed:     {http.StatusForbidden, "Your practice does not let you mark messages urgent or ask for acknowledgement. Send it as a normal message."},
	CodeUnavailable:        {http.StatusServiceUnavailable, "The server is busy or restarting. Try again in a moment."},
	CodeTooManyConnections: {http.StatusServiceUnavailable, "The server has too many connections open. Try again in a moment."},
	CodeTooManyFromAddress: {http.StatusServiceUnavailable, "Too many connections from your network. Close some tabs or devices and try again in a moment; if your practice shares one address, ask your administrator to raise the limit."},
	CodeLimitReached:       {http.StatusForbidden, "You have reached a limit your practice sets. Remove something or ask your administrator."},
	CodeQueueFull:          {http.StatusServiceUnavailable, "Not sent: the recipient's device has too many messages waiting. Try again once they are back online."},
	CodeRecipientInactive:  {http.StatusConflict, "This person's account is switched off, so they cannot receive messages now. Ask your administrator."},
	CodeNoDevice:           {http.StatusConflict, "They have no device that can receive messages: they have not set up Curbside yet, or not again since their device was removed. Messages reach them once they sign in."},
	CodeSenderUnknown:      {http.StatusNotFound, "A message could not be opened: its sender is no longer someone your account can reach, or their account was removed. If you expected a message, ask your practice."},
	CodeAttachmentGone:     {http.StatusGone, "An attachment of this message is no longer on the server. Attach the file again and send the message again."},
	CodeStorageFull:        {http.StatusInsufficientStorage, "Not sent: the server's storage is full. Your message is kept and will be sent when space is freed; tell your administrator."},
	CodeMailNotSetUp:       {http.StatusConflict, "Email is not set up yet. An owner or admin can set it up on the console's Email page."},
	CodeMailFailed:         {http.StatusBadGateway, "The email could not be sent. Check the email settings; the server's log has the details."},
	CodePushRefused:        {http.StatusBadRequest, "Notifications cannot be turned on in this browser: its notification service is not one your practice's server sends to. Ask your administrator."},
	CodePushUnavailable:    {http.StatusNotFound, "Notifications that wake the app are turned off on this server. Keep Curbside open to receive messages, or ask your administrator."},
	CodeUpdateRequired:     {http.StatusUpgradeRequired, "This version of Curbside is out of date. Reload the page to update it."},
	CodeWrongPIN:           {http.StatusForbidden, "That PIN is not right."},
	CodePINLockedOut:       {http.StatusGone, "Too many wrong PINs: this device's messages have been erased. Sign in with your password to set it up again."},
	CodeInternal:           {http.StatusInternalServerError, "Something went wrong on the server. Try again; if it keeps happening, tell your administrator."},
}

// Status returns the HTTP status an error with this code is answered with.
// An unknown code is a server fault: 500.
func (c Code) Status() int {
	if e, ok := catalogue[c]; ok {
		return e.status
	}
	return http.StatusInternalServerError
}

// Message returns the code's catalogue words, shown when an answer has
// none more specific.
func (c Code) Message() string {
	if e, ok := catalogue[c]; ok {
		return e.message
	}
	return catalogue[CodeInternal].message
}

// Codes lists every code in the catalogue, sorted.
func Codes() []Code {
	cs := make([]Code, 0, len(catalogue))
	for c := range catalogue {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i] < cs[j] })
	return cs
}

// Error is an error with a code from the catalogue and a message safe to
// show to the client. Cause, when set, is the internal error behind it: it
// goes to the server's log and never to the client.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Cause   error  `json:"-"`
	// RetryAfter, when set, is how long the client should wait before
	// trying again; HTTP answers carry it as Retry-After.
	RetryAfter time.Duration `json:"-"`
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return string(e.Code) + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Status returns the HTTP status the error is answered with.
func (e *Error) Status() int { return e.Code.Status() }

// After returns e with RetryAfter set to d.
func (e *Error) After(d time.Duration) *Error {
	e.RetryAfter = d
	return e
}

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, a ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}

// Err returns an *Error with the code's catalogue words.
func (c Code) Err() *Error { return &Error{Code: c, Message: c.Message()} }

// Internal wraps an unexpected error: the client sees the catalogue's
// words for CodeInternal, the log sees the cause.
func Internal(cause error) *Error {
	return &Error{Code: CodeInternal, Message: CodeInternal.Message(), Cause: cause}
}
