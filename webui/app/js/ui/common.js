// @ts-check
// Small helpers the app's views share: who a conversation reaches, labels
// of presence and roles, durations in words, and a debounce.
import { parseConv } from "../conv.js";
import { PRESENCE_AVAILABLE, PRESENCE_AWAY, PRESENCE_DND, PRESENCE_OFFLINE, ROLE_ADMIN, ROLE_EXTERNAL, ROLE_PATIENT, ROLE_STAFF } from "../constants.js";

/** PRESENCE names each presence status for people. */
export const PRESENCE = { [PRESENCE_AVAILABLE]: "Available", [PRESENCE_AWAY]: "Away", [PRESENCE_DND]: "Do not disturb", [PRESENCE_OFFLINE]: "Offline" };

/**
 * presenceOf says what is known of a person's presence, as a dot class and
 * words. Presence is live: while this device is offline what it last heard
 * is stale and reads as unknown, and so does a person the server has told
 * it nothing about.
 * @param {any} c the client
 * @param {number} uid
 * @returns {{cls: string, text: string}}
 */
export function presenceOf(c, uid) {
  if (!c.online) return { cls: "unknown", text: "Status unknown while you're offline" };
  const st = c.presence.get(uid);
  return st ? { cls: st, text: PRESENCE[st] || st } : { cls: "unknown", text: "Status unknown" };
}

/** audience returns the users a message of mine in conv goes to (besides my devices). */
export function audience(c, conv) {
  const p = parseConv(conv.id);
  if (p.kind === "direct") return [c.peerOf(conv)];
  if (p.kind === "broadcast" && p.owner !== c.me.id) return [p.owner];
  return conv.members.filter((u) => u !== c.me.id);
}

export function recipientCount(c, conv) {
  return Math.max(1, audience(c, conv).length);
}

/** roleName names a role for people. */
export function roleName(r) { return { [ROLE_ADMIN]: "Administrator", [ROLE_STAFF]: "Staff", [ROLE_EXTERNAL]: "External provider", [ROLE_PATIENT]: "Patient" }[r] || r; }

export function fmtDuration(ms) {
  const m = Math.round(ms / 60000);
  if (ms < 60000) return `${Math.round(ms / 1000)} seconds`;
  if (m < 60) return `${m} minute${m === 1 ? "" : "s"}`;
  const hh = Math.round(m / 60);
  if (hh < 48) return `${hh} hour${hh === 1 ? "" : "s"}`;
  const d = Math.round(hh / 24);
  return `${d} day${d === 1 ? "" : "s"}`;
}

export function debounce(f, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => f(...a), ms); };
}
