// @ts-check
// Setting up, unlocking and resuming this browser's device.
//
// First sign-in: password → a new device (keys made here, a signed device
// list, POST /api/v1/devices) → the PIN wraps the local data key together
// with the server's key share, and the server keeps the verifier of the
// PIN's proof. Later: the PIN unlocks; the server releases the share only
// for the PIN's proof and counts wrong ones. When the server session has
// ended: the password signs in again, the PIN unlocks as usual, and the
// unlocked device key *resumes* the device (challenge, resume) so peers see
// no key change.
import { browserOf } from "./agent.js";
import { api, ApiError } from "./api.js";
import { b64, Canon, randomBytes, unb64 } from "./bytes.js";
import { generateDeviceKeys, importDeviceKeys, signDeviceList, signEd25519, verifyDeviceList, verifyEd25519 } from "./crypto.js";
import { importXWingPrivate, xwingPublicKey } from "./xwing.js";
import {
  BadPin, derivePin, dropExpiredGrace, dropGrace, eraseAll, getMeta, graceShare, newPin, pinProof, putMeta, sealDataKey, startWipe,
  unwrapDataKey, Vault, wipe, wipeStarted, wrapGraceShare,
} from "./store.js";
import { CODE_CONFLICT, CODE_MFA_ENROLLMENT_REQUIRED, CODE_PIN_LOCKED_OUT, CODE_WRONG_PIN } from "./constants.js";
import { approvalCommit, waitForApproval } from "./approval.js";

/**
 * MAX_PIN_TRIES wrong PINs in a row, counted on the device, end the server
 * session of a device whose server has no PIN verifier yet, and delete the
 * grace copy when offline. Online, the server counts (policy
 * pin_max_attempts) and wipes the device at its limit.
 */
export const MAX_PIN_TRIES = 5;

/** SessionError says which screen must come next. */
export class SessionError extends Error {
  constructor(kind, message) { super(message); this.kind = kind; }
}
// kinds: need_password (sign in with the password, then resume), wiped (the
// device was revoked or wiped: local data is gone), offline (no server and no
// grace share), bad_pin,
// need_enroll (the policy requires a second factor the account lacks),
// cancelled (the person left the second step),
// wiped_by_admin (a signed wipe command was carried out: nothing is left).

/** WIPED is what a device says once it has carried out a remote wipe. */
export const WIPED = "This device was wiped by your administrator";

/**
 * wipeBytes is what the server's command key signs (PROTOCOL.md, "Remote
 * lock and wipe"): "curbside/command/v1" || u32 v || str(kind) ||
 * u64 user || u64 device || u64 issued_at.
 */
export function wipeBytes(cmd) {
  return new Canon().label("curbside/command/v1").u32(cmd.v).str(cmd.kind).u64(cmd.user).u64(cmd.device).u64(cmd.issued_at).done();
}

/** verifyWipe checks that cmd is a wipe of this very device, signed by the command key pinned at set-up. */
export async function verifyWipe(cmd, meta) {
  if (!cmd || !meta?.commandKey || cmd.v !== 1 || cmd.kind !== "wipe" || cmd.device !== meta.device || cmd.user !== meta.user?.id || typeof cmd.sig !== "string") return false;
  try {
    return await verifyEd25519(unb64(meta.commandKey), unb64(cmd.sig), wipeBytes(cmd));
  } catch {
    return false;
  }
}

let wipeCheck = null; // the check in flight, or the settled true of a wipe carried out

/**
 * The device's Ed25519 signing key while the app holds it (unlocked, or
 * resuming with the password): a wipe check proves with it that this
 * device is the one asking. Locking forgets it (forgetDeviceKey), as it
 * forgets every other decrypted thing.
 * @type {CryptoKey | null}
 */
let deviceKey = null;

/** forgetDeviceKey drops the signing key kept for wipe checks. */
export function forgetDeviceKey() { deviceKey = null; }

/**
 * ensureWipeKey gives this device a wipe-check key, if it has none yet: an
 * Ed25519 key kept in the plaintext meta record, whose public half the
 * server holds (PUT /api/v1/devices/me/wipe-key). It opens nothing; it
 * only lets a locked device prove itself to the wipe check, where the
 * signing key is sealed under the PIN. A failure is tried again at the
 * next unlock.
 */
async function ensureWipeKey(meta) {
  if (meta.wipeKeySet) return;
  try {
    if (!meta.wipeKey) {
      const pair = /** @type {CryptoKeyPair} */ (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]));
      meta.wipeKey = b64(new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey)));
      meta.wipeKeyPub = b64(new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)));
      await putMeta(meta);
    }
    await api.setWipeKey(meta.wipeKeyPub);
    meta.wipeKeySet = true;
    await putMeta(meta);
  } catch (e) {
    console.warn("wipe-check key not registered yet:", e);
  }
}

/** proofKey returns the key this device proves itself with to the wipe check, or null. */
async function proofKey(meta) {
  if (deviceKey) return deviceKey;
  if (!meta.wipeKey) return null;
  return crypto.subtle.importKey("pkcs8", unb64(meta.wipeKey), { name: "Ed25519" }, false, ["sign"]);
}

/** wipeCheckBytes is protocol.WipeCheckBytes: what a device signs to fetch its wipe command. */
export function wipeCheckBytes(device, nonce) {
  return new Canon().label("curbside/wipe-check/v1").u64(device).bytes(nonce).done();
}

/**
 * checkWipe asks the server whether a wipe command waits for this device
 * and, if one verifies with the pinned command key and names this device,
 * carries it out: every database, cache and storage of this origin is
 * deleted and the service worker unregistered. It returns true once the
 * device is wiped; false when there is no valid command, the server
 * cannot be reached, or the device has no key to prove itself with (its
 * signing key while unlocked, else its wipe-check key). A command that does not
 * verify is ignored: neither a stranger nor a server without the key can
 * make a device erase itself this way.
 */
export function checkWipe() {
  // One check at a time: the unlock screen and the PIN form may both ask,
  // and a second erase must not reopen the database the first deleted.
  if (!wipeCheck) {
    wipeCheck = runWipeCheck().then((wiped) => { if (!wiped) wipeCheck = null; return wiped; }, (e) => { wipeCheck = null; throw e; });
  }
  return wipeCheck;
}

async function runWipeCheck() {
  let started, meta;
  try {
    started = await wipeStarted();
    if (!started) meta = await getMeta();
  } catch { return false; }
  if (!started) {
    if (!meta?.commandKey) return false;
    let key;
    try { key = await proofKey(meta); } catch { return false; }
    if (!key) return false;
    let cmd;
    try {
      cmd = await api.wipeCommand(meta.device, async (nonce) => b64(await signEd25519(key, wipeCheckBytes(meta.device, nonce))));
    } catch { return false; }
    if (!(await verifyWipe(cmd, meta))) return false;
    await startWipe(); // the keys and records first, and a mark to finish by
  }
  await eraseAll();
  return true;
}

export { dropExpiredGrace, getMeta, wipeStarted };

export function deviceName() {
  const { browser, os } = browserOf(navigator.userAgent);
  return `Curbside web on ${browser || "Browser"}${os ? " (" + os + ")" : ""}`;
}

/**
 * nextDeviceList is client.NextDeviceList: the current list's devices that
 * are still active, plus this one, at the next version, signed by this one.
 * The current list must verify: a new device never countersigns keys it was
 * handed by a tampering server.
 */
async function nextDeviceList(user, current, active, keys) {
  const next = { user, version: 1, devices: [] };
  if (current) {
    await verifyDeviceList(current);
    if (current.user !== user) throw new Error("your current device list belongs to another user");
    next.version = current.version + 1;
    const act = new Set(active || []);
    next.devices = current.devices.filter((d) => act.has(d.id) && d.id !== keys.id);
  }
  next.devices.push({ id: keys.id, enc: b64(keys.encPub), sign: b64(keys.signPub) });
  if (next.devices.length > 32) throw new Error("You already have 32 devices. Ask an administrator to remove old ones.");
  return signDeviceList(next, keys);
}

/**
 * passwordLogin signs in with the password and whatever else the server
 * asks for. hooks.onMfa(mfa) shows the second step and resolves the login
 * result; hooks.onEnroll() resolves once a factor the policy requires is set
 * up. Either may reject with SessionError("cancelled"). device, when
 * given, proves that this browser is one of the user's devices.
 * @param {import("./types.js").DeviceProof} [device]
 */
async function passwordLogin(username, password, hooks = {}, device = undefined) {
  let res = await api.login(username, password, device);
  if (res.mfa) {
    if (!hooks.onMfa) throw new SessionError("need_mfa", "This account has a second sign-in step.");
    res = await hooks.onMfa(res.mfa);
  }
  const me = await api.me();
  if (me.mfa_enrollment_required) {
    if (!hooks.onEnroll) throw new SessionError("need_enroll", "Your practice requires a second sign-in step.");
    await hooks.onEnroll();
  }
  return res.user || me.user;
}

/** signIn checks the password (and second step) and starts a server session (cookie only). */
export async function signIn(username, password, hooks) {
  return passwordLogin(username, password, hooks);
}

/**
 * setUp makes this browser a new device of the signed-in user, protected by
 * pin: the server's share is fetched with the new PIN's proof (the device
 * has no verifier yet) and the proof's verifier is then given to the server.
 * When the user has a device already, this one must be approved there
 * first (PROTOCOL.md 3.1), or, when the user has no device left, by an
 * administrator (3.2): onCode("", byAdmin) says so, and onCode(code, byAdmin)
 * gives the code to enter there or to read to the administrator.
 * History is not copied to a new device: when this is not the user's
 * first device (it had to be approved), or this browser was wiped
 * (wiped), the vault keeps a "history-note" setting for the app's
 * one-time notice that says so (Client.historyNote).
 * @param {string} _password unused: nothing is wrapped under the password
 * @param {(text: string) => void} [progress] reports the slow steps
 * @param {(code: string, byAdmin: boolean) => void} [onCode] shows the waiting screen
 * @param {{wiped?: boolean}} [opts] wiped: this browser was wiped before this set-up
 */
export async function setUp(user, _password, pin, progress = () => {}, onCode = () => {}, opts = {}) {
  const wiped = !!opts.wiped;
  let cfg = null;
  try { cfg = await api.config(); } catch { /* older server: defaults */ }
  progress("Making this device's keys…");
  const { raw, keys } = await generateDeviceKeys();
  const nonce = randomBytes(32);
  const commit = b64(await approvalCommit(nonce));
  let list, reg;
  for (let attempt = 0; ; attempt++) {
    const kr = await api.keys(user.id);
    list = await nextDeviceList(user.id, kr.list, kr.active, keys);
    try {
      reg = await api.registerDevice(deviceName(), list, commit);
      break;
    } catch (e) {
      // conflict: another device registered meanwhile; sign the fresh list once more.
      if (!(e instanceof ApiError && e.code === CODE_CONFLICT) || attempt >= 1) throw e;
    }
  }
  if (reg?.state === "pending") {
    const byAdmin = reg.approval === "admin";
    onCode("", byAdmin);
    const approver = await waitForApproval(user.id, { id: keys.id, enc: raw.encPub, sign: raw.signPub }, nonce, (code) => onCode(code, byAdmin));
    // The list that approved this device must name it with its keys; it
    // is pinned as this device's first view of its own account.
    const kr = await api.keys(user.id);
    await verifyDeviceList(kr.list);
    const mine = kr.list?.devices.find((d) => d.id === keys.id);
    if (kr.list?.user !== user.id || !mine || mine.enc !== b64(raw.encPub) || mine.sign !== b64(raw.signPub)) {
      throw new Error("This device was approved, but your device list does not name it with its keys. Tell your administrator.");
    }
    // Whose signature it must bear: after an administrator's approval, the
    // list this device signed itself, naming only it; else the approver's.
    if (byAdmin ? kr.list.signer !== keys.id || kr.list.devices.length !== 1 : approver && kr.list.signer !== approver) {
      throw new Error("This device was approved, but your device list is not signed by the device that approved it. Tell your administrator.");
    }
    list = kr.list;
    progress("Approved. Protecting this device with your PIN…");
  }
  progress("Protecting this device with your PIN…");
  const meta = { v: 1, user, device: keys.id, encPub: b64(raw.encPub), signPub: b64(raw.signPub), created: Date.now(), failed: 0 };
  // Pin the server's command key: only commands it signed can wipe this device.
  if (cfg?.command_key) meta.commandKey = cfg.command_key;
  const P = await newPin(meta, pin);
  const proof = b64(await pinProof(meta, P));
  const share = unb64((await api.share(keys.id, proof)).share);
  await wipe(); // nothing of an earlier account may survive on this browser
  const DK = randomBytes(32);
  await sealDataKey(meta, P, share, DK);
  await wrapGraceShare(meta, P, share, cfg?.policy?.offline_grace_ms);
  const vault = await Vault.open(DK);
  await vault.putMany([
    ["keys", "device", { encPriv: b64(raw.encPriv), seed: b64(raw.seed), encPub: b64(raw.encPub), signPub: b64(raw.signPub) }],
    // Pin the list this device signed: the one thing about its own account it knows first-hand.
    ["pin", user.id, { user: user.id, list, since: Date.now(), verified: true }],
    ["user", user.id, user],
  ]);
  if (cfg) await vault.put("settings", "config", cfg);
  const earlier = reg?.state === "pending";
  if (earlier || wiped) await vault.put("settings", "history-note", { earlier, wiped, byAdmin: reg?.approval === "admin", dismissed: false });
  await putMeta(meta);
  raw.encPriv.fill(0); raw.seed.fill(0); DK.fill(0); P.fill(0); share.fill(0);
  deviceKey = keys.signKey;
  // A failure leaves pin.verified unset: the next unlock sets the verifier.
  await setVerifier(meta, proof);
  await ensureWipeKey(meta);
  return { meta, vault, keys, config: cfg, offline: false };
}

/**
 * setVerifier gives the server the verifier of this device's PIN (its
 * proof; old, the current PIN's proof, when the server has one) and marks
 * meta.pin as verified. It reports whether it did; a failure is tried
 * again at the next unlock.
 */
async function setVerifier(meta, proof, old = undefined) {
  try {
    await api.setPin(proof, old);
  } catch (e) {
    console.warn("PIN verifier not set yet:", e);
    return false;
  }
  meta.pin.verified = true;
  await putMeta(meta);
  return true;
}

/** lockedOut erases this browser after the server wiped the device for too many wrong PINs. */
async function lockedOut(message) {
  let erased = false;
  try { erased = await checkWipe(); } catch { /* erased below */ }
  if (!erased) { await startWipe(); await eraseAll(); }
  return new SessionError("wiped", message);
}

/**
 * shareFor asks the server for the key share with the PIN's proof. It
 * returns the answer, or the error: a wrong PIN and a lock-out are turned
 * into their SessionErrors here, with the server's words.
 */
async function shareFor(meta, proof) {
  try {
    return { r: await api.share(meta.device, proof), e: null };
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    if (e.code === CODE_WRONG_PIN) throw new SessionError("bad_pin", e.message);
    if (e.code === CODE_PIN_LOCKED_OUT) throw await lockedOut(e.message);
    return { r: null, e };
  }
}

/**
 * unlock opens the local store with the PIN. The server releases the key
 * share for the PIN's proof, and counts a wrong one; offline, the grace
 * copy opens it if the policy keeps one. A session with no device yet
 * (signed in again with the password) resumes the device once it is open.
 * @param {(text: string) => void} [progress] reports the slow steps
 */
export async function unlock(pin, progress = () => {}) {
  await dropExpiredGrace();
  const meta = await getMeta();
  if (!meta) throw new SessionError("need_setup", "This browser is not set up.");
  progress("Checking your PIN…");
  const P = await derivePin(pin, meta);
  const proof = b64(await pinProof(meta, P));
  const { r, e } = await shareFor(meta, proof);
  let share, offline = false;
  if (r) {
    share = unb64(r.share);
  } else {
    if (e.code === CODE_MFA_ENROLLMENT_REQUIRED) throw new SessionError("need_enroll", "Your practice now requires a second sign-in step. Set one up to continue.");
    if ((e.status === 401 || e.status === 403 || e.status === 404) && await checkWipe()) throw new SessionError("wiped_by_admin", WIPED);
    if (e.status === 401 || e.status === 403) throw new SessionError("need_password", "Your session has ended. Sign in with your password to continue.");
    if (e.status === 404) {
      await wipe();
      throw new SessionError("wiped", "This device was removed from your account, so its local data has been erased. Sign in to set it up again.");
    }
    if (!e.offline) throw e;
    try {
      share = await graceShare(meta, P);
    } catch (err) {
      const left = await countFailure(meta);
      if (left <= 0) {
        await dropGrace(meta);
        throw new SessionError("offline", "Too many wrong PINs. This device can no longer open its history offline: connect to the network to unlock.");
      }
      throw new SessionError("bad_pin", `${err.message} ${left} ${left === 1 ? "attempt" : "attempts"} left.`);
    }
    if (!share) throw new SessionError("offline", "You are offline, and this device cannot open its history without the server. Connect to the network to unlock.");
    offline = true;
  }
  let DK;
  try {
    DK = await unwrapDataKey(meta, P, share);
  } catch (err) {
    if (!(err instanceof BadPin)) throw err;
    // Online, the server checked the proof: a PIN it let through opens
    // the store, unless the device has no verifier yet (set up before
    // PIN proofs), which the device counts itself, as it used to.
    const left = await countFailure(meta);
    if (left <= 0 && !offline) {
      try { await api.logout(); } catch { /* offline: the PIN screen stays locked by the counter */ }
      throw new SessionError("need_password", `Too many wrong PINs. Sign in with your password to continue.`);
    }
    throw new SessionError("bad_pin", left > 0 ? `That PIN is not right. ${left} ${left === 1 ? "attempt" : "attempts"} left.` : "Too many wrong PINs.");
  }
  const vault = await Vault.open(DK);
  const config = await vault.get("settings", "config");
  meta.failed = 0;
  // An older profile kept the device's signing key under the password,
  // which a copy could be searched with offline; resuming no longer needs it.
  delete meta.resume;
  if (!offline) await wrapGraceShare(meta, P, share, config?.policy?.offline_grace_ms);
  if (!offline && !meta.commandKey) {
    // A device set up before the server published its command key pins it now.
    try { const c = await api.config(); if (c?.command_key) meta.commandKey = c.command_key; } catch { /* next time */ }
  }
  await putMeta(meta);
  const rec = await vault.get("keys", "device");
  const raw = { encPriv: unb64(rec.encPriv), seed: unb64(rec.seed), encPub: unb64(rec.encPub), signPub: unb64(rec.signPub) };
  const keys = await importDeviceKeys(raw);
  if (rec.pqSeed) {
    // Suite 2's key (keyrotation.js): the seed is what the vault keeps.
    const pqSeed = unb64(rec.pqSeed);
    keys.pqKey = await importXWingPrivate(pqSeed);
    keys.pqPub = await xwingPublicKey(pqSeed);
    pqSeed.fill(0);
  }
  raw.encPriv.fill(0); raw.seed.fill(0); DK.fill(0); P.fill(0); share.fill(0);
  deviceKey = keys.signKey;
  if (!offline) {
    if (!r.bound) {
      try {
        await bindDevice(meta, keys.signKey);
      } catch (err) {
        vault.lock(); forgetDeviceKey();
        throw err;
      }
    }
    // The first unlock of a device the server has no verifier for (set up
    // before PIN proofs) gives it one, once the session is the device's:
    // from now on the server counts.
    if (!r.verified) await setVerifier(meta, proof);
    await ensureWipeKey(meta);
  }
  return { meta, vault, keys, config, offline };
}

async function countFailure(meta) {
  meta.failed = (meta.failed || 0) + 1;
  await putMeta(meta);
  return MAX_PIN_TRIES - meta.failed;
}

/**
 * bindDevice binds a session that has no device yet to this one, by
 * signing the server's challenge with the device's key (PROTOCOL.md
 * section 9), so peers see no key change.
 */
async function bindDevice(meta, key) {
  let ch;
  try {
    ch = await api.challenge(meta.device);
  } catch (e) {
    if (e.status === 404) {
      if (await checkWipe()) throw new SessionError("wiped_by_admin", WIPED);
      await wipe();
      throw new SessionError("wiped", "This device was removed from your account, so its local data has been erased. Sign in to set it up again.");
    }
    throw e;
  }
  const msg = new Canon().label("curbside/resume/v1").u64(meta.user.id).u64(meta.device).bytes(unb64(ch.nonce)).done();
  await api.resume(meta.device, b64(await signEd25519(key, msg)));
}

/** loginProofBytes is protocol.LoginProofBytes: what a device signs to prove itself at sign-in. */
export function loginProofBytes(user, device, nonce) {
  return new Canon().label("curbside/login/v1").u64(user).u64(device).bytes(nonce).done();
}

/**
 * loginProof proves at sign-in that this browser is one of the user's
 * devices, which lets it past the backoff that guesses at the password
 * from elsewhere set off (SECURITY.md, "Sign-in"). It signs a fresh nonce
 * with the key proofKey gives: the signing key when the app holds it, else
 * the wipe-check key, the one key a browser whose session ended holds
 * unsealed. Without a registered key, or when the challenge fails, the
 * sign-in goes on without a proof.
 * @returns {Promise<import("./types.js").DeviceProof | undefined>}
 */
async function loginProof(meta) {
  if (!meta?.device || !meta.user?.id || !(deviceKey || meta.wipeKeySet)) return undefined;
  try {
    const key = await proofKey(meta);
    if (!key) return undefined;
    const ch = await api.loginChallenge();
    const sig = await signEd25519(key, loginProofBytes(meta.user.id, meta.device, unb64(ch.nonce)));
    return { id: meta.device, nonce: ch.nonce, sig: b64(sig) };
  } catch (e) {
    console.warn("no device proof for this sign-in:", e);
    return undefined;
  }
}

/**
 * resume signs in with the password after the server session ended, with
 * this device's proof (loginProof). The
 * session has no device yet: the next unlock (the PIN) opens the store
 * with the share the server releases for the PIN's proof, and then binds
 * the session to this device with the device's own key (bindDevice).
 * @param {(text: string) => void} [progress] reports the slow steps
 */
export async function resume(password, progress = () => {}, hooks = {}) {
  const meta = await getMeta();
  progress("Signing in…");
  await passwordLogin(meta.user.username, password, hooks, await loginProof(meta));
  const me = await api.me();
  if (me.device !== 0 && me.device !== meta.device) throw new Error("This session is bound to another device.");
}

/**
 * changePin rewraps the data key under a new PIN. The share comes, as at
 * an unlock, for the current PIN's proof, counted by the server; the new
 * PIN's verifier replaces the old one only with that proof, so a stolen
 * profile cannot have its PIN changed.
 */
export async function changePin(oldPin, newPinText) {
  const meta = await getMeta();
  const oldP = await derivePin(oldPin, meta);
  const oldProof = b64(await pinProof(meta, oldP));
  const { r, e } = await shareFor(meta, oldProof);
  if (!r) throw e;
  const share = unb64(r.share);
  let DK;
  try {
    DK = await unwrapDataKey(meta, oldP, share);
  } catch (err) {
    if (err instanceof BadPin) throw new SessionError("bad_pin", "The current PIN is not right.");
    throw err;
  }
  const cfg = await (async () => { try { return await api.config(); } catch { return null; } })();
  const next = { ...meta };
  const P = await newPin(next, newPinText);
  await sealDataKey(next, P, share, DK);
  const proof = b64(await pinProof(next, P));
  // The server takes the new verifier first: were the new wrapping kept
  // and the server not told, the new PIN would be refused as wrong.
  try {
    await api.setPin(proof, r.verified ? oldProof : undefined);
  } catch (err) {
    if (err instanceof ApiError && err.code === CODE_WRONG_PIN) throw new SessionError("bad_pin", err.message);
    if (err instanceof ApiError && err.code === CODE_PIN_LOCKED_OUT) throw await lockedOut(err.message);
    throw err;
  }
  next.pin.verified = true;
  await wrapGraceShare(next, P, share, cfg?.policy?.offline_grace_ms);
  next.failed = 0;
  await putMeta(next);
  DK.fill(0); P.fill(0); oldP.fill(0); share.fill(0);
}

/** signOut ends the server session. Local data stays, encrypted: the next sign-in resumes. */
export async function signOut() {
  try { await api.logout(); } catch { /* offline: the cookie expires on its own */ }
}

/** eraseDevice signs out and erases everything this browser holds. */
export async function eraseDevice() {
  await signOut();
  await wipe();
}
