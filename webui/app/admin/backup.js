// @ts-check
// Backup: where the server replicates to (never its credentials), when it
// last synced and how far behind the replica may be, and the last restore
// drill with its steps. A replica older than 48 hours or a failed drill is
// also an alert, mailed to owners and admins.
import { admin } from "./api.js";
import { badge, card, failure, fill, fmtDate, h, loading, pageHead } from "./ui.js";

const INTRO = "Curbside copies the database and the data directory's files (encrypted attachments, keys, certificates) to a replica as they change, and restores that copy into a temporary directory every week to prove it works. The replica holds only what the server holds: ciphertext and metadata.";

/**
 * @typedef {{url: string, sync_interval: number, last_sync: number, lag_ms: number, files: number, error?: string, error_since?: number, stale: boolean, local_txid?: string, remote_txid?: string, in_sync: boolean, created?: number}} ReplicaStatus
 * @typedef {{name: string, ok: boolean, took: string, detail?: string}} DrillStep
 * @typedef {{replica: string, started: string, took: string, ok: boolean, steps: DrillStep[], problems?: string[]}} DrillReport
 * @typedef {{configured: boolean, replica?: ReplicaStatus, last_drill?: DrillReport, max_age_ms: number}} BackupAnswer
 */

/** fmtLag says a duration in ms in words. @param {number} ms */
function fmtLag(ms) {
  if (ms < 1000) return "under a second";
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m} minutes`;
  return `${Math.round(m / 60)} hours`;
}

export async function backupPage(view) {
  fill(view, pageHead("Backup", INTRO), loading());
  /** @type {BackupAnswer} */
  let res;
  try { res = await admin.backup(); } catch (e) { fill(view, pageHead("Backup", INTRO), failure(e, () => backupPage(view))); return; }
  if (!res.configured || !res.replica) {
    fill(view, pageHead("Backup", INTRO), card("Replica",
      h("p.notice.bad", { role: "alert" }, "No replica is set: a lost disk would lose everything. Start the server with --replica (or CURBSIDE_REPLICA); see the operations guide.")));
    return;
  }
  fill(view, pageHead("Backup", INTRO), replicaCard(res.replica, res.max_age_ms), drillCard(res.last_drill));
}

/** @param {ReplicaStatus} r @param {number} maxAge */
function replicaCard(r, maxAge) {
  const state = r.error ? badge("Failing", "bad") : r.stale ? badge("Out of date", "bad") : badge("Replicating", "ok");
  return card("Replica",
    h("dl.facts",
      h("dt", "State"), h("dd", state),
      h("dt", "Location"), h("dd", h("code", r.url)),
      h("dt", "Last sync"), h("dd", r.last_sync ? fmtDate(r.last_sync) : "never: the replica holds nothing yet"),
      h("dt", "Behind by at most"), h("dd", fmtLag(r.lag_ms), h("span.muted", ` (syncs every ${fmtLag(r.sync_interval)}; an alert at ${fmtLag(maxAge)})`)),
      h("dt", "Files besides the database"), h("dd", String(r.files))),
    r.error ? h("p.notice.bad", { role: "alert" }, `Syncing fails${r.error_since ? ` since ${fmtDate(r.error_since)}` : ""}: ${r.error}`) : null);
}

/** @param {DrillReport | undefined} d */
function drillCard(d) {
  if (!d) return card("Last restore drill", h("p", "No drill yet. The server runs the first an hour after the replica began, then one a week; curbside drill runs one now."));
  return card("Last restore drill",
    h("p", badge(d.ok ? "Passed" : "Failed", d.ok ? "ok" : "bad"), ` ${fmtDate(Date.parse(d.started))}, took ${d.took}.`),
    h("table.steps",
      h("thead", h("tr", h("th", "Step"), h("th", "Result"), h("th", "Took"), h("th", "Detail"))),
      h("tbody", d.steps.map((s) => h("tr", h("td", s.name), h("td", badge(s.ok ? "ok" : "failed", s.ok ? "ok" : "bad")), h("td", s.took), h("td", s.detail || ""))))),
    d.problems?.length ? h("ul", d.problems.map((p) => h("li.field-error", p))) : null);
}
