// @ts-check
// Forward secrecy (PROTOCOL.md 3.3): the device makes a new encryption key
// when its key is older than the policy's key_rotation, announces it in a
// device list it signs itself, keeps each retired private key in the vault
// with the time the server took the list that replaced it, and deletes a
// retired key once the policy's retention has passed since then. A device
// with an X-Wing key (suite 2) makes a new one with each new X25519 key, and
// one whose vault's "post-quantum" setting is on adds its first by such a
// rotation; retired seeds go with the retired X25519 keys. The Go client's
// rotate.go does the same.
import { api } from "./api.js";
import { b64, unb64 } from "./bytes.js";
import { importEncPair, rotateEncKey, signDeviceList } from "./crypto.js";
import { CODE_CONFLICT } from "./constants.js";
import { getMeta, putMeta } from "./store.js";
import { generateXWingSeed, importXWingPrivate, xwingPublicKey } from "./xwing.js";

/**
 * @typedef {object} RetiredKey
 * @property {string} encPriv base64, secret
 * @property {string} encPub base64
 * @property {string} [pqSeed] the X-Wing seed rotated with it, base64, secret
 * @property {number} at when the server took the list that replaced it, ms; 0: not yet (still the listed key)
 * @property {number} [keep] the longest retention seen since it was retired, ms
 */

/** DEFAULT_RETENTION_MS is the retention policy's default (7 days), for a retired key when the server gives none. */
const DEFAULT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/** KeyRing holds a device's retired keys and rotates its current one. */
export class KeyRing {
  /**
   * @param {{vault: any, me: {id: number}, getKeys: () => any, setKeys: (k: any) => void, lookup: (uid: number, fresh: boolean) => Promise<any>}} o
   */
  constructor(o) {
    this.o = o;
    /** @type {RetiredKey[]} */
    this.retired = [];
    /** @type {any[]} the retired X25519 pairs, newest first, for openEnvelope */
    this.pairs = [];
    /** @type {any[]} the retired X-Wing keys, newest first, for openEnvelope */
    this.pqKeys = [];
    /** when this device's list first gave it an X-Wing key, ms (0: never): suite-1 messages made later are downgrades */
    this.pqSince = 0;
    this.created = 0;
    this.busy = null;
  }

  async load() {
    const rec = await this.o.vault.get("keys", "device");
    this.created = rec?.created || 0;
    if (rec && !this.created) {
      // A device set up before rotation: its key's clock starts now.
      this.created = Date.now();
      await this.o.vault.put("keys", "device", { ...rec, created: this.created });
    }
    this.pqSince = rec?.pqSince || 0;
    this.retired = (await this.o.vault.get("keys", "retired"))?.keys || [];
    await this.importPairs();
  }

  /**
   * wantsPQ reports whether this device is to list an X-Wing key: the
   * vault's settings "post-quantum" (off unless set; PROTOCOL.md "Suite 2:
   * X-Wing", negotiation), or a key it already has.
   */
  async wantsPQ() {
    return !!(await this.o.vault.get("settings", "post-quantum"))?.on;
  }

  async importPairs() {
    const out = [], pq = [];
    for (const r of [...this.retired].reverse()) {
      try { out.push(await importEncPair(unb64(r.encPriv), unb64(r.encPub))); } catch { /* a damaged key opens nothing */ }
      if (r.pqSeed) try { pq.push(await importXWingPrivate(unb64(r.pqSeed))); } catch { /* likewise */ }
    }
    this.pairs = out;
    this.pqKeys = pq;
  }

  /**
   * maintain deletes the retired keys past the retention, sends a rotation
   * the server did not take yet, and rotates when the key is due; one at a
   * time. Failures leave the current key in use and are tried again at the
   * next call (each connection, and every few minutes).
   * @param {{key_rotation_ms?: number, retention_ms?: number}} policy
   */
  maintain(policy) {
    if (!this.busy) this.busy = this.run(policy).catch((e) => console.warn("key rotation:", e?.message || e)).finally(() => { this.busy = null; });
    return this.busy;
  }

  async run(policy) {
    await this.prune(policy.retention_ms || 0);
    if (this.retired.some((r) => !r.at)) return this.announce();
    const every = policy.key_rotation_ms || 0;
    // A device adds its first X-Wing key by a rotation (PROTOCOL.md 3.3).
    const addPQ = !this.o.getKeys().pqPub && (await this.wantsPQ());
    if ((every > 0 && Date.now() - this.created >= every) || addPQ) {
      await this.rotate();
      await this.prune(policy.retention_ms || 0); // the key just retired keeps at least today's retention
    }
  }

  /**
   * prune is client.pruneRetired: each retired key keeps the longest
   * retention seen since it was retired (keep), so a retention lowered later
   * does not delete a key that what was queued under the longer one needs;
   * with none given, the policy's default applies.
   * @param {number} ret the retention in force now, ms (0: not given)
   */
  async prune(ret) {
    const now = Date.now();
    let changed = false;
    const lifted = this.retired.map((r) => {
      if (r.at > 0 && ret > (r.keep || 0)) { changed = true; return { ...r, keep: ret }; }
      return r;
    });
    const kept = lifted.filter((r) => !(r.at > 0 && now - r.at > (r.keep || DEFAULT_RETENTION_MS)));
    if (changed || kept.length !== this.retired.length) await this.saveRetired(kept);
  }

  async saveRetired(list) {
    this.retired = list;
    await this.o.vault.put("keys", "retired", { keys: list });
    await this.importPairs();
  }

  /** rotate makes a new key, stores it with the old one retired (one write), then announces it. */
  async rotate() {
    const old = this.o.getKeys();
    const rec = await this.o.vault.get("keys", "device");
    if (!rec || rec.encPub !== b64(old.encPub)) throw new Error("the stored device key is not the one in use");
    const { raw, keys } = await rotateEncKey(old);
    const created = Date.now();
    /** @type {RetiredKey} */
    const was = { encPriv: rec.encPriv, encPub: rec.encPub, at: 0 };
    if (rec.pqSeed) was.pqSeed = rec.pqSeed;
    const retired = [...this.retired, was];
    const next = { ...rec, encPriv: b64(raw.encPriv), encPub: b64(raw.encPub), created };
    // The X-Wing key rotates with the X25519 key; the first one is made here.
    if (rec.pqSeed || (await this.wantsPQ())) {
      const seed = generateXWingSeed();
      keys.pqKey = await importXWingPrivate(seed);
      keys.pqPub = await xwingPublicKey(seed);
      next.pqSeed = b64(seed);
      seed.fill(0);
    }
    await this.o.vault.putMany([
      ["keys", "device", next],
      ["keys", "retired", { keys: retired }],
    ]);
    raw.encPriv.fill(0);
    // The profile's public facts name the current key too.
    const meta = await getMeta();
    if (meta && meta.device === keys.id) { meta.encPub = b64(raw.encPub); await putMeta(meta); }
    this.retired = retired;
    this.created = created;
    await this.importPairs();
    this.o.setKeys(keys);
    return this.announce();
  }

  /** announce makes the signed list give this device its current key. */
  async announce() {
    const keys = this.o.getKeys();
    for (let attempt = 0; attempt < 2; attempt++) {
      const own = await this.o.lookup(this.o.me.id, true);
      const mine = own.list?.devices.find((d) => d.id === keys.id);
      if (!mine || mine.sign !== b64(keys.signPub)) throw new Error("this device is not in your device list");
      const pq = keys.pqPub ? b64(keys.pqPub) : undefined;
      if (mine.enc === b64(keys.encPub) && mine.pq === pq) break;
      const next = { user: own.list.user, version: own.list.version + 1, signer: keys.id, sig: "", devices: own.list.devices.map((d) => (d.id === keys.id ? { ...d, enc: b64(keys.encPub), ...(pq ? { pq } : {}) } : { ...d })) };
      await signDeviceList(next, keys);
      try {
        await api.rotateKey(next);
      } catch (e) {
        if (e?.code === CODE_CONFLICT && attempt === 0) continue;
        throw e;
      }
      await this.o.lookup(this.o.me.id, true); // pins it, as a peer would: a rotation, no warning
      break;
    }
    const now = Date.now();
    if (this.retired.some((r) => !r.at)) await this.saveRetired(this.retired.map((r) => (r.at ? r : { ...r, at: now })));
    if (keys.pqPub && !this.pqSince) {
      // The list now gives this device an X-Wing key: from here on a
      // suite-1 message sealed only to such devices is a downgrade.
      this.pqSince = now;
      const rec = await this.o.vault.get("keys", "device");
      await this.o.vault.put("keys", "device", { ...rec, pqSince: now });
    }
  }
}
