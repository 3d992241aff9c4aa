// @ts-check
// The browser's end-to-end crypto, byte for byte the same as package e2ee:
// device keys, sealing and opening envelopes, device-list signatures, safety
// numbers, attachment chunks, and the key derivations of the local store.
//
// Everything runs on the browser's own WebCrypto (X25519, Ed25519, HKDF, HMAC,
// AES-GCM, PBKDF2). HPKE comes from the vendored @hpke/core, which is built on
// WebCrypto alone, rather than from a hand-written key schedule.
//
// Private keys live in memory as non-extractable CryptoKeys. Their raw bytes
// exist only while a device is being set up (to be wrapped for the local
// store) or unlocked (unwrapped, imported, then zeroed).
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "../vendor/hpke-core@1.9.0/esm/mod.js";
import { b64, Canon, concat, equal, randomBytes, unb64, utf8 } from "./bytes.js";
import { ENVELOPE_VERSION, RECALL_KIND, SEALED_KEY_BYTES, SUITE_X25519_AES256, SUITE_XWING_AES256, XWING_PUBLIC_KEY_BYTES } from "./constants.js";
import { importXWingPublic, openKeyXWing, sealKeyXWing } from "./xwing.js";

const subtle = crypto.subtle;

export const SUITE = SUITE_X25519_AES256;
export { SEALED_KEY_BYTES };
export const BLOB_CHUNK = 65536;

const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
});

// PKCS#8 prefixes for raw 32-byte X25519 and Ed25519 private keys (RFC 8410):
// WebCrypto imports private OKP keys only as PKCS#8 or JWK.
const PKCS8_X25519 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
const PKCS8_ED25519 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

/** CryptoError distinguishes the ways an envelope can fail to open. */
export class CryptoError extends Error {
  constructor(kind, message) { super(message); this.kind = kind; }
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle.digest("SHA-256", bytes));
}

/** deviceId is protocol.DeviceID: the first 6 bytes of SHA-256(sign key), big-endian. */
export async function deviceId(signPub) {
  const h = await sha256(signPub);
  let n = 0;
  for (let i = 0; i < 6; i++) n = n * 256 + h[i];
  return n;
}

/**
 * keyFingerprint is e2ee.KeyFingerprint: the first 16 bytes of SHA-256(sign
 * key) in hex, in groups of four, as the admin console's device list shows it.
 */
export async function keyFingerprint(signPub) {
  const h = [...(await sha256(signPub)).subarray(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return h.match(/.{4}/g).join(" ");
}

/** newMessageId is 16 random bytes in unpadded base64url, like e2ee.NewID. */
export function newMessageId() {
  return b64(randomBytes(16)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// ---------------------------------------------------------------- device keys

/**
 * generateDeviceKeys makes a new device's X25519 and Ed25519 key pairs and
 * returns their raw bytes, for the caller to wrap into the local store, and
 * the imported keys. raw must be zeroed by the caller once wrapped.
 */
export async function generateDeviceKeys() {
  const ek = /** @type {CryptoKeyPair} */ (await subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]));
  const sk = /** @type {CryptoKeyPair} */ (await subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]));
  const encPriv = new Uint8Array(await subtle.exportKey("pkcs8", ek.privateKey)).slice(16);
  const seed = new Uint8Array(await subtle.exportKey("pkcs8", sk.privateKey)).slice(16);
  const encPub = new Uint8Array(await subtle.exportKey("raw", ek.publicKey));
  const signPub = new Uint8Array(await subtle.exportKey("raw", sk.publicKey));
  const raw = { encPriv, seed, encPub, signPub };
  return { raw, keys: await importDeviceKeys(raw) };
}

/** importDeviceKeys turns raw key bytes into non-extractable CryptoKeys. */
export async function importDeviceKeys({ encPriv, seed, encPub, signPub }) {
  if (encPriv.length !== 32 || seed.length !== 32) throw new Error("device keys are damaged");
  const encKey = await subtle.importKey("pkcs8", concat(PKCS8_X25519, encPriv), { name: "X25519" }, false, ["deriveBits"]);
  const encPubKey = await subtle.importKey("raw", encPub, { name: "X25519" }, true, []);
  const signKey = await subtle.importKey("pkcs8", concat(PKCS8_ED25519, seed), { name: "Ed25519" }, false, ["sign"]);
  // Check that the stored public halves belong to the private keys: a
  // mismatch would make this device sign lists that peers cannot use.
  const probe = randomBytes(32);
  const sig = new Uint8Array(await subtle.sign({ name: "Ed25519" }, signKey, probe));
  if (!(await verifyEd25519(signPub, sig, probe))) throw new Error("device keys are damaged (signing key)");
  return {
    id: await deviceId(signPub),
    encPub: new Uint8Array(encPub), signPub: new Uint8Array(signPub),
    encPair: { privateKey: encKey, publicKey: encPubKey },
    signKey,
    /** @type {any} suite 2's private key (xwing.importXWingPrivate), if the device has one */
    pqKey: undefined,
    /** @type {Uint8Array | undefined} its X-Wing public key */
    pqPub: undefined,
  };
}

/**
 * rotateEncKey is e2ee.DeviceKeys.RotateEnc: a new X25519 pair for the
 * device, with its signing key (and so its id) unchanged. raw holds the new
 * pair's bytes for the vault (the caller zeroes encPriv once stored).
 */
export async function rotateEncKey(keys) {
  const ek = /** @type {CryptoKeyPair} */ (await subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]));
  const encPriv = new Uint8Array(await subtle.exportKey("pkcs8", ek.privateKey)).slice(16);
  const encPub = new Uint8Array(await subtle.exportKey("raw", ek.publicKey));
  return { raw: { encPriv, encPub }, keys: { ...keys, encPub, encPair: await importEncPair(encPriv, encPub) } };
}

/** importEncPair imports an X25519 pair (a retired key) as non-extractable. */
export async function importEncPair(encPriv, encPub) {
  if (encPriv.length !== 32 || encPub.length !== 32) throw new Error("an encryption key is damaged");
  return {
    privateKey: await subtle.importKey("pkcs8", concat(PKCS8_X25519, encPriv), { name: "X25519" }, false, ["deriveBits"]),
    publicKey: await subtle.importKey("raw", encPub, { name: "X25519" }, true, []),
  };
}

/** importSigningSeed imports only an Ed25519 key (for device resume). */
export async function importSigningSeed(seed) {
  return subtle.importKey("pkcs8", concat(PKCS8_ED25519, seed), { name: "Ed25519" }, false, ["sign"]);
}

export async function signEd25519(key, msg) {
  return new Uint8Array(await subtle.sign({ name: "Ed25519" }, key, msg));
}

const verifyKeys = new Map(); // b64(pub) → CryptoKey: peers' keys are imported once
export async function verifyEd25519(pub, sig, msg) {
  if (pub.length !== 32 || sig.length !== 64) return false;
  const k = b64(pub);
  let key = verifyKeys.get(k);
  if (!key) {
    key = await subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
    if (verifyKeys.size > 4096) verifyKeys.clear();
    verifyKeys.set(k, key);
  }
  return subtle.verify({ name: "Ed25519" }, key, sig, msg);
}

const encKeys = new Map(); // b64(pub) → X25519 public CryptoKey
async function x25519Public(pub) {
  const k = b64(pub);
  let key = encKeys.get(k);
  if (!key) {
    if (pub.length !== 32) throw new CryptoError("keys", "an X25519 public key is not 32 bytes");
    key = await subtle.importKey("raw", pub, { name: "X25519" }, true, []);
    if (encKeys.size > 4096) encKeys.clear();
    encKeys.set(k, key);
  }
  return key;
}

// ------------------------------------------------------ canonical encodings

/**
 * headerBytes is protocol.Envelope.HeaderBytes: version 2 has its label and
 * the key commitment (env.commit, base64); version 1 neither.
 */
export function headerBytes(env) {
  const v1 = env.v === 1;
  const c = new Canon().label(v1 ? "curbside/env/v1" : "curbside/env/v2").u16(env.suite).str(env.id).str(env.conv)
    .u64(env.from.user).u64(env.from.device).u64(env.created).u32(env.flags);
  if (!v1) c.bytes(unb64(env.commit || ""));
  c.u32(env.keys.length);
  for (const k of env.keys) c.u64(k.user).u64(k.device);
  return c.done();
}

/**
 * commitment is e2ee.Commitment: HMAC-SHA256(K, "curbside/commit/v2" ||
 * str(id)), the version 2 header's commitment to the content key.
 * @param {Uint8Array} K
 * @param {string} msgId
 */
export async function commitment(K, msgId) {
  const key = await subtle.importKey("raw", /** @type {Uint8Array<ArrayBuffer>} */ (K), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", key, new Canon().label("curbside/commit/v2").str(msgId).done()));
}

/**
 * attestationBytes is protocol.Attestation.SignedBytes: what a device signs
 * for a receipt (kind delivered, read, acknowledged) or a recall (kind
 * RECALL_KIND).
 * @param {{kind: string, msg: string, conv: string, at: number, user: number, device: number}} a
 */
export function attestationBytes(a) {
  return new Canon().label("curbside/receipt/v2").str(a.kind).str(a.msg).str(a.conv).u64(a.at).u64(a.user).u64(a.device).done();
}

/**
 * signAttestation returns the signed part of a receipt or recall frame
 * ({conv, at, sig}) made by this device now.
 * @param {{type: string, kind?: string, msg: string, conv: string}} f the frame being signed
 * @param {{user: number, device: number, signKey: CryptoKey}} me
 * @param {number} at the signer's time, ms
 */
export async function signAttestation(f, me, at) {
  const kind = f.type === "recall" ? RECALL_KIND : f.kind || "";
  const sig = await signEd25519(me.signKey, attestationBytes({ kind, msg: f.msg, conv: f.conv, at, user: me.user, device: me.device }));
  return { conv: f.conv, at, sig: b64(sig) };
}

/**
 * verifyAttestation checks a queued receipt or recall event: signed (sig,
 * at, conv present) by the device it names, with signPub that device's key
 * from its user's verified list.
 * @param {{type: string, kind?: string, msg: string, conv?: string, at?: number, sig?: string, user?: number, device?: number}} ev
 * @param {Uint8Array} signPub
 */
export async function verifyAttestation(ev, signPub) {
  if (!ev.sig || !ev.conv || !(ev.at > 0) || !(ev.user > 0) || !(ev.device > 0)) return false;
  if (signPub.length !== 32 || (await deviceId(signPub)) !== ev.device) return false;
  const kind = ev.type === "recall" ? RECALL_KIND : ev.kind || "";
  return verifyEd25519(signPub, unb64(ev.sig), attestationBytes({ kind, msg: ev.msg, conv: ev.conv, at: ev.at, user: ev.user, device: ev.device }));
}

/** signedBytes is protocol.Envelope.SignedBytes; keys, nonce and body are bytes here. */
function signedBytes(header, sealed, nonce, body, v1 = false) {
  const c = new Canon().label(v1 ? "curbside/sig/v1" : "curbside/sig/v2").push(header);
  for (const s of sealed) c.bytes(s);
  return c.bytes(nonce).bytes(body).done();
}

/**
 * envelopeSignedBytes is protocol.Envelope.SignedBytes of an envelope in its
 * JSON form (byte fields in base64).
 */
export function envelopeSignedBytes(env) {
  return signedBytes(headerBytes(env), env.keys.map((k) => unb64(k.key)), unb64(env.nonce), unb64(env.body), env.v === 1);
}

/** keyInfo is protocol.KeyInfo: the HPKE info binding a sealed key to one message and device. */
export function keyInfo(msgId, device) {
  return new Canon().label("curbside/key/v1").str(msgId).u64(device).done();
}

/**
 * deviceListBytes is protocol.DeviceList.SignedBytes: version 2, over
 * each device's X-Wing key (pq, empty for one without), when any device
 * has one; version 1 otherwise.
 */
export function deviceListBytes(list) {
  const v2 = list.devices.some((d) => !!d.pq);
  const c = new Canon().label(v2 ? "curbside/devices/v2" : "curbside/devices/v1").u64(list.user).u64(list.version).u32(list.devices.length);
  for (const d of list.devices) {
    c.u64(d.id).bytes(unb64(d.enc)).bytes(unb64(d.sign));
    if (v2) c.bytes(d.pq ? unb64(d.pq) : new Uint8Array(0));
  }
  return c.done();
}

/**
 * envelopeSuite is e2ee.Suite: suite 2 when every recipient lists an
 * X-Wing key (pq), suite 1 otherwise.
 * @param {{pq?: Uint8Array}[]} recipients
 */
export function envelopeSuite(recipients) {
  return recipients.length > 0 && recipients.every((r) => r.pq && r.pq.length === XWING_PUBLIC_KEY_BYTES) ? SUITE_XWING_AES256 : SUITE_X25519_AES256;
}

// ---------------------------------------------------------------- envelopes

/**
 * @param {BufferSource} raw
 * @param {KeyUsage[]} [usages]
 */
async function aesKey(raw, usages = ["encrypt", "decrypt"]) {
  return subtle.importKey("raw", raw, { name: "AES-GCM" }, false, usages);
}

/**
 * sealEnvelope is e2ee.Seal. hdr has id, conv, from, created, flags;
 * recipients are [{user, device, enc: Uint8Array, pq?: Uint8Array}]. The
 * suite is the strongest every recipient opens (envelopeSuite). Returns the
 * envelope as the protocol's JSON object (byte fields in base64).
 */
export async function sealEnvelope(hdr, recipients, plaintext, signKey) {
  if (!recipients.length) throw new Error("a message needs at least one recipient device");
  const suiteId = envelopeSuite(recipients);
  const K = randomBytes(32);
  try {
    const info = (dev) => keyInfo(hdr.id, dev);
    // Every recipient's HPKE seal is independent; WebCrypto runs them off the
    // main thread, so starting them together is what keeps 100 devices fast.
    const sealed = await Promise.all(recipients.map(async (r) => {
      if (suiteId === SUITE_XWING_AES256) return sealKeyXWing(await importXWingPublic(/** @type {Uint8Array} */ (r.pq)), hdr.id, r.device, K);
      const res = await suite.seal({ recipientPublicKey: await x25519Public(r.enc), info: info(r.device) }, K);
      const out = concat(new Uint8Array(res.enc), new Uint8Array(res.ct));
      if (out.length !== SEALED_KEY_BYTES) throw new Error(`HPKE output is ${out.length} bytes; the protocol fixes ${SEALED_KEY_BYTES}`);
      return out;
    }));
    const env = {
      v: ENVELOPE_VERSION, suite: suiteId, id: hdr.id, conv: hdr.conv,
      from: { user: hdr.from.user, device: hdr.from.device },
      created: hdr.created, flags: hdr.flags | 0,
      commit: b64(await commitment(K, hdr.id)),
      keys: recipients.map((r) => ({ user: r.user, device: r.device })),
    };
    const nonce = randomBytes(12);
    const header = headerBytes(env);
    const key = await aesKey(K, ["encrypt"]);
    const body = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: header }, key, plaintext));
    const sig = await signEd25519(signKey, signedBytes(header, sealed, nonce, body));
    env.keys.forEach((k, i) => { k.key = b64(sealed[i]); });
    env.nonce = b64(nonce);
    env.body = b64(body);
    env.sig = b64(sig);
    return env;
  } finally {
    K.fill(0);
  }
}

/**
 * openEnvelope is e2ee.Open: verify the signature with the sending device's
 * key from its verified list, then open this device's sealed key, check it
 * against the signed commitment (version 2), then open the body. A version
 * 1 envelope (no commitment) opens as before: the caller decides whether
 * to accept one at all. retired are the device's earlier X25519 pairs
 * (importEncPair), tried after me's. A suite-2 envelope opens with me.pqKey
 * (xwing.importXWingPrivate), then retiredPQ.
 */
export async function openEnvelope(env, senderSignPub, me, retired = [], retiredPQ = []) {
  const xw = env.suite === SUITE_XWING_AES256;
  if ((env.v !== 1 && env.v !== ENVELOPE_VERSION) || (env.suite !== SUITE && !xw) || (xw && env.v === 1)) throw new CryptoError("unsupported", `unsupported envelope v=${env.v} suite=${env.suite}`);
  const v1 = env.v === 1;
  if (!v1 && (typeof env.commit !== "string" || unb64(env.commit).length !== 32)) throw new CryptoError("unsupported", `message ${env.id}: no key commitment`);
  if (senderSignPub.length !== 32 || (await deviceId(senderSignPub)) !== env.from.device) {
    throw new CryptoError("signature", `the key given is not device ${env.from.device}'s`);
  }
  const sealed = env.keys.map((k) => unb64(k.key));
  const nonce = unb64(env.nonce);
  const body = unb64(env.body);
  const header = headerBytes(env);
  const sig = unb64(env.sig);
  if (!(await verifyEd25519(senderSignPub, sig, signedBytes(header, sealed, nonce, body, v1)))) {
    throw new CryptoError("signature", `message ${env.id}: the signature does not verify`);
  }
  const i = env.keys.findIndex((k) => k.device === me.id);
  if (i < 0) throw new CryptoError("not_recipient", `message ${env.id} is not sealed to this device`);
  // The current key, then the retired ones (PROTOCOL.md 3.3): a message
  // sealed before a rotation opens while the device keeps that key.
  let K;
  // Suite 2: the device's X-Wing key, then the retired ones.
  for (const priv of xw ? [me.pqKey, ...retiredPQ] : []) {
    if (!priv) continue;
    try {
      K = await openKeyXWing(priv, env.id, me.id, sealed[i]);
      break;
    } catch { /* not this key */ }
  }
  for (const pair of xw ? [] : [me.encPair, ...retired]) {
    try {
      K = new Uint8Array(await suite.open(
        { recipientKey: pair, enc: sealed[i].slice(0, 32), info: keyInfo(env.id, me.id) }, sealed[i].slice(32)));
      break;
    } catch { /* not this key */ }
  }
  if (!K) throw new CryptoError("decrypt", `message ${env.id}: the content key does not open`);
  try {
    if (K.length !== 32 || nonce.length !== 12) throw new CryptoError("decrypt", "bad content key or nonce size");
    if (!v1 && !equal(await commitment(K, env.id), unb64(env.commit))) {
      throw new CryptoError("commitment", `message ${env.id}: the content key does not match the signed commitment`);
    }
    const key = await aesKey(K, ["decrypt"]);
    return new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: nonce, additionalData: header }, key, body));
  } catch (e) {
    if (e instanceof CryptoError) throw e;
    throw new CryptoError("decrypt", `message ${env.id}: the body does not decrypt`);
  } finally {
    K.fill(0);
  }
}

// ------------------------------------------------------------- device lists

/** signDeviceList sorts devices by id, sets signer and sig: e2ee.SignDeviceList. */
export async function signDeviceList(list, me) {
  list.devices.sort((a, b) => a.id - b.id);
  list.signer = me.id;
  list.sig = b64(await signEd25519(me.signKey, deviceListBytes(list)));
  return list;
}

/** verifyDeviceList is protocol's Validate plus the signature: e2ee.VerifyDeviceList. */
export async function verifyDeviceList(list) {
  if (!list || !(list.user > 0) || !(list.version > 0)) throw new CryptoError("list", "user and version are required");
  if (!Array.isArray(list.devices) || list.devices.length === 0 || list.devices.length > 32) throw new CryptoError("list", "a device list holds 1 to 32 devices");
  let signer = null;
  for (let i = 0; i < list.devices.length; i++) {
    const d = list.devices[i];
    const enc = unb64(d.enc), sign = unb64(d.sign);
    if (enc.length !== 32 || sign.length !== 32) throw new CryptoError("list", `devices[${i}]: keys must be 32 bytes`);
    if (d.pq !== undefined && unb64(d.pq).length !== XWING_PUBLIC_KEY_BYTES) throw new CryptoError("list", `devices[${i}]: pq must be ${XWING_PUBLIC_KEY_BYTES} bytes`);
    if ((await deviceId(sign)) !== d.id) throw new CryptoError("list", `devices[${i}]: id does not match its signing key`);
    if (i > 0 && list.devices[i - 1].id >= d.id) throw new CryptoError("list", "devices must be sorted by id, without repeats");
    if (d.id === list.signer) signer = sign;
  }
  if (!signer) throw new CryptoError("list", `signer ${list.signer} is not in the list`);
  if (!(await verifyEd25519(signer, unb64(list.sig || ""), deviceListBytes(list)))) {
    throw new CryptoError("list", `the device list of user ${list.user} (version ${list.version}) has a bad signature`);
  }
  return list;
}

// ----------------------------------------------------------- safety numbers

/** fingerprint is e2ee.Fingerprint: 30 digits over both keys of each of the user's devices. */
export async function fingerprint(list) {
  const devs = [...list.devices].sort((a, b) => a.id - b.id);
  const c = new Canon().label("curbside/safety/v2").u64(list.user).u32(devs.length);
  for (const d of devs) c.bytes(unb64(d.sign)).bytes(unb64(d.enc));
  const sum = await sha256(c.done());
  let s = "";
  for (let i = 0; i < 6; i++) {
    // 5 bytes is 40 bits: exact in a JavaScript number.
    let n = 0;
    for (const b of sum.subarray(i * 5, i * 5 + 5)) n = n * 256 + b;
    s += String(n % 100000).padStart(5, "0");
  }
  return s;
}

/** safetyNumber is e2ee.SafetyNumber: both fingerprints, lower user id first, in groups of 5. */
export async function safetyNumber(a, b) {
  if (a.user > b.user) [a, b] = [b, a];
  const digits = (await fingerprint(a)) + (await fingerprint(b));
  return digits.match(/.{5}/g).join(" ");
}

// -------------------------------------------------------------- attachments

function chunkNonce(i) { return new Canon().u32(0).u64(i).done(); }
function chunkAad(i, last) { return new Canon().label("curbside/blob/v1").u64(i).u8(last ? 1 : 0).done(); }

/**
 * encryptBlob is PROTOCOL.md section 8: 64 KiB chunks under a fresh key,
 * counter nonces, the last-chunk flag in the associated data. onProgress
 * gets the fraction done. Returns {blob, key, sha256} with blob the whole
 * ciphertext.
 */
export async function encryptBlob(data, onProgress) {
  const K = randomBytes(32);
  const key = await aesKey(K, ["encrypt"]);
  const n = Math.max(1, Math.ceil(data.length / BLOB_CHUNK));
  const out = new Uint8Array(data.length + 16 * n);
  // Chunks are independent: run a few at a time to use WebCrypto's threads.
  const window = 8;
  for (let start = 0; start < n; start += window) {
    const batch = [];
    for (let i = start; i < Math.min(n, start + window); i++) {
      const pt = data.subarray(i * BLOB_CHUNK, Math.min(data.length, (i + 1) * BLOB_CHUNK));
      batch.push(subtle.encrypt({ name: "AES-GCM", iv: chunkNonce(i), additionalData: chunkAad(i, i === n - 1) }, key, pt)
        .then((ct) => out.set(new Uint8Array(ct), i * (BLOB_CHUNK + 16))));
    }
    await Promise.all(batch);
    if (onProgress) onProgress(Math.min(1, (start + window) / n));
  }
  return { blob: out, key: K, sha256: await sha256(out) };
}

/** decryptBlob checks the SHA-256 first, then opens chunk by chunk. */
export async function decryptBlob(blob, K, wantSha) {
  if (!equal(await sha256(blob), wantSha)) throw new CryptoError("decrypt", "the attachment's ciphertext does not match its hash");
  const key = await aesKey(K, ["decrypt"]);
  const full = BLOB_CHUNK + 16;
  const n = Math.max(1, Math.ceil(blob.length / full));
  if (blob.length < 16 * n) throw new CryptoError("decrypt", "the attachment is truncated");
  const out = new Uint8Array(blob.length - 16 * n);
  const jobs = [];
  for (let i = 0; i < n; i++) {
    const ct = blob.subarray(i * full, Math.min(blob.length, (i + 1) * full));
    jobs.push(subtle.decrypt({ name: "AES-GCM", iv: chunkNonce(i), additionalData: chunkAad(i, i === n - 1) }, key, ct)
      .then((pt) => out.set(new Uint8Array(pt), i * BLOB_CHUNK)));
  }
  try {
    await Promise.all(jobs);
  } catch {
    throw new CryptoError("decrypt", "the attachment does not decrypt");
  }
  return out;
}

// ------------------------------------------------------ local store at rest

/** PBKDF2 iterations for PIN and password derived keys (OWASP 2023: 600,000). */
export const PBKDF2_ITERATIONS = 600000;

/** pbkdf2 derives 32 bytes from a secret; it takes a noticeable fraction of a second on purpose. */
export async function pbkdf2(secret, salt, iterations = PBKDF2_ITERATIONS) {
  const base = await subtle.importKey("raw", utf8(secret), "PBKDF2", false, ["deriveBits"]);
  return new Uint8Array(await subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, base, 256));
}

/** hkdf derives 32 bytes of key material with a purpose label. */
export async function hkdf(ikm, label, salt = new Uint8Array(32)) {
  const base = await subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info: utf8(label) }, base, 256));
}

/** importAesKey imports raw key bytes as a non-extractable AES-GCM key. */
export const importAesKey = (raw) => aesKey(raw);

export async function importHmacKey(raw) {
  return subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

export async function hmac(key, data) {
  return new Uint8Array(await subtle.sign("HMAC", key, data));
}

/** seal and open are AES-256-GCM with a random 12-byte nonce stored in front. */
export async function aeadSeal(key, pt, aad = new Uint8Array(0)) {
  const iv = randomBytes(12);
  const ct = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad }, key, pt));
  return concat(iv, ct);
}

export async function aeadOpen(key, sealed, aad = new Uint8Array(0)) {
  return new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: sealed.subarray(0, 12), additionalData: aad }, key, sealed.subarray(12)));
}
