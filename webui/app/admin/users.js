// @ts-check
// Users: the searchable list, adding a user (who then sets a password
// through an invitation link), and one user's page: profile, access,
// second factor, groups and devices.
import { admin } from "./api.js";
import { careTeamCard } from "./careteam.js";
import { recoveryBox } from "./recovery.js";
import {
  ago, badge, busy, card, confirm, dialog, errorLine, failure, field, fill, fmtDate, h, labelOf, linkBox, loading,
  LEVELS, pageHead, rank, ROLES, select, STATES, table, toast, userBadge, userName,
} from "./ui.js";
import { agentName } from "../js/agent.js";
import { LEVEL_ADMIN, LEVEL_HELPDESK, LEVEL_NONE, LEVEL_OWNER, ROLE_STAFF, STATE_ACTIVE, STATE_DISABLED, STATE_LOCKED } from "../js/constants.js";

const PAGE = 50;

/** levelChoices is what a level may grant: only an owner makes admins and owners. */
function levelChoices(ctx) {
  return LEVELS.filter(([v]) => rank(v) <= rank(ctx.level === LEVEL_OWNER ? LEVEL_OWNER : LEVEL_HELPDESK));
}

// ------------------------------------------------------------ the list

export async function usersPage(view, ctx) {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const q = h("input", { type: "search", name: "q", placeholder: "Name, username or e-mail", value: params.get("q") || "", autocomplete: "off" });
  const role = select("role", [["", "Any role"], ...ROLES], "");
  const state = select("state", [["", "Any state"], ...STATES], "");
  const level = select("level", [["", "Anyone"], ["any", "Any admin level"], ...LEVELS.slice(1)], "");
  const status = h("p.result-count", { role: "status", "aria-live": "polite" });
  const list = h("div.list-box");
  const pager = h("div.pager");
  let offset = 0;
  let seq = 0;

  const addBtn = ctx.can(LEVEL_ADMIN) ? h("button.primary", { type: "button", onclick: () => addUserDialog(ctx, load) }, "Add user") : null;
  fill(view,
    pageHead("Users", "Everyone who can sign in to Curbside at this practice.", addBtn),
    h("form.filters", { role: "search", onsubmit: (e) => { e.preventDefault(); offset = 0; load(); } },
      field("Search", q), field("Role", role), field("State", state), field("Admin level", level)),
    status, list, pager);

  let timer;
  q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => { offset = 0; load(); }, 250); });
  for (const s of [role, state, level]) s.addEventListener("change", () => { offset = 0; load(); });

  async function load() {
    const my = ++seq;
    list.replaceChildren(loading());
    let res;
    try {
      res = await admin.users({ q: q.value.trim(), role: role.value, state: state.value, level: level.value, limit: PAGE, offset });
    } catch (e) {
      if (my === seq) fill(list, failure(e, load));
      return;
    }
    if (my !== seq) return; // a newer search answered first
    const users = res.users || [];
    const total = res.total ?? users.length;
    status.textContent = total === 0 ? "No users match." : `${total} user${total === 1 ? "" : "s"}${total > users.length ? `, showing ${offset + 1}–${offset + users.length}` : ""}.`;
    fill(list, table([
      { label: "Name", cell: (u) => h("a.user-link", { href: `#/users/${u.id}` }, u.display || u.username) },
      { label: "Username", cell: (u) => u.username },
      { label: "Role", cell: (u) => labelOf(ROLES, u.role) },
      { label: "Admin level", cell: (u) => (u.admin_level ? badge(labelOf(LEVELS, u.admin_level), "brand") : "—") },
      { label: "State", cell: (u) => h("span", userBadge(u), u.offboarded_at ? badge("Offboarded", "bad") : null) },
      { label: "E-mail", cell: (u) => u.email || "—", cls: "wrap" },
      { label: "Created", cell: (u) => fmtDate(u.created_at) },
    ], users, { caption: "Users", empty: "No users match these filters." }));
    fill(pager,
      offset > 0 ? h("button.secondary.small", { type: "button", onclick: () => { offset = Math.max(0, offset - PAGE); load(); } }, "Previous") : null,
      offset + users.length < total ? h("button.secondary.small", { type: "button", onclick: () => { offset += PAGE; load(); } }, "Next") : null);
  }
  await load();
}

// ------------------------------------------------------------ adding

/** groupPicker is a checkbox list of groups (subgroups indented under parents). */
export function groupPicker(groups, chosen = []) {
  const byParent = new Map();
  for (const g of groups) {
    const p = g.parent || 0;
    if (!byParent.has(p)) byParent.set(p, []);
    byParent.get(p).push(g);
  }
  const boxes = [];
  const ids = new Set(groups.map((g) => g.id));
  const walk = (p, depth) => (byParent.get(p) || []).sort((a, b) => a.name.localeCompare(b.name)).flatMap((g) => {
    const cb = h("input", { type: "checkbox", value: String(g.id), checked: chosen.includes(g.id) });
    boxes.push(cb);
    return [h("label.check.depth" + Math.min(depth, 4), cb, h("span", g.name)), ...walk(g.id, depth + 1)];
  });
  // Groups whose parent is missing (not listed) are shown at the top level.
  const orphans = groups.filter((g) => g.parent && !ids.has(g.parent));
  const items = [...walk(0, 0), ...orphans.flatMap((g) => { const cb = h("input", { type: "checkbox", value: String(g.id) }); boxes.push(cb); return [h("label.check", cb, h("span", g.name))]; })];
  const el = h("fieldset.group-picker", h("legend", "Groups"), items.length ? items : h("p.hint", "No groups yet. Create them under Groups."));
  el.value = () => boxes.filter((b) => b.checked).map((b) => Number(b.value));
  return el;
}

async function addUserDialog(ctx, reload) {
  let groups = [];
  try { groups = (await admin.groups()).groups || []; } catch { /* the form still works without groups */ }
  const username = h("input", { name: "username", autocapitalize: "none", spellcheck: "false", autocomplete: "off", required: true });
  const display = h("input", { name: "display", autocomplete: "off", required: true });
  const email = h("input", { name: "email", type: "email", autocomplete: "off" });
  const role = select("role", ROLES, ROLE_STAFF);
  const level = select("admin_level", levelChoices(ctx), LEVEL_NONE);
  const picker = groupPicker(groups);
  const fields = {
    username: field("Username", username, "Lower-case letters, digits, dots, dashes. Used to sign in."),
    display: field("Full name", display, "As colleagues will see it, e.g. Dr. Ana Ruiz."),
    email: field("E-mail (optional)", email, "Where invitation and password reset links can be sent, once email is set up."),
    role: field("Role", role),
    admin_level: field("Admin level", level, ctx.level === LEVEL_OWNER ? "Console access. Helpdesk can reset passwords and lock devices; admins manage everything; owners also make admins." : "Console access. Only an owner can make admins and owners."),
  };
  const err = errorLine();
  const submit = h("button.primary", { type: "submit", form: "add-user" }, "Create and get link");
  const form = h("form.stack", { id: "add-user", novalidate: true }, Object.values(fields), picker, err);
  const d = dialog("Add a user", form, { wide: true, actions: [h("button.secondary", { type: "button", onclick: () => d.close() }, "Cancel"), submit] });
  username.focus();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const f of Object.values(fields)) f.setError("");
    if (!username.value.trim()) { fields.username.setError("Enter a username."); username.focus(); return; }
    if (!display.value.trim()) { fields.display.setError("Enter the person's name."); display.focus(); return; }
    await busy(submit, "Creating…", async () => {
      try {
        const res = await admin.createUser({
          username: username.value.trim(), display: display.value.trim(), email: email.value.trim(),
          role: role.value, admin_level: level.value, groups: picker.value(),
        });
        showInvitation(d, res.user, res.invitation);
        reload();
      } catch (ex) {
        const f = fields[ex.field] || (/username/i.test(ex.message) ? fields.username : null);
        if (f) f.setError(ex.message); else throw ex;
      }
    }, err);
  });
}

function showInvitation(d, user, inv) {
  const body = d.querySelector(".dialog-body");
  fill(body,
    h("p.notice.ok", { role: "status" }, `${user.display || user.username} was added.`),
    h("p", "Give them this link. It lets them choose a password and sign in; it works once and expires on ", h("strong", fmtDate(inv.expires_at)), "."),
    linkBox(inv.url, "Invitation link", inv.id),
    h("p.hint", "Send it to them by email, or through another channel only they can read (in person). Anyone with the link can set the password."));
  const foot = d.querySelector(".dialog-actions");
  fill(foot, h("a.secondary", { href: `#/users/${user.id}`, onclick: () => d.close() }, "Open user"), h("button.primary", { type: "button", onclick: () => d.close() }, "Done"));
  body.querySelector("input").focus();
}

// ------------------------------------------------------------ one user

export async function userPage(view, ctx, id, notice) {
  fill(view, loading());
  let res;
  try {
    res = await admin.user(id);
  } catch (e) {
    fill(view, h("p", h("a", { href: "#/users" }, "← All users")), h("h1", { tabindex: "-1" }, "User"), failure(e, () => userPage(view, ctx, id)));
    return;
  }
  const reload = (msg) => userPage(view, ctx, id, typeof msg === "string" ? msg : undefined);
  const u = res.user;
  const self = u.id === ctx.me.id;
  fill(view,
    h("p.crumbs", h("a", { href: "#/users" }, "← All users")),
    pageHead(u.display || u.username, null, ctx.can(LEVEL_ADMIN) ? h("a.secondary.small", { href: `#/audit?actor=${u.id}` }, "Audit entries by this person") : null),
    notice ? h("p.notice.ok", { role: "status" }, notice) : null,
    h("div.user-sub", h("span.muted", u.username), userBadge(u), u.admin_level ? badge(labelOf(LEVELS, u.admin_level), "brand") : null,
      u.offboarded_at ? badge(`Offboarded ${fmtDate(u.offboarded_at)}`, "bad") : null),
    h("div.grid2",
      profileCard(u, ctx, reload),
      accessCard(u, res, ctx, reload, self),
      mfaCard(u, res, ctx, reload),
      groupsCard(u, res.groups || [], ctx, reload),
      careTeamCard(u, ctx)),
    devicesCard(u, ctx, reload));
}

function profileCard(u, ctx, reload) {
  const isAdmin = ctx.can(LEVEL_ADMIN);
  const display = h("input", { name: "display", value: u.display || "", readonly: !isAdmin });
  const email = h("input", { name: "email", type: "email", value: u.email || "", readonly: !isAdmin });
  const role = select("role", ROLES, u.role, { disabled: !isAdmin });
  // An admin cannot change an owner's or another admin's level; the list
  // offers only levels the signed-in person may grant.
  const canLevel = isAdmin && u.id !== ctx.me.id && (ctx.level === LEVEL_OWNER || rank(u.admin_level) < rank(LEVEL_ADMIN));
  const choices = levelChoices(ctx);
  if (!choices.some(([v]) => v === (u.admin_level || ""))) choices.push([u.admin_level, labelOf(LEVELS, u.admin_level)]);
  const level = select("admin_level", choices, u.admin_level || "", { disabled: !canLevel });
  const fields = { display: field("Full name", display), email: field("E-mail", email), role: field("Role", role), admin_level: field("Admin level", level) };
  const err = errorLine();
  const save = h("button.primary", { type: "submit" }, "Save changes");
  const form = h("form.stack", { novalidate: true }, Object.values(fields), err, isAdmin ? h("div.row", save) : h("p.hint", "Only admins can change these."));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const f of Object.values(fields)) f.setError("");
    const patch = {};
    if (display.value.trim() !== (u.display || "")) patch.display = display.value.trim();
    if (email.value.trim() !== (u.email || "")) patch.email = email.value.trim();
    if (role.value !== u.role) patch.role = role.value;
    if (canLevel && level.value !== (u.admin_level || "")) patch.admin_level = level.value;
    if (!Object.keys(patch).length) { toast("Nothing changed."); return; }
    if (patch.display === "") { fields.display.setError("The name cannot be empty."); return; }
    await busy(save, "Saving…", async () => {
      try {
        await admin.updateUser(u.id, patch);
        toast("Saved.");
        reload();
      } catch (ex) {
        const f = fields[ex.field] || (Object.keys(patch).length === 1 ? fields[Object.keys(patch)[0]] : null);
        if (f) f.setError(ex.message); else throw ex;
      }
    }, err);
  });
  return card("Profile", form);
}

function accessCard(u, res, ctx, reload, self) {
  const isAdmin = ctx.can(LEVEL_ADMIN);
  const out = h("div.result", { "aria-live": "polite" });
  const err = errorLine();
  const actions = [];
  const act = (label, kind, fn) => {
    const b = h(`button.${kind}`, { type: "button" }, label);
    b.addEventListener("click", () => busy(b, "Working…", fn, err));
    actions.push(b);
  };
  if (isAdmin && !self) {
    if (u.state !== STATE_ACTIVE) act("Enable", "primary", async () => { await admin.setState(u.id, STATE_ACTIVE); toast(`${u.username} can sign in again.`); reload(); });
    if (u.state !== STATE_LOCKED) {
      act("Lock", "secondary", async () => {
        if (!(await confirm(`Lock ${u.display || u.username}?`, h("p", "They are signed out everywhere and cannot sign in until an admin enables the account again. Their messages and devices are kept."), { yes: "Lock account", danger: true }))) return;
        await admin.setState(u.id, STATE_LOCKED); toast("Account locked."); reload();
      });
    }
    if (u.state !== STATE_DISABLED) {
      act("Disable", "secondary", async () => {
        if (!(await confirm(`Disable ${u.display || u.username}?`, h("p", "They are signed out everywhere and cannot sign in. Use this for leave or a departure you may reverse; use Offboard when someone leaves for good."), { yes: "Disable account", danger: true }))) return;
        await admin.setState(u.id, STATE_DISABLED); toast("Account disabled."); reload();
      });
    }
  }
  act("Reset password", "secondary", async () => {
    if (!(await confirm("Reset the password?", h("p", `This makes a one-time link with which ${u.display || u.username} chooses a new password. Their current sessions end now.`), { yes: "Make reset link" }))) return;
    const r = await admin.resetPassword(u.id);
    fill(out, h("p", "Reset link (works once, expires ", fmtDate(r.invitation.expires_at), "):"), linkBox(r.invitation.url, "Password reset link", r.invitation.id));
    out.querySelector("input").focus();
  });
  act("Clear lockout", "secondary", async () => {
    await admin.unlock(u.id);
    toast("Failed sign-ins cleared: they can try to sign in again at once.");
    reload();
  });
  if (isAdmin && !self && !u.offboarded_at) {
    act("Offboard…", "danger", async () => {
      const ok = await confirm(`Offboard ${u.display || u.username}?`, h("div",
        h("p", "Use this when someone leaves the practice. At once:"),
        h("ul",
          h("li", "the account is disabled and every session ends;"),
          h("li", "every device of theirs is revoked and sent a wipe command, which erases Curbside's data on it the next time it connects;"),
          h("li", "the action is recorded in the audit log.")),
        h("p", "Messages they sent stay with their recipients. This cannot be undone from the console: the account can be enabled again, but each device must be set up anew.")),
      { yes: "Offboard now", danger: true });
      if (!ok) return;
      const r = await admin.offboard(u.id);
      const n = (k, one, many) => `${k} ${k === 1 ? one : many}`;
      reload(`Offboarded: ${n(r.revoked_sessions, "session", "sessions")} ended, ${n(r.revoked_devices, "device", "devices")} revoked and told to wipe.`);
    });
  }
  const lockedOut = res.locked_out_until && res.locked_out_until > Date.now() ? res.locked_out_until : 0;
  return card("Access",
    h("dl.facts",
      h("dt", "State"), h("dd", userBadge(u), u.signed_in_at ? h("span.muted", ` first signed in ${fmtDate(u.signed_in_at)}`) : null),
      h("dt", "Signed in"), h("dd", `${res.sessions ?? 0} session${res.sessions === 1 ? "" : "s"}`),
      lockedOut ? [h("dt", "Sign-in wait"), h("dd", badge("Waiting", "warn"), ` after failed sign-ins: the next try is checked from ${fmtDate(lockedOut)} (a device already set up signs in at once)`)] : null,
      res.has_password === false ? [h("dt", "Password"), h("dd", "Not set yet (the invitation is not used)")] : null,
      h("dt", "Created"), h("dd", fmtDate(u.created_at))),
    self ? h("p.hint", "You cannot lock, disable or offboard your own account.") : null,
    h("div.actions", actions), err, out);
}

function mfaCard(u, res, ctx, reload) {
  const known = !!res.mfa; // older servers do not report it
  const m = res.mfa || {};
  const err = errorLine();
  const any = m.totp || m.passkeys > 0;
  let btn = null;
  if (ctx.can(LEVEL_ADMIN) && (!known || any || m.recovery_left > 0)) {
    btn = h("button.secondary", { type: "button" }, "Reset second factor");
    btn.addEventListener("click", () => busy(btn, "Resetting…", async () => {
      if (!(await confirm("Reset the second factor?", h("p", `This removes ${u.display || u.username}'s authenticator app, recovery codes and passkeys. If the policy requires a second factor, they must set a new one up at their next sign-in. Do this only after confirming who is asking (for a lost phone, say).`), { yes: "Remove second factors", danger: true }))) return;
      await admin.resetMFA(u.id);
      toast("Second factor removed.");
      reload();
    }, err));
  }
  return card("Second factor",
    known ? h("dl.facts",
      h("dt", "Authenticator app"), h("dd", m.totp ? badge("Set up", "ok") : badge("Not set up")),
      h("dt", "Passkeys"), h("dd", String(m.passkeys || 0)),
      h("dt", "Recovery codes left"), h("dd", String(m.recovery_left || 0))) : h("p.hint", "Whether this person has a second factor is shown to them under My account; you can remove theirs if they lost it."),
    known && !any ? h("p.hint", "No second factor is set up.") : null,
    btn, err);
}

function groupsCard(u, groups, ctx, reload) {
  const err = errorLine();
  const items = groups.map((g) => h("li", h("span", h("a", { href: `#/groups?open=${g.id}` }, g.name), g.direct === false ? h("span.muted", " (through a subgroup)") : null),
    ctx.can(LEVEL_ADMIN) && g.direct !== false ? h("button.link.small", {
      type: "button", "aria-label": `Remove from ${g.name}`,
      onclick: (e) => busy(e.currentTarget, "Removing…", async () => { await admin.groupMembers(g.id, [], [u.id]); toast(`Removed from ${g.name}.`); reload(); }, err),
    }, "Remove") : null));
  let adder = null;
  if (ctx.can(LEVEL_ADMIN)) {
    const sel = h("select", { "aria-label": "Add to group" }, h("option", { value: "" }, "Add to a group…"));
    const add = h("button.secondary.small", { type: "button" }, "Add");
    admin.groups().then((r) => {
      const mine = new Set(groups.filter((g) => g.direct !== false).map((g) => g.id));
      for (const g of (r.groups || []).filter((g) => !mine.has(g.id)).sort((a, b) => a.name.localeCompare(b.name))) sel.append(h("option", { value: String(g.id) }, g.name));
    }).catch(() => {});
    add.addEventListener("click", () => {
      if (!sel.value) { err.textContent = "Choose a group first."; return; }
      busy(add, "Adding…", async () => { await admin.groupMembers(Number(sel.value), [u.id], []); toast("Added to the group."); reload(); }, err);
    });
    adder = h("div.row", sel, add);
  }
  return card("Groups", items.length ? h("ul.plain", items) : h("p.hint", "Not in any group."), adder, err);
}

/** deviceState says what state a device is in, in words. */
export function deviceState(d) {
  // Wiped once the device fetched its signed command; until then the
  // command waits for it.
  if (d.wiped && d.wiped_at) return h("span", badge("Wiped", "bad"), h("span.muted.small", ` ${fmtDate(d.wiped_at)}`));
  if (d.wiped) return badge("Wipe sent", "warn");
  if (d.state === "revoked") return badge("Revoked", "bad");
  if (!d.sessions) return h("span", badge("Active", "ok"), badge("Signed out", "warn"));
  return h("span", badge("Active", "ok"), badge("Signed in", "brand"));
}

/** deviceActions are the Lock (helpdesk) and Wipe (admin) buttons of one device. */
export function deviceActions(d, ctx, owner, reload, err) {
  const out = [];
  if (d.wiped) return out;
  if (d.state !== "revoked") {
    const b = h("button.secondary.small", { type: "button", "aria-label": `Lock ${d.name}` }, "Lock");
    b.addEventListener("click", () => busy(b, "Locking…", async () => {
      if (!(await confirm(`Lock ${d.name}?`, h("p", `The device's session ends and ${owner} must sign in with their password again on it. Nothing is erased.`), { yes: "Lock device" }))) return;
      await admin.lockDevice(d.id);
      toast(`${d.name} is locked.`);
      reload();
    }, err));
    out.push(b);
  }
  if (ctx.can(LEVEL_ADMIN)) {
    const b = h("button.danger.small", { type: "button", "aria-label": `Wipe ${d.name}` }, "Wipe");
    b.addEventListener("click", () => busy(b, "Sending…", async () => {
      if (!(await confirm(`Wipe ${d.name}?`, h("div",
        h("p", `The device is revoked now and told to erase Curbside's data (its keys and message history) the next time it opens Curbside. For a lost or stolen device.`),
        h("p", "This cannot be undone: the device must be set up anew.")), { yes: "Wipe device", danger: true }))) return;
      await admin.wipeDevice(d.id);
      toast(`${d.name}: wipe command sent.`);
      reload();
    }, err));
    out.push(b);
  }
  return out;
}

/**
 * lastSeen is "Connected now" for a device holding a live connection,
 * else when it was last seen.
 */
export function lastSeen(d) {
  return d.connected ? badge("Connected now", "ok") : ago(d.last_seen);
}

/**
 * agentCell names a device's browser or app shortly ("Chrome on Linux"),
 * with the full User-Agent in its details.
 */
export function agentCell(d) {
  if (!d.agent) return "—";
  return h("details.agent", h("summary", agentName(d.agent)), h("code.wrap", d.agent));
}

/** deviceColumns are the columns a device table shows on both device pages. */
export const deviceColumns = [
  { label: "Device", cell: (d) => h("span", { dir: "auto" }, d.name || `Device ${d.id}`) },
  { label: "Browser / app", cell: agentCell },
  { label: "Added", cell: (d) => fmtDate(d.created_at) },
  { label: "Last seen", cell: lastSeen },
  { label: "Fingerprint", cell: (d) => h("code", d.fingerprint || "—") },
  { label: "State", cell: deviceState },
];

function devicesCard(u, ctx, reload) {
  const box = h("div", loading());
  const err = errorLine();
  const owner = u.display || u.username;
  const load = async () => {
    let res;
    try { res = await admin.userDevices(u.id); } catch (e) { fill(box, failure(e, load)); return; }
    fill(box, table([
      ...deviceColumns,
      { label: "Actions", cell: (d) => h("div.cell-actions", deviceActions(d, ctx, owner, load, err)) },
    ], res.devices || [], { caption: `Devices of ${userName(u)}`, empty: "No devices: this person has not set up Curbside on any device yet." }));
  };
  load();
  return card("Devices", h("p.hint", "Each browser or phone where this person set up Curbside. Lock ends its session; Wipe also erases its keys and history."), recoveryBox(u, ctx, reload), box, err);
}
