// @ts-check
// The pinned key directory of the messaging engine, the base of Client:
// the people this device knows, their signed device lists (the first one
// seen is pinned; a later one with other devices is accepted but reported
// as a key change; a rollback or a conflicting list is refused), safety
// numbers, and the directory search.
import { api } from "./api.js";
import { unb64 } from "./bytes.js";
import { CryptoError, safetyNumber, verifyDeviceList } from "./crypto.js";
import { CLIENT_POLICY_DEFAULTS, CLOCK_SKEW_MS, CODE_NO_DEVICE, CODE_RECIPIENT_INACTIVE, CODES } from "./constants.js";

export class Directory extends EventTarget {
  constructor({ meta, vault, keys, config }) {
    super();
    this.meta = meta;
    this.vault = vault;
    this.keys = keys;
    this.me = meta.user;
    this.config = config || { policy: CLIENT_POLICY_DEFAULTS, quick_messages: [] };
    this.users = new Map(); // uid → user
    this.pins = new Map(); // uid → {user, list, since, verified, warning}
    this.peers = new Map(); // uid → {user, list, recips} fetched this session
    this.presence = new Map(); // uid → status
  }


  changed(what, extra = {}) { this.dispatchEvent(new CustomEvent("change", { detail: { what, ...extra } })); }
  notify(kind, detail) { this.dispatchEvent(new CustomEvent("notify", { detail: { kind, ...detail } })); }

  // -------------------------------------------------------------- directory

  rememberUser(u) {
    if (!u || !u.id) return;
    const old = this.users.get(u.id);
    if (!old || old.display !== u.display || old.username !== u.username) {
      this.users.set(u.id, { id: u.id, username: u.username, display: u.display, role: u.role });
      this.vault?.put("user", u.id, this.users.get(u.id));
    }
  }

  /** learnUser fetches a user's directory entry (for a name shown in a forward). */
  async learnUser(uid) {
    try {
      const kr = await api.keys(uid);
      this.rememberUser(kr.user);
      this.changed("users");
    } catch { /* unknown or offline: "User N" stays */ }
  }

  userName(uid) {
    const u = this.users.get(uid);
    return u ? (u.display || u.username) : `User ${uid}`;
  }

  /** lookup returns a user's verified devices: client.lookup and client.accept. */
  async lookup(uid, fresh = false) {
    if (!fresh && this.peers.has(uid)) return this.peers.get(uid);
    const kr = await api.keys(uid);
    if (kr.user && kr.user.id && kr.user.id !== uid) throw new UntrustedKeys(uid, `the server answered about user ${kr.user.id}`);
    this.rememberUser(kr.user);
    // revoked: device → when it was revoked (PROTOCOL.md 3.4).
    const peer = { user: kr.user, list: kr.list, recips: [], inactive: !!kr.inactive, revoked: new Map((kr.revoked || []).map((r) => [r.id, r.at])) };
    if (kr.list) {
      try { await verifyDeviceList(kr.list); } catch (e) { throw new UntrustedKeys(uid, "the signed device list does not verify"); }
      if (kr.list.user !== uid) throw new UntrustedKeys(uid, `the device list is user ${kr.list.user}'s`);
      const pin = this.pins.get(uid);
      const l = kr.list;
      if (!pin) {
        await this.savePin({ user: uid, list: l, since: Date.now(), verified: false });
      } else if (l.version < pin.list.version) {
        throw new UntrustedKeys(uid, `the list is version ${l.version} but version ${pin.list.version} was seen before (a rollback)`);
      } else if (l.version === pin.list.version) {
        if (!sameList(l, pin.list)) throw new UntrustedKeys(uid, `two different lists both claim version ${l.version}`);
      } else {
        const { added, removed, rekeyed: anyRekeyed } = diffDevices(pin.list, l);
        // A list that adds a device, or gives one other keys, must be signed
        // by a device of the list verified before (PROTOCOL.md 3.1): a
        // device that signs itself in is what a server adding a listener sends.
        // A reset (no earlier device left: a user who lost every device) is
        // the one exception, accepted with a warning that says so.
        const reset = removed.length === pin.list.devices.length;
        // The signer's own new encryption key under its unchanged signing
        // key is a rotation (PROTOCOL.md 3.3): no warning, and an earlier
        // check of the safety number stands (the device's signature binds
        // the new key). A new key that another device signed is a key change.
        const rekeyed = reset ? anyRekeyed : anyRekeyed.filter((id) => !rotated(pin.list, l, id));
        if ((added.length || anyRekeyed.length) && !reset) {
          const s = l.devices.find((d) => d.id === l.signer), o = pin.list.devices.find((d) => d.id === l.signer);
          if (!o || o.sign !== s?.sign) throw new UntrustedKeys(uid, `a device was added to the list that none of their own devices approved (device ${l.signer} signed itself in, or the list was forged)`);
        }
        const next = { ...pin, list: l, since: Date.now() };
        const changedSet = added.length > 0 || removed.length > 0 || rekeyed.length > 0;
        if (changedSet) {
          // byAdmin: the server says an administrator approved the reset
          // (PROTOCOL.md 3.2); its word only, so the warning stays.
          next.warning = { added, removed, rekeyed, reset, byAdmin: reset && !!kr.admin_approved, at: Date.now(), own: uid === this.me.id };
          // A changed set invalidates an earlier safety-number check.
          if (added.length || rekeyed.length) next.verified = false;
        }
        await this.savePin(next);
        if (changedSet) this.notify("keychange", { user: uid, warning: next.warning });
      }
      const active = new Set(kr.active || []);
      // Only devices both signed into the list and active: the server may
      // withhold a device (revocation) but not add one.
      peer.recips = l.devices.filter((d) => active.has(d.id)).map((d) => ({ user: uid, device: d.id, enc: unb64(d.enc), ...(d.pq ? { pq: unb64(d.pq) } : {}) }));
    }
    this.peers.set(uid, peer);
    return peer;
  }

  /**
   * devicesChanged follows the relay's devices frame: what was fetched of
   * the user's keys is stale. Someone this device deals with is fetched
   * again at once, so an open conversation shows who can receive now and
   * the next message is sealed to the new set.
   * @param {number} uid
   */
  async devicesChanged(uid) {
    this.peers.delete(uid);
    if (uid !== this.me.id && !this.users.has(uid) && !this.pins.has(uid)) return;
    try { await this.lookup(uid, true); } catch { /* offline or refused: fetched again when needed */ }
    this.changed("peers", { user: uid });
  }

  /**
   * unreachable says why a user cannot receive a message now, from their
   * keys as last fetched: a CODE_* of the catalogue, or "" when they have a
   * device to seal to (or have not been fetched yet).
   * @param {number} uid
   * @returns {string}
   */
  unreachable(uid) {
    const p = this.peers.get(uid);
    if (!p || p.recips.length) return "";
    return p.inactive ? CODE_RECIPIENT_INACTIVE : CODE_NO_DEVICE;
  }

  /**
   * cannotReceiveText words why users cannot receive, one sentence per
   * reason: "Nurse Ben Cole: They have no device…".
   * @param {Array<[number, string]>} who user ids with their CODE_*
   * @returns {string}
   */
  cannotReceiveText(who) {
    const byCode = new Map();
    for (const [u, code] of who) byCode.set(code, [...(byCode.get(code) || []), this.userName(u)]);
    return [...byCode].map(([code, names]) => `${names.join(", ")}: ${CODES[code]?.message || CODES[CODE_NO_DEVICE].message}`).join(" ");
  }

  async savePin(pin) {
    this.pins.set(pin.user, pin);
    await this.vault.put("pin", pin.user, pin);
    this.changed("pins", { user: pin.user });
  }

  async dismissKeyWarning(uid) {
    const pin = this.pins.get(uid);
    if (pin?.warning) { delete pin.warning; await this.savePin(pin); }
  }

  async markVerified(uid, verified = true) {
    const pin = this.pins.get(uid);
    if (pin) { pin.verified = verified; if (verified) delete pin.warning; await this.savePin(pin); }
  }

  async safety(uid) {
    const me = await this.lookup(this.me.id, true);
    const them = await this.lookup(uid, true);
    if (!me.list || !them.list) throw new Error(`${this.userName(uid)} has not signed in on any device yet.`);
    return safetyNumber(me.list, them.list);
  }

  /**
   * senderKey is client.senderKey: the signing key of a listed device of
   * uid, for something it signed as made at signedAt (ms); a device revoked
   * more than CLOCK_SKEW_MS before that is refused (PROTOCOL.md 3.4).
   * @param {number} uid
   * @param {number} device
   * @param {number} signedAt
   */
  async senderKey(uid, device, signedAt) {
    for (const fresh of [false, true]) {
      const p = await this.lookup(uid, fresh);
      const d = p.list && p.list.devices.find((x) => x.id === device);
      if (!d) continue;
      const at = p.revoked?.get(device);
      if (at !== undefined && !(signedAt <= at + CLOCK_SKEW_MS)) {
        throw new CryptoError("revoked_device", `device ${device} of user ${uid} was removed at ${new Date(at).toISOString()}; this was signed at ${new Date(signedAt).toISOString()}`);
      }
      return unb64(d.sign);
    }
    throw new CryptoError("unknown_device", `device ${device} is not in user ${uid}'s signed device list`);
  }

  async searchDirectory(q) {
    const { users } = await api.directory(q);
    for (const u of users) this.rememberUser(u);
    // The server lists only active people the participation rules let
    // this user reach.
    return users.filter((u) => u.id !== this.me.id);
  }
}

export class UntrustedKeys extends Error {
  constructor(uid, reason) {
    super(`Curbside refused the device keys the server gave for user ${uid}: ${reason}. The server or the network may be tampering with keys; tell your administrator.`);
    this.user = uid;
  }
}

/** rotated is client.rotated: device id's only change is its enc, in a list it signed itself. */
function rotated(oldL, newL, id) {
  if (newL.signer !== id) return false;
  const o = oldL.devices.find((d) => d.id === id), n = newL.devices.find((d) => d.id === id);
  return !!o && !!n && o.sign === n.sign;
}

function sameList(a, b) {
  if (a.user !== b.user || a.version !== b.version || a.signer !== b.signer || a.devices.length !== b.devices.length) return false;
  return a.devices.every((d, i) => d.id === b.devices[i].id && d.enc === b.devices[i].enc && d.sign === b.devices[i].sign && d.pq === b.devices[i].pq);
}

/**
 * diffDevices is client.diffDevices: devices are compared by their keys,
 * not their ids, so a new encryption key under a known id is a change too.
 */
function diffDevices(oldL, newL) {
  const o = new Map(oldL.devices.map((d) => [d.id, d])), n = new Set(newL.devices.map((d) => d.id));
  const added = [], rekeyed = [];
  for (const d of newL.devices) {
    const was = o.get(d.id);
    if (!was) added.push(d.id);
    else if (was.enc !== d.enc || was.sign !== d.sign || was.pq !== d.pq) rekeyed.push(d.id);
  }
  return { added, removed: [...o.keys()].filter((x) => !n.has(x)), rekeyed };
}
