package protocol

// WebSocket close codes of the relay (4000-4999 are the application's).
// A client tells from the code what to do next.
const (
	// CloseReplaced: the same device connected again elsewhere (another
	// tab). Do not reconnect on its own; the newer connection wins.
	CloseReplaced = 4000
	// CloseRevoked: the device was revoked or wiped, or its user disabled.
	// Do not reconnect; a wiped device fetches its wipe command
	// (POST /api/v1/devices/{id}/wipe, proving its key) and erases itself.
	CloseRevoked = 4001
	// CloseSessionEnded: an administrator locked the device; its sessions
	// are gone but the device is still active. Sign in with the password
	// again and resume the device (section 9); local history stays.
	CloseSessionEnded = 4002
	// CloseUpdateRequired: the client speaks an older protocol version
	// than the server (it offered only curbside.v1). Do not reconnect:
	// reload or update the app.
	CloseUpdateRequired = 4003
)
