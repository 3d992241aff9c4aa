// @ts-check
// The audit log: filters, newest first with "Load more", the chain's
// integrity check, and a CSV export of what the filters select.
import { admin } from "./api.js";
import { badge, busy, download, errorLine, failure, field, fill, fmtDate, h, loading, pageHead, select, table } from "./ui.js";
import { parseGoDuration } from "./policy.js";
import { fmtDuration } from "../js/ui/common.js";
import { agentName } from "../js/agent.js";

// Filters by action or by a family of actions (a prefix ending in ".").
const ACTIONS = ["login.", "login.ok", "login.fail", "login.locked_out", "logout", "mfa.", "user.", "user.create", "user.update", "user.state", "user.offboard",
  "user.password_reset", "user.unlock", "user.import", "group.", "invitation.", "policy.update", "device.", "device.register", "device.rotate", "device.lock", "device.wipe",
  "device.pin", "device.pin.lockout", "device.revoke", "audit.", "report.view", "setup.owner", "console.refused"];
const PAGE = 100;


export async function auditPage(view) {
  const q = h("input", { type: "search", placeholder: "User, target, address…", autocomplete: "off" });
  const action = select("action", [["", "Any action"], ...ACTIONS.map((a) => [a, a.endsWith(".") ? a + "*" : a])], "");
  const outcome = select("outcome", [["", "Any outcome"], ["ok", "Succeeded"], ["fail", "Failed or refused"]], "");
  const from = h("input", { type: "date" });
  const to = h("input", { type: "date" });
  const chain = h("div.chain", { "aria-live": "polite" }, loading("Checking the log's integrity…"));
  const box = h("div");
  const more = h("div.pager");
  const status = h("p.result-count", { role: "status" });
  const err = errorLine();
  const exportBtn = h("button.secondary", { type: "button" }, "Export CSV");
  let entries = [];
  let next = null;

  // "#/audit?actor=12" (from a user's page) shows that person's actions.
  const actor = new URLSearchParams(location.hash.split("?")[1] || "").get("actor") || "";
  const filters = () => ({ actor, q: q.value.trim(), action: action.value, outcome: outcome.value, from: from.value, to: to.value }); // dates (UTC days), both inclusive

  fill(view,
    pageHead("Audit log", "Who did what, when and from where. Entries are chained by hash: none can be changed or removed without the check below noticing.", exportBtn),
    chain,
    actor ? h("p.notice.warn", h("span.actor-name", `Showing only the actions of user ${actor}.`), h("a", { href: "#/audit" }, "Show everyone's")) : null,
    h("form.filters", { role: "search", onsubmit: (e) => { e.preventDefault(); load(true); } },
      field("Search", q), field("Action", action), field("Outcome", outcome), field("From", from), field("To", to),
      h("div.field.filter-go", h("button.primary", { type: "submit" }, "Apply"))),
    status, err, box, more);

  for (const el of [action, outcome, from, to]) el.addEventListener("change", () => load(true));
  exportBtn.addEventListener("click", () => busy(exportBtn, "Exporting…", async () => {
    const csv = await admin.auditExport(filters());
    const stamp = new Date().toISOString().slice(0, 10);
    download(`curbside-audit-${stamp}.csv`, csv);
  }, err));

  async function verify() {
    try {
      const v = await admin.auditVerify();
      fill(chain, v.ok
        ? h("p.notice.ok", `Integrity check passed: ${v.entries} entr${v.entries === 1 ? "y" : "ies"}, none changed or missing. Head #${v.head_seq}: `, h("code", String(v.head_hash || "").slice(0, 16) + "…"))
        : h("p.notice.bad", { role: "alert" }, `Integrity check FAILED at entry #${v.first_bad ?? "?"}: ${v.problem || "the chain does not match"}. Keep a copy of the database and contact your Curbside support.`));
    } catch (e) {
      fill(chain, failure(e, verify));
    }
  }

  async function load(reset) {
    if (reset) { entries = []; next = null; fill(box, loading()); }
    let r;
    try {
      r = await admin.audit({ ...filters(), before: reset ? "" : next, limit: PAGE });
    } catch (e) {
      fill(box, failure(e, () => load(reset)));
      return;
    }
    entries = entries.concat(r.entries || []);
    next = r.next_before || null;
    status.textContent = entries.length ? `${entries.length} entr${entries.length === 1 ? "y" : "ies"} shown${next ? "; more are older" : ""}.` : "";
    fill(box, table([
      { label: "#", cell: (e) => String(e.seq ?? e.id ?? "") },
      { label: "When", cell: (e) => fmtDate(e.at) },
      { label: "Who", cell: (e) => (e.actor ? h("a", { href: `#/users/${e.actor}` }, e.actor_name || `user ${e.actor}`) : e.actor_name || "—") },
      { label: "Action", cell: (e) => h("code", e.action) },
      { label: "Target", cell: (e) => target(e.target, entries), cls: "wrap" },
      { label: "Outcome", cell: (e) => (e.outcome === "ok" ? badge("OK", "ok") : badge(e.outcome || "—", "bad")) },
      { label: "Address", cell: (e) => e.ip || "—" },
      { label: "Detail", cell: (e) => detail(e.detail, entries), cls: "wrap" },
    ], entries, { caption: "Audit entries", empty: "No entries match." }));
    fill(more, next ? h("button.secondary", { type: "button", onclick: (e) => busy(e.currentTarget, "Loading…", () => load(false)) }, "Load more") : null);
  }

  if (actor) {
    admin.user(actor).then((r) => {
      const el = view.querySelector(".actor-name");
      if (el) el.textContent = `Showing only the actions of ${r.user.display || r.user.username} (${r.user.username}).`;
    }, () => {});
  }
  verify();
  await load(true);
}

/**
 * target shows an entry's target in words: a user or group by name, linked
 * to its page; a device by its owner and name; an invitation by number.
 * Names are looked up once per page load; until then, or for good when the
 * lookup fails (a record the console cannot show, or one since deleted),
 * "user 12", "group 3" or "device 345" stands in, never the raw "user:12".
 * @param {string} t
 * @param {any[]} entries the entries shown, whose actors' names are known
 */
function target(t, entries) {
  const m = /^(user|group|device|invitation):(\d+)$/.exec(t || "");
  if (!m) return t || "—";
  const id = Number(m[2]);
  switch (m[1]) {
    case "user": return userRef(id, entries);
    case "group": {
      const a = h("a", { href: `#/groups?open=${id}`, dir: "auto" }, `group ${id}`);
      if (!groupNames.has(id)) groupNames.set(id, admin.group(String(id)).then((r) => r.group.name, () => null));
      groupNames.get(id).then((n) => { if (n) a.textContent = n; });
      return a;
    }
    case "device": {
      const span = h("span", { dir: "auto" }, `device ${id}`);
      deviceNames ||= admin.devices().then((r) => new Map((r.devices || []).map((d) => [d.id, d])), () => new Map());
      deviceNames.then((all) => {
        const d = all.get(id);
        if (d) span.textContent = `${d.user?.display || d.user?.username || "unknown owner"}: ${d.name || "unnamed device"}`;
      });
      return span;
    }
    default: return `invitation ${id}`;
  }
}

/** groupNames caches each group's name, looked up once per page load. */
const groupNames = new Map();

/** deviceNames is every device the console may see, by id, fetched once per page load when an entry names a device. */
let deviceNames = null;

/** names caches each user's name as the console shows it, looked up once per page load. */
const names = new Map();

/**
 * userRef is a user id in a detail as the user's name, linked to their
 * page: known at once when the id is an actor of the entries shown, and
 * looked up (once per id) otherwise; "user 3" until then, or for good
 * when the lookup fails (a user the console cannot show).
 * @param {number} id
 * @param {any[]} entries
 */
function userRef(id, entries) {
  const a = h("a.user-ref", { href: `#/users/${id}` }, `user ${id}`);
  const known = entries.find((e) => e.actor === id && e.actor_name);
  if (known) a.textContent = known.actor_name;
  if (!names.has(id)) names.set(id, admin.user(String(id)).then((r) => r.user.display || r.user.username, () => null));
  names.get(id).then((n) => { if (n) a.textContent = n; });
  return a;
}

/**
 * detail renders an entry's detail as words: "retention: from 7 days to
 * 30 days; sessions ended: 2", never raw JSON or Go's duration text; a
 * user agent as the browser's short name (the full string in its title),
 * and user ids as the users' names (userRef).
 * @param {any} d
 * @param {any[]} [entries] the entries shown, whose actors' names are known
 * @returns {Array<string | HTMLElement>}
 */
export function detail(d, entries = []) {
  if (!d) return [];
  let o = d;
  if (typeof d === "string") { try { o = JSON.parse(d); } catch { return [d]; } }
  if (o === null || typeof o !== "object") return [String(o ?? "")];
  return words(o, "", entries);
}

// Keys whose numbers are user ids, and the agent's key; with the words for them.
const USER_KEYS = new Set(["user", "users", "by"]);
const LABELS = { agent: "browser" };

/**
 * words renders one detail value; key is its name (for …_at times, user
 * ids and the agent).
 * @returns {Array<string | HTMLElement>}
 */
function words(v, key, entries) {
  if (v === null || v === undefined || v === "") return ["—"];
  // Times in the detail (…_at, ms since the epoch) are shown as dates.
  if (/_at$/.test(key) && typeof v === "number" && v > 1e11) return [fmtDate(v)];
  if (USER_KEYS.has(key) && typeof v === "number" && Number.isInteger(v) && v > 0) return [userRef(v, entries)];
  if (typeof v === "boolean") return [v ? "yes" : "no"];
  if (typeof v === "string") {
    if (key === "agent") return [h("span.agent", { title: v }, agentName(v))];
    // Go's duration text ("168h0m0s", "30m0s") as people say it.
    if (/\d[a-zµ]+$/.test(v) && !Number.isNaN(parseGoDuration(v))) return [fmtDuration(parseGoDuration(v))];
    return [v];
  }
  if (Array.isArray(v)) return v.length ? join(v.map((x) => words(x, key, entries)), ", ") : ["none"];
  if (typeof v === "object") {
    const ks = Object.keys(v);
    if (ks.length && ks.every((k) => k === "from" || k === "to")) {
      return join([ks.includes("from") ? ["from ", ...words(v.from, key, entries)] : [], ks.includes("to") ? ["to ", ...words(v.to, key, entries)] : []].filter((x) => x.length), " ");
    }
    return join(Object.entries(v).map(([k, x]) => [`${LABELS[k] || k.replace(/_/g, " ")}: `, ...words(x, k, entries)]), "; ");
  }
  return [String(v)];
}

/**
 * join puts sep between the parts' runs.
 * @param {Array<Array<string | HTMLElement>>} runs
 * @param {string} sep
 */
function join(runs, sep) {
  return runs.flatMap((r, i) => (i ? [sep, ...r] : r));
}
