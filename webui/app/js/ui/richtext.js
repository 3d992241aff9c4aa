// @ts-check
// A message's text as the reader sees it: links made clickable, mentions
// marked, and the words of an in-conversation search highlighted. Built
// from text nodes and elements only (never innerHTML), so a message cannot
// inject markup. A link opens in a new tab, with no opener and no referrer;
// only http, https, mailto and tel are links; and nothing is fetched to
// preview it, by the app or by the server.
import { h } from "./dom.js";

/** The schemes a link may have. */
export const LINK_SCHEMES = ["http:", "https:", "mailto:", "tel:"];

const LINK_RE = /\b(?:https?:\/\/|mailto:|tel:)[^\s<>"'`]+/gi;

/**
 * safeHref returns the URL a link in a message may point at, or "" when it
 * may not be a link.
 * @param {string} s
 * @returns {string}
 */
export function safeHref(s) {
  let u;
  try { u = new URL(s); } catch { return ""; }
  if (!LINK_SCHEMES.includes(u.protocol)) return "";
  if ((u.protocol === "http:" || u.protocol === "https:") && !u.hostname) return "";
  if (u.username || u.password) return ""; // "https://bank.example@evil.example" misleads
  return u.href;
}

/**
 * trimLink drops what usually ends a sentence rather than a URL: trailing
 * punctuation, and a closing bracket with no opening one in the link.
 * @param {string} s
 */
function trimLink(s) {
  for (;;) {
    const last = s.at(-1);
    if (/[.,;:!?'"]/.test(last)) { s = s.slice(0, -1); continue; }
    if (last === ")" && (s.match(/\(/g) || []).length < (s.match(/\)/g) || []).length) { s = s.slice(0, -1); continue; }
    return s;
  }
}

/**
 * marked splits text into text nodes and <mark> for each match of query
 * (case-insensitive).
 * @param {string} text
 * @param {string} query
 * @returns {any[]}
 */
function marked(text, query) {
  if (!query) return [text];
  const out = [];
  const lower = text.toLowerCase(), q = query.toLowerCase();
  let at = 0;
  for (let i = lower.indexOf(q); i >= 0; i = lower.indexOf(q, at)) {
    if (i > at) out.push(text.slice(at, i));
    out.push(h("mark.search-mark", text.slice(i, i + q.length)));
    at = i + q.length;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

/**
 * richText returns the nodes of a message's text.
 * @param {string} text
 * @param {{mentions?: string[], me?: string, query?: string}} [opts] mentions: the display names mentioned (shown as "@Name"); me: mine among them; query: a search to highlight
 * @returns {any[]}
 */
export function richText(text, { mentions = [], me = "", query = "" } = {}) {
  /** @type {{start: number, end: number, href?: string, me?: boolean}[]} */
  const spans = [];
  for (const m of text.matchAll(LINK_RE)) {
    const s = trimLink(m[0]);
    const href = safeHref(s);
    if (href) spans.push({ start: m.index, end: m.index + s.length, href });
  }
  for (const name of new Set(mentions.filter(Boolean))) {
    const needle = "@" + name;
    for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) {
      spans.push({ start: i, end: i + needle.length, me: name === me });
    }
  }
  spans.sort((a, b) => a.start - b.start);
  const out = [];
  let at = 0;
  for (const sp of spans) {
    if (sp.start < at) continue; // overlaps one already taken
    if (sp.start > at) out.push(...marked(text.slice(at, sp.start), query));
    const inner = marked(text.slice(sp.start, sp.end), query);
    out.push(sp.href ? h("a.msg-link", { href: sp.href, target: "_blank", rel: "noopener noreferrer" }, inner)
      : h("span.mention" + (sp.me ? ".me" : ""), inner));
    at = sp.end;
  }
  if (at < text.length) out.push(...marked(text.slice(at), query));
  return out;
}
