// @ts-check
// Building blocks of the console's pages: headings, fields with their own
// error line, tables, confirmations, copy and download. Text goes in only
// through textContent (the dom.js helpers), never as markup.
import { confirmDialog, dialog, fill, h, icon, toast } from "../js/ui/dom.js";
import { admin } from "./api.js";
import { LEVEL_ADMIN, LEVEL_HELPDESK, LEVEL_NONE, LEVEL_OWNER, LEVEL_RANK, ROLE_ADMIN, ROLE_EXTERNAL, ROLE_PATIENT, ROLE_STAFF, STATE_ACTIVE, STATE_DISABLED, STATE_LOCKED } from "../js/constants.js";

export { dialog, fill, h, icon, toast };

/** LEVELS are the admin levels in rank order; "" is none. */
export const LEVELS = [[LEVEL_NONE, "None"], [LEVEL_HELPDESK, "Helpdesk"], [LEVEL_ADMIN, "Admin"], [LEVEL_OWNER, "Owner"]];
export const ROLES = [[ROLE_STAFF, "Staff"], [ROLE_ADMIN, "Practice admin"], [ROLE_EXTERNAL, "External"], [ROLE_PATIENT, "Patient"]];
export const STATES = [[STATE_ACTIVE, "Active"], [STATE_LOCKED, "Locked"], [STATE_DISABLED, "Disabled"]];

/** rank orders admin levels: helpdesk < admin < owner. */
export const rank = (level) => LEVEL_RANK[level || LEVEL_NONE] ?? 0;

export function labelOf(list, v) { return (list.find(([k]) => k === v) || [v, v || "—"])[1]; }

let uid = 0;
/** nextId gives a unique element id for label/aria wiring. */
export const nextId = (p = "c") => `${p}-${++uid}`;

/**
 * field wraps an input with its label, an optional hint and an error line
 * that names the problem next to the field (aria-describedby ties both).
 */
export function field(label, input, hint) {
  const id = input.id || (input.id = nextId("f"));
  const err = h("p.field-error", { id: id + "-err", role: "alert" });
  const hintEl = hint ? h("p.hint", { id: id + "-hint" }, hint) : null;
  input.setAttribute("aria-describedby", [hintEl ? id + "-hint" : "", id + "-err"].filter(Boolean).join(" "));
  const el = h("div.field", h("label", { for: id }, label), input, hintEl, err);
  el.setError = (msg) => {
    err.textContent = msg || "";
    if (msg) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
  };
  return el;
}

/** select builds a <select> from [value, label] pairs. */
export function select(name, options, value, attrs = {}) {
  return h("select", { name, ...attrs }, options.map(([v, l]) => h("option", { value: v, selected: v === value }, l)));
}

/** pageHead is the page's title (focused on navigation, for screen readers) and its actions. */
export function pageHead(title, intro, ...actions) {
  return h("header.page-head",
    h("div.page-title", h("h1", { tabindex: "-1" }, title), intro ? h("p.muted", intro) : null),
    actions.length ? h("div.page-actions", actions) : null);
}

/** card is a titled panel. */
export function card(title, ...body) {
  const id = nextId("card");
  return h("section.card", { "aria-labelledby": id }, title ? h("h2", { id }, title) : null, body);
}

/**
 * table renders rows under columns [{label, cell(row) → node|text, cls}].
 * An empty list shows empty instead of a bare header.
 * @param {{label: string, cell: (row: any) => any, cls?: string}[]} columns
 * @param {any[]} rows
 * @param {{caption?: string, empty?: string, rowAttrs?: (row: any) => object}} [opts]
 */
export function table(columns, rows, { caption, empty = "Nothing to show.", rowAttrs } = {}) {
  if (!rows.length) return h("p.empty", empty);
  return h("div.table-wrap", h("table.data",
    caption ? h("caption.visually-hidden", caption) : null,
    h("thead", h("tr", columns.map((c) => h("th", { scope: "col", class: c.cls }, c.label)))),
    h("tbody", rows.map((r) => h("tr", rowAttrs ? rowAttrs(r) : {}, columns.map((c) => h("td", { class: c.cls, "data-label": c.label }, c.cell(r))))))));
}

/** badge is a small state label that reads without colour (the word is the state). */
export function badge(text, kind = "") { return h("span.pill" + (kind ? "." + kind : ""), text); }

export function stateBadge(state) {
  return badge(labelOf(STATES, state), { [STATE_ACTIVE]: "ok", [STATE_LOCKED]: "warn", [STATE_DISABLED]: "bad" }[state] || "");
}

/** userBadge is a user's state, and "Invited" for an active account that has never signed in. */
export function userBadge(u) {
  if (u.state === STATE_ACTIVE && !u.signed_in_at && !u.offboarded_at) return badge("Invited", "brand");
  return stateBadge(u.state);
}

/** confirm asks a yes/no question in a modal; resolves true on yes. It is the app's own (dom.js). */
export const confirm = confirmDialog;

/** copyText puts text on the clipboard, with a fallback message when it is not allowed. */
export async function copyText(text, what = "Link") {
  try {
    await navigator.clipboard.writeText(text);
    toast(`${what} copied.`);
  } catch {
    toast(`Could not copy: select the ${what.toLowerCase()} and copy it by hand.`, { kind: "warn" });
  }
}

/**
 * linkBox shows a link read-only, selectable, with a Copy button; given
 * the invitation's id, also a "Send by email" button, which has the server
 * mail the link to the address the directory holds for the person.
 * @param {string} url
 * @param {string} [label]
 * @param {number} [invitation]
 */
export function linkBox(url, label = "Invitation link", invitation) {
  const input = h("input.linkbox", { readonly: true, value: url, "aria-label": label, onfocus: (e) => e.target.select() });
  const row = h("div.copy-row", input, h("button.secondary.small", { type: "button", onclick: () => copyText(url) }, "Copy link"));
  // "Send by email" only where a link can be mailed (email set up, and the
  // server's public address known); the row says when it has asked.
  if (invitation) {
    admin.emailReady().then((r) => {
      if (r.ready) row.append(h("button.secondary.small", { type: "button", onclick: (e) => sendLink(e.currentTarget, invitation, url) }, "Send by email"));
    }, () => {}).finally(() => { row.dataset.mail = "checked"; });
  }
  return row;
}

/** sendLink asks the server to mail an invitation link (the token is the link's fragment). */
async function sendLink(btn, invitation, url) {
  const token = new URL(url).hash.replace(/^#invite=/, "");
  await busy(btn, "Sending…", async () => {
    const r = await admin.emailInvitation(invitation, token);
    toast(`The link is on its way to ${r.to}.`);
  });
}

/** download saves text as a file through a temporary object URL. */
export function download(name, text, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/**
 * busy disables a button while fn runs, saying so on the button; errors
 * land in errEl (or a toast) and are rethrown to nobody.
 */
export async function busy(btn, label, fn, errEl) {
  const old = btn.textContent;
  btn.disabled = true;
  btn.setAttribute("aria-busy", "true");
  btn.textContent = label;
  if (errEl) errEl.textContent = "";
  try {
    return await fn();
  } catch (e) {
    if (errEl) errEl.textContent = e.message || String(e);
    else toast(e.message || String(e), { kind: "error" });
    return undefined;
  } finally {
    btn.disabled = false;
    btn.removeAttribute("aria-busy");
    btn.textContent = old;
  }
}

/** errorLine is a form-level error, announced when it changes. */
export function errorLine() { return h("p.form-error", { role: "alert" }); }

/** fmtDate shows a date and time; fmtDay a date only. 0/absent is a dash. */
export function fmtDate(ms) {
  if (!ms) return "—";
  const d = new Date(ms);
  return d.toLocaleString([], { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
export function fmtDay(ms) {
  if (!ms) return "—";
  return new Date(ms).toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" });
}

/** ago is a short relative time ("3 min ago"); for a last-seen column. */
export function ago(ms) {
  if (!ms) return "never";
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  if (s < 86400 * 30) return `${Math.floor(s / 86400)} days ago`;
  return fmtDay(ms);
}

/** loading is what a page shows while its data arrives. */
export function loading(what = "Loading…") { return h("p.loading", { role: "status" }, what); }

/** failure is a page-level error with a retry. */
export function failure(e, retry) {
  return h("div.notice.bad", { role: "alert" }, icon("alert"), h("span", e.message || String(e)),
    retry ? h("button.secondary.small", { type: "button", onclick: retry }, "Try again") : null);
}

/** userName is "Display (username)". */
export function userName(u) { return u ? `${u.display || u.username} (${u.username})` : "—"; }
