// @ts-check
// The "new messages" divider: a conversation opened with unread messages
// shows a line above the first of them and opens there, not at the
// bottom. The divider stays where it is while the conversation is open.
import { h } from "./dom.js";

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
