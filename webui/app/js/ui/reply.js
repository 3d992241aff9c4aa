// @ts-check
// Replying with a quote: the "Reply" button of a message, the bar above
// the composer naming what is answered, and the quote a reply shows. A
// tap on the quote scrolls to the original while it is still on this
// device. The quote travels inside the encrypted body (body.js).
import { quoteOf } from "../body.js";
import { fill, h, icon, toast } from "./dom.js";

/** @typedef {import("../types.js").Message} Message */

/**
 * jumpTo scrolls the open conversation to a message and marks it for a
 * moment; it reports whether the message is shown.
 * @param {any} ui
 * @param {string} id
 */
export function jumpTo(ui, id) {
  const el = ui.msgBox?.querySelector(`.msg[data-id="${CSS.escape(id)}"]`);
  if (!el) return false;
  ui.stick = false;
  el.scrollIntoView({ block: "center" });
  el.classList.remove("highlight");
  void el.offsetWidth; // restart the animation
  el.classList.add("highlight");
  return true;
}

/**
 * quoteBlock is what a reply shows of the message it answers.
 * @param {any} ui
 * @param {Message} m the reply
 */
export function quoteBlock(ui, m) {
  if (!m.replyTo || !m.quote) return null;
  const name = m.quote.from === ui.c.me.id ? "You" : ui.c.userName(m.quote.from);
  return h("button.quote", { type: "button", "aria-label": `Reply to ${name}: ${m.quote.text}. Show the original`, dataset: { replyTo: m.replyTo },
    onclick: () => { if (!jumpTo(ui, m.replyTo)) toast("The original message is no longer on this device."); } },
  h("span.quote-from", name), h("span.quote-text", m.quote.text));
}

/**
 * replyButton is a message's Reply button.
 * @param {any} ui
 * @param {Message} m
 */
export function replyButton(ui, m) {
  if (m.recalled || (m.out && m.status !== "sent")) return null;
  return h("button.icon-btn.small.msg-reply", { type: "button", "aria-label": "Reply", title: "Reply", onclick: () => startReply(ui, m.id) }, icon("reply"));
}

/**
 * replyBar is the composer's "Replying to" bar, empty until Reply is used.
 * @param {any} ui
 */
export function replyBar(ui) {
  ui.replying = null;
  ui.replyBar = h("div.reply-bar", { hidden: true });
  return ui.replyBar;
}

/**
 * startReply makes the next message a reply to the message id.
 * @param {any} ui
 * @param {string} id
 */
export function startReply(ui, id) {
  const m = ui.c.msgs.get(id);
  if (!m || !ui.replyBar) return;
  ui.replying = id;
  const q = quoteOf(m);
  fill(ui.replyBar, icon("reply"),
    h("span.reply-what", h("span.quote-from", `Replying to ${q.from === ui.c.me.id ? "yourself" : ui.c.userName(q.from)}`), h("span.quote-text", q.text)),
    h("button.icon-btn.small", { type: "button", "aria-label": "Cancel the reply", onclick: () => cancelReply(ui) }, icon("close")));
  ui.replyBar.hidden = false;
  ui.composer?.querySelector("textarea")?.focus();
}

/** cancelReply makes the next message a plain one again. */
export function cancelReply(ui) {
  ui.replying = null;
  if (ui.replyBar) { fill(ui.replyBar); ui.replyBar.hidden = true; }
}

/**
 * takeReply returns what the message being sent answers, and clears it.
 * @param {any} ui
 * @returns {{replyTo: string, quote: import("../types.js").Quote | null}}
 */
export function takeReply(ui) {
  const m = ui.replying && ui.c.msgs.get(ui.replying);
  cancelReply(ui);
  return m ? { replyTo: m.id, quote: quoteOf(m) } : { replyTo: "", quote: null };
}
