// @ts-check
// Conversation ids and other small pure helpers of the messaging engine:
// d:<a>:<b> for a direct conversation (a < b), g:<group> for a server
// group, b:<owner>:<token> for a broadcast (PROTOCOL.md, conversations).
import { CODE_DEVICES_CHANGED, CODE_STORAGE_FULL, CODES } from "./constants.js";

export function directConv(a, b) { return a < b ? `d:${a}:${b}` : `d:${b}:${a}`; }

export function parseConv(id) {
  const p = id.split(":");
  if (p[0] === "d") return { kind: "direct", a: +p[1], b: +p[2] };
  if (p[0] === "g") return { kind: "group", group: +p[1] };
  if (p[0] === "b") return { kind: "broadcast", owner: +p[1], token: p[2] };
  return { kind: "unknown" };
}

/** mimeAllowed matches a MIME type against the policy's patterns ("image/*"). */
export function mimeAllowed(mime, patterns) {
  return (patterns || []).some((p) => p === mime || (p.endsWith("*") && mime.startsWith(p.slice(0, -1))));
}

export function fmtBytes(n) {
  if (n < 1024) return `${n} bytes`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / (1 << 20)).toFixed(n < 10 << 20 ? 1 : 0)} MB`;
}

/** The first wait before a message the server refused for a full disk is sent again, and the longest. */
export const FULL_RETRY_FIRST_MS = 15e3;
export const FULL_RETRY_MAX_MS = 5 * 60e3;

/**
 * sendOutcome says what becomes of an outgoing message whose send was
 * refused with error e ({code, message}: a relay error frame, or the
 * codes "offline" and "timeout"), on its tries-th refusal in a row.
 * "pending" keeps the message, sealed as it was, to go out again by
 * itself: on the next connection, and, when retryMs is not 0, after that
 * long (storage_full: the server takes messages again once space is freed,
 * with no reconnection). "failed" leaves it to the person (Try again,
 * Delete). note is what to show beside the message.
 * @param {{code?: string, message?: string}} e
 * @param {number} tries
 * @returns {{status: "pending" | "failed", retryMs: number, note: string}}
 */
export function sendOutcome(e, tries) {
  if (e.code === "offline" || e.code === "timeout") return { status: "pending", retryMs: 0, note: "" };
  if (e.code === CODE_STORAGE_FULL) {
    const retryMs = Math.min(FULL_RETRY_MAX_MS, FULL_RETRY_FIRST_MS * 2 ** Math.max(0, tries - 1));
    return { status: "pending", retryMs, note: CODES[CODE_STORAGE_FULL].message };
  }
  // The relay's words for devices_changed are for programs; people get the catalogue's.
  if (e.code === CODE_DEVICES_CHANGED) return { status: "failed", retryMs: 0, note: CODES[CODE_DEVICES_CHANGED].message };
  return { status: "failed", retryMs: 0, note: e.message || String(e) };
}
