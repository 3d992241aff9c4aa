// @ts-check
// Strict JSON for what the relay sends (PROTOCOL.md section 4.1, "JSON
// rules"). JSON.parse keeps the last of two equal keys and cannot say that
// there were two; the server's Go parser would once match "CONV" to conv.
// Either way two readers of one frame could see two conversations. The
// server refuses such frames and envelopes from clients; this refuses them
// from the server, so the app never reads a frame differently from the Go
// client.
//
// The check is one pass over the text after JSON.parse has accepted it
// (so it needs to find only where strings and brackets are): an object may
// not hold two keys that are equal once case is folded, which covers a key
// twice and a key beside a case variant of it; nesting may be at most
// MAX_JSON_DEPTH deep. It is stricter than the server (which refuses case
// variants of known fields only) and cheap: strings are skipped with
// indexOf, and a set is kept per object.
import { MAX_JSON_DEPTH } from "./constants.js";

/** StrictJSONError is a frame refused by strictParse; key is for the console, not for the person. */
export class StrictJSONError extends Error {
  /**
   * @param {string} reason
   * @param {string} [key]
   */
  constructor(reason, key = "") {
    super(key ? `${reason}: ${JSON.stringify(key.slice(0, 64))}` : reason);
    this.name = "StrictJSONError";
    this.reason = reason;
    this.key = key;
  }
}

/**
 * fold is the key as compared: case folded the way Go's strings.EqualFold
 * would match it (toUpperCase first, so that "ſ" meets "s"; toLowerCase
 * then, so that the Kelvin sign meets "k").
 * @param {string} key
 */
const fold = (key) => key.toUpperCase().toLowerCase();

/**
 * strictFault returns why text, which JSON.parse has accepted, is not
 * strict JSON, or null when it is.
 * @param {string} text
 * @returns {StrictJSONError | null}
 */
export function strictFault(text) {
  /** @type {({keys: Map<string, string>, wantKey: boolean} | null)[]} one per open bracket: an object's keys (folded → as written), or null for an array */
  const open = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) { // '"'
      let end = text.indexOf('"', i + 1);
      for (;;) {
        if (end < 0) return new StrictJSONError("not JSON: a string does not end");
        let back = 0;
        while (text.charCodeAt(end - 1 - back) === 0x5c) back++; // '\'
        if (back % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      const top = open[open.length - 1];
      if (top && top.wantKey) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes("\\") ? JSON.parse(`"${raw}"`) : raw;
        const f = fold(key);
        const had = top.keys.get(f);
        if (had !== undefined) return new StrictJSONError(had === key ? "duplicate key" : "keys differ only in case", key);
        top.keys.set(f, key);
        top.wantKey = false;
      }
      i = end + 1;
      continue;
    }
    if (c === 0x7b || c === 0x5b) { // '{' '['
      if (open.length >= MAX_JSON_DEPTH) return new StrictJSONError(`nesting deeper than ${MAX_JSON_DEPTH}`);
      open.push(c === 0x7b ? { keys: new Map(), wantKey: true } : null);
    } else if (c === 0x7d || c === 0x5d) { // '}' ']'
      open.pop();
    } else if (c === 0x2c) { // ','
      const top = open[open.length - 1];
      if (top) top.wantKey = true;
    }
    i++;
  }
  return null;
}

/**
 * strictParse is JSON.parse for frames from the relay: it throws a
 * SyntaxError for text that is not JSON and a StrictJSONError for JSON that
 * another parser could read differently.
 * @param {string} text
 * @returns {any}
 */
export function strictParse(text) {
  const v = JSON.parse(text);
  const fault = strictFault(text);
  if (fault) throw fault;
  return v;
}
