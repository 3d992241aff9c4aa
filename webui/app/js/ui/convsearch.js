// @ts-check
// Search inside the open conversation: over the messages decrypted on this
// device (text and file names), nothing asked of the server. Matches are
// highlighted in place and stepped through, newest first.
import { fill, h, icon } from "./dom.js";
import { jumpTo } from "./reply.js";

/**
 * matchesOf returns the ids of the conversation's messages that contain
 * q, oldest first.
 * @param {any} c the client
 * @param {string} convId
 * @param {string} q
 */
export function matchesOf(c, convId, q) {
  q = q.trim().toLowerCase();
  if (!q) return [];
  return c.messagesOf(convId).filter((m) => !m.recalled && !m.hidden && ((m.text || "").toLowerCase().includes(q) ||
    (m.attachments || []).some((a) => (a.name || "").toLowerCase().includes(q)))).map((m) => m.id);
}

/** searchButton opens the search of the open conversation. */
export function searchButton(ui) {
  return h("button.icon-btn", { type: "button", "aria-label": "Search in this conversation", title: "Search in this conversation", onclick: () => openSearch(ui) }, icon("search"));
}

/** searchBar is the (hidden) bar above the messages. */
export function searchBar(ui) {
  ui.convSearch = null;
  ui.searchBar = h("div.conv-search", { hidden: true, role: "search" });
  return ui.searchBar;
}

/** NO_SEARCH is the state with nothing searched; never changed. */
const NO_SEARCH = { q: "", current: "", ids: new Set() };

/**
 * searchState is what the open conversation highlights, and the ids of
 * the match shown now and of every match. Every message of a render asks,
 * so the set of matches is made once per search, not per message.
 * @returns {{q: string, current: string, ids: Set<string>}}
 */
export function searchState(ui) {
  const s = ui.convSearch;
  if (!s || !s.q.trim()) return NO_SEARCH;
  return { q: s.q.trim(), current: s.ids[s.i] || "", ids: s.hits };
}

function openSearch(ui) {
  if (!ui.searchBar) return;
  if (ui.convSearch) { ui.searchBar.querySelector("input")?.focus(); return; }
  ui.convSearch = { q: "", ids: [], hits: new Set(), i: -1 };
  const input = h("input.conv-search-input", { type: "search", placeholder: "Search this conversation", "aria-label": "Search this conversation", autocomplete: "off" });
  const count = h("span.conv-search-count", { "aria-live": "polite" });
  const show = () => {
    const s = ui.convSearch;
    count.textContent = !s.q.trim() ? "" : s.ids.length ? `${s.i + 1} of ${s.ids.length}` : "No matches";
    ui.renderConvBody();
    if (s.ids.length) jumpTo(ui, s.ids[s.i]);
  };
  const step = (d) => {
    const s = ui.convSearch;
    if (!s.ids.length) return;
    s.i = (s.i + d + s.ids.length) % s.ids.length;
    show();
  };
  input.addEventListener("input", () => {
    const s = ui.convSearch;
    s.q = input.value;
    s.ids = matchesOf(ui.c, ui.convId, s.q);
    s.hits = new Set(s.ids);
    s.i = s.ids.length - 1; // the newest first
    show();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); step(e.shiftKey ? 1 : -1); }
    if (e.key === "Escape") { e.preventDefault(); closeSearch(ui); }
  });
  fill(ui.searchBar, icon("search"), input, count,
    h("button.icon-btn.small", { type: "button", "aria-label": "Older match", title: "Older match", onclick: () => step(-1) }, icon("up")),
    h("button.icon-btn.small", { type: "button", "aria-label": "Newer match", title: "Newer match", onclick: () => step(1) }, icon("down")),
    h("button.icon-btn.small", { type: "button", "aria-label": "Close the search", onclick: () => closeSearch(ui) }, icon("close")));
  ui.searchBar.hidden = false;
  input.focus();
}

function closeSearch(ui) {
  ui.convSearch = null;
  fill(ui.searchBar);
  ui.searchBar.hidden = true;
  ui.renderConvBody();
}
