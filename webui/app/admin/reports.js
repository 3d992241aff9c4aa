// @ts-check
// Reports: activity per day over a date range, drawn as SVG bar charts by
// this module (no chart library), with the numbers also in tables so the
// figures do not depend on seeing the chart.
import { admin } from "./api.js";
import { busy, card, download, errorLine, failure, field, fill, h, loading, pageHead, table } from "./ui.js";
import { csvCell } from "./import.js";

const SVG = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const k of kids) el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return el;
}

// Report days are UTC days, as the server counts them.
const isoDay = (d) => d.toISOString().slice(0, 10);

/** niceMax rounds a maximum up to 1, 2 or 5 × 10^n so the axis reads well. */
export function niceMax(v) {
  if (v <= 4) return 4; // counts: whole-number ticks 0..4
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * barChart draws one bar per day. Each bar has a <title> (a tooltip and
 * its accessible name) and the chart has a text summary.
 */
export function barChart(title, days, values, { unit = "", kind = "", width = 720 } = {}) {
  // Drawn at the width it is shown at, so its text stays readable on a phone.
  const W = Math.max(300, Math.min(960, Math.round(width))), H = W < 500 ? 200 : 240, L = 44, R = 8, T = 12, B = 40;
  const max = niceMax(Math.max(0, ...values));
  const n = Math.max(1, days.length);
  const bw = (W - L - R) / n;
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const total = values.reduce((a, b) => a + b, 0);
  const peak = values.length ? days[values.indexOf(Math.max(...values))] : "";
  const desc = `${title}: ${total} in total over ${days.length} day${days.length === 1 ? "" : "s"}${total ? `, most on ${peak} (${Math.max(...values)})` : ""}.`;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: `chart ${kind}`, role: "img", "aria-label": desc });
  svg.append(s("title", {}, title));
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    svg.append(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }),
      s("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, Number.isInteger(v) ? v : v.toFixed(1)));
    if (!Number.isInteger(v)) svg.lastChild.remove(); // only whole counts on the axis
  }
  const every = Math.max(1, Math.ceil(n / Math.max(3, Math.floor((W - L) / 64)))); // date labels ~64 px apart
  days.forEach((d, i) => {
    const v = values[i] || 0;
    const x = L + i * bw + bw * 0.15;
    const hgt = Math.max(0, y(0) - y(v));
    const bar = s("rect", { x, y: y(v), width: Math.max(1, bw * 0.7), height: hgt, class: "bar", "data-day": d, "data-value": v });
    bar.append(s("title", {}, `${d}: ${v}${unit}`));
    svg.append(bar);
    if (i % every === 0) svg.append(s("text", { x: L + i * bw + bw / 2, y: H - B + 16, class: "axis", "text-anchor": "middle" }, d.slice(5)));
  });
  svg.append(s("line", { x1: L, x2: W - R, y1: y(0), y2: y(0), class: "base" }));
  return h("figure.chart-fig", svg, h("figcaption", desc));
}

export async function reportsPage(view) {
  const today = new Date();
  const start = new Date(today.getTime() - 29 * 86400000);
  const from = h("input", { type: "date", value: isoDay(start), max: isoDay(today) });
  const to = h("input", { type: "date", value: isoDay(today), max: isoDay(today) });
  const err = errorLine();
  const box = h("div.reports", { "aria-live": "polite" });
  const go = h("button.primary", { type: "submit" }, "Show");
  let last = null;
  const form = h("form.filters", { onsubmit: (e) => { e.preventDefault(); busy(go, "Loading…", load, err); } },
    field("From", from), field("To", to), h("div.field.filter-go", go),
    h("div.field.filter-go", h("button.secondary", { type: "button", onclick: () => last && download(`curbside-activity-${from.value}-${to.value}.csv`, toCSV(last)) }, "Download CSV")));
  fill(view, pageHead("Reports", "Activity at the practice, by UTC day. Curbside counts messages; it cannot read them."), form, err, box);

  async function load() {
    if (from.value && to.value && from.value > to.value) { err.textContent = "The start date is after the end date."; return; }
    fill(box, loading());
    let r;
    try { r = await admin.activity(from.value, to.value); } catch (e) { fill(box, failure(e, load)); return; }
    last = r;
    const days = r.days || [];
    const per = (list, key = "count") => { const m = new Map((list || []).map((x) => [x.day, 0])); for (const x of list || []) m.set(x.day, (m.get(x.day) || 0) + (x[key] || 0)); return days.map((d) => m.get(d) || 0); };
    // Cards are as wide as the page's content less their padding.
    const width = (box.clientWidth || 720) - 40;
    const sent = per(r.messages, "sent");
    const failed = per(r.failed_logins);
    const active = per(r.active_devices);
    const users = new Map();
    for (const m of r.messages || []) {
      const u = users.get(m.user) || { user: m.user, username: m.username, display: m.display, sent: 0, days: 0 };
      u.sent += m.sent || 0; if (m.sent) u.days++;
      users.set(m.user, u);
    }
    fill(box,
      h("div.stats",
        stat("Messages sent", sent.reduce((a, b) => a + b, 0)),
        stat("Failed sign-ins", failed.reduce((a, b) => a + b, 0)),
        stat("Most devices active in a day", Math.max(0, ...active)),
        stat("People who sent messages", users.size)),
      card("Messages per day", barChart("Messages per day", days, sent, { width })),
      card("Failed sign-ins per day", barChart("Failed sign-ins per day", days, failed, { kind: "warn", width })),
      card("Active devices per day", barChart("Active devices per day", days, active, { kind: "alt", width })),
      card("Messages by person", table([
        { label: "Person", cell: (u) => h("a", { href: `#/users/${u.user}` }, u.display || u.username) },
        { label: "Username", cell: (u) => u.username },
        { label: "Messages sent", cell: (u) => String(u.sent), cls: "num" },
        { label: "Days active", cell: (u) => String(u.days), cls: "num" },
      ], [...users.values()].sort((a, b) => b.sent - a.sent), { caption: "Messages by person", empty: "No messages in this period." })));
  }
  await load();
}

function stat(label, value) { return h("div.stat", h("span.stat-value", String(value)), h("span.stat-label", label)); }

function toCSV(r) {
  const lines = ["day,kind,user,username,value"];
  for (const m of r.messages || []) lines.push([m.day, "messages", m.user, m.username, m.sent].map(csvCell).join(","));
  for (const x of r.active_devices || []) lines.push([x.day, "active_devices", "", "", x.count].map(csvCell).join(","));
  for (const x of r.failed_logins || []) lines.push([x.day, "failed_logins", "", "", x.count].map(csvCell).join(","));
  return lines.join("\n") + "\n";
}
