// @ts-check
// "Nurse Ben is typing…" under the open conversation's messages. It is
// redrawn by itself when a typing frame comes or lapses, without
// re-rendering the messages.
import { fill, h } from "./dom.js";

/** typingLine is the line's element, for the open conversation. */
export function typingLine(ui) {
  ui.typingLine = h("div.typing-line", { "aria-live": "polite" });
  return ui.typingLine;
}

/** renderTyping fills the line with who is typing in the open conversation. */
export function renderTyping(ui) {
  if (!ui.typingLine || !ui.c || !ui.convId) return;
  const names = ui.c.typing.who(ui.convId).map((u) => ui.c.userName(u));
  const text = !names.length ? "" : names.length === 1 ? `${names[0]} is typing…`
    : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : `${names.length} people are typing…`;
  fill(ui.typingLine, text ? h("span", h("span.typing-dots", { "aria-hidden": "true" }, h("i"), h("i"), h("i")), " ", text) : null);
}
