// @ts-check
// Byte helpers: base64 as the protocol writes it, UTF-8, and the canonical
// encodings (PROTOCOL.md section 5) that signatures and AEAD associated data
// cover. They must match package protocol byte for byte, so they are kept
// small and literal: big-endian fixed-width integers and u32-length-prefixed
// strings, nothing else.

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

export const utf8 = (s) => enc.encode(s);
export const fromUtf8 = (b) => dec.decode(b);

/** Standard base64 with padding, as every byte string in the protocol's JSON. */
export function b64(bytes) {
  const u = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = "";
  for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, /** @type {any} */ (u.subarray(i, i + 0x8000)));
  return btoa(s);
}

export function unb64(s) {
  if (typeof s !== "string") throw new TypeError("expected a base64 string");
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Unpadded base64url: message ids and opaque record keys. */
export function b64url(bytes) {
  return b64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** unb64url decodes base64url, padded or not (a VAPID key). */
export function unb64url(s) {
  const t = s.replace(/-/g, "+").replace(/_/g, "/");
  return unb64(t + "=".repeat((4 - (t.length % 4)) % 4));
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export function randomBytes(n) {
  return crypto.getRandomValues(new Uint8Array(n));
}

/**
 * Canon builds a canonical byte string. Integers are JavaScript numbers;
 * ids and times are below 2^53 (PROTOCOL.md conventions), so u64 splits them
 * into two 32-bit halves exactly.
 */
export class Canon {
  constructor() { this.parts = []; this.n = 0; }
  push(u) { this.parts.push(u); this.n += u.length; return this; }
  label(s) { return this.push(utf8(s)); }
  u8(v) { return this.push(Uint8Array.of(v & 0xff)); }
  u16(v) { const b = new Uint8Array(2); new DataView(b.buffer).setUint16(0, v); return this.push(b); }
  u32(v) { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v >>> 0); return this.push(b); }
  u64(v) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64 out of range: ${v}`);
    const b = new Uint8Array(8);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, Math.floor(v / 2 ** 32));
    dv.setUint32(4, v >>> 0);
    return this.push(b);
  }
  bytes(u) { return this.u32(u.length).push(u); }
  str(s) { return this.bytes(utf8(s)); }
  done() {
    const out = new Uint8Array(this.n);
    let o = 0;
    for (const p of this.parts) { out.set(p, o); o += p.length; }
    return out;
  }
}
