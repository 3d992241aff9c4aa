// @ts-check
// Group membership as this device sees it, and says it in the
// conversation. The server announces each change of a group's members
// with a member frame (PROTOCOL.md, "Group membership events"), but a
// server could add a listener and say nothing. So the device keeps, per
// group conversation, the member set it last knew (conv.members, stored
// with the conversation) and compares it with every member list the server
// gives it (the groups list, a group fetched to seal a message) and with
// the recipients of every group message it opens: a member who appears or
// disappears unannounced is an event too. An announcement and an
// observation of the same change are one event, with both flags set. The
// Go client (client/members.go) follows the same rules.
import { MEMBER_ADDED, MEMBER_REMOVED, VIA_CLI, VIA_CONSOLE, VIA_SYNC } from "./constants.js";

/** @typedef {import("./types.js").MemberFrame} MemberFrame */
/** @typedef {import("./types.js").MemberEvent} MemberEvent */

export class Members {
  /** @param {any} c the client */
  constructor(c) {
    this.c = c;
    /** @type {Map<string, MemberEvent>} by id */
    this.events = new Map();
  }

  async load() {
    for (const { obj } of await this.c.vault.all("member")) this.events.set(obj.id, obj);
  }

  clear() { this.events.clear(); }

  /**
   * of lists a conversation's membership events, oldest first.
   * @param {string} convId
   * @returns {MemberEvent[]}
   */
  of(convId) {
    return [...this.events.values()].filter((e) => e.conv === convId).sort((a, b) => a.ts - b.ts);
  }

  /**
   * observeList compares a group's complete member list, as the server
   * gave it, with the set last known, before the caller stores the list
   * as conv.members. The first list is only learnt.
   * @param {any} conv
   * @param {number[]} ids
   */
  async observeList(conv, ids) {
    if (conv?.kind !== "group" || !conv.members?.length) return;
    const known = new Set(conv.members);
    const now = new Set(ids);
    const fresh = [];
    for (const u of ids) if (!known.has(u)) fresh.push(this.observed(conv.id, MEMBER_ADDED, u));
    for (const u of known) if (!now.has(u)) fresh.push(this.observed(conv.id, MEMBER_REMOVED, u));
    await this.save(fresh);
  }

  /**
   * observeRecipients compares the users a group message was sealed to with
   * the set last known: whoever can read it and was not known is shown,
   * and joins the set. Members with no device are never among the
   * recipients, so nobody is concluded gone from a message.
   * @param {any} conv
   * @param {number[]} users
   */
  async observeRecipients(conv, users) {
    if (conv?.kind !== "group" || !conv.members?.length) return;
    const known = new Set(conv.members);
    const fresh = [];
    for (const u of new Set(users)) {
      if (known.has(u)) continue;
      conv.members.push(u);
      fresh.push(this.observed(conv.id, MEMBER_ADDED, u));
      if (!this.c.users.has(u)) this.c.learnUser(u);
    }
    await this.save(fresh);
  }

  /**
   * announced takes the server's member frame: it joins an observation of
   * the same change not yet announced, or is a new event; the set last
   * known follows it. The caller acks the frame once this resolves.
   * @param {MemberFrame} f
   */
  async announced(f) {
    if (f.name && !this.c.users.has(f.user)) this.c.rememberUser({ id: f.user, username: "", display: f.name, role: "" });
    let conv = this.c.convs.get(f.conv);
    if (!conv && f.kind === MEMBER_ADDED && f.user === this.c.me.id) {
      // Added to a group this device did not know: it shows in the list
      // now, with its name and members once they are fetched (the first
      // list is only learnt).
      conv = await this.c.ensureConv(f.conv);
      this.c.refreshGroup(conv);
    }
    if (conv?.members?.length) {
      if (f.kind === MEMBER_ADDED && !conv.members.includes(f.user)) conv.members.push(f.user);
      if (f.kind === MEMBER_REMOVED) conv.members = conv.members.filter((/** @type {number} */ u) => u !== f.user);
      await this.c.vault.put("conv", conv.id, conv);
    }
    const same = this.of(f.conv).reverse().find((e) => e.user === f.user && e.kind === f.kind && e.observed && !e.announced);
    /** @type {MemberEvent} */
    const e = {
      id: same ? same.id : `s:${f.seq}`, conv: f.conv, kind: f.kind, user: f.user, name: f.name || "",
      by: f.by || 0, byName: f.by_name || "", via: f.via, ts: f.ts, announced: true, observed: !!same,
    };
    await this.save([e]);
  }

  /**
   * observed is a new event this device saw for itself.
   * @param {string} conv
   * @param {string} kind
   * @param {number} user
   * @returns {MemberEvent}
   */
  observed(conv, kind, user) {
    const ts = this.c.now();
    return { id: `o:${ts}:${user}:${kind}`, conv, kind, user, name: "", by: 0, byName: "", via: "", ts, announced: false, observed: true };
  }

  /** @param {MemberEvent[]} evs */
  async save(evs) {
    if (!evs.length) return;
    for (const e of evs) this.events.set(e.id, e);
    await this.c.vault.putMany(evs.map((e) => ["member", e.id, e]));
    this.c.changed("members", { convs: [...new Set(evs.map((e) => e.conv))] });
  }

  /**
   * sweep deletes the events older than limit, as messages are.
   * @param {number} limit
   */
  async sweep(limit) {
    const gone = [...this.events.values()].filter((e) => e.ts < limit);
    if (!gone.length) return;
    for (const e of gone) this.events.delete(e.id);
    await this.c.vault.putMany(gone.map((e) => ["member", e.id, null]));
  }
}

/**
 * memberText says what happened, in words for the people in the group.
 * @param {any} c the client
 * @param {MemberEvent} e
 * @returns {string}
 */
export function memberText(c, e) {
  const who = e.user === c.me.id ? "you" : c.users.has(e.user) ? c.userName(e.user) : (e.name || c.userName(e.user));
  const Who = who === "you" ? "You" : who;
  const removed = e.kind === MEMBER_REMOVED;
  if (!e.announced) {
    if (e.user === c.me.id) return removed ? "You no longer receive this group's messages" : "You now receive this group's messages";
    return `${who} ${removed ? "no longer receives" : "now receives"} this group's messages`;
  }
  const verb = removed ? "removed" : "added";
  if (e.via === VIA_CONSOLE && e.byName) return `${e.byName} ${verb} ${who}`;
  const by = e.via === VIA_CONSOLE ? "an administrator" : e.via === VIA_SYNC ? "directory sync" : e.via === VIA_CLI ? "the administrator (command line)" : "the server";
  return `${Who} ${who === "you" ? "were" : "was"} ${verb} by ${by}`;
}

/**
 * memberNote is the second line of an event the server did not announce:
 * why the reader should look at it.
 * @param {MemberEvent} e
 * @returns {string}
 */
export function memberNote(e) {
  return e.announced ? "" : "Seen by this device; the server did not announce this change. Ask your administrator if you did not expect it.";
}
