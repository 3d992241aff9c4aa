// @ts-check
// The fields of a message body beyond its text (PROTOCOL.md section 5, the plaintext):
// a reply's quote of the message it answers and a group message's
// mentions. Both live inside the encrypted body; the server never sees
// them. Every field has a limit, and what a sender puts past it is cut
// or ignored on receipt, whatever the sending app did.

/** @typedef {import("./types.js").Message} Message */
/** @typedef {import("./types.js").Quote} Quote */

/** The most characters of a quote's text (e2ee.MaxQuoteChars). */
export const MAX_QUOTE_CHARS = 200;
/** The most users one message mentions (e2ee.MaxMentions). */
export const MAX_MENTIONS = 64;

/**
 * clip shortens a text to at most n characters (code points), ending in
 * "…" when it was cut.
 * @param {string} s
 * @param {number} n
 */
export function clip(s, n) {
  const cps = [...s];
  return cps.length <= n ? s : cps.slice(0, n - 1).join("") + "…";
}

/**
 * quoteOf is the quote a reply carries of the message m: its sender and
 * the start of its text, or its first attachment's name.
 * @param {Message} m
 * @returns {Quote}
 */
export function quoteOf(m) {
  const text = (m.text || "").replace(/\s+/g, " ").trim() || (m.attachments?.[0]?.name ? `📎 ${m.attachments[0].name}` : "");
  return { from: m.from?.user || 0, text: clip(text, MAX_QUOTE_CHARS) };
}

/**
 * readQuote takes a received body's quote, if it is well formed, within
 * the limit.
 * @param {any} q
 * @returns {Quote | null}
 */
export function readQuote(q) {
  if (!q || typeof q !== "object" || !Number.isSafeInteger(q.from) || q.from <= 0) return null;
  return { from: q.from, text: typeof q.text === "string" ? clip(q.text, MAX_QUOTE_CHARS) : "" };
}

/**
 * readMentions takes a received body's mentions: user ids, each once, at
 * most MAX_MENTIONS.
 * @param {any} ms
 * @returns {number[]}
 */
export function readMentions(ms) {
  if (!Array.isArray(ms)) return [];
  return [...new Set(ms.filter((u) => Number.isSafeInteger(u) && u > 0))].slice(0, MAX_MENTIONS);
}
