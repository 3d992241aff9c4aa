// @ts-check
// A conversation printed (or saved as a PDF) is a record: a header with the
// practice's name when the server gives one, the conversation, its
// participants, the dates its messages span and the time of printing; and
// for each message its sender, full time, urgency, receipts and
// acknowledgements (drawn by conversation.js as print-only lines). Page
// numbers come from the CSS @page margin boxes in app.css, which Chromium
// fills in both the browser's print dialog and a PDF it saves.
//
// The header is filled when the browser is about to print ("beforeprint",
// fired by the print button, Ctrl+P and the browser's menu alike), so
// "Printed" is the time of printing, not of opening the conversation.
import { fill, fmtFull, h } from "./dom.js";

/**
 * The open conversation's header filler; one conversation is open at a
 * time. It holds the view and the header weakly: a locked app drops its
 * decrypted state, and a module-level reference must not keep it alive.
 * @type {null | (() => void)}
 */
let current = null;
window.addEventListener("beforeprint", () => current?.());

/**
 * setPrintHead makes el the print header of the conversation ui shows, and
 * fills it now and again whenever the browser prints.
 * @param {any} ui
 * @param {HTMLElement} el
 */
export function setPrintHead(ui, el) {
  const uiRef = new WeakRef(ui), elRef = new WeakRef(el);
  current = () => {
    const u = uiRef.deref(), e = elRef.deref();
    if (u && e) fillPrintHead(u, e);
  };
  current();
}

/**
 * fillPrintHead writes the header of the open conversation into el.
 * @param {any} ui
 * @param {HTMLElement} el
 */
export function fillPrintHead(ui, el) {
  const c = ui.c;
  const conv = c?.convs.get(ui.convId);
  if (!conv || !el.isConnected) return;
  const msgs = c.messagesOf(conv.id).filter((m) => !m.hidden);
  const times = msgs.map((m) => m.sent || m.created);
  const people = [...new Set([c.me.id, ...(conv.members || [])])].map((u) => u === c.me.id ? `${c.userName(u)} (printed by)` : c.userName(u));
  const practice = c.config?.practice;
  fill(el,
    practice ? h("p.print-practice", { dir: "auto" }, practice) : null,
    h("h1", c.title(conv)),
    h("p.print-people", `Participants: ${people.join(", ")}`),
    h("p.print-range", times.length ? `Messages from ${fmtFull(Math.min(...times))} to ${fmtFull(Math.max(...times))} (${msgs.length} ${msgs.length === 1 ? "message" : "messages"})` : "No messages."),
    h("p.print-printed", `Printed ${fmtFull(Date.now())} by ${c.me.display || c.me.username} from Curbside. Messages are end-to-end encrypted; this copy is not.`));
}

/** printConversation prints the open conversation (the header is filled on beforeprint). */
export function printConversation() { window.print(); }
