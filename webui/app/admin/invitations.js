// @ts-check
// Invitations: the links with which people set their first password (or
// a reset one). Pending links can be copied again or revoked.
import { admin } from "./api.js";
import { badge, busy, confirm, copyText, dialog, errorLine, failure, field, fill, fmtDate, h, labelOf, linkBox, loading, LEVELS, pageHead, rank, ROLES, select, table, toast } from "./ui.js";
import { groupPicker } from "./users.js";
import { LEVEL_HELPDESK, LEVEL_NONE, LEVEL_OWNER, ROLE_STAFF } from "../js/constants.js";

/** invState is an invitation's state from its times (or the server's word). */
export function invState(i) {
  if (i.status) return i.status;
  if (i.revoked_at) return "revoked";
  if (i.used_at) return "used";
  if (i.expires_at && i.expires_at < Date.now()) return "expired";
  return "pending";
}

// A "reset" link sets the password of an account that exists: one added
// under Users or by import, or one whose password was reset.
const KINDS = { new: "New user", reset: "Set password", setup: "First-run set-up" };

export async function invitationsPage(view, ctx) {
  const box = h("div", loading());
  const filter = select("show", [["pending", "Pending"], ["", "All"], ["used", "Used"], ["expired", "Expired"], ["revoked", "Revoked"]], "pending");
  const status = h("p.result-count", { role: "status" });
  const err = errorLine();
  fill(view,
    pageHead("Invitations", "Links that let someone set a password. Each works once, until it expires. The server keeps only a hash of each link, so a link is shown once, when it is made: if one is lost, revoke it and make a new one.",
      h("button.primary", { type: "button", onclick: () => createDialog() }, "New invitation")),
    h("div.filters", field("Show", filter)), status, err, box);
  filter.addEventListener("change", load);

  async function load() {
    let list;
    try { list = (await admin.invitations()).invitations || []; } catch (e) { fill(box, failure(e, load)); return; }
    const shown = list.filter((i) => !filter.value || invState(i) === filter.value).sort((a, b) => (b.created_at || 0) - (a.created_at || 0));
    status.textContent = `${shown.length} invitation${shown.length === 1 ? "" : "s"}.`;
    fill(box, table([
      { label: "For", cell: (i) => h("span", h("strong", i.display || i.username || "—"), i.username ? h("span.muted", ` (${i.username})`) : null) },
      { label: "Kind", cell: (i) => KINDS[i.kind] || i.kind },
      { label: "Role / level", cell: (i) => [labelOf(ROLES, i.role), i.admin_level ? ` · ${labelOf(LEVELS, i.admin_level)}` : ""].join("") },
      { label: "State", cell: (i) => { const s = invState(i); return badge(s[0].toUpperCase() + s.slice(1), { pending: "brand", used: "ok", expired: "", revoked: "bad" }[s]); } },
      { label: "Created", cell: (i) => fmtDate(i.created_at) },
      { label: "Expires", cell: (i) => fmtDate(i.expires_at) },
      { label: "Actions", cell: (i) => h("div.cell-actions",
        invState(i) === "pending" && i.url ? h("button.secondary.small", { type: "button", onclick: () => copyText(i.url) }, "Copy link") : null,
        invState(i) === "pending" ? h("button.danger.small", { type: "button", "aria-label": `Revoke the invitation for ${i.username || i.display}`, onclick: (e) => revoke(e.currentTarget, i) }, "Revoke") : null) },
    ], shown, { caption: "Invitations", empty: filter.value === "pending" ? "No pending invitations." : "No invitations." }));
  }

  async function revoke(btn, i) {
    if (!(await confirm("Revoke this invitation?", h("p", `The link for ${i.display || i.username} stops working at once. You can make a new one later.`), { yes: "Revoke", danger: true }))) return;
    await busy(btn, "Revoking…", async () => { await admin.revokeInvitation(i.id); toast("Invitation revoked."); await load(); }, err);
  }

  async function createDialog() {
    let groups = [];
    try { groups = (await admin.groups()).groups || []; } catch { /* without groups */ }
    const username = h("input", { name: "username", autocapitalize: "none", spellcheck: "false", autocomplete: "off" });
    const display = h("input", { name: "display", autocomplete: "off", required: true });
    const email = h("input", { name: "email", type: "email", autocomplete: "off" });
    const role = select("role", ROLES, ROLE_STAFF);
    const level = select("admin_level", LEVELS.filter(([v]) => rank(v) <= rank(ctx.level === LEVEL_OWNER ? LEVEL_OWNER : LEVEL_HELPDESK)), LEVEL_NONE);
    const picker = groupPicker(groups);
    const fields = {
      display: field("Full name", display),
      username: field("Username (optional)", username, "Leave empty to let the person choose their own username."),
      email: field("E-mail (optional)", email), role: field("Role", role), admin_level: field("Admin level", level),
    };
    const fe = errorLine();
    const save = h("button.primary", { type: "submit", form: "inv-form" }, "Create link");
    const form = h("form.stack", { id: "inv-form", novalidate: true }, Object.values(fields), picker, fe);
    const d = dialog("New invitation", form, { wide: true, actions: [h("button.secondary", { type: "button", onclick: () => d.close() }, "Cancel"), save] });
    display.focus();
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      for (const f of Object.values(fields)) f.setError("");
      if (!display.value.trim()) { fields.display.setError("Enter the person's name."); return; }
      await busy(save, "Creating…", async () => {
        try {
          const r = await admin.createInvitation({ username: username.value.trim(), display: display.value.trim(), email: email.value.trim(), role: role.value, admin_level: level.value, groups: picker.value() });
          const inv = r.invitation || r;
          fill(d.querySelector(".dialog-body"), h("p.notice.ok", { role: "status" }, "Invitation created."),
            h("p", "It works once and expires on ", h("strong", fmtDate(inv.expires_at)), "."), linkBox(inv.url, "Invitation link", inv.id));
          fill(d.querySelector(".dialog-actions"), h("button.primary", { type: "button", onclick: () => d.close() }, "Done"));
          /** @type {HTMLElement} */ (d.querySelector(".dialog-body input")).focus();
          load();
        } catch (ex) {
          const f = fields[ex.field] || (/username/i.test(ex.message) ? fields.username : null);
          if (f) f.setError(ex.message); else throw ex;
        }
      }, fe);
    });
  }

  await load();
}
