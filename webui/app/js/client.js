// @ts-check
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
//     between the two gives a redelivery, which the id dedupes; a message
//     whose sender's keys cannot be fetched (offline, 401, 429, 5xx) is
//     kept un-acked and tried again with backoff, never acked unstored,
//     so its sender never sees "delivered" for a message that was dropped;
//     one whose sender's keys answer 404 a few times in a row (the rules
//     hide the sender now, or the sender is gone) is given up, said so in
//     the catalogue's words (sender_unknown) and acked;
//   - a message that may be resent keeps its sealed bytes, so the resend is
//     byte-identical and the server answers dup instead of id_reused;
//   - on devices_changed the recipients' keys are fetched again and the
//     message is resealed (twice at most); the relay's devices frame drops
//     a user's fetched keys as soon as their devices change, and a
//     recipient with no device to seal to is fetched afresh before the
//     message is refused, so a stale "no device" never stands.
//
// The engine is built in layers: Directory (directory.js: people and their
// keys) ← Conversations (conversations.js: conversations and messages) ←
// Client (this file: the lifecycle, the relay, sending and receiving,
// receipts, recall, expiry and presence). The UI listens for "change"
// events and reads the public maps.
import { api, ApiError, sentence } from "./api.js";
import { b64, b64url, fromUtf8, randomBytes, unb64, utf8 } from "./bytes.js";
import { CryptoError, decryptBlob, encryptBlob, keyFingerprint, newMessageId, openEnvelope, sealEnvelope, signAttestation, verifyAttestation } from "./crypto.js";
import { Relay } from "./relay.js";
import { CLIENT_POLICY_DEFAULTS, CLOCK_SKEW_MS, CLOSE_REPLACED, CLOSE_REVOKED, CLOSE_SESSION_ENDED, CLOSE_UPDATE_REQUIRED, CODE_DEVICES_CHANGED, CODE_SENDER_UNKNOWN, CODES, FLAG_ACK_REQUESTED, MAX_ACK_SEQS, MAX_ATTACHMENTS, PRESENCE_AVAILABLE, PRESENCE_DND, RECEIPT_ACKNOWLEDGED, RECEIPT_DELIVERED, RECEIPT_READ, SUITE_X25519_AES256, V1_DRAIN_MS } from "./constants.js";
import { FULL_RETRY_FIRST_MS, fmtBytes, mimeAllowed, parseConv, sendOutcome } from "./conv.js";
import { Conversations } from "./conversations.js";
import { UntrustedKeys } from "./directory.js";
import { attachmentKind, DOWNLOAD_TYPE, ownBlobs, refusedNote, viewBlob, wellFormed } from "./attachments.js";
import { readMentions, readQuote } from "./body.js";
import { Typing } from "./typing.js";
import { KeyRing } from "./keyrotation.js";

/** @typedef {import("./types.js").ServerFrame} ServerFrame */
/** @typedef {import("./types.js").QueuedFrame} QueuedFrame */
/** @typedef {import("./types.js").MsgFrame} MsgFrame */
/** @typedef {import("./types.js").DetailsFrame} DetailsFrame */
/** @typedef {import("./types.js").AcceptedFrame} AcceptedFrame */
/** @typedef {import("./types.js").Message} Message */
/** @typedef {import("./types.js").Attachment} Attachment */
/** @typedef {import("./attachments.js").AttachmentKind} AttachmentKind */

/** The first wait before a message kept for its sender's keys is tried again, and the longest. */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 60e3;
/**
 * How many times in a row a sender's keys may answer 404 before the
 * message is given up: the rules hide the sender from this user now, or
 * the sender is gone. A few tries (some 7 s apart in all) ride out a
 * change being made; more would only fetch once a minute until it expires.
 */
export const SENDER_GONE_TRIES = 4;

export class Client extends Conversations {
  constructor(opts) {
    super(opts);
    this.settings = { presence: PRESENCE_AVAILABLE, autoReply: "", sound: "chime", quick: [] };
    this.serverOffset = 0;
    this.chain = Promise.resolve();
    this.ackQueue = [];
    this.ackTimer = null;
    this.autoReplied = new Set();
    /** @type {Map<string, {frame: MsgFrame, tries: number, gone: number, due: number}>} messages kept un-acked until they can be opened, by envelope id (gone: how many 404s in a row) */
    this.retrying = new Map();
    this.retryTimer = null;
    /** @type {Map<string, {kind: AttachmentKind, view: string | null, save: string}>} attachment blob id → its object URLs */
    this.urls = new Map();
    this.openConvId = null;
    /** @type {Set<number>} people asked about with a contact frame on this connection */
    this.contacted = new Set();
    this.relay = new Relay((f) => this.onFrame(f));
    this.typing = new Typing(this);
    this.relay.addEventListener("state", (e) => this.onRelayState(/** @type {CustomEvent} */ (e).detail));
    this.relay.addEventListener("closed", (e) => this.onRelayClosed(/** @type {CustomEvent} */ (e).detail));
  }

  get policy() { return { ...CLIENT_POLICY_DEFAULTS, ...(this.config.policy || {}) }; }
  get online() { return this.relay.state === "online"; }
  now() { return Date.now() + this.serverOffset; }

  // ------------------------------------------------------------- lifecycle

  async load() {
    for (const { obj } of await this.vault.all("user")) this.users.set(obj.id, obj);
    for (const { obj } of await this.vault.all("pin")) this.pins.set(obj.user, obj);
    for (const { obj } of await this.vault.all("conv")) this.convs.set(obj.id, obj);
    for (const { obj } of await this.vault.all("msg")) this.msgs.set(obj.id, obj);
    await this.members.load();
    // The device's retired encryption keys, and when its key was made.
    this.ring = new KeyRing({ vault: this.vault, me: this.me, getKeys: () => this.keys, setKeys: (k) => { this.keys = k; }, lookup: (u, fresh) => this.lookup(u, fresh) });
    await this.ring.load();
    const s = await this.vault.get("settings", "user");
    if (s) Object.assign(this.settings, s);
    /** @type {{earlier: boolean, wiped: boolean, byAdmin?: boolean, dismissed: boolean} | null} set at set-up: history was not copied here (session.setUp) */
    this.historyNote = (await this.vault.get("settings", "history-note")) || null;
    // When this device first ran protocol version 2: it opens version 1
    // envelopes (no key commitment) made before then, for V1_DRAIN_MS.
    this.v2Since = (await this.vault.get("settings", "v2since"))?.at;
    if (!this.v2Since) { this.v2Since = Date.now(); await this.vault.put("settings", "v2since", { at: this.v2Since }); }
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
    clearTimeout(this.retryTimer);
    clearTimeout(this.outboxTimer);
    this.typing.clear();
    this.members.clear();
    this.retrying.clear(); // still queued on the server: they come again on the next connection
    for (const b of [...this.urls.keys()]) this.dropURLs(b);
    this.msgs.clear(); this.convs.clear(); this.pins.clear(); this.peers.clear(); this.users.clear();
    this.vault.lock();
    this.vault = null;
    this.keys = null;
    this.ring = null;
  }

  async refreshConfig() {
    try {
      const cfg = await api.config();
      this.config = cfg;
      this.serverOffset = cfg.server_time - Date.now();
      await this.vault?.put("settings", "config", cfg);
      this.changed("config");
      // Forward secrecy: a key past key_rotation is replaced, retired
      // keys past the retention are deleted (keyrotation.js).
      this.ring?.maintain(this.policy);
    } catch { /* offline: the stored copy stands */ }
    try {
      const { groups } = await api.groups();
      for (const g of groups || []) {
        for (const m of g.members) this.rememberUser(m);
        await this.members.observeList(this.convs.get(`g:${g.id}`), g.members.map((m) => m.id));
        await this.saveConv({ ...(this.convs.get(`g:${g.id}`) || { lastTs: 0 }), id: `g:${g.id}`, kind: "group", name: g.name, members: g.members.map((m) => m.id) });
      }
      this.changed("convs");
    } catch { /* offline */ }
  }

  /** dismissHistoryNote remembers that the one-time notice about history was read. */
  async dismissHistoryNote() {
    if (!this.historyNote) return;
    this.historyNote = { ...this.historyNote, dismissed: true };
    await this.vault.put("settings", "history-note", this.historyNote);
    this.changed("settings");
  }

  async saveSettings(patch) {
    Object.assign(this.settings, patch);
    await this.vault.put("settings", "user", this.settings);
    this.changed("settings");
  }

  // ---------------------------------------------------------------- relay in

  onRelayState({ state, hello }) {
    if (state === "online") {
      if (hello.device !== this.keys?.id) { this.relay.stop(); this.notify("error", { text: "The server bound this session to another device. Sign in again." }); return; }
      this.serverOffset = hello.server_time - Date.now();
      // What was known of others' presence is stale: the server's
      // snapshot of the contacts follows the hello at once.
      this.presence.clear();
      this.contacted.clear();
      const open = this.openConvId && this.convs.get(this.openConvId);
      if (open) setTimeout(() => this.contact(this.peerOf(open)), 0);
      this.relay.request({ type: "presence", status: this.settings.presence || PRESENCE_AVAILABLE }, "p" + b64url(randomBytes(6))).catch(() => {});
      this.flushOutbox();
      this.flushReceipts();
      this.refreshConfig();
      // The connection is back: what waited for keys is tried again now.
      for (const r of this.retrying.values()) r.due = Math.min(r.due, Date.now());
      this.scheduleRetry();
    }
    this.changed("connection");
  }

  async onRelayClosed({ code, opened, updateText }) {
    if (code === CLOSE_UPDATE_REQUIRED) { this.relay.stop(); this.notify("update_required", { text: updateText || CODES.update_required.message }); return; }
    if (code === CLOSE_REVOKED) { this.notify("revoked", {}); return; }
    if (code === CLOSE_SESSION_ENDED) { this.relay.stop(); this.notify("locked_by_admin", {}); return; }
    if (code === CLOSE_REPLACED) { this.notify("replaced", {}); return; }
    if (!opened) {
      // The upgrade failed: either the network or the session. Ask /me.
      let me;
      try { me = await api.me(); } catch (e) { if (e.status === 401 || e.status === 403) { this.relay.stop(); this.notify("session_ended", {}); } }
      // The policy began to require a second factor this account lacks.
      if (me?.mfa_enrollment_required) { this.relay.stop(); this.notify("mfa_enrollment", {}); }
    }
  }

/**
 * @param {ServerFrame} f
 */
  onFrame(f) {
    if (f.type === "presence") {
      this.presence.set(f.user, f.status);
      this.changed("presence", { user: f.user });
      return;
    }
    if (f.type === "devices") {
      // requests: devices waiting to join this account (PROTOCOL.md 3.1).
      if (f.user === this.me.id) this.notify("device-request", { count: f.requests || 0 });
      this.devicesChanged(f.user);
      return;
    }
    if (f.type === "typing") {
      this.typing.received(f);
      return;
    }
    if (f.type === "msg" || f.type === "receipt" || f.type === "recall" || f.type === "member") {
      // Handled one at a time, in queue order, so a receipt never overtakes
      // the message it is about.
      this.chain = this.chain.then(() => this.handleQueued(f)).catch((e) => console.error("handling a frame:", e));
    }
    // A refused ack (the server's disk full, say) leaves its items queued:
    // they are acked again after a while, and come again on reconnecting.
    if (f.type === "error" && f.seqs?.length) { this.retryAcks(f.seqs); return; }
    if (f.type === "error" && !f.ref) this.notify("error", { text: sentence(f.message) });
  }

  /** retryAcks acks again, after a while, the items of an ack the server refused. */
  retryAcks(seqs) {
    setTimeout(() => { if (this.vault) { this.ackQueue.push(...seqs); this.flushAcks(); } }, FULL_RETRY_FIRST_MS);
  }

  ack(seq) {
    this.ackQueue.push(seq);
    if (!this.ackTimer) this.ackTimer = setTimeout(() => this.flushAcks(), 40);
  }

  flushAcks() {
    this.ackTimer = null;
    while (this.ackQueue.length) {
      const seqs = this.ackQueue.splice(0, MAX_ACK_SEQS);
      // Lost if the socket is down: the items come again and are deduped.
      this.relay.send({ type: "ack", seqs });
    }
  }

/**
 * @param {QueuedFrame} f
 */
  async handleQueued(f) {
    if (!this.vault) return; // locked meanwhile: the item stays queued
    if (f.type === "msg") return this.receiveMsg(f);
    if (f.type === "member") { await this.members.announced(f); this.ack(f.seq); return; }
    const m = this.msgs.get(f.msg);
    // A receipt or recall counts only if the device it names signed it
    // (PROTOCOL.md section 5.1): the server's own unsigned delivered
    // records, and anything it made up or changed, are acked and ignored.
    let signed;
    try { signed = await this.verifiedEvent(f, m); } catch (e) {
      if (e instanceof ApiError) return; // the signer's keys could not be fetched now: it stays queued
      signed = false;
    }
    if (!signed) {
      if (f.sig || f.type === "recall" || f.kind !== RECEIPT_DELIVERED) console.warn("ignoring an unverified", f.type, "for", f.msg);
    } else if (f.type === "receipt") {
      if (m) {
        if (f.user === this.me.id && !m.out) {
          // Read or acknowledged on another of my devices.
          if (f.kind === RECEIPT_READ && !m.read) { m.read = f.at; m.readSent = true; }
          if (f.kind === RECEIPT_ACKNOWLEDGED && !m.acked) { m.acked = f.at; m.ackSent = true; }
        } else {
          m.receipts = m.receipts || {};
          const r = (m.receipts[f.user] = m.receipts[f.user] || {});
          if (!r[f.kind]) r[f.kind] = f.at;
          if ((f.kind === RECEIPT_READ || f.kind === RECEIPT_ACKNOWLEDGED) && !r.delivered) r.delivered = f.at;
        }
        await this.vault.put("msg", m.id, m);
        this.changed("msg", { id: m.id, conv: m.conv });
      }
    } else if (f.type === "recall") {
      if (m && !m.recalled) {
        await this.tombstone(m, f.at);
      } else if (!m) {
        // The recall overtook nothing here (the message was never received);
        // remember the id, and who recalled it, so a late copy from that
        // sender is not shown.
        const t = { id: f.msg, conv: f.conv, recalled: f.at, recalledBy: f.user, hidden: true, created: f.at };
        await this.vault.put("msg", f.msg, t);
        this.msgs.set(f.msg, t);
      }
    }
    this.ack(f.seq);
  }

  /**
   * verifiedEvent reports whether a queued receipt or recall was signed by
   * the device it names (checked against that user's verified device list)
   * and says what that signer may say: a receipt from one of the message's
   * recipients (or my own other device, about a message to me), a recall
   * from the message's own sender only, each in the message's conversation.
   * About a message this device does not hold, only the signature is
   * checked (a recall is remembered with its signer, receiveMsg checks it).
   * @param {QueuedFrame} f
   * @param {any} m the message it is about, if held
   * @returns {Promise<boolean>}
   */
  async verifiedEvent(f, m) {
    const ev = /** @type {any} */ (f);
    if (!ev.sig || !(ev.user > 0) || !(ev.device > 0)) return false;
    const key = await this.senderKey(ev.user, ev.device, ev.at).catch((e) => { if (e instanceof ApiError) throw e; return null; });
    if (!key || !(await verifyAttestation(ev, key))) return false;
    if (!m || m.hidden) return true;
    if (ev.conv !== m.conv) return false;
    if (f.type === "recall") return ev.user === m.from.user;
    if (m.out) return ev.user !== this.me.id && (m.recips ? m.recips.includes(ev.user) : true);
    return ev.user === this.me.id;
  }

  async tombstone(m, ts) {
    const t = { id: m.id, conv: m.conv, from: m.from, created: m.created, sent: m.sent, flags: 0, out: m.out, recalled: ts, status: m.status, receipts: m.receipts };
    this.msgs.set(m.id, t);
    await this.vault.put("msg", m.id, t);
    this.changed("msg", { id: m.id, conv: m.conv });
  }

  /**
   * checkSuite is the Go client's checkSuite (PROTOCOL.md "Suite 2:
   * X-Wing", downgrade protection): once this device's list gives it an
   * X-Wing key, a suite-1 envelope made more than CLOCK_SKEW_MS later is
   * refused if every device it is sealed to lists an X-Wing key in the
   * verified lists this app holds (or fetches) of their users.
   * @param {any} env an envelope whose signature verified
   */
  async checkSuite(env) {
    const since = this.ring?.pqSince || 0;
    if (env.suite !== SUITE_X25519_AES256 || !since || env.created <= since + CLOCK_SKEW_MS) return;
    const lists = new Map();
    for (const k of env.keys) {
      if (!lists.has(k.user)) lists.set(k.user, (await this.lookup(k.user, false))?.list);
      const d = lists.get(k.user)?.devices.find((/** @type {any} */ x) => x.id === k.device);
      if (!d || !d.pq) return;
    }
    throw new CryptoError("downgrade", `message ${env.id} was sealed without the post-quantum suite that all its recipient devices list`);
  }

/**
 * @param {MsgFrame} f
 */
  async receiveMsg(f) {
    const env = f.env;
    const held = this.msgs.get(env.id);
    // A redelivery; or a message recalled before it arrived: dropped if the
    // signed recall came from its own sender, else opened as any other.
    if (held && !(held.hidden && held.recalledBy !== env.from.user)) { this.retrying.delete(env.id); this.ack(f.seq); return; }
    let pt, body;
    try {
      // Signed times (created is in the signed header): a message older
      // than the retention window would have expired on an honest server,
      // so it is a replay, whether or not its id is still remembered; a
      // version 1 envelope opens only from before this device's upgrade,
      // for V1_DRAIN_MS after it.
      // This device's own clock, not the server-corrected one: the server
      // must not be able to move "now" back to let an old message through.
      if (!(env.created >= Date.now() - this.policy.retention_ms)) throw new CryptoError("replay", `message ${env.id} is older than the retention window`);
      if (env.v === 1 && (env.created > this.v2Since || Date.now() >= this.v2Since + V1_DRAIN_MS)) throw new CryptoError("version", `message ${env.id} is a version 1 message from after this device's upgrade`);
      const cv = parseConv(env.conv);
      if (cv.kind === "direct" && ((cv.a !== this.me.id && cv.b !== this.me.id) || (cv.a !== env.from.user && cv.b !== env.from.user))) {
        throw new CryptoError("misaddressed", `direct conversation ${env.conv} does not hold both the sender and this user`);
      }
      const key = await this.senderKey(env.from.user, env.from.device, env.created);
      body = await openEnvelope(env, key, this.keys, this.ring?.pairs || [], this.ring?.pqKeys || []);
      await this.checkSuite(env);
      pt = JSON.parse(fromUtf8(body));
      if (!pt || typeof pt.type !== "string" || !pt.type) throw new CryptoError("decrypt", "the message body has no type");
    } catch (e) {
      // The sender's keys could not be fetched (offline, signed out, rate
      // limited, a server fault): the message is fine, the moment is not.
      // It stays un-acked on the server and is tried again here.
      if (e instanceof ApiError && !(e.status === 404 && (this.retrying.get(env.id)?.gone || 0) + 1 >= SENDER_GONE_TRIES)) { this.keepForRetry(f, e); return; }
      if (e instanceof ApiError) {
        // The sender's keys answered 404 every time: the participation
        // rules hide the sender from this user, or the sender is gone. It
        // will not open, so it is said so and acked (acking sends no
        // delivered receipt: the sender keeps seeing "Sent").
        console.warn("giving up message", env.id, "its sender's keys answer 404");
        this.retrying.delete(env.id);
        this.notify("error", { text: CODES[CODE_SENDER_UNKNOWN].message });
        this.ack(f.seq);
        return;
      }
      // A message that will never open is reported and acked, so a bad
      // envelope cannot come back forever.
      console.warn("dropping message", env.id, e.message);
      this.notify("error", { text: e instanceof UntrustedKeys ? e.message
        : e instanceof CryptoError && e.kind === "revoked_device" ? "A message signed by a device after it was removed (wiped or taken out of use) was discarded."
          : e instanceof CryptoError && e.kind === "downgrade" ? "A message sealed without the post-quantum protection that all its recipients' devices have was discarded: the server may have hidden their keys from the sender."
            : "A message could not be verified or decrypted and was discarded." });
      this.ack(f.seq);
      return;
    } finally {
      body?.fill(0);
    }
    const fromMe = env.from.user === this.me.id;
    // Shown, ordered and expired by the signed created time; the server's
    // time only makes a note when it is far from it.
    const m = {
      id: env.id, conv: env.conv, from: env.from, created: env.created, sent: env.created, serverTs: f.ts,
      timeNote: Math.abs(f.ts - env.created) > CLOCK_SKEW_MS, flags: env.flags, v: env.v,
      type: pt.type, text: typeof pt.text === "string" ? pt.text : "", replyTo: typeof pt.reply_to === "string" ? pt.reply_to : "",
      quote: readQuote(pt.quote), mentions: readMentions(pt.mentions),
      attachments: Array.isArray(pt.attachments) ? pt.attachments.filter(wellFormed) : [], forwarded: pt.forwarded || null, autoReply: !!pt.auto_reply,
      out: fromMe, status: fromMe ? "sent" : undefined, receipts: {},
      recips: [...new Set(env.keys.map((k) => k.user))].filter((u) => u !== env.from.user),
      deliveredSent: fromMe,
    };
    const hint = {};
    if (env.conv.startsWith("b:")) hint.members = [...new Set([env.from.user, ...env.keys.map((k) => k.user)])];
    const known = this.convs.has(env.conv);
    const conv = await this.ensureConv(env.conv, hint);
    // A group first seen through a message: learn its name and members.
    if (!known && conv.kind === "group") this.refreshGroup(conv);
    if (env.conv.startsWith("b:") && fromMe && conv.members.length < 2) { conv.members = hint.members; }
    // Whoever this was sealed to can read it: a member not known here is
    // shown, whatever the server announced (members.js).
    if (conv.kind === "group") await this.members.observeRecipients(conv, [env.from.user, ...env.keys.map((k) => k.user)]);
    conv.lastTs = Math.max(conv.lastTs || 0, env.created);
    this.msgs.set(m.id, m);
    await this.vault.putMany([["msg", m.id, m], ["conv", conv.id, conv]]);
    this.retrying.delete(env.id);
    this.ack(f.seq);
    if (!fromMe) this.flushReceipts();
    this.typing.stopped(m.conv, env.from.user);
    this.changed("msg", { id: m.id, conv: m.conv, incoming: !fromMe });
    if (m.forwarded && !this.users.has(m.forwarded.from)) this.learnUser(m.forwarded.from);
    if (!fromMe) {
      if (conv.kind === "direct") this.contact(env.from.user);
      this.notify("message", { msg: m, conv });
      this.maybeAutoReply(m, conv);
    }
  }

  /**
   * keepForRetry keeps a message that could not be opened for a transient
   * reason, un-acked, and schedules another try: after 0.5 s, then twice as
   * long each time, at most a minute apart.
   * @param {MsgFrame} f
   * @param {ApiError} e why it could not be opened now
   */
  keepForRetry(f, e) {
    const r = this.retrying.get(f.env.id) || { frame: f, tries: 0, gone: 0, due: 0 };
    r.frame = f;
    r.tries++;
    r.gone = e.status === 404 ? r.gone + 1 : 0; // 404s in a row
    r.due = Date.now() + Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (r.tries - 1));
    this.retrying.set(f.env.id, r);
    console.warn("keeping message", f.env.id, "to try again:", e.status || e.code, e.message);
    this.scheduleRetry();
  }

  /** scheduleRetry sets one timer for the kept message that is due first. */
  scheduleRetry() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const dues = [...this.retrying.values()].map((r) => r.due).filter((d) => Number.isFinite(d));
    if (!dues.length) return;
    this.retryTimer = setTimeout(() => this.retryDue(), Math.max(0, Math.min(...dues) - Date.now()));
  }

  /** retryDue passes every kept message that is due through the queue's chain again. */
  retryDue() {
    this.retryTimer = null;
    const now = Date.now();
    for (const r of this.retrying.values()) {
      if (r.due > now) continue;
      r.due = Infinity; // in hand: keepForRetry sets the next time if it fails again
      this.chain = this.chain.then(() => this.handleQueued(r.frame)).catch((e) => console.error("handling a frame:", e));
    }
    this.scheduleRetry();
  }

  async maybeAutoReply(m, conv) {
    if (this.settings.presence !== PRESENCE_DND || !this.settings.autoReply || m.autoReply || conv.kind !== "direct") return;
    if (this.autoReplied.has(conv.id)) return;
    this.autoReplied.add(conv.id);
    await this.send(conv.id, { text: this.settings.autoReply, autoReply: true });
  }

  // --------------------------------------------------------------- sending

  /**
   * send queues a message and sends it when online. The message is stored
   * first (status pending), so it survives a reload while offline.
   */
  async send(convId, { text = "", attachments = [], flags = 0, forwarded = null, replyTo = "", quote = null, mentions = [], autoReply = false }) {
    const conv = this.convs.get(convId) || (await this.ensureConv(convId));
    if (attachments.length > MAX_ATTACHMENTS) throw new Error(`A message can carry at most ${MAX_ATTACHMENTS} attachments; send the rest in another message.`);
    const m = {
      id: newMessageId(), conv: convId, from: { user: this.me.id, device: this.keys.id }, created: this.now(), flags,
      type: "text", text, attachments, blobs: ownBlobs(attachments, forwarded), forwarded, replyTo, quote, mentions, autoReply, out: true, status: "pending", receipts: {},
    };
    this.typing.sent(convId);
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
    if (m.replyTo && m.quote) pt.quote = m.quote;
    if (m.mentions?.length) pt.mentions = m.mentions;
    if (m.attachments?.length) pt.attachments = m.attachments;
    if (m.forwarded) pt.forwarded = m.forwarded;
    if (m.autoReply) pt.auto_reply = true;
    return utf8(JSON.stringify(pt));
  }

  async seal(m, fresh = false) {
    const conv = this.convs.get(m.conv);
    const users = await this.recipientsOf(conv);
    const recips = [];
    /** @type {Array<[number, string]>} */
    const without = [];
    for (const u of users) {
      let p = await this.lookup(u, fresh);
      // "No device" from a copy fetched earlier is never the last word:
      // they may have set one up since.
      if (!p.recips.length && !fresh) p = await this.lookup(u, true);
      if (!p.recips.length) without.push([u, this.unreachable(u)]);
      recips.push(...p.recips);
    }
    // A message needs a recipient device; in a group, members who cannot
    // receive are left out (the conversation says who).
    // Who was left out, and why, stays with the message for its details.
    m.left = without;
    if (!recips.length) {
      const code = without.length ? without[0][1] : "";
      throw Object.assign(new Error(without.length ? this.cannotReceiveText(without) : "Nobody in this conversation can receive messages."), { code });
    }
    const mine = await this.lookup(this.me.id, fresh);
    recips.push(...mine.recips.filter((r) => r.device !== this.keys.id));
    m.env = await sealEnvelope({ id: m.id, conv: m.conv, from: m.from, created: m.created, flags: m.flags }, recips, this.plaintextOf(m), this.keys.signKey);
    // Who may sign a receipt for it: the users it was sealed to.
    m.recips = [...new Set(recips.map((r) => r.user))].filter((u) => u !== this.me.id);
    // Unsigned, for the server alone: it keeps these uploads and deletes
    // those no message names (PROTOCOL.md section 8).
    if (m.blobs?.length) m.env.blobs = m.blobs;
    m.envJson = JSON.stringify(m.env);
    delete m.env;
    await this.vault.put("msg", m.id, m);
  }

  /**
   * sendOne seals (unless the sealed bytes are kept) and sends one message.
   * @param {any} m
   * @param {boolean} [fresh] fetch every recipient's keys anew first (a retry)
   */
  async sendOne(m, fresh = false) {
    if (m.status !== "pending" || !this.online || m.inflight) return;
    m.inflight = true;
    try {
      m.status = "sending";
      this.changed("msg", { id: m.id, conv: m.conv });
      /** @type {AcceptedFrame} */
      let acc;
      for (let attempt = 0; ; attempt++) {
        // Keep the sealed bytes: a resend must be byte-identical.
        if (!m.envJson) await this.seal(m, fresh || attempt > 0);
        try {
          acc = /** @type {AcceptedFrame} */ (await this.relay.request(`{"type":"send","ref":"${m.id}","env":${m.envJson}}`, m.id));
          break;
        } catch (e) {
          if (e.code === CODE_DEVICES_CHANGED && attempt < 2) {
            const users = Object.keys(e.devices || {}).map(Number);
            for (const u of users.length ? users : [...this.peers.keys()]) this.peers.delete(u);
            delete m.envJson;
            continue;
          }
          throw e;
        }
      }
      m.status = "sent";
      m.serverTs = acc.ts; // shown and ordered by created, which is signed
      const cv = this.convs.get(m.conv);
      if (cv.kind === "direct") this.contact(this.peerOf(cv));
      delete m.envJson;
      delete m.error;
      delete m.note;
      delete m.errorCode;
      delete m.refusals;
    } catch (e) {
      const o = e instanceof ApiError && e.offline ? sendOutcome({ code: "offline" }, 0) : sendOutcome(e, (m.refusals || 0) + 1);
      m.status = o.status; // pending goes out on reconnect, and after retryMs
      if (o.status === "failed") {
        m.error = e instanceof UntrustedKeys ? e.message : o.note;
        m.errorCode = e.code || "";
      }
      if (o.retryMs) {
        // Kept, sealed as it was, and sent again by itself (storage_full).
        m.note = o.note;
        m.refusals = (m.refusals || 0) + 1;
        this.flushOutboxIn(o.retryMs);
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
    // "Try again" fetches every recipient's keys anew: nothing cached stands.
    if (m && m.status === "failed") { m.status = "pending"; delete m.envJson; await this.sendOne(m, true); }
  }

  async discard(id) {
    const m = this.msgs.get(id);
    if (m && m.out && m.status !== "sent") { this.msgs.delete(id); await this.vault.del("msg", id); this.changed("msg", { id, conv: m.conv }); }
  }

  /** flushOutboxIn sends what is pending after ms, unless a sooner flush is set. */
  flushOutboxIn(ms) {
    const at = Date.now() + ms;
    if (this.outboxTimer && this.outboxAt <= at) return;
    clearTimeout(this.outboxTimer);
    this.outboxAt = at;
    this.outboxTimer = setTimeout(() => { this.outboxTimer = null; this.flushOutbox(); }, ms);
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

  /**
   * openAttachment downloads, verifies and decrypts an attachment the
   * policy allows, and returns how it is shown with its object URLs: view,
   * of an inert type, for what the app renders itself (null for a file that
   * is only downloaded), and save, of type application/octet-stream, which
   * a browser can only save. It throws for a type the policy refuses,
   * before anything is downloaded.
   * @param {Attachment} att
   * @returns {Promise<{kind: AttachmentKind, view: string | null, save: string}>}
   */
  async openAttachment(att) {
    const kind = attachmentKind(att, this.policy.attachment_types);
    if (kind === "refused") throw new Error(refusedNote(att));
    const cached = this.urls.get(att.blob);
    if (cached && cached.kind === kind) return cached;
    const blob = await api.downloadBlob(att.blob);
    const pt = await decryptBlob(blob, unb64(att.key), unb64(att.sha256));
    const view = await viewBlob(pt, kind, att.mime);
    const urls = {
      kind,
      view: view ? URL.createObjectURL(view) : null,
      save: URL.createObjectURL(new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (pt)], { type: DOWNLOAD_TYPE })),
    };
    this.dropURLs(att.blob);
    this.urls.set(att.blob, urls);
    return urls;
  }

  /**
   * dropURLs revokes the object URLs of one attachment.
   * @param {string} blob the attachment's blob id
   */
  dropURLs(blob) {
    const u = this.urls.get(blob);
    if (!u) return;
    if (u.view) URL.revokeObjectURL(u.view);
    URL.revokeObjectURL(u.save);
    this.urls.delete(blob);
  }

  // -------------------------------------------------------------- receipts

  /** markRead sends read receipts for what the user has now seen in a conversation. */
  /**
   * markRead marks a conversation's messages read and sends the receipts,
   * but for those in unseen: messages that arrived below a reader
   * scrolled back, who has not seen them yet.
   * @param {string} convId
   * @param {Set<string> | null} [unseen]
   */
  async markRead(convId, unseen = null) {
    const now = this.now();
    const changed = [];
    for (const m of this.msgs.values()) {
      if (m.conv === convId && !m.out && !m.read && !m.recalled && !unseen?.has(m.id)) { m.read = now; m.readSent = false; changed.push(m); }
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
      for (const [kind, flag] of [[RECEIPT_DELIVERED, "deliveredSent"], [RECEIPT_READ, "readSent"], [RECEIPT_ACKNOWLEDGED, "ackSent"]]) {
        if (m[flag] !== false || m.recalled) continue;
        if (kind === RECEIPT_ACKNOWLEDGED && !(m.flags & FLAG_ACK_REQUESTED)) { m[flag] = true; continue; }
        try {
          // Signed by this device: the sender shows it only if it verifies.
          const f = { type: /** @type {"receipt"} */ ("receipt"), msg: m.id, kind, conv: m.conv };
          await this.relay.request({ ...f, ...(await signAttestation(f, { user: this.me.id, device: this.keys.id, signKey: this.keys.signKey }, this.now())) }, "r" + b64url(randomBytes(9)));
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
    const f = { type: /** @type {"recall"} */ ("recall"), msg: id, conv: m.conv };
    await this.relay.request({ ...f, ...(await signAttestation(f, { user: this.me.id, device: this.keys.id, signKey: this.keys.signKey }, this.now())) }, "c" + b64url(randomBytes(9)));
    await this.tombstone(m, this.now());
  }

/**
 * @param {string} id
 * @returns {Promise<DetailsFrame>}
 */
  async details(id) {
    return /** @type {Promise<DetailsFrame>} */ (this.relay.request({ type: "details", msg: id }, "d" + b64url(randomBytes(9))));
  }

  /**
   * contact asks the server for the presence of someone this user has a
   * direct conversation with (PROTOCOL.md section 4.1, the contact frame):
   * the rules permitting, they become contacts and each is told the
   * other's presence now, rather than "offline" until a first message.
   * Once per person per connection, and only while their presence is
   * unknown.
   * @param {number | null} uid
   */
  contact(uid) {
    if (!uid || uid === this.me.id || !this.online || this.presence.has(uid) || this.contacted.has(uid)) return;
    this.contacted.add(uid);
    this.relay.request({ type: "contact", user: uid }, "k" + b64url(randomBytes(6))).catch(() => {});
  }

  async setPresence(status) {
    await this.saveSettings({ presence: status });
    if (status !== PRESENCE_DND) this.autoReplied.clear();
    if (this.online) await this.relay.request({ type: "presence", status }, "p" + b64url(randomBytes(6))).catch(() => {});
  }

  // ------------------------------------------------------------------ expiry

  /** sweep deletes local messages older than the retention policy: on every device, at the same age. */
  async sweep() {
    if (!this.vault) return;
    const limit = this.now() - this.policy.retention_ms;
    await this.members.sweep(limit);
    const gone = [];
    for (const m of this.msgs.values()) {
      const t = m.created; // signed (or, for this device's own messages, its own clock)
      // A pending message has not been sent: it is kept until it is.
      if (t < limit && !(m.out && m.status !== "sent")) gone.push(m);
    }
    if (!gone.length) return;
    for (const m of gone) {
      this.msgs.delete(m.id);
      for (const a of m.attachments || []) this.dropURLs(a.blob);
    }
    await this.vault.putMany(gone.map((m) => ["msg", m.id, null]));
    this.changed("expired", { ids: gone.map((m) => m.id) });
  }

  // ------------------------------------------------------------- devices

  async myDevices() {
    const p = await this.lookup(this.me.id, true);
    const active = new Set(p.recips.map((r) => r.device));
    // The names the devices registered with, which the console shows too.
    const names = new Map();
    try { for (const d of (await api.devices()).devices || []) names.set(d.id, d.name); } catch { /* offline: ids only */ }
    return Promise.all((p.list?.devices || []).map(async (d) => ({ id: d.id, name: names.get(d.id) || "", active: active.has(d.id), me: d.id === this.keys.id, fingerprint: await keyFingerprint(unb64(d.sign)) })));
  }
}
