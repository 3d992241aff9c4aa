// The audit log: filters, newest first with "Load more", the chain's
// integrity check, and a CSV export of what the filters select.
import { admin } from "./api.js";
import { badge, busy, card, download, errorLine, failure, field, fill, fmtDate, h, loading, pageHead, select, table } from "./ui.js";

const ACTIONS = ["login.ok", "login.fail", "logout", "mfa.", "user.create", "user.update", "user.state", "user.offboard", "user.password_reset", "user.unlock",
  "group.", "invitation.", "policy.update", "device.register", "device.resume", "device.lock", "device.wipe", "device.revoke", "audit.export", "audit.view", "report.view", "setup.owner", "console.refused"];
const PAGE = 100;

/** dayStart and dayEnd turn a date input's YYYY-MM-DD into ms at local midnight. */
const dayStart = (v) => (v ? new Date(v + "T00:00:00").getTime() : "");
const dayEnd = (v) => (v ? new Date(v + "T00:00:00").getTime() + 86400000 - 1 : "");

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

  const filters = () => ({ q: q.value.trim(), action: action.value, outcome: outcome.value, from: dayStart(from.value), to: dayEnd(to.value) });

  fill(view,
    pageHead("Audit log", "Who did what, when and from where. Entries are chained by hash: none can be changed or removed without the check below noticing.", exportBtn),
    chain,
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
      { label: "When", cell: (e) => fmtDate(e.at ?? e.ts ?? e.time) },
      { label: "Who", cell: (e) => e.actor_name || (e.actor ? `user ${e.actor}` : "—") },
      { label: "Action", cell: (e) => h("code", e.action) },
      { label: "Target", cell: (e) => e.target_name || e.target || "—", cls: "wrap" },
      { label: "Outcome", cell: (e) => (e.outcome === "ok" ? badge("OK", "ok") : badge(e.outcome || "—", "bad")) },
      { label: "Address", cell: (e) => e.ip || "—" },
      { label: "Detail", cell: (e) => detail(e.detail), cls: "wrap" },
    ], entries, { caption: "Audit entries", empty: "No entries match." }));
    fill(more, next ? h("button.secondary", { type: "button", onclick: (e) => busy(e.currentTarget, "Loading…", () => load(false)) }, "Load more") : null);
  }

  verify();
  await load(true);
}

function detail(d) {
  if (!d) return "";
  let o = d;
  if (typeof d === "string") { try { o = JSON.parse(d); } catch { return d; } }
  if (typeof o !== "object") return String(o);
  return Object.entries(o).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join("; ");
}
