// @ts-check
// Groups: a tree (subgroups under their parents), creating, renaming and
// moving, deleting, and members. A subgroup's members count as members of
// its parents for group conversations, so the tree is what people see.
import { admin } from "./api.js";
import { busy, card, confirm, dialog, errorLine, failure, field, fill, h, loading, pageHead, select, toast, userName } from "./ui.js";
import { LEVEL_ADMIN, STATE_ACTIVE } from "../js/constants.js";

/**
 * GroupsView is what the parts of the groups page share: its two boxes,
 * the groups as last loaded and the group that is open.
 * @typedef {object} GroupsView
 * @property {boolean} canEdit whether the signed-in level may change groups
 * @property {any} treeBox the box the tree is drawn in
 * @property {any} detail the box the open group is drawn in
 * @property {any[]} groups the groups as last loaded
 * @property {number} openId the id of the open group, 0 for none
 */

/** groupsPage shows the tree of groups beside the open group, with New group for those who may edit. */
export async function groupsPage(view, ctx) {
  /** @type {GroupsView} */
  const gv = {
    canEdit: ctx.can(LEVEL_ADMIN),
    treeBox: h("div.tree-box", loading()),
    detail: h("div.group-detail", { "aria-live": "polite" }),
    groups: [],
    openId: Number(new URLSearchParams(location.hash.split("?")[1] || "").get("open")) || 0,
  };
  fill(view,
    pageHead("Groups", "Teams and departments. Members of a subgroup are also members of the groups above it.",
      gv.canEdit ? h("button.primary", { type: "button", onclick: () => editDialog(gv, null) }, "New group") : null),
    h("div.split", card("All groups", gv.treeBox), gv.detail));
  await load(gv);
}

/** load fetches the groups again and redraws the tree and the open group; a failure shows in the tree's box with a retry. */
async function load(gv) {
  try {
    gv.groups = (await admin.groups()).groups || [];
  } catch (e) {
    fill(gv.treeBox, failure(e, () => load(gv)));
    return;
  }
  renderTree(gv);
  if (gv.openId && !gv.groups.some((g) => g.id === gv.openId)) gv.openId = 0;
  renderDetail(gv);
}

// ------------------------------------------------------------ the tree

/** byName orders groups by their names. */
const byName = (a, b) => a.name.localeCompare(b.name);

/** children lists the groups directly inside group id (0: the top level), by name. */
const children = (gv, id) => gv.groups.filter((g) => (g.parent || 0) === id).sort(byName);

/** byId finds a loaded group by its id. */
const byId = (gv, id) => gv.groups.find((g) => g.id === id);

/** ancestors lists the groups above g, the top one first (at most 50, in case of a loop). */
function ancestors(gv, g) {
  const out = [];
  for (let p = byId(gv, g.parent); p && out.length < 50; p = byId(gv, p.parent)) out.unshift(p);
  return out;
}

/** descendants is group id with its whole subtree: none of them can be its parent (a loop). */
function descendants(gv, id) {
  const out = new Set([id]);
  let grew = true;
  while (grew) { grew = false; for (const g of gv.groups) if (g.parent && out.has(g.parent) && !out.has(g.id)) { out.add(g.id); grew = true; } }
  return out;
}

/** renderTree draws the groups as a tree, the groups without a (known) parent at its root. */
function renderTree(gv) {
  if (!gv.groups.length) { fill(gv.treeBox, h("p.empty", gv.canEdit ? "No groups yet. Create the first with New group." : "No groups yet.")); return; }
  const ids = new Set(gv.groups.map((g) => g.id));
  const roots = gv.groups.filter((g) => !g.parent || !ids.has(g.parent)).sort(byName);
  fill(gv.treeBox, h("ul.tree.root", { "aria-label": "Groups" }, roots.map((g) => treeNode(gv, g))));
}

/** treeNode is one group of the tree, a button that opens it, with its subgroups below it. */
function treeNode(gv, g) {
  const kids = children(gv, g.id);
  return h("li",
    h("button.tree-item", { type: "button", "aria-current": g.id === gv.openId ? "true" : null, onclick: () => { gv.openId = g.id; renderTree(gv); renderDetail(gv); } },
      h("span.tree-name", g.name), h("span.count", `${(g.members || []).length}`), h("span.visually-hidden", " members")),
    kids.length ? h("ul.tree", kids.map((k) => treeNode(gv, k))) : null);
}

// ------------------------------------------------------------ the open group

/** renderDetail draws the open group: where it sits, its description, its actions, its members and its subgroups. */
function renderDetail(gv) {
  const g = byId(gv, gv.openId);
  if (!g) { fill(gv.detail, card(null, h("p.empty", "Choose a group to see its members."))); return; }
  const err = errorLine();
  const members = (g.members || []).slice().sort((a, b) => (a.display || a.username).localeCompare(b.display || b.username));
  const path = ancestors(gv, g);
  fill(gv.detail, card(g.name,
    path.length ? h("p.muted", "In ", path.map((p) => p.name).join(" › ")) : null,
    g.description ? h("p", g.description) : h("p.hint", "No description."),
    gv.canEdit ? groupActions(gv, g, err) : null,
    err,
    h("h3", `Members (${members.length})`),
    members.length ? h("ul.member-list", members.map((m) => memberItem(gv, g, m, err))) : h("p.hint", "No direct members."),
    children(gv, g.id).length ? h("p.hint", `Subgroups: ${children(gv, g.id).map((c) => c.name).join(", ")} (their members count here too).`) : null));
}

/** groupActions are the open group's Rename or move, Add members and Delete buttons. */
function groupActions(gv, g, err) {
  return h("div.actions",
    h("button.secondary.small", { type: "button", onclick: () => editDialog(gv, g) }, "Rename or move"),
    h("button.secondary.small", { type: "button", onclick: () => membersDialog(gv, g) }, "Add members"),
    h("button.danger.small", { type: "button", onclick: (e) => busy(e.currentTarget, "Deleting…", () => removeGroup(gv, g), err) }, "Delete"));
}

/** memberItem is one direct member of group g, a link to their page, with a Remove button for those who may edit. */
function memberItem(gv, g, m, err) {
  const remove = async () => {
    await admin.groupMembers(g.id, [], [m.id]);
    toast(`${m.display || m.username} removed.`);
    await load(gv);
  };
  return h("li",
    h("a", { href: `#/users/${m.id}` }, userName(m)),
    gv.canEdit ? h("button.link.small", { type: "button", "aria-label": `Remove ${m.display || m.username} from ${g.name}`, onclick: (e) => busy(e.currentTarget, "Removing…", remove, err) }, "Remove") : null);
}

/** removeGroup deletes group g once confirmed; its subgroups move up a level and nothing stays open. */
async function removeGroup(gv, g) {
  const kids = children(gv, g.id);
  const ok = await confirm(`Delete ${g.name}?`, h("div",
    h("p", "The group is removed; its members keep their accounts."),
    kids.length ? h("p", `Its subgroups (${kids.map((k) => k.name).join(", ")}) move up a level.`) : null), { yes: "Delete group", danger: true });
  if (!ok) return;
  await admin.deleteGroup(g.id);
  toast(`${g.name} deleted.`);
  gv.openId = 0;
  await load(gv);
}

// ------------------------------------------------------------ creating, renaming and moving

/**
 * GroupForm is the group editor's inputs, their fields (each with its own
 * error line), its error line, Save button and dialog.
 * @typedef {object} GroupForm
 * @property {any} name
 * @property {any} desc
 * @property {any} parent
 * @property {Record<string, any>} fields
 * @property {any} err
 * @property {any} save
 * @property {HTMLDialogElement} d
 */

/** editDialog opens the group editor: a new group when g is null, else a rename or move of g. */
function editDialog(gv, g) {
  const name = h("input", { name: "name", value: g?.name || "", required: true, autocomplete: "off" });
  const desc = h("textarea", { name: "description", rows: 3 }, g?.description || "");
  const parent = parentSelect(gv, g);
  const fields = { name: field("Name", name), description: field("Description (optional)", desc), parent: field("Inside group", parent, "A subgroup's members count as members of this group too.") };
  const err = errorLine();
  const save = h("button.primary", { type: "submit", form: "group-form" }, g ? "Save" : "Create group");
  const form = h("form.stack", { id: "group-form", novalidate: true }, Object.values(fields), err);
  const d = dialog(g ? `Edit ${g.name}` : "New group", form, { actions: [h("button.secondary", { type: "button", onclick: () => d.close() }, "Cancel"), save] });
  name.focus();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    await saveGroup(gv, g, { name, desc, parent, fields, err, save, d });
  });
}

/**
 * parentSelect is the editor's Inside group choice: the top level or any
 * group but g's own subtree, preset to g's parent (a new group: the open one).
 */
function parentSelect(gv, g) {
  const banned = g ? descendants(gv, g.id) : new Set();
  const parents = [["0", "— None (top level) —"], ...gv.groups.filter((x) => !banned.has(x.id)).sort(byName).map((x) => [String(x.id), x.name])];
  return select("parent", parents, String(g?.parent || (g ? 0 : gv.openId || 0)));
}

/**
 * saveGroup checks the editor's form and creates or updates the group,
 * then opens it; the server's objection lands on the field it is about.
 * @param {GroupsView} gv
 * @param {any} g
 * @param {GroupForm} gf
 */
async function saveGroup(gv, g, { name, desc, parent, fields, err, save, d }) {
  for (const f of Object.values(fields)) f.setError("");
  if (!name.value.trim()) { fields.name.setError("Enter a name."); name.focus(); return; }
  const body = { name: name.value.trim(), description: desc.value.trim(), parent: Number(parent.value) };
  await busy(save, "Saving…", async () => {
    try {
      const r = g ? await admin.updateGroup(g.id, body) : await admin.createGroup(body);
      gv.openId = r?.group?.id || g?.id || gv.openId;
      d.close();
      toast(g ? "Group saved." : `${body.name} created.`);
      await load(gv);
    } catch (ex) {
      const f = fields[ex.field] || (ex.code === "exists" || /name/i.test(ex.message) ? fields.name : /parent|loop|cycle/i.test(ex.message) ? fields.parent : null);
      if (f) f.setError(ex.message); else throw ex;
    }
  }, err);
}

// ------------------------------------------------------------ members

/**
 * MemberPicker is the Add members dialog's state: who is in the group
 * already, who has been chosen, and the parts that show them.
 * @typedef {object} MemberPicker
 * @property {Set<number>} have the ids of the group's direct members, not offered again
 * @property {Map<number, any>} chosen the people chosen so far, by id
 * @property {any} q the search box
 * @property {any} results the list of people who match the search
 * @property {any} chips the chosen people, each with a button that takes them off
 * @property {any} err the dialog's error line
 * @property {any} add the button that adds the chosen people
 * @property {number} seq the number of the latest search, so that an older answer is dropped
 */

/** membersDialog opens the search for active people to add to group g, several at a time. */
function membersDialog(gv, g) {
  /** @type {MemberPicker} */
  const mp = {
    have: new Set((g.members || []).map((m) => m.id)),
    chosen: new Map(),
    q: h("input", { type: "search", "aria-label": "Find people", placeholder: "Search by name or username", autocomplete: "off" }),
    results: h("ul.pick-list", { "aria-live": "polite" }),
    chips: h("div.chips", { "aria-label": "Chosen people" }),
    err: errorLine(),
    add: h("button.primary", { type: "button", disabled: true }, "Add to group"),
    seq: 0,
  };
  const d = dialog(`Add members to ${g.name}`, h("div", mp.q, mp.chips, mp.results, mp.err), { wide: true, actions: [h("button.secondary", { type: "button", onclick: () => d.close() }, "Cancel"), mp.add] });
  let t;
  mp.q.addEventListener("input", () => { clearTimeout(t); t = setTimeout(() => searchPeople(mp), 200); });
  mp.add.addEventListener("click", () => busy(mp.add, "Adding…", async () => {
    await admin.groupMembers(g.id, [...mp.chosen.keys()], []);
    d.close();
    toast(`${mp.chosen.size} added to ${g.name}.`);
    await load(gv);
  }, mp.err));
  mp.q.focus();
  searchPeople(mp);
}

/** renderChips shows the chosen people and counts them on the Add button. */
function renderChips(mp) {
  fill(mp.chips, [...mp.chosen.values()].map((u) => h("span.chip", u.display || u.username,
    h("button.icon-btn.small", { type: "button", "aria-label": `Remove ${u.display || u.username}`, onclick: () => { mp.chosen.delete(u.id); renderChips(mp); searchPeople(mp); } }, "×"))));
  mp.add.disabled = mp.chosen.size === 0;
  mp.add.textContent = mp.chosen.size ? `Add ${mp.chosen.size} to group` : "Add to group";
}

/** searchPeople lists the active people who match the search and are not members yet; a click chooses or unchooses one. */
async function searchPeople(mp) {
  const my = ++mp.seq;
  let r;
  try { r = await admin.users({ q: mp.q.value.trim(), state: STATE_ACTIVE, limit: 20 }); } catch (e) { mp.err.textContent = e.message; return; }
  if (my !== mp.seq) return;
  const list = (r.users || []).filter((u) => !mp.have.has(u.id));
  fill(mp.results, list.length ? list.map((u) => h("li", h("button.pick-item", {
    type: "button", "aria-pressed": mp.chosen.has(u.id) ? "true" : "false",
    onclick: () => { if (mp.chosen.has(u.id)) mp.chosen.delete(u.id); else mp.chosen.set(u.id, u); renderChips(mp); searchPeople(mp); },
  }, h("span", userName(u)), h("span.tick", "✓")))) : h("li.hint", "No one else matches."));
}
