// @ts-check
// A few DOM helpers. No framework: the app is small, and every line of
// third-party code in a medical messenger is one more thing to audit.
// Text always goes in through textContent (never innerHTML), so message
// text cannot inject markup.

/**
 * h builds an element: h("button.primary", {onclick, "aria-label": "…"}, "text", child…).
 * The element is typed any: it is whichever element the selector names.
 * @param {string} sel tag, then classes after dots
 * @param {any} [attrs]
 * @param {...any} children
 * @returns {any}
 */
export function h(sel, attrs, ...children) {
  if (attrs == null || typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs)) {
    if (attrs != null) children.unshift(attrs);
    attrs = {};
  }
  const [tag, ...classes] = sel.split(".");
  /** @type {any} */
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  // What people type may be right to left (Arabic, Hebrew): every text
  // field takes the direction of its own content unless told otherwise.
  if ((el.tagName === "TEXTAREA" || el.tagName === "INPUT") && !("dir" in attrs)) el.dir = "auto";
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className += (el.className ? " " : "") + v;
    else if (k === "value") el.value = v;
    else if (k === "checked" || k === "disabled" || k === "selected" || k === "hidden" || k === "multiple" || k === "required" || k === "autofocus") el[k] = !!v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** replace swaps an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const SVG = "http://www.w3.org/2000/svg";

// Icon paths (24×24, stroke). Drawn here rather than loaded: no request, no
// inline style, and they inherit the text colour.
const ICONS = {
  back: "M15 18l-6-6 6-6",
  send: "M4 12l16-8-6 16-3-7-7-1z",
  attach: "M21 11l-8.5 8.5a5 5 0 01-7-7L14 4a3.5 3.5 0 015 5l-8.5 8.5a2 2 0 01-3-3L15 7",
  plus: "M12 5v14M5 12h14",
  search: "M11 18a7 7 0 110-14 7 7 0 010 14zM21 21l-5-5",
  settings: "M12 15a3 3 0 100-6 3 3 0 000 6zM19.4 15a1.7 1.7 0 00.3 1.8l.1.1a2 2 0 11-2.8 2.8l-.1-.1a1.7 1.7 0 00-1.8-.3 1.7 1.7 0 00-1 1.5V21a2 2 0 11-4 0v-.1a1.7 1.7 0 00-1.1-1.5 1.7 1.7 0 00-1.8.3l-.1.1a2 2 0 11-2.8-2.8l.1-.1a1.7 1.7 0 00.3-1.8 1.7 1.7 0 00-1.5-1H3a2 2 0 110-4h.1a1.7 1.7 0 001.5-1.1 1.7 1.7 0 00-.3-1.8l-.1-.1a2 2 0 112.8-2.8l.1.1a1.7 1.7 0 001.8.3H9a1.7 1.7 0 001-1.5V3a2 2 0 114 0v.1a1.7 1.7 0 001 1.5 1.7 1.7 0 001.8-.3l.1-.1a2 2 0 112.8 2.8l-.1.1a1.7 1.7 0 00-.3 1.8V9a1.7 1.7 0 001.5 1H21a2 2 0 110 4h-.1a1.7 1.7 0 00-1.5 1z",
  lock: "M6 11h12v10H6zM8 11V7a4 4 0 018 0v4",
  check: "M5 12l5 5L20 7",
  checks: "M2 12l5 5L17 7M12 16l1 1L23 7",
  clock: "M12 21a9 9 0 110-18 9 9 0 010 18zM12 7v5l3 2",
  alert: "M12 3l10 18H2L12 3zM12 10v5M12 18v.5",
  more: "M12 6v.5M12 12v.5M12 18v.5",
  close: "M6 6l12 12M18 6L6 18",
  shield: "M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6l8-3z",
  print: "M6 9V3h12v6M6 18H4v-7h16v7h-2M8 14h8v7H8z",
  bell: "M6 16V11a6 6 0 0112 0v5l2 2H4l2-2zM10 20a2 2 0 004 0",
  file: "M14 3H6v18h12V7l-4-4zM14 3v4h4",
  forward: "M14 5l7 7-7 7M21 12H9a6 6 0 00-6 6",
  user: "M12 12a4 4 0 100-8 4 4 0 000 8zM4 21a8 8 0 0116 0",
  users: "M9 11a4 4 0 100-8 4 4 0 000 8zM2 21a7 7 0 0114 0M16 4a4 4 0 010 7M22 21a7 7 0 00-5-6.7",
  megaphone: "M3 10v4h3l7 5V5L6 10H3zM17 9a4 4 0 010 6",
  wifioff: "M2 2l20 20M8.5 16.5a5 5 0 017 0M5 13a10 10 0 015.2-2.8M19 13a10 10 0 00-2.5-1.8M12 20h.01",
  reply: "M10 8L4 13l6 5M4 13h10a6 6 0 016 6",
  mic: "M12 3a3 3 0 00-3 3v6a3 3 0 006 0V6a3 3 0 00-3-3zM5 11a7 7 0 0014 0M12 18v3",
  camera: "M3 8h4l2-3h6l2 3h4v11H3zM12 17a4 4 0 100-8 4 4 0 000 8z",
  belloff: "M6 16V11a6 6 0 019-5.2M18 11v5l2 2H4M10 20a2 2 0 004 0M3 3l18 18",
  up: "M6 15l6-6 6 6",
  down: "M6 9l6 6 6-6",
};

export function icon(name, label) {
  const s = document.createElementNS(SVG, "svg");
  s.setAttribute("viewBox", "0 0 24 24");
  s.setAttribute("class", "icon");
  s.setAttribute("fill", "none");
  s.setAttribute("stroke", "currentColor");
  s.setAttribute("stroke-width", "2");
  s.setAttribute("stroke-linecap", "round");
  s.setAttribute("stroke-linejoin", "round");
  if (label) { s.setAttribute("role", "img"); s.setAttribute("aria-label", label); } else s.setAttribute("aria-hidden", "true");
  const p = document.createElementNS(SVG, "path");
  p.setAttribute("d", ICONS[name] || "");
  s.append(p);
  return s;
}

/** initials for an avatar: "Alice Adams" → "AA". */
export function initials(name) {
  const parts = String(name || "?").trim().split(/\s+/).filter(Boolean);
  return ((parts[0]?.[0] || "?") + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
}

/** avatarHue picks one of 8 calm colours from a user id (a CSS class, not a style attribute). */
export const avatarClass = (id) => `hue${Math.abs(Number(id) || 0) % 8}`;

export function fmtTime(ts) {
  if (!ts) return "";
  const d = new Date(ts);
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  const t = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (sameDay) return t;
  const y = new Date(now); y.setDate(now.getDate() - 1);
  if (d.toDateString() === y.toDateString()) return `Yesterday ${t}`;
  return `${d.toLocaleDateString([], { month: "short", day: "numeric" })} ${t}`;
}

/** fmtFull is an unambiguous timestamp for details and printouts. */
export function fmtFull(ts) {
  if (!ts) return "—";
  const d = new Date(ts);
  return `${d.toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" })} ${d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })}`;
}

/**
 * dialog opens a modal <dialog> (focus is trapped and Escape closes it natively).
 * @param {string} title
 * @param {any} body
 * @param {{actions?: any[], onclose?: () => void, wide?: boolean}} [opts]
 * @returns {HTMLDialogElement}
 */
export function dialog(title, body, { actions = [], onclose, wide = false } = {}) {
  const id = "dlg-" + Math.random().toString(36).slice(2);
  const d = h("dialog.dialog" + (wide ? ".wide" : ""), { "aria-labelledby": id },
    h("header.dialog-head", h("h2", { id }, title),
      h("button.icon-btn", { type: "button", "aria-label": "Close", onclick: () => d.close() }, icon("close"))),
    h("div.dialog-body", body),
    actions.length ? h("footer.dialog-actions", actions) : null);
  d.addEventListener("close", () => {
    if (toastBox && d.contains(toastBox)) document.body.append(toastBox); // the toasts outlive the dialog
    d.remove();
    homeToasts();
    onclose?.();
  });
  document.body.append(d);
  d.showModal();
  homeToasts();
  return d;
}

/**
 * confirmDialog asks a yes/no question in the app's own modal (never the
 * browser's confirm(), which a phone shows as a bare system box and some
 * browsers suppress); it resolves true on yes.
 * @param {string} title
 * @param {any} body
 * @param {{yes?: string, danger?: boolean}} [opts]
 * @returns {Promise<boolean>}
 */
export function confirmDialog(title, body, { yes = "Confirm", danger = false } = {}) {
  return new Promise((resolve) => {
    let answer = false;
    const d = dialog(title, body, {
      actions: [
        h("button.secondary", { type: "button", onclick: () => d.close() }, "Cancel"),
        h(danger ? "button.danger" : "button.primary", { type: "button", onclick: () => { answer = true; d.close(); } }, yes),
      ],
      onclose: () => resolve(answer),
    });
  });
}

let toastBox;
const toastTimers = new Set();

/**
 * homeToasts keeps the toasts where they can be read and dismissed: in
 * the topmost open dialog while one is open (a modal dialog makes the rest
 * of the page inert, so a toast outside it could not be closed and would
 * sit under its backdrop), else in the page. Moving the box keeps its toasts.
 */
function homeToasts() {
  if (!toastBox) return;
  const open = document.querySelectorAll("dialog[open]");
  const host = open.length ? open[open.length - 1] : document.body;
  if (toastBox.parentNode !== host) host.append(toastBox);
}
/**
 * toast shows a short, polite status message; action is {label, run}. A
 * toast with a key replaces the one shown with the same key, so a burst
 * (messages arriving) shows the newest alone rather than a stack over
 * the page. about names what the toast is about (a conversation's id),
 * for dismissToasts.
 * @param {string} text
 * @param {{action?: {label: string, run: () => void}, kind?: string, timeout?: number, key?: string, about?: string}} [opts]
 */
export function toast(text, { action, kind = "info", timeout = 6000, key = "", about = "" } = {}) {
  if (!toastBox) { toastBox = h("div.toasts", { role: "status", "aria-live": "polite" }); document.body.append(toastBox); }
  homeToasts();
  if (key) for (const old of toastBox.querySelectorAll(`[data-key="${CSS.escape(key)}"]`)) old.remove();
  const t = h("div.toast." + kind, { "data-key": key || null, "data-about": about || null }, h("span", text),
    action ? h("button.link", { type: "button", onclick: () => { t.remove(); action.run(); } }, action.label) : null,
    h("button.icon-btn.small", { type: "button", "aria-label": "Dismiss", onclick: () => t.remove() }, icon("close")));
  toastBox.append(t);
  if (timeout) toastTimers.add(setTimeout(() => t.remove(), timeout));
  return t;
}

/** dismissToasts removes the toasts about one thing (a conversation just opened: its banner has done its work). */
export function dismissToasts(about) {
  if (toastBox && about) for (const t of toastBox.querySelectorAll(`[data-about="${CSS.escape(about)}"]`)) t.remove();
}

/** clearToasts removes every toast (at lock: a toast may name a sender). */
export function clearToasts() {
  for (const t of toastTimers) clearTimeout(t);
  toastTimers.clear();
  if (toastBox) toastBox.replaceChildren();
}
