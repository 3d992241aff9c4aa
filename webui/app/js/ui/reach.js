// @ts-check
// Who a conversation reaches: the note above the messages when someone in
// it cannot receive (no device yet, or an account switched off), the group
// info view with every member and whether they can receive, and the
// sentence of a message's details that says who read it and who it did not
// reach ("Read by Ana Diaz; not delivered to Dan Ito: no device yet").
// Everything here is read from the keys this device fetched and from the
// receipts it holds: nothing about a message goes to the server.
import { CODE_NO_DEVICE, CODE_RECIPIENT_INACTIVE } from "../constants.js";
import { audience, roleName } from "./common.js";
import { avatarClass, dialog, fill, fmtFull, h, icon, initials } from "./dom.js";
import { memberNote, memberText } from "../members.js";

/** SHORT words a reason in a list or a sentence. */
const SHORT = { [CODE_NO_DEVICE]: "no device yet", [CODE_RECIPIENT_INACTIVE]: "account switched off" };

/**
 * shortReason names why someone cannot receive, in a few words.
 * @param {string} code CODE_* of constants.js
 */
export function shortReason(code) { return SHORT[code] || "cannot receive"; }

/**
 * cannotReceive lists the users of conv's audience who cannot receive
 * messages now, with why, from the keys last fetched.
 * @param {any} c the client
 * @param {any} conv
 * @returns {Array<[number, string]>}
 */
export function cannotReceive(c, conv) {
  /** @type {Array<[number, string]>} */
  const out = [];
  for (const u of audience(c, conv)) {
    const code = c.unreachable(u);
    if (code) out.push([u, code]);
  }
  return out;
}

/**
 * renderReachNote fills el with a note when someone in the conversation
 * cannot receive what is sent in it, and empties it otherwise.
 * @param {any} ui
 * @param {any} conv
 * @param {HTMLElement} el
 */
export function renderReachNote(ui, conv, el) {
  const c = ui.c;
  const who = cannotReceive(c, conv);
  if (!who.length) { fill(el); return; }
  const all = who.length >= audience(c, conv).length;
  const lead = conv.kind === "direct" ? "Messages here cannot reach them now." : all ? "Nobody here can receive messages now." : "Messages here do not reach everyone.";
  fill(el, h("div.banner.warn.reach-note", { role: "status" }, icon("alert"),
    h("span", ` ${lead} ${c.cannotReceiveText(who)}`),
    conv.kind === "group" ? h("span.banner-actions", h("button.link", { type: "button", onclick: () => groupInfoDialog(ui, conv) }, "Group info")) : null));
}

/**
 * groupInfoDialog lists a group's members, each with whether they can
 * receive messages (an active device) and, if not, why. The members and
 * their keys are fetched afresh when it opens.
 * @param {any} ui
 * @param {any} conv
 */
export function groupInfoDialog(ui, conv) {
  const c = ui.c;
  const list = h("ul.member-list", { "aria-label": "Members" });
  const summary = h("p.hint", { role: "status" }, "Checking who can receive…");
  const draw = () => {
    const members = [...conv.members].sort((a, b) => (a === c.me.id ? -1 : b === c.me.id ? 1 : c.userName(a).localeCompare(c.userName(b))));
    let can = 0;
    fill(list, members.map((u) => {
      const user = c.users.get(u);
      const code = u === c.me.id ? "" : c.unreachable(u);
      const known = u === c.me.id || c.peers.has(u);
      if (u !== c.me.id && known && !code) can++;
      const state = u === c.me.id ? "You" : !known ? "Checking…" : code ? `Cannot receive: ${shortReason(code)}` : "Can receive";
      return h("li.member" + (code ? ".cannot" : ""), { dataset: { user: u, state: code || (known ? "ok" : "unknown") } },
        h("span.avatar.small." + avatarClass(u), { "aria-hidden": "true" }, initials(c.userName(u))),
        h("span.member-text", h("span.member-name", c.userName(u)), user?.role ? h("span.muted", ` · ${roleName(user.role)}`) : null),
        h("span.member-state", code ? icon("alert") : null, " ", state));
    }));
    const others = members.length - 1;
    summary.textContent = `${members.length} members. ${can} of ${others} others can receive messages${can < others ? "; the others get nothing sent here until they can." : "."}`;
  };
  // The membership changes this device knows of, newest first.
  const changes = c.members.of(conv.id).reverse();
  const history = changes.length ? [h("h3.member-changes-head", "Changes to the members"),
    h("ul.member-changes", { "aria-label": "Changes to the members" }, changes.map((e) => h("li.member-change" + (e.announced ? "" : ".unannounced"),
      { dataset: { member: e.kind, user: e.user, announced: String(e.announced) } },
      e.announced ? null : icon("alert"), h("span", { dir: "auto" }, ` ${memberText(c, e)}`), h("span.muted", ` · ${fmtFull(e.ts)}`),
      e.announced ? null : h("p.sys-note", memberNote(e)))))] : [];
  dialog(`${c.title(conv)}: members`, [summary, list,
    h("p.hint", "Someone can receive once they have signed in on a device. A person whose account is switched off receives nothing until an administrator switches it on."),
    ...history], { wide: true });
  draw();
  c.recipientsOf(conv).then((users) => Promise.all(users.map((u) => c.lookup(u, true).catch(() => {}))))
    .catch(() => {}).then(() => { if (list.isConnected) draw(); });
}

/**
 * heldReceipts lists the recipients of m, a message of mine in conv, each
 * with the receipts this device holds from them.
 * @param {any} c the client
 * @param {any} conv
 * @param {any} m
 * @returns {Array<{user: number, delivered?: number, read?: number, acknowledged?: number}>}
 */
export function heldReceipts(c, conv, m) {
  return (conv ? audience(c, conv) : []).map((u) => ({ user: u, ...(m.receipts?.[u] || {}) }));
}

/**
 * receiptSummary says in one sentence who read a message of mine, who has
 * it, who does not have it yet, and who it was never sent to and why.
 * @param {any} c the client
 * @param {any} m the message
 * @param {Array<{user: number, delivered?: number, read?: number, acknowledged?: number}>} recips its recipients' receipts
 * @param {boolean} [times] name each receipt's full time too (a printout is a record)
 * @returns {string}
 */
export function receiptSummary(c, m, recips, times = false) {
  /** @param {any[]} xs @param {"acknowledged" | "read" | "delivered" | ""} [at] */
  const names = (xs, at = "") => xs.map((r) => c.userName(r.user) + (times && at && r[at] ? ` (${fmtFull(r[at])})` : "")).join(", ");
  const left = new Map((m.left || []).map(([u, code]) => [u, code]));
  const sent = recips.filter((r) => !left.has(r.user));
  const parts = [];
  const acked = sent.filter((r) => r.acknowledged);
  const read = sent.filter((r) => r.read && !r.acknowledged);
  const delivered = sent.filter((r) => r.delivered && !r.read && !r.acknowledged);
  const waiting = sent.filter((r) => !r.delivered && !r.read && !r.acknowledged);
  if (acked.length) parts.push(`acknowledged by ${names(acked, "acknowledged")}`);
  if (read.length) parts.push(`read by ${names(read, "read")}`);
  if (delivered.length) parts.push(`delivered to ${names(delivered, "delivered")}, not read yet`);
  if (waiting.length) parts.push(`not delivered yet to ${names(waiting)}`);
  for (const [u, code] of left) parts.push(`not delivered to ${c.userName(u)}: ${shortReason(code)}`);
  if (!parts.length) return "";
  const s = parts.join("; ");
  return s[0].toUpperCase() + s.slice(1) + ".";
}
