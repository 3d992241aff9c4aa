// @ts-check
// The conversations and the decrypted messages of an unlocked device, in
// memory (and in the vault): the list with unread counts, titles, the
// recipients of each kind of conversation, and the local search.
import { api, ApiError } from "./api.js";
import { b64url, randomBytes } from "./bytes.js";
import { directConv, parseConv } from "./conv.js";
import { Directory } from "./directory.js";
import { Members } from "./members.js";

export class Conversations extends Directory {
  constructor(opts) {
    super(opts);
    this.msgs = new Map(); // id → message
    this.convs = new Map(); // id → conversation
    this.members = new Members(this); // group membership events
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

  /**
   * refreshGroup fetches a group's name and members in the background and
   * stores them on conv, comparing the members with those it knew.
   * @param {any} conv
   */
  refreshGroup(conv) {
    api.group(parseConv(conv.id).group).then(async ({ group }) => {
      for (const u of group.members) this.rememberUser(u);
      await this.members.observeList(conv, group.members.map((u) => u.id));
      conv.name = group.name;
      conv.members = group.members.map((u) => u.id);
      await this.vault?.put("conv", conv.id, conv);
      this.changed("convs");
    }).catch(() => {});
  }

  /** recipientsOf returns the users (other than me) a message in conv goes to. */
  async recipientsOf(conv) {
    const p = parseConv(conv.id);
    if (p.kind === "direct") return [p.a === this.me.id ? p.b : p.a];
    if (p.kind === "group") {
      try {
        const { group } = await api.group(p.group);
        for (const m of group.members) this.rememberUser(m);
        await this.members.observeList(conv, group.members.map((m) => m.id));
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
}
