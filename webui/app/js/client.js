// The messaging engine of an unlocked device: the pinned key directory,
// sending (with an offline outbox), receiving (verify, decrypt, store
// durably, then ack), receipts, recall, expiry and presence. It follows the
// Go client (package client) in every rule that matters for safety:
//
//   - a peer's device list must verify, the first one seen is pinned, and
//     a later one with other devices is accepted but reported as a key
//     change; a rollback or a conflicting list is refused;
//   - messages are sealed only to devices both in the signed list and active;
//   - a queued item is acked only after it is durably stored, so a crash
//     between the two gives a redelivery, which the id dedupes;
//   - a message that may be resent keeps its sealed bytes, so the resend is
//     byte-identical and the server answers dup instead of id_reused;
//   - on devices_changed the recipients' keys are fetched again and the
//     message is resealed once.
//
// The UI listens for "change" events and reads the public maps.
import { api, ApiError } from "./api.js";
import { b64, b64url, fromUtf8, randomBytes, unb64, utf8 } from "./bytes.js";
import { CryptoError, decryptBlob, encryptBlob, keyFingerprint, newMessageId, openEnvelope, safetyNumber, sealEnvelope, verifyDeviceList } from "./crypto.js";
import { Relay } from "./relay.js";

export const FLAG_ACK = 1;
export const FLAG_URGENT = 2;

const DEFAULT_POLICY = {
  retention_ms: 7 * 24 * 3600e3, inactivity_lock_ms: 5 * 60e3, pin_required: true,
  attachment_max_bytes: 25 << 20, attachment_types: ["image/*", "application/pdf", "audio/*", "video/*", "text/plain"],
  offline_grace_ms: 72 * 3600e3,
};

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

export class Client extends EventTarget {
  constructor({ meta, vault, keys, config }) {
    super();
    this.meta = meta;
    this.vault = vault;
    this.keys = keys;
    this.me = meta.user;
    this.config = config || { policy: DEFAULT_POLICY, quick_messages: [] };
    this.msgs = new Map(); // id → message
    this.convs = new Map(); // id → conversation
    this.users = new Map(); // uid → user
    this.pins = new Map(); // uid → {user, list, since, verified, warning}
    this.peers = new Map(); // uid → {user, list, recips} fetched this session
    this.presence = new Map(); // uid → status
    this.settings = { presence: "available", autoReply: "", sound: "chime", quick: [] };
    this.serverOffset = 0;
    this.chain = Promise.resolve();
    this.ackQueue = [];
    this.ackTimer = null;
    this.autoReplied = new Set();
    this.urls = new Map(); // attachment blob id → object URL
    this.openConvId = null;
    this.relay = new Relay((f) => this.onFrame(f));
    this.relay.addEventListener("state", (e) => this.onRelayState(e.detail));
    this.relay.addEventListener("closed", (e) => this.onRelayClosed(e.detail));
  }

  get policy() { return { ...DEFAULT_POLICY, ...(this.config.policy || {}) }; }
  get online() { return this.relay.state === "online"; }
  now() { return Date.now() + this.serverOffset; }

  changed(what, extra = {}) { this.dispatchEvent(new CustomEvent("change", { detail: { what, ...extra } })); }
  notify(kind, detail) { this.dispatchEvent(new CustomEvent("notify", { detail: { kind, ...detail } })); }

  // ------------------------------------------------------------- lifecycle

  async load() {
    for (const { obj } of await this.vault.all("user")) this.users.set(obj.id, obj);
    for (const { obj } of await this.vault.all("pin")) this.pins.set(obj.user, obj);
    for (const { obj } of await this.vault.all("conv")) this.convs.set(obj.id, obj);
    for (const { obj } of await this.vault.all("msg")) this.msgs.set(obj.id, obj);
    const s = await this.vault.get("settings", "user");
    if (s) Object.assign(this.settings, s);
    this.users.set(this.me.id, { ...this.me, ...(this.users.get(this.me.id) || {}) });
    // A message that was "sending" when the app stopped is pending again.
    for (const m of this.msgs.values()) if (m.out && m.status === "sending") m.status = "pending";
    await this.sweep();
  }

  start() {
    this.relay.start();
    this.sweepTimer = setInterval(() => this.sweep(), 5000);
    // The policy can change while the app is open (an admin shortens
    // retention): it is fetched on every connection and every few minutes.
    this.configTimer = setInterval(() => { if (this.online) this.refreshConfig(); }, 5 * 60e3);
  }

  /** stop drops the connection and every decrypted thing this object holds. */
  stop() {
    this.relay.stop();
    clearInterval(this.sweepTimer);
    clearInterval(this.configTimer);
    clearTimeout(this.ackTimer);
    for (const u of this.urls.values()) URL.revokeObjectURL(u);
    this.urls.clear();
    this.msgs.clear(); this.convs.clear(); this.pins.clear(); this.peers.clear(); this.users.clear();
    this.vault.lock();
    this.vault = null;
    this.keys = null;
  }

  async refreshConfig() {
    try {
      const cfg = await api.config();
      this.config = cfg;
      this.serverOffset = cfg.server_time - Date.now();
      await this.vault?.put("settings", "config", cfg);
      this.changed("config");
    } catch { /* offline: the stored copy stands */ }
    try {
      const { groups } = await api.groups();
      for (const g of groups || []) {
        for (const m of g.members) this.rememberUser(m);
        await this.saveConv({ ...(this.convs.get(`g:${g.id}`) || { lastTs: 0 }), id: `g:${g.id}`, kind: "group", name: g.name, members: g.members.map((m) => m.id) });
      }
      this.changed("convs");
    } catch { /* offline */ }
  }

  async saveSettings(patch) {
    Object.assign(this.settings, patch);
    await this.vault.put("settings", "user", this.settings);
    this.changed("settings");
  }

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
    const peer = { user: kr.user, list: kr.list, recips: [] };
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
        const { added, removed } = diffDevices(pin.list, l);
        const next = { ...pin, list: l, since: Date.now() };
        const changedSet = added.length > 0 || removed.length > 0;
        if (changedSet) {
          next.warning = { added, removed, at: Date.now(), own: uid === this.me.id };
          // A changed set invalidates an earlier safety-number check.
          if (added.length) next.verified = false;
        }
        await this.savePin(next);
        if (changedSet) this.notify("keychange", { user: uid, warning: next.warning });
      }
      const active = new Set(kr.active || []);
      // Only devices both signed into the list and active: the server may
      // withhold a device (revocation) but not add one.
      peer.recips = l.devices.filter((d) => active.has(d.id)).map((d) => ({ user: uid, device: d.id, enc: unb64(d.enc) }));
    }
    this.peers.set(uid, peer);
    return peer;
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

  async senderKey(uid, device) {
    for (const fresh of [false, true]) {
      const p = await this.lookup(uid, fresh);
      const d = p.list && p.list.devices.find((x) => x.id === device);
      if (d) return unb64(d.sign);
    }
    throw new CryptoError("unknown_device", `device ${device} is not in user ${uid}'s signed device list`);
  }

  async searchDirectory(q) {
    const { users } = await api.directory(q);
    for (const u of users) this.rememberUser(u);
    return users.filter((u) => u.id !== this.me.id && u.state === "active");
  }

  // ---------------------------------------------------------- conversations

  async saveConv(conv) {
    this.convs.set(conv.id, conv);
    await this.vault.put("conv", conv.id, conv);
  }

  /** ensureConv creates the local record of a conversation seen for the first time. */
  async ensureConv(id, hint = {}) {
    let c = this.convs.get(id);
    if (c) return c;
    const p = parseConv(id);
    c = { id, kind: p.kind, lastTs: 0, members: [], ...hint };
    if (p.kind === "direct") c.members = [p.a, p.b];
    if (p.kind === "broadcast") c.owner = p.owner;
    await this.saveConv(c);
    return c;
  }

  /** recipientsOf returns the users (other than me) a message in conv goes to. */
  async recipientsOf(conv) {
    const p = parseConv(conv.id);
    if (p.kind === "direct") return [p.a === this.me.id ? p.b : p.a];
    if (p.kind === "group") {
      try {
        const { group } = await api.group(p.group);
        for (const m of group.members) this.rememberUser(m);
        conv.members = group.members.map((m) => m.id);
        conv.name = group.name;
        await this.saveConv(conv);
      } catch (e) { if (!(e instanceof ApiError && e.offline)) throw e; }
      return conv.members.filter((u) => u !== this.me.id);
    }
    if (p.kind === "broadcast") {
      if (p.owner !== this.me.id) return [p.owner]; // others reply to the owner only
      return conv.members.filter((u) => u !== this.me.id);
    }
    throw new Error("unknown conversation kind");
  }

  title(conv) {
    const p = parseConv(conv.id);
    if (p.kind === "direct") return this.userName(p.a === this.me.id ? p.b : p.a);
    if (p.kind === "group") return conv.name || `Group ${p.group}`;
    if (p.kind === "broadcast") {
      if (p.owner !== this.me.id) return `Broadcast from ${this.userName(p.owner)}`;
      const names = conv.members.filter((u) => u !== this.me.id).map((u) => this.userName(u));
      return `Broadcast to ${names.slice(0, 3).join(", ")}${names.length > 3 ? ` and ${names.length - 3} more` : ""}`;
    }
    return conv.id;
  }

  /** peerOf returns the other user of a direct conversation, else null. */
  peerOf(conv) {
    const p = parseConv(conv.id);
    return p.kind === "direct" ? (p.a === this.me.id ? p.b : p.a) : null;
  }

  messagesOf(convId) {
    return [...this.msgs.values()].filter((m) => m.conv === convId).sort((a, b) => (a.sent || a.created) - (b.sent || b.created));
  }

  unread(convId) {
    let n = 0;
    for (const m of this.msgs.values()) if (m.conv === convId && !m.out && !m.read && !m.recalled) n++;
    return n;
  }

  conversations() {
    const last = new Map();
    for (const m of this.msgs.values()) {
      const t = m.sent || m.created;
      if (!last.has(m.conv) || last.get(m.conv).t < t) last.set(m.conv, { t, m });
    }
    return [...this.convs.values()].map((c) => ({ conv: c, last: last.get(c.id)?.m || null, t: last.get(c.id)?.t || c.lastTs || 0, unread: this.unread(c.id) }))
      .sort((a, b) => b.t - a.t);
  }

  /** search looks through the decrypted local messages: text and file names. */
  search(q) {
    q = q.trim().toLowerCase();
    if (!q) return [];
    return [...this.msgs.values()].filter((m) => !m.recalled && ((m.text || "").toLowerCase().includes(q) ||
      (m.attachments || []).some((a) => (a.name || "").toLowerCase().includes(q))))
      .sort((a, b) => (b.sent || b.created) - (a.sent || a.created)).slice(0, 50);
  }

  async startDirect(uid) {
    return this.ensureConv(directConv(this.me.id, uid));
  }

  async startBroadcast(uids) {
    const token = b64url(randomBytes(9));
    return this.ensureConv(`b:${this.me.id}:${token}`, { members: [this.me.id, ...uids], lastTs: Date.now() });
  }

  // ---------------------------------------------------------------- relay in

  onRelayState({ state, hello }) {
    if (state === "online") {
      if (hello.device !== this.keys?.id) { this.relay.stop(); this.notify("error", { text: "The server bound this session to another device. Sign in again." }); return; }
      this.serverOffset = hello.server_time - Date.now();
      this.relay.request({ type: "presence", status: this.settings.presence || "available" }, "p" + b64url(randomBytes(6))).catch(() => {});
      this.flushOutbox();
      this.flushReceipts();
      this.refreshConfig();
    }
    this.changed("connection");
  }

  async onRelayClosed({ code, opened }) {
    if (code === 4001) { this.notify("revoked", {}); return; }
    if (code === 4002) { this.relay.stop(); this.notify("locked_by_admin", {}); return; }
    if (code === 4000) { this.notify("replaced", {}); return; }
    if (!opened) {
      // The upgrade failed: either the network or the session. Ask /me.
      let me;
      try { me = await api.me(); } catch (e) { if (e.status === 401 || e.status === 403) { this.relay.stop(); this.notify("session_ended", {}); } }
      // The policy began to require a second factor this account lacks.
      if (me?.mfa_enrollment_required) { this.relay.stop(); this.notify("mfa_enrollment", {}); }
    }
  }

  onFrame(f) {
    if (f.type === "presence") {
      this.presence.set(f.user, f.status);
      this.changed("presence", { user: f.user });
      return;
    }
    if (f.type === "msg" || f.type === "receipt" || f.type === "recall") {
      // Handled one at a time, in queue order, so a receipt never overtakes
      // the message it is about.
      this.chain = this.chain.then(() => this.handleQueued(f)).catch((e) => console.error("handling a frame:", e));
    }
    if (f.type === "error" && !f.ref) this.notify("error", { text: f.message });
  }

  ack(seq) {
    this.ackQueue.push(seq);
    if (!this.ackTimer) this.ackTimer = setTimeout(() => this.flushAcks(), 40);
  }

  flushAcks() {
    this.ackTimer = null;
    while (this.ackQueue.length) {
      const seqs = this.ackQueue.splice(0, 1024);
      // Lost if the socket is down: the items come again and are deduped.
      this.relay.send({ type: "ack", seqs });
    }
  }

  async handleQueued(f) {
    if (!this.vault) return; // locked meanwhile: the item stays queued
    if (f.type === "msg") return this.receiveMsg(f);
    const m = this.msgs.get(f.msg);
    if (f.type === "receipt") {
      if (m) {
        if (f.user === this.me.id && !m.out) {
          // Read or acknowledged on another of my devices.
          if (f.kind === "read" && !m.read) { m.read = f.ts; m.readSent = true; }
          if (f.kind === "acknowledged" && !m.acked) { m.acked = f.ts; m.ackSent = true; }
        } else {
          m.receipts = m.receipts || {};
          const r = (m.receipts[f.user] = m.receipts[f.user] || {});
          if (!r[f.kind]) r[f.kind] = f.ts;
          if ((f.kind === "read" || f.kind === "acknowledged") && !r.delivered) r.delivered = f.ts;
        }
        await this.vault.put("msg", m.id, m);
        this.changed("msg", { id: m.id, conv: m.conv });
      }
    } else if (f.type === "recall") {
      if (m && !m.recalled) {
        await this.tombstone(m, f.ts);
      } else if (!m) {
        // The recall overtook nothing here (the message was never received);
        // remember the id so a late copy is not shown.
        await this.vault.put("msg", f.msg, { id: f.msg, conv: "", recalled: f.ts, hidden: true, created: f.ts });
        this.msgs.set(f.msg, { id: f.msg, conv: "", recalled: f.ts, hidden: true, created: f.ts });
      }
    }
    this.ack(f.seq);
  }

  async tombstone(m, ts) {
    const t = { id: m.id, conv: m.conv, from: m.from, created: m.created, sent: m.sent, flags: 0, out: m.out, recalled: ts, status: m.status, receipts: m.receipts };
    this.msgs.set(m.id, t);
    await this.vault.put("msg", m.id, t);
    this.changed("msg", { id: m.id, conv: m.conv });
  }

  async receiveMsg(f) {
    const env = f.env;
    if (this.msgs.has(env.id)) { this.ack(f.seq); return; } // a redelivery
    let pt, body;
    try {
      const cv = parseConv(env.conv);
      if (cv.kind === "direct" && ((cv.a !== this.me.id && cv.b !== this.me.id) || (cv.a !== env.from.user && cv.b !== env.from.user))) {
        throw new CryptoError("misaddressed", `direct conversation ${env.conv} does not hold both the sender and this user`);
      }
      const key = await this.senderKey(env.from.user, env.from.device);
      body = await openEnvelope(env, key, this.keys);
      pt = JSON.parse(fromUtf8(body));
      if (!pt || typeof pt.type !== "string" || !pt.type) throw new CryptoError("decrypt", "the message body has no type");
    } catch (e) {
      if (e instanceof ApiError && e.offline) return; // transient: stays queued, comes again
      // A message that will never open is reported and acked, so a bad
      // envelope cannot come back forever.
      console.warn("dropping message", env.id, e.message);
      this.notify("error", { text: e instanceof UntrustedKeys ? e.message : "A message could not be verified or decrypted and was discarded." });
      this.ack(f.seq);
      return;
    } finally {
      body?.fill(0);
    }
    const fromMe = env.from.user === this.me.id;
    const m = {
      id: env.id, conv: env.conv, from: env.from, created: env.created, sent: f.ts, flags: env.flags,
      type: pt.type, text: typeof pt.text === "string" ? pt.text : "", replyTo: pt.reply_to || "",
      attachments: Array.isArray(pt.attachments) ? pt.attachments : [], forwarded: pt.forwarded || null, autoReply: !!pt.auto_reply,
      out: fromMe, status: fromMe ? "sent" : undefined, receipts: {},
    };
    const hint = {};
    if (env.conv.startsWith("b:")) hint.members = [...new Set([env.from.user, ...env.keys.map((k) => k.user)])];
    const known = this.convs.has(env.conv);
    const conv = await this.ensureConv(env.conv, hint);
    if (!known && conv.kind === "group") {
      // A group first seen through a message: learn its name and members.
      api.group(parseConv(conv.id).group).then(async ({ group }) => {
        for (const u of group.members) this.rememberUser(u);
        conv.name = group.name;
        conv.members = group.members.map((u) => u.id);
        await this.vault?.put("conv", conv.id, conv);
        this.changed("convs");
      }).catch(() => {});
    }
    if (env.conv.startsWith("b:") && fromMe && conv.members.length < 2) { conv.members = hint.members; }
    conv.lastTs = Math.max(conv.lastTs || 0, f.ts);
    this.msgs.set(m.id, m);
    await this.vault.putMany([["msg", m.id, m], ["conv", conv.id, conv]]);
    this.ack(f.seq);
    this.changed("msg", { id: m.id, conv: m.conv, incoming: !fromMe });
    if (m.forwarded && !this.users.has(m.forwarded.from)) this.learnUser(m.forwarded.from);
    if (!fromMe) {
      this.announceTo(env.from.user);
      this.notify("message", { msg: m, conv });
      this.maybeAutoReply(m, conv);
    }
  }

  async maybeAutoReply(m, conv) {
    if (this.settings.presence !== "dnd" || !this.settings.autoReply || m.autoReply || conv.kind !== "direct") return;
    if (this.autoReplied.has(conv.id)) return;
    this.autoReplied.add(conv.id);
    await this.send(conv.id, { text: this.settings.autoReply, autoReply: true });
  }

  // --------------------------------------------------------------- sending

  /**
   * send queues a message and sends it when online. The message is stored
   * first (status pending), so it survives a reload while offline.
   */
  async send(convId, { text = "", attachments = [], flags = 0, forwarded = null, replyTo = "", autoReply = false }) {
    const conv = this.convs.get(convId) || (await this.ensureConv(convId));
    const m = {
      id: newMessageId(), conv: convId, from: { user: this.me.id, device: this.keys.id }, created: this.now(), flags,
      type: "text", text, attachments, forwarded, replyTo, autoReply, out: true, status: "pending", receipts: {},
    };
    this.msgs.set(m.id, m);
    conv.lastTs = m.created;
    await this.vault.putMany([["msg", m.id, m], ["conv", conv.id, conv]]);
    this.changed("msg", { id: m.id, conv: convId });
    this.sendOne(m);
    return m;
  }

  plaintextOf(m) {
    const pt = { type: "text" };
    if (m.text) pt.text = m.text;
    if (m.replyTo) pt.reply_to = m.replyTo;
    if (m.attachments?.length) pt.attachments = m.attachments;
    if (m.forwarded) pt.forwarded = m.forwarded;
    if (m.autoReply) pt.auto_reply = true;
    return utf8(JSON.stringify(pt));
  }

  async seal(m, fresh = false) {
    const conv = this.convs.get(m.conv);
    const users = await this.recipientsOf(conv);
    const recips = [];
    const without = [];
    for (const u of users) {
      const p = await this.lookup(u, fresh);
      if (!p.recips.length) without.push(this.userName(u));
      recips.push(...p.recips);
    }
    const mine = await this.lookup(this.me.id, fresh);
    recips.push(...mine.recips.filter((r) => r.device !== this.keys.id));
    if (!recips.length) throw Object.assign(new Error(`${without.join(", ") || "The recipient"} has not signed in on any device yet, so the message cannot be encrypted to them.`), { code: "no_devices" });
    m.env = await sealEnvelope({ id: m.id, conv: m.conv, from: m.from, created: m.created, flags: m.flags }, recips, this.plaintextOf(m), this.keys.signKey);
    m.envJson = JSON.stringify(m.env);
    delete m.env;
    await this.vault.put("msg", m.id, m);
  }

  async sendOne(m) {
    if (m.status !== "pending" || !this.online || m.inflight) return;
    m.inflight = true;
    try {
      m.status = "sending";
      this.changed("msg", { id: m.id, conv: m.conv });
      let acc;
      for (let attempt = 0; ; attempt++) {
        // Keep the sealed bytes: a resend must be byte-identical.
        if (!m.envJson) await this.seal(m, attempt > 0);
        try {
          acc = await this.relay.request(`{"type":"send","ref":"${m.id}","env":${m.envJson}}`, m.id);
          break;
        } catch (e) {
          if (e.code === "devices_changed" && attempt === 0) {
            const users = Object.keys(e.devices || {}).map(Number);
            for (const u of users.length ? users : [...this.peers.keys()]) this.peers.delete(u);
            delete m.envJson;
            continue;
          }
          throw e;
        }
      }
      m.status = "sent";
      m.sent = acc.ts;
      const cv = this.convs.get(m.conv);
      for (const u of cv.kind === "direct" ? [this.peerOf(cv)] : cv.members || []) this.announceTo(u);
      delete m.envJson;
      delete m.error;
    } catch (e) {
      if (e.code === "offline" || e.code === "timeout" || (e instanceof ApiError && e.offline)) {
        m.status = "pending"; // goes out on reconnect
      } else {
        m.status = "failed";
        m.error = e instanceof UntrustedKeys ? e.message : (e.message || String(e));
      }
    } finally {
      m.inflight = false;
    }
    if (this.vault) {
      const { inflight, ...rec } = m;
      await this.vault.put("msg", m.id, rec);
    }
    this.changed("msg", { id: m.id, conv: m.conv });
  }

  async retry(id) {
    const m = this.msgs.get(id);
    if (m && m.status === "failed") { m.status = "pending"; delete m.envJson; await this.sendOne(m); }
  }

  async discard(id) {
    const m = this.msgs.get(id);
    if (m && m.out && m.status !== "sent") { this.msgs.delete(id); await this.vault.del("msg", id); this.changed("msg", { id, conv: m.conv }); }
  }

  async flushOutbox() {
    const pending = [...this.msgs.values()].filter((m) => m.out && m.status === "pending").sort((a, b) => a.created - b.created);
    for (const m of pending) {
      if (!this.online) break;
      await this.sendOne(m);
    }
  }

  // ------------------------------------------------------------ attachments

  /** checkFile returns an error text for a file the policy refuses, else "". */
  checkFile(file) {
    const p = this.policy;
    if (file.size > p.attachment_max_bytes) return `"${file.name}" is ${fmtBytes(file.size)}; the limit is ${fmtBytes(p.attachment_max_bytes)}.`;
    const mime = file.type || "application/octet-stream";
    if (!mimeAllowed(mime, p.attachment_types)) return `"${file.name}" is a kind of file your organisation does not allow (${mime}).`;
    return "";
  }

  /** uploadFile encrypts a file in chunks and uploads the ciphertext. */
  async uploadFile(file, onProgress) {
    const err = this.checkFile(file);
    if (err) throw new Error(err);
    const data = new Uint8Array(await file.arrayBuffer());
    const enc = await encryptBlob(data, (f) => onProgress?.(f * 0.3));
    data.fill(0);
    const res = await api.uploadBlob(enc.blob, (f) => onProgress?.(0.3 + f * 0.7));
    const att = { blob: res.id, key: b64(enc.key), sha256: b64(enc.sha256), size: file.size, name: file.name, mime: file.type || "application/octet-stream" };
    enc.key.fill(0);
    return att;
  }

  /** attachmentURL downloads, verifies and decrypts an attachment into an object URL. */
  async attachmentURL(att) {
    if (this.urls.has(att.blob)) return this.urls.get(att.blob);
    const blob = await api.downloadBlob(att.blob);
    const pt = await decryptBlob(blob, unb64(att.key), unb64(att.sha256));
    const url = URL.createObjectURL(new Blob([pt], { type: att.mime || "application/octet-stream" }));
    this.urls.set(att.blob, url);
    return url;
  }

  // -------------------------------------------------------------- receipts

  /** markRead sends read receipts for what the user has now seen in a conversation. */
  async markRead(convId) {
    const now = this.now();
    const changed = [];
    for (const m of this.msgs.values()) {
      if (m.conv === convId && !m.out && !m.read && !m.recalled) { m.read = now; m.readSent = false; changed.push(m); }
    }
    if (!changed.length) return;
    await this.vault.putMany(changed.map((m) => ["msg", m.id, m]));
    this.changed("msg", { conv: convId });
    this.flushReceipts();
  }

  async acknowledge(id) {
    const m = this.msgs.get(id);
    if (!m || m.out || m.acked) return;
    m.acked = this.now();
    m.ackSent = false;
    if (!m.read) { m.read = m.acked; m.readSent = false; }
    await this.vault.put("msg", id, m);
    this.changed("msg", { id, conv: m.conv });
    this.flushReceipts();
  }

  async flushReceipts() {
    if (!this.online) return;
    for (const m of [...this.msgs.values()]) {
      for (const [kind, flag] of [["read", "readSent"], ["acknowledged", "ackSent"]]) {
        if (m[flag] !== false || m.recalled) continue;
        if (kind === "acknowledged" && !(m.flags & FLAG_ACK)) { m[flag] = true; continue; }
        try {
          await this.relay.request({ type: "receipt", msg: m.id, kind }, "r" + b64url(randomBytes(9)));
          m[flag] = true;
        } catch (e) {
          if (e.code === "offline" || e.code === "timeout") return;
          m[flag] = true; // refused (e.g. expired on the server): do not retry forever
        }
        if (this.vault) await this.vault.put("msg", m.id, m);
      }
    }
  }

  // ------------------------------------------------------- recall, details

  async recall(id) {
    const m = this.msgs.get(id);
    if (!m || !m.out) return;
    if (m.status !== "sent") { await this.discard(id); return; }
    await this.relay.request({ type: "recall", msg: id }, "c" + b64url(randomBytes(9)));
    await this.tombstone(m, this.now());
  }

  async details(id) {
    return this.relay.request({ type: "details", msg: id }, "d" + b64url(randomBytes(9)));
  }

  /**
   * announceTo sends this user's presence again when a conversation starts
   * with someone whose presence is unknown: the server tells a user's
   * contacts (people who have exchanged messages) of changes only, so a new
   * contact would otherwise see "offline" until the next change.
   */
  announceTo(uid) {
    if (uid === this.me.id || this.presence.has(uid) || this.announced?.has(uid)) return;
    (this.announced = this.announced || new Set()).add(uid);
    clearTimeout(this.announceTimer);
    this.announceTimer = setTimeout(() => {
      if (this.online) this.relay.request({ type: "presence", status: this.settings.presence || "available" }, "p" + b64url(randomBytes(6))).catch(() => {});
    }, 300);
  }

  async setPresence(status) {
    await this.saveSettings({ presence: status });
    if (status !== "dnd") this.autoReplied.clear();
    if (this.online) await this.relay.request({ type: "presence", status }, "p" + b64url(randomBytes(6))).catch(() => {});
  }

  // ------------------------------------------------------------------ expiry

  /** sweep deletes local messages older than the retention policy: on every device, at the same age. */
  async sweep() {
    if (!this.vault) return;
    const limit = this.now() - this.policy.retention_ms;
    const gone = [];
    for (const m of this.msgs.values()) {
      const t = m.sent || m.created;
      // A pending message has not been sent: it is kept until it is.
      if (t < limit && !(m.out && m.status !== "sent")) gone.push(m);
    }
    if (!gone.length) return;
    for (const m of gone) {
      this.msgs.delete(m.id);
      for (const a of m.attachments || []) { const u = this.urls.get(a.blob); if (u) { URL.revokeObjectURL(u); this.urls.delete(a.blob); } }
    }
    await this.vault.putMany(gone.map((m) => ["msg", m.id, null]));
    this.changed("expired", { ids: gone.map((m) => m.id) });
  }

  // ------------------------------------------------------------- devices

  async myDevices() {
    const p = await this.lookup(this.me.id, true);
    const active = new Set(p.recips.map((r) => r.device));
    return Promise.all((p.list?.devices || []).map(async (d) => ({ id: d.id, active: active.has(d.id), me: d.id === this.keys.id, fingerprint: await keyFingerprint(unb64(d.sign)) })));
  }
}

export class UntrustedKeys extends Error {
  constructor(uid, reason) {
    super(`Curbside refused the device keys the server gave for user ${uid}: ${reason}. The server or the network may be tampering with keys; tell your administrator.`);
    this.user = uid;
  }
}

function sameList(a, b) {
  if (a.user !== b.user || a.version !== b.version || a.signer !== b.signer || a.devices.length !== b.devices.length) return false;
  return a.devices.every((d, i) => d.id === b.devices[i].id && d.enc === b.devices[i].enc && d.sign === b.devices[i].sign);
}

function diffDevices(oldL, newL) {
  const o = new Set(oldL.devices.map((d) => d.id)), n = new Set(newL.devices.map((d) => d.id));
  return { added: [...n].filter((x) => !o.has(x)), removed: [...o].filter((x) => !n.has(x)) };
}

export function fmtBytes(n) {
  if (n < 1024) return `${n} bytes`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / (1 << 20)).toFixed(n < 10 << 20 ? 1 : 0)} MB`;
}
