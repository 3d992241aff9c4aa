// @ts-check
// Devices: every registered device at the practice, with its owner, and
// the same Lock and Wipe actions as on a user's page.
import { admin } from "./api.js";
import { errorLine, failure, field, fill, h, loading, pageHead, select, table } from "./ui.js";
import { deviceActions, deviceColumns } from "./users.js";

export async function devicesPage(view, ctx) {
  const box = h("div", loading());
  const q = h("input", { type: "search", placeholder: "Device, owner or fingerprint", autocomplete: "off" });
  const show = select("show", [["", "All devices"], ["active", "Signed in"], ["locked", "Signed out or locked"], ["gone", "Revoked or wiped"], ["stale", "Not seen for 30 days"]], "");
  const status = h("p.result-count", { role: "status" });
  const err = errorLine();
  let all = [];
  fill(view, pageHead("Devices", "Every browser and phone set up with Curbside at this practice."),
    h("div.filters", field("Search", q), field("Show", show)), status, err, box);

  const gone = (d) => d.state === "revoked" || d.wiped;
  const match = (d) => {
    const t = q.value.trim().toLowerCase();
    if (t && ![d.name, d.user?.username, d.user?.display, d.fingerprint, d.agent].some((x) => String(x || "").toLowerCase().includes(t))) return false;
    switch (show.value) {
      case "active": return !gone(d) && d.sessions > 0;
      case "locked": return !gone(d) && !d.sessions;
      case "gone": return !!gone(d);
      case "stale": return !gone(d) && (d.last_seen || 0) < Date.now() - 30 * 86400000;
      default: return true;
    }
  };
  const render = () => {
    const rows = all.filter(match);
    status.textContent = `${rows.length} of ${all.length} device${all.length === 1 ? "" : "s"}.`;
    fill(box, table([
      { label: "Owner", cell: (d) => (d.user ? h("a", { href: `#/users/${d.user.id}`, dir: "auto" }, d.user.display || d.user.username) : "—") },
      ...deviceColumns,
      { label: "Actions", cell: (d) => h("div.cell-actions", deviceActions(d, ctx, d.user?.display || d.user?.username || "its owner", load, err)) },
    ], rows, { caption: "Devices", empty: all.length ? "No device matches." : "No devices are registered yet." }));
  };
  async function load() {
    try { all = (await admin.devices()).devices || []; } catch (e) { fill(box, failure(e, load)); return; }
    render();
  }
  let t;
  q.addEventListener("input", () => { clearTimeout(t); t = setTimeout(render, 150); });
  show.addEventListener("change", render);
  await load();
}
