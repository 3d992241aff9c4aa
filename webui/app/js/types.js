// @ts-check
// Types of the web app's data, as JSDoc typedefs for `tsc --noEmit`: the
// relay's frames and envelopes (PROTOCOL.md section 4, package protocol),
// the HTTP API's answers, and the app's own records. This module holds no
// code; import its types with /** @typedef {import("./types.js").X} X */.
export {};

// ---------------------------------------------------------------- envelopes

/**
 * One device of one user (protocol.Party).
 * @typedef {object} Party
 * @property {number} user
 * @property {number} device
 */

/**
 * The content key sealed to one device (protocol.SealedKey); key is
 * base64 of HPKE enc || ciphertext.
 * @typedef {object} SealedKey
 * @property {number} user
 * @property {number} device
 * @property {string} [key]
 */

/**
 * An end-to-end-encrypted message as it travels (protocol.Envelope); byte
 * fields are standard base64.
 * @typedef {object} Envelope
 * @property {number} v
 * @property {number} suite
 * @property {string} id
 * @property {string} conv
 * @property {Party} from
 * @property {number} created sender's clock, ms
 * @property {number} flags FLAG_* of constants.js
 * @property {string} [commit] version 2: the content key's commitment, HMAC-SHA256(K, "curbside/commit/v2" || str(id)), in the signed header
 * @property {SealedKey[]} keys
 * @property {string} [nonce]
 * @property {string} [body]
 * @property {string} [sig]
 * @property {string[]} [blobs] this sender's uploads the attachments use, for the server only: outside the signature, ignored on receipt
 */

/**
 * The header sealEnvelope takes.
 * @typedef {object} EnvelopeHeader
 * @property {string} id
 * @property {string} conv
 * @property {Party} from
 * @property {number} created
 * @property {number} flags
 */

/**
 * One device in a signed device list (protocol.ListedDevice); keys in base64.
 * @typedef {object} ListedDevice
 * @property {number} id
 * @property {string} enc X25519 public key
 * @property {string} sign Ed25519 public key
 * @property {string} [pq] X-Wing public key (1,216 bytes): the device opens suite 2
 */

/**
 * A device waiting to join its user's account (api.DeviceRequest).
 * @typedef {object} DeviceRequest
 * @property {number} id
 * @property {string} name
 * @property {string} agent
 * @property {number} created_at
 * @property {string} enc
 * @property {string} sign
 * @property {string} commit
 * @property {number} approver
 * @property {string | null} approver_nonce
 * @property {string | null} reveal
 * @property {string} [approval] who approves it: "device" (another of the user's) or "admin" (the user has none left)
 */

/**
 * A user's devices, signed by one of them (protocol.DeviceList).
 * @typedef {object} DeviceList
 * @property {number} user
 * @property {number} version
 * @property {ListedDevice[]} devices
 * @property {number} signer
 * @property {string} [sig]
 */

// ------------------------------------------------------------ relay frames

/**
 * The first frame of a connection (protocol.Hello).
 * @typedef {object} HelloFrame
 * @property {"hello"} type
 * @property {number} protocol
 * @property {number} user
 * @property {number} device
 * @property {number} server_time
 */

/**
 * A message is durable (protocol.Accepted).
 * @typedef {object} AcceptedFrame
 * @property {"accepted"} type
 * @property {string} id
 * @property {string} [ref]
 * @property {number} ts server time of acceptance, ms
 * @property {boolean} [dup] a resend of an accepted message
 */

/**
 * A queued message (protocol.MsgFrame).
 * @typedef {object} MsgFrame
 * @property {"msg"} type
 * @property {number} seq
 * @property {number} ts
 * @property {Envelope} env
 */

/**
 * A queued receipt (protocol.Event): the recipient user read,
 * acknowledged or received a message. It counts only when signed (conv,
 * at, sig) by the device it names; the server's own delivered records,
 * made when a device acks, are unsigned and ignored.
 * @typedef {object} ReceiptFrame
 * @property {"receipt"} type
 * @property {number} seq
 * @property {string} msg
 * @property {number} user the signer
 * @property {number} [device] the signing device
 * @property {string} kind RECEIPT_* of constants.js
 * @property {number} ts the server's time, unsigned
 * @property {string} [conv] signed: the message's conversation
 * @property {number} [at] signed: the signer's time
 * @property {string} [sig] Ed25519 over protocol.Attestation.SignedBytes
 */

/**
 * A queued recall (protocol.Event), signed like a receipt by the
 * message's sender's device.
 * @typedef {object} RecallFrame
 * @property {"recall"} type
 * @property {number} seq
 * @property {string} msg
 * @property {number} ts the server's time, unsigned
 * @property {number} [user] the signer: the message's sender
 * @property {number} [device] the signing device
 * @property {string} [conv] signed: the message's conversation
 * @property {number} [at] signed: the signer's time
 * @property {string} [sig] Ed25519 over protocol.Attestation.SignedBytes
 */

/**
 * An ephemeral presence update (protocol.Presence).
 * @typedef {object} PresenceFrame
 * @property {"presence"} type
 * @property {number} user
 * @property {string} status PRESENCE_* of constants.js
 * @property {number} ts
 */

/**
 * Someone is typing in a conversation (protocol.Typing): ephemeral, shown
 * for TYPING_SHOW_MS.
 * @typedef {object} TypingFrame
 * @property {"typing"} type
 * @property {number} user
 * @property {string} conv
 * @property {number} ts
 */

/**
 * An ephemeral notice that a user's active devices changed (protocol.DevicesFrame):
 * keys fetched for that user before it are stale.
 * @typedef {object} DevicesFrame
 * @property {"devices"} type
 * @property {number} user
 * @property {number} ts
 * @property {number} [requests] on a frame about one's own account: devices waiting for approval
 */

/**
 * A problem with a frame, or why the connection closes (protocol.ErrorFrame).
 * @typedef {object} ErrorFrame
 * @property {"error"} type
 * @property {string} code CODE_* of constants.js
 * @property {string} message
 * @property {string} [ref]
 * @property {Object<string, number[]>} [devices] with devices_changed: each recipient's active devices
 * @property {number[]} [seqs] answering an ack: the seqs it asked to delete, still queued
 */

/**
 * Confirms a frame that carried a ref.
 * @typedef {object} OkFrame
 * @property {"ok"} type
 * @property {string} [ref]
 */

/**
 * One recipient's receipt times, 0 or absent for not yet (protocol.RecipientStatus).
 * @typedef {object} RecipientStatus
 * @property {number} user
 * @property {number} [delivered]
 * @property {number} [read]
 * @property {number} [acknowledged]
 */

/**
 * Answers a details frame (protocol.Details).
 * @typedef {object} DetailsFrame
 * @property {"details"} type
 * @property {string} [ref]
 * @property {string} msg
 * @property {string} conv
 * @property {number} created
 * @property {number} sent
 * @property {boolean} ack_requested
 * @property {boolean} [recalled]
 * @property {RecipientStatus[]} recipients
 */

/**
 * A change of a group's members (protocol.MemberEvent): queued, acked by
 * its seq. Unsigned: the server's word, which members.js checks against
 * what the device sees itself.
 * @typedef {object} MemberFrame
 * @property {"member"} type
 * @property {number} seq
 * @property {string} conv "g:<group>"
 * @property {number} group
 * @property {string} kind MEMBER_ADDED or MEMBER_REMOVED of constants.js
 * @property {number} user who was added or removed
 * @property {string} [name] their display name then
 * @property {number} [by] the administrator who made the change, if one
 * @property {string} [by_name]
 * @property {string} via VIA_* of constants.js
 * @property {number} ts
 */

/**
 * A membership change as this device keeps it (members.js): announced by
 * the server, observed by the device, or both.
 * @typedef {object} MemberEvent
 * @property {string} id
 * @property {string} conv
 * @property {string} kind MEMBER_ADDED or MEMBER_REMOVED
 * @property {number} user
 * @property {string} name
 * @property {number} by
 * @property {string} byName
 * @property {string} via "" when the server did not announce it
 * @property {number} ts
 * @property {boolean} announced the server sent a member frame for it
 * @property {boolean} observed this device saw it in a member list or a message's recipients
 */

/** @typedef {MsgFrame | ReceiptFrame | RecallFrame | MemberFrame} QueuedFrame a frame the device acknowledges by its seq */
/** @typedef {HelloFrame | AcceptedFrame | QueuedFrame | PresenceFrame | DevicesFrame | TypingFrame | ErrorFrame | OkFrame | DetailsFrame} ServerFrame */

/**
 * A frame the client sends (protocol.ClientFrame).
 * @typedef {{type: "send", env: Envelope, ref?: string}
 *   | {type: "ack", seqs: number[], ref?: string}
 *   | {type: "receipt", msg: string, kind: string, conv: string, at: number, sig: string, ref?: string}
 *   | {type: "recall", msg: string, conv: string, at: number, sig: string, ref?: string}
 *   | {type: "presence", status: string, ref?: string}
 *   | {type: "details", msg: string, ref?: string}
 *   | {type: "contact", user: number, ref?: string}
 *   | {type: "typing", conv: string, ref?: string}} ClientFrame
 */

// ------------------------------------------------------------- API answers

/**
 * The error body of every failed API answer.
 * @typedef {object} ApiErrorBody
 * @property {{code: string, message: string, field?: string}} error
 */

/**
 * A directory entry (model.Entry): what the directory, user and key
 * look-ups and group member lists give.
 * @typedef {object} Entry
 * @property {number} id
 * @property {string} username
 * @property {string} display
 * @property {string} role ROLE_* of constants.js
 */

/**
 * The signed-in user's own record (model.User), as GET /api/v1/me gives it.
 * @typedef {object} User
 * @property {number} id
 * @property {string} username
 * @property {string} display
 * @property {string} role ROLE_* of constants.js
 * @property {string} state STATE_* of constants.js
 * @property {string} [admin_level] LEVEL_* of constants.js
 * @property {string} [email]
 * @property {number} [offboarded_at]
 * @property {number} [created_at]
 */

/**
 * The "device" of POST /api/v1/login: a known device's signature of a
 * nonce from POST /api/v1/login/challenge.
 * @typedef {object} DeviceProof
 * @property {number} id the device
 * @property {string} nonce base64, as the challenge gave it
 * @property {string} sig base64 Ed25519 signature of the login proof bytes
 */

/**
 * GET /api/v1/me.
 * @typedef {object} MeAnswer
 * @property {User} user
 * @property {number} device the device the session is bound to, 0 if none
 * @property {string} [mfa]
 * @property {boolean} [mfa_enrollment_required]
 */

/**
 * The part of the policy clients enforce, as GET /api/v1/config gives it.
 * @typedef {object} ClientPolicy
 * @property {number} retention_ms messages disappear after this long
 * @property {number} inactivity_lock_ms the app locks after this long idle
 * @property {boolean} pin_required a PIN must be set for quick unlock
 * @property {number} attachment_max_bytes the largest attachment, before encryption
 * @property {string[]} attachment_types MIME patterns that may be attached ("image/*")
 * @property {number} offline_grace_ms how long the store may open without the server
 * @property {boolean} [patient_urgent] patients may mark messages Urgent
 * @property {boolean} [patient_ack] patients may ask for acknowledgement
 */

/**
 * GET /api/v1/config.
 * @typedef {object} ConfigAnswer
 * @property {ClientPolicy} policy
 * @property {string[]} quick_messages
 * @property {string} [command_key] base64 Ed25519 key that signs lock and wipe commands
 * @property {number} [server_time]
 * @property {string} [version]
 * @property {string} [practice] the practice's name, when the server has one (printouts name it)
 * @property {{vapid_key: string}} [push] Web Push: the server's VAPID public key (base64url); absent when push is off
 */

/**
 * GET /api/v1/keys/{uid}: a user, their signed device list (as JSON) and
 * the device ids the server holds active.
 * @typedef {object} KeysAnswer
 * @property {Entry} user
 * @property {DeviceList} list
 * @property {number[]} active
 * @property {boolean} [inactive] the account is disabled or locked: it receives nothing
 * @property {boolean} [admin_approved] an administrator approved the list's one device for a user who had none left (PROTOCOL.md 3.2)
 * @property {Array<{id: number, at: number}>} [revoked] the user's revoked devices and when each was revoked (PROTOCOL.md 3.4)
 */

/**
 * A server group the user is a member of (GET /api/v1/groups, /groups/{id}).
 * @typedef {object} Group
 * @property {number} id
 * @property {string} name
 * @property {Entry[]} members
 */

/**
 * POST /api/v1/blobs.
 * @typedef {object} BlobAnswer
 * @property {string} id
 * @property {number} size
 */

// ------------------------------------------------------- the app's records

/**
 * An attachment as a message carries it: the blob's id and the key that
 * opens it, with what the sender said of the file.
 * @typedef {object} Attachment
 * @property {string} blob
 * @property {string} key base64
 * @property {string} [sha256] base64 of the ciphertext's SHA-256
 * @property {string} [name]
 * @property {string} [mime]
 * @property {number} [size]
 * @property {boolean} [voice] a voice note recorded in the app
 * @property {number} [duration_ms] a voice note's length
 */

/**
 * What a reply shows of the message it answers (e2ee.Quote).
 * @typedef {object} Quote
 * @property {number} from the original's sender
 * @property {string} text at most MAX_QUOTE_CHARS characters of it
 */

/**
 * One message in the local store, sent or received.
 * @typedef {object} Message
 * @property {string} id
 * @property {string} conv
 * @property {string} [type] "text"
 * @property {Party} [from]
 * @property {number} created
 * @property {number} [sent] server time of acceptance
 * @property {number} [flags]
 * @property {boolean} [out] sent by this user
 * @property {string} [text]
 * @property {Attachment[]} [attachments]
 * @property {string[]} [blobs] of an outgoing message: the blobs this app uploaded for it, named in its envelope so the server keeps them
 * @property {{from: number, id: string, sent: number}} [forwarded]
 * @property {string} [replyTo]
 * @property {Quote | null} [quote] of the message replyTo names
 * @property {number[]} [mentions] users this message mentions
 * @property {boolean} [autoReply]
 * @property {"pending" | "sending" | "sent" | "failed"} [status] of an outgoing message
 * @property {string} [error] why it was not sent
 * @property {string} [note] why a pending message is kept to send again (the server's storage is full)
 * @property {number} [refusals] how many times in a row the server refused it for a full disk
 * @property {string} [errorCode] the CODE_* behind error, when it has one
 * @property {Array<[number, string]>} [left] of an outgoing message: the users it could not be sealed to, each with the CODE_* saying why
 * @property {Object<string, {delivered?: number, read?: number, acknowledged?: number}>} [receipts] per recipient user
 * @property {number} [read] when this user read it
 * @property {number} [acked] when this user acknowledged it
 * @property {boolean} [readSent]
 * @property {boolean} [ackSent]
 * @property {number} [recalled]
 * @property {boolean} [hidden] a tombstone only
 * @property {string} [envJson] the sealed envelope, kept until it is accepted
 */

/**
 * A conversation in the local store.
 * @typedef {object} Conversation
 * @property {string} id d:a:b, g:group or b:owner:token
 * @property {"direct" | "group" | "broadcast"} kind
 * @property {number[]} members
 * @property {string} [name]
 * @property {number} [lastTs] time of its newest message
 */

/**
 * This user's preferences on this device.
 * @typedef {object} Settings
 * @property {string} presence PRESENCE_* of constants.js
 * @property {string} autoReply
 * @property {string} sound
 * @property {string[]} quick
 * @property {Object<string, boolean>} [muted] conversations muted on this device, by id
 */
