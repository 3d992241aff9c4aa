// @ts-check
// Typing indicators (PROTOCOL.md, the typing frame): this device says it
// is typing at most every TYPING_EVERY_MS while its person types, and
// shows someone else as typing for TYPING_SHOW_MS after their last frame,
// or until their message arrives. Nothing of it is stored, here or on the
// server, and it carries no text.
import { TYPING_BURST, TYPING_EVERY_MS, TYPING_PER_SECOND, TYPING_SHOW_MS } from "./constants.js";
import { parseConv } from "./conv.js";

/** @typedef {import("./types.js").TypingFrame} TypingFrame */

export class Typing {
  /**
   * @param {{me: {id: number}, relay: {send: (f: any) => boolean}, changed: (what: string, extra?: any) => void}} client
   */
  constructor(client) {
    this.c = client;
    /** @type {Map<string, Map<number, number>>} conversation → user → shown until (ms) */
    this.seen = new Map();
    /** @type {Map<string, number>} conversation → when this device last said it is typing there */
    this.sentAt = new Map();
    this.timer = null;
    // The server's limit, kept here too, so that a frame it would refuse
    // waits for its turn instead (someone sending many short messages).
    this.tokens = TYPING_BURST;
    this.tokensAt = Date.now();
    this.later = null;
  }

  /** take spends one of the connection's typing frames, if one is left. */
  take(now) {
    this.tokens = Math.min(TYPING_BURST, this.tokens + (now - this.tokensAt) / 1000 * TYPING_PER_SECOND);
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  /**
   * typed is called as this person types in conv: it tells the others,
   * no more often than TYPING_EVERY_MS. A broadcast has no typing.
   * @param {string} conv
   */
  typed(conv) {
    if (parseConv(conv).kind !== "direct" && parseConv(conv).kind !== "group") return;
    const now = Date.now();
    if (now - (this.sentAt.get(conv) || 0) < TYPING_EVERY_MS) return;
    if (!this.take(now)) {
      clearTimeout(this.later);
      this.later = setTimeout(() => this.typed(conv), Math.ceil((1 - this.tokens) / TYPING_PER_SECOND * 1000));
      return;
    }
    // The ref keeps the answer (ok, or a refusal) away from the person:
    // a typing frame that does not go through is simply not shown.
    if (this.c.relay.send({ type: "typing", conv, ref: "typing" })) this.sentAt.set(conv, now);
  }

  /** sent forgets that this device was typing in conv: its message went. */
  sent(conv) { this.sentAt.delete(conv); clearTimeout(this.later); }

  /** @param {TypingFrame} f */
  received(f) {
    if (f.user === this.c.me.id || typeof f.conv !== "string") return;
    let m = this.seen.get(f.conv);
    if (!m) this.seen.set(f.conv, (m = new Map()));
    m.set(f.user, Date.now() + TYPING_SHOW_MS);
    this.c.changed("typing", { conv: f.conv });
    this.schedule();
  }

  /**
   * stopped is called when a user's message arrives in conv: they are no
   * longer typing it.
   * @param {string} conv
   * @param {number} user
   */
  stopped(conv, user) {
    if (this.seen.get(conv)?.delete(user)) this.c.changed("typing", { conv });
  }

  /**
   * who lists the users typing in conv now.
   * @param {string} conv
   * @returns {number[]}
   */
  who(conv) {
    const now = Date.now();
    return [...(this.seen.get(conv) || new Map())].filter(([, until]) => until > now).map(([u]) => u);
  }

  schedule() {
    clearTimeout(this.timer);
    const untils = [...this.seen.values()].flatMap((m) => [...m.values()]);
    if (!untils.length) return;
    this.timer = setTimeout(() => this.expire(), Math.max(0, Math.min(...untils) - Date.now()) + 20);
  }

  expire() {
    const now = Date.now();
    for (const [conv, m] of this.seen) {
      let gone = false;
      for (const [u, until] of m) if (until <= now) { m.delete(u); gone = true; }
      if (!m.size) this.seen.delete(conv);
      if (gone) this.c.changed("typing", { conv });
    }
    this.schedule();
  }

  clear() {
    clearTimeout(this.timer);
    clearTimeout(this.later);
    this.seen.clear();
    this.sentAt.clear();
  }
}
