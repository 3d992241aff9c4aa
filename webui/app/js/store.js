// @ts-check
// The local store: IndexedDB, encrypted at rest.
//
// Two object stores:
//   meta  plaintext facts needed before unlocking: who this device is (user,
//         device id, public keys) and the *wrapped* keys below. No message
//         text, no private key, no unwrapped key is ever written here, but
//         for the wipe-check key (session.js), which opens nothing: it
//         only lets a locked device prove itself to the wipe check.
//   rec   every other record (messages, conversations, pins, settings, the
//         device's private keys), each AES-256-GCM-encrypted under the data
//         key, with its type and id as associated data so records cannot be
//         swapped, and stored under an opaque HMAC of its id.
//
// The key hierarchy (DESIGN.md "Local store at rest"; PROTOCOL.md section 9,
// "The PIN proof"):
//   DK     32 random bytes, the data key; records use keys derived from it.
//   P      PBKDF2-SHA256(PIN, salt, 600,000): slow, so each PIN guess costs.
//   proof  HKDF(P, kekSalt, "curbside/store/pin-proof/v1"): sent to the
//          server, which keeps only SHA-256(proof), counts wrong ones and
//          wipes the device after the policy's pin_max_attempts.
//   share  32 bytes the server releases only for the right proof
//          (POST /api/v1/devices/{id}/share); gone once the device is
//          wiped, revoked or locked out.
//   KEK    HKDF(P || share): wraps DK. Neither a copy of the profile (no
//          share, and nothing to check a PIN guess against) nor the
//          server (no PIN, no salt, no wrapped DK) can unwrap DK alone.
// One optional wrapping, off unless the policy's offline_grace is set:
//   grace  the share wrapped under HKDF(P), with its expiry bound in, kept
//          for offline_grace so history opens during an outage (DESIGN.md:
//          emergency access). While it is kept the profile can be searched
//          for the PIN offline; it is deleted at the first start after it
//          expires and after too many wrong PINs offline.
// Nothing in the profile is wrapped under the password: a device whose
// session ended signs in with the password and then unlocks with the PIN
// as usual, and the unlocked device key resumes the device (section 9).
// An older profile's password-wrapped "resume" key is deleted at its next
// unlock.
//
// Browsers write even "non-extractable" CryptoKeys to disk in the clear when
// they are stored in IndexedDB, so no CryptoKey is ever stored: only bytes
// sealed with AES-GCM.
import { b64, b64url, concat, fromUtf8, randomBytes, unb64, utf8 } from "./bytes.js";
import { aeadOpen, aeadSeal, hkdf, hmac, importAesKey, importHmacKey, pbkdf2, PBKDF2_ITERATIONS } from "./crypto.js";

const DB_NAME = "curbside";
const DB_VERSION = 1;

function req(r) {
  return new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
}
function done(tx) {
  return new Promise((resolve, reject) => { tx.oncomplete = () => resolve(); tx.onerror = () => reject(tx.error); tx.onabort = () => reject(tx.error || new Error("transaction aborted")); });
}

let dbp = null;
export function openDB() {
  if (!dbp) {
    dbp = new Promise((resolve, reject) => {
      const r = indexedDB.open(DB_NAME, DB_VERSION);
      r.onupgradeneeded = () => {
        const db = r.result;
        if (!db.objectStoreNames.contains("meta")) db.createObjectStore("meta");
        if (!db.objectStoreNames.contains("rec")) db.createObjectStore("rec");
      };
      r.onsuccess = () => {
        const db = r.result;
        // Another tab erasing this device (a remote wipe) must not wait for us.
        db.onversionchange = () => { db.close(); dbp = null; };
        resolve(db);
      };
      r.onerror = () => reject(r.error);
    });
  }
  return dbp;
}

export async function getMeta() {
  const db = await openDB();
  return req(db.transaction("meta").objectStore("meta").get("device"));
}

export async function putMeta(meta) {
  const db = await openDB();
  const tx = db.transaction("meta", "readwrite", { durability: "strict" });
  tx.objectStore("meta").put(meta, "device");
  return done(tx);
}

/**
 * eraseAll carries out a remote wipe: it deletes every IndexedDB database
 * of this origin (not just cleared: deleted), every Cache Storage cache,
 * localStorage and sessionStorage, and unregisters the service worker.
 * Each step is attempted even if an earlier one fails; the first failure
 * is thrown at the end. Curbside's own database goes last: until it is
 * gone, the mark startWipe left in it makes the next start finish the
 * erase (a closed tab or a killed browser does not leave half of it).
 */
export async function eraseAll() {
  let first = null;
  const step = async (f) => { try { await f(); } catch (e) { first = first || e; } };
  const drop = (n) => new Promise((resolve, reject) => {
    const r = indexedDB.deleteDatabase(n);
    r.onsuccess = () => resolve();
    r.onerror = () => reject(r.error);
    // Another tab holding the database open delays the deletion until it
    // closes; it gets the wipe command itself on its next contact.
  });
  await step(async () => {
    const names = indexedDB.databases ? (await indexedDB.databases()).map((d) => d.name) : [];
    await Promise.all(names.filter((n) => n !== DB_NAME).map(drop));
  });
  await step(async () => { if (self.caches) for (const k of await caches.keys()) await caches.delete(k); });
  await step(() => { localStorage.clear(); sessionStorage.clear(); });
  await step(async () => {
    if (navigator.serviceWorker) for (const reg of await navigator.serviceWorker.getRegistrations()) await reg.unregister();
  });
  await step(async () => {
    if (dbp) { const db = await dbp; db.close(); }
    dbp = null;
    await drop(DB_NAME);
  });
  if (first) throw first;
}

/**
 * startWipe is a remote wipe's first step, taken once its command
 * verified: in one durable transaction it deletes the keys and records and
 * leaves only the mark wipeStarted reads, so that a wipe cut short is
 * finished at the next start, PIN or not, server or not.
 */
export async function startWipe() {
  const db = await openDB();
  const tx = db.transaction(["meta", "rec"], "readwrite", { durability: "strict" });
  tx.objectStore("meta").clear();
  tx.objectStore("rec").clear();
  tx.objectStore("meta").put(true, "wiping");
  await done(tx);
}

/** wipeStarted reports whether a remote wipe began on this browser and has not finished. */
export async function wipeStarted() {
  const db = await openDB();
  return (await req(db.transaction("meta").objectStore("meta").get("wiping"))) === true;
}

/** wipe deletes everything this browser holds for Curbside. */
export async function wipe() {
  const db = await openDB();
  const tx = db.transaction(["meta", "rec"], "readwrite", { durability: "strict" });
  tx.objectStore("meta").clear();
  tx.objectStore("rec").clear();
  await done(tx);
}

// --------------------------------------------------------------- key wrapping

const LBL = {
  kek: "curbside/store/kek/v1", grace: "curbside/store/grace/v1", proof: "curbside/store/pin-proof/v1",
  records: "curbside/store/records/v1", index: "curbside/store/index/v1",
};

async function kekFrom(P, share, salt) { return importAesKey(await hkdf(concat(P, share), LBL.kek, salt)); }
const dkAad = (device) => utf8(`curbside/store/dk/v1:${device}`);
const graceAad = (device, expires) => utf8(`curbside/store/grace/v1:${device}:${expires}`);

/** derivePin is the slow step of every unlock; callers show a spinner. */
export async function derivePin(pin, meta) {
  return pbkdf2(pin, unb64(meta.pin.salt), meta.pin.iterations);
}

/**
 * pinProof is what the server checks a PIN by: HKDF-SHA256 of P with the
 * PIN's kekSalt as salt and "curbside/store/pin-proof/v1" as info. The
 * server keeps SHA-256 of it; the salts never leave the profile.
 */
export async function pinProof(meta, P) {
  return hkdf(P, LBL.proof, unb64(meta.pin.kekSalt));
}

/**
 * newPin gives meta.pin fresh salts for pin and returns P. The data key is
 * then sealed under P and the share with sealDataKey; until the server has
 * the new proof's verifier (PUT /api/v1/devices/me/pin), pin.verified is unset.
 */
export async function newPin(meta, pin) {
  const salt = randomBytes(16);
  const P = await pbkdf2(pin, salt, PBKDF2_ITERATIONS);
  meta.pin = { salt: b64(salt), iterations: PBKDF2_ITERATIONS, kekSalt: b64(randomBytes(32)) };
  return P;
}

/** sealDataKey wraps DK under the KEK of P and the share. */
export async function sealDataKey(meta, P, share, DK) {
  const kek = await kekFrom(P, share, unb64(meta.pin.kekSalt));
  meta.pin.wrapped = b64(await aeadSeal(kek, DK, dkAad(meta.device)));
}

/** unwrapDataKey returns DK, or throws BadPin when the PIN (or share) is wrong. */
export class BadPin extends Error {}
export async function unwrapDataKey(meta, P, share) {
  const kek = await kekFrom(P, share, unb64(meta.pin.kekSalt));
  try {
    return await aeadOpen(kek, unb64(meta.pin.wrapped), dkAad(meta.device));
  } catch {
    throw new BadPin("That PIN is not right.");
  }
}

/** wrapGraceShare keeps the share under the PIN for graceMs, or deletes the kept one when the policy has no grace. */
export async function wrapGraceShare(meta, P, share, graceMs) {
  if (!(graceMs > 0)) { delete meta.grace; return; }
  const expires = Date.now() + graceMs;
  const key = await importAesKey(await hkdf(P, LBL.grace));
  meta.grace = { expires, wrapped: b64(await aeadSeal(key, share, graceAad(meta.device, expires))) };
}

/**
 * dropExpiredGrace deletes the grace copy of the share from the profile
 * once it has expired (not merely ignores it), durably; it reports whether
 * it deleted one. Every start and every unlock calls it.
 */
export async function dropExpiredGrace() {
  const meta = await getMeta();
  if (!meta?.grace || Date.now() <= meta.grace.expires) return false;
  delete meta.grace;
  await putMeta(meta);
  return true;
}

/** dropGrace deletes the grace copy, whatever its expiry (too many wrong PINs offline). */
export async function dropGrace(meta) {
  delete meta.grace;
  await putMeta(meta);
}

/** graceShare returns the kept share if it has not expired, else null. */
export async function graceShare(meta, P) {
  if (!meta.grace || Date.now() > meta.grace.expires) return null;
  const key = await importAesKey(await hkdf(P, LBL.grace));
  try {
    return await aeadOpen(key, unb64(meta.grace.wrapped), graceAad(meta.device, meta.grace.expires));
  } catch {
    throw new BadPin("That PIN is not right.");
  }
}

// ------------------------------------------------------------------- records

/**
 * Vault is the unlocked store: it holds the record keys in memory (as
 * non-extractable CryptoKeys) and encrypts every record it writes. lock()
 * drops them; nothing decrypted survives in this object afterwards.
 */
export class Vault {
  constructor() {
    /** @type {IDBDatabase} */
    this.db = null;
    /** @type {CryptoKey} */
    this.recKey = null;
    /** @type {CryptoKey} */
    this.idxKey = null;
  }

  static async open(DK) {
    const v = new Vault();
    v.recKey = await importAesKey(await hkdf(DK, LBL.records));
    v.idxKey = await importHmacKey(await hkdf(DK, LBL.index));
    v.db = await openDB();
    return v;
  }

  async slot(type, id) {
    return `${type}:${b64url((await hmac(this.idxKey, utf8(`${type}\u0000${id}`))).subarray(0, 18))}`;
  }

  // A record is sealed with its type as associated data and its id inside
  // the ciphertext; on reading, the id must hash to the slot it was found
  // in, so records can be neither swapped between slots nor between types.
  // Ids (message ids, conversation ids that name users) never appear in
  // the clear.
  async seal(type, id, obj) {
    return aeadSeal(this.recKey, utf8(JSON.stringify({ id, obj })), utf8(type));
  }

  async openAt(type, slot, v) {
    const rec = JSON.parse(fromUtf8(await aeadOpen(this.recKey, new Uint8Array(v), utf8(type))));
    if ((await this.slot(type, rec.id)) !== slot) throw new Error("a record is in the wrong slot");
    return rec;
  }

  /** putMany writes records durably: the caller may ack the relay afterwards. */
  async putMany(items) {
    if (!this.recKey) throw new Error("the store is locked");
    const rows = await Promise.all(items.map(async ([type, id, obj]) => [await this.slot(type, id), obj === null ? null : await this.seal(type, id, obj)]));
    const tx = this.db.transaction("rec", "readwrite", { durability: "strict" });
    const st = tx.objectStore("rec");
    for (const [k, v] of rows) { if (v === null) st.delete(k); else st.put(v, k); }
    return done(tx);
  }

  put(type, id, obj) { return this.putMany([[type, id, obj]]); }
  del(type, id) { return this.putMany([[type, id, null]]); }

  async get(type, id) {
    const k = await this.slot(type, id);
    const v = await req(this.db.transaction("rec").objectStore("rec").get(k));
    if (!v) return null;
    return (await this.openAt(type, k, v)).obj;
  }

  /** all returns every record of a type, decrypted: [{id, obj}]. */
  async all(type) {
    const range = IDBKeyRange.bound(`${type}:`, `${type};`, false, true);
    const tx = this.db.transaction("rec");
    const [keys, vals] = await Promise.all([req(tx.objectStore("rec").getAllKeys(range)), req(tx.objectStore("rec").getAll(range))]);
    const out = [];
    for (let i = 0; i < keys.length; i++) {
      try { out.push(await this.openAt(type, keys[i], vals[i])); } catch { /* a damaged record is skipped, not fatal */ }
    }
    return out;
  }

  lock() { this.recKey = null; this.idxKey = null; }
}
