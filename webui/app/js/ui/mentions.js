// @ts-check
// @mentions in a group: typing "@" in the composer offers the group's
// members; a pick writes "@Their Name" into the text. What is sent names
// the mentioned users by id, inside the encrypted body, and their apps
// alert them even where they muted the conversation.
import { MAX_MENTIONS } from "../body.js";
import { fill, h } from "./dom.js";

/** The most names the picker lists at once. */
const PICK_MAX = 8;

/**
 * members lists the group's other members with the names shown for them.
 * @param {any} ui
 * @param {any} conv
 * @returns {{id: number, name: string, username: string}[]}
 */
function members(ui, conv) {
  const c = ui.c;
  return (conv.members || []).filter((u) => u !== c.me.id).map((u) => ({ id: u, name: c.userName(u), username: c.users.get(u)?.username || "" }));
}

/**
 * mentionsIn returns the ids of the group's members the text names with
 * "@Name", at most MAX_MENTIONS.
 * @param {any} ui
 * @param {any} conv
 * @param {string} text
 * @returns {number[]}
 */
export function mentionsIn(ui, conv, text) {
  if (conv.kind !== "group") return [];
  return members(ui, conv).filter((m) => text.includes("@" + m.name)).map((m) => m.id).slice(0, MAX_MENTIONS);
}

/**
 * mentionPicker attaches the picker to a group's composer textarea and
 * returns its list element (to place above the text), or null outside a
 * group.
 * @param {any} ui
 * @param {any} conv
 * @param {HTMLTextAreaElement} ta
 */
export function mentionPicker(ui, conv, ta) {
  if (conv.kind !== "group") return null;
  const list = h("ul.mention-list", { role: "listbox", "aria-label": "Mention someone", hidden: true, id: `mentions-${conv.id}` });
  let items = [], sel = 0, start = -1;
  const close = () => { list.hidden = true; items = []; start = -1; ta.removeAttribute("aria-activedescendant"); };
  const pick = (m) => {
    const end = ta.selectionStart;
    ta.value = ta.value.slice(0, start) + "@" + m.name + " " + ta.value.slice(end);
    const at = start + m.name.length + 2;
    close();
    ta.setSelectionRange(at, at);
    ta.dispatchEvent(new Event("input"));
    ta.focus();
  };
  const draw = () => {
    fill(list, items.map((m, i) => h("li", { role: "option", id: `mention-opt-${i}`, "aria-selected": i === sel ? "true" : "false", class: i === sel ? "active" : "",
      onmousedown: (e) => { e.preventDefault(); pick(m); } }, m.name, m.username ? h("span.muted", ` @${m.username}`) : null)));
    list.hidden = !items.length;
    if (items.length) ta.setAttribute("aria-activedescendant", `mention-opt-${sel}`);
  };
  ta.setAttribute("aria-controls", list.id);
  ta.addEventListener("input", () => {
    const before = ta.value.slice(0, ta.selectionStart);
    const m = /(^|\s)@([^\s@]{0,30})$/.exec(before);
    if (!m) { close(); return; }
    start = before.length - m[2].length - 1;
    const q = m[2].toLowerCase();
    items = members(ui, conv).filter((x) => !q || x.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(q)) || x.username.toLowerCase().startsWith(q)).slice(0, PICK_MAX);
    sel = 0;
    draw();
  });
  // Capture, so that Enter picks a name rather than sending the message.
  ta.addEventListener("keydown", (e) => {
    if (list.hidden || !items.length) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") { sel = (sel + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length; draw(); }
    else if (e.key === "Enter" || e.key === "Tab") pick(items[sel]);
    else if (e.key === "Escape") close();
    else return;
    e.preventDefault();
    e.stopImmediatePropagation();
  }, true);
  ta.addEventListener("blur", () => setTimeout(close, 150));
  return list;
}
