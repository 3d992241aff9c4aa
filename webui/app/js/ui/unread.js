// @ts-check
// The "new messages" divider: a conversation opened with unread messages
// shows a line above the first of them and opens there, not at the
// bottom. The divider stays where it is while the conversation is open.
//
// The jump to new messages: while the reader is scrolled back, a message
// that arrives does not move the view, so a button at the foot of the
// messages counts what came in below ("2 new messages") and goes to the
// first of them, saying when some are urgent. It goes once the reader is
// back at the newest message.
// Until then those messages are not marked read: their senders see
// "Read" only once the reader had them in view (or went to them).
import { FLAG_URGENT } from "../constants.js";
import { fill, h, icon } from "./dom.js";

/**
 * markUnread remembers, as the conversation opens (before anything is
 * marked read), where its unread messages begin and how many there are.
 * @param {any} ui
 * @param {string} convId
 */
export function markUnread(ui, convId) {
  const unread = ui.c.messagesOf(convId).filter((m) => !m.out && !m.read && !m.recalled && !m.hidden);
  ui.unreadFrom = unread[0]?.id || null;
  ui.unreadCount = unread.length;
}

/**
 * unreadDivider is the divider to put before message m, or null.
 * @param {any} ui
 * @param {import("../types.js").Message} m
 */
export function unreadDivider(ui, m) {
  if (!ui.unreadFrom || m.id !== ui.unreadFrom) return null;
  const n = ui.unreadCount;
  return h("div.unread-divider", { role: "separator", "aria-label": `${n} new ${n === 1 ? "message" : "messages"}` },
    h("span", `${n} new ${n === 1 ? "message" : "messages"}`));
}

/**
 * jumpToUnread scrolls a newly opened conversation to its divider, and
 * reports whether there was one.
 * @param {any} ui
 */
export function jumpToUnread(ui) {
  const el = ui.msgBox?.querySelector(".unread-divider");
  if (!el) return false;
  el.scrollIntoView({ block: "start" });
  // Where the newest message is in view too (a few unread that fit), keep
  // following new ones: nothing scrolled, so no scroll event would say so,
  // and the conversation would stay put as messages pile up below.
  const box = ui.msgBox;
  ui.stick = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  return true;
}

/**
 * jumpBar is the place of the jump-to-new-messages button, kept at the
 * foot of the messages' view (position: sticky) while the list scrolls.
 * It is put in the view once, after the list that renders replace.
 * @param {any} ui
 */
export function jumpBar(ui) {
  /** @type {Set<string>} messages the reader had in view or scrolled past */
  ui.seen = new Set();
  ui.jumpBtn = h("button.jump-new", { type: "button", hidden: true, onclick: () => jumpToNew(ui) });
  return h("div.jump-bar", ui.jumpBtn);
}

/**
 * updateJump counts the messages that arrived below the reader and shows
 * or hides the button. At the bottom (or when the conversation opens,
 * where the divider marks what is new) every message counts as seen.
 * @param {any} ui
 * @param {import("../types.js").Message[]} msgs the conversation's shown messages, oldest first
 * @param {boolean} atBottom
 */
export function updateJump(ui, msgs, atBottom) {
  if (!ui.jumpBtn) return;
  if (atBottom) for (const m of msgs) ui.seen.add(m.id);
  const fresh = msgs.filter((m) => !m.out && !m.recalled && !ui.seen.has(m.id));
  ui.newBelow = fresh[0]?.id || null;
  /** @type {Set<string> | null} what is not to be marked read yet */
  ui.unseen = fresh.length ? new Set(fresh.map((m) => m.id)) : null;
  ui.jumpBtn.hidden = !fresh.length;
  if (!fresh.length) return;
  const n = fresh.length, urgent = fresh.filter((m) => m.flags & FLAG_URGENT).length;
  const words = `${n} new ${n === 1 ? "message" : "messages"}` + (!urgent ? "" : urgent === n ? (n === 1 ? ", urgent" : ", all urgent") : `, ${urgent} urgent`);
  ui.jumpBtn.classList.toggle("urgent", urgent > 0);
  fill(ui.jumpBtn, icon("down"), h("span", words));
  ui.jumpBtn.setAttribute("aria-label", `${words} below: go to the first`);
}

/**
 * reachedBottom is told when the reader scrolls to the newest message:
 * all is seen, and the button goes.
 * @param {any} ui
 */
export function reachedBottom(ui) {
  if (!ui.jumpBtn || ui.jumpBtn.hidden) return;
  updateJump(ui, ui.c.messagesOf(ui.convId).filter((m) => !m.hidden), true);
  if (document.visibilityState === "visible") ui.c.markRead(ui.convId);
}

/**
 * jumpToNew scrolls to the first message that arrived below the reader;
 * from there on the view follows new messages again if the newest is in
 * view.
 * @param {any} ui
 */
function jumpToNew(ui) {
  const box = ui.msgBox;
  const el = ui.newBelow && box?.querySelector(`.msg[data-id="${CSS.escape(ui.newBelow)}"]`);
  if (el) el.scrollIntoView({ block: "start" });
  else if (box) box.scrollTop = box.scrollHeight;
  updateJump(ui, ui.c.messagesOf(ui.convId).filter((m) => !m.hidden), true);
  if (box) ui.stick = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  ui.c.markRead(ui.convId);
}
