// @ts-check
// Groups: a tree (subgroups under their parents), creating, renaming and
// moving, deleting, and members. A subgroup's members count as members of
// its parents for group conversations, so the tree is what people see.
import { admin } from "./api.js";
import { busy, card, confirm, dialog, errorLine, failure, field, fill, h, loading, pageHead, select, toast, userName } from "./ui.js";
import { LEVEL_ADMIN, STATE_ACTIVE } from "../js/constants.js";

export async function groupsPage(view, ctx) {
  const canEdit = ctx.can(LEVEL_ADMIN);
  const treeBox = h("div.tree-box", loading());
  const detail = h("div.group-detail", { "aria-live": "polite" });
  let groups = [];
  let openId = Number(new URLSearchParams(location.hash.split("?")[1] || "").get("open")) || 0;

  fill(view,
    pageHead("Groups", "Teams and departments. Members of a subgroup are also members of the groups above it.",
      canEdit ? h("button.primary", { type: "button", onclick: () => editDialog(null) }, "New group") : null),
    h("div.split", card("All groups", treeBox), detail));

  async function load() {
    try {
      groups = (await admin.groups()).groups || [];
    } catch (e) {
      fill(treeBox, failure(e, load));
      return;
    }
    renderTree();
    if (openId && !groups.some((g) => g.id === openId)) openId = 0;
    renderDetail();
  }

  const children = (id) => groups.filter((g) => (g.parent || 0) === id).sort((a, b) => a.name.localeCompare(b.name));
  const byId = (id) => groups.find((g) => g.id === id);

  function renderTree() {
    if (!groups.length) { fill(treeBox, h("p.empty", canEdit ? "No groups yet. Create the first with New group." : "No groups yet.")); return; }
    const ids = new Set(groups.map((g) => g.id));
    const node = (g) => {
      const kids = children(g.id);
      return h("li",
        h("button.tree-item", { type: "button", "aria-current": g.id === openId ? "true" : null, onclick: () => { openId = g.id; renderTree(); renderDetail(); } },
          h("span.tree-name", g.name), h("span.count", `${(g.members || []).length}`), h("span.visually-hidden", " members")),
        kids.length ? h("ul.tree", kids.map(node)) : null);
    };
    const roots = groups.filter((g) => !g.parent || !ids.has(g.parent)).sort((a, b) => a.name.localeCompare(b.name));
    fill(treeBox, h("ul.tree.root", { "aria-label": "Groups" }, roots.map(node)));
  }

  function ancestors(g) {
    const out = [];
    for (let p = byId(g.parent); p && out.length < 50; p = byId(p.parent)) out.unshift(p);
    return out;
  }

  function renderDetail() {
    const g = byId(openId);
    if (!g) { fill(detail, card(null, h("p.empty", "Choose a group to see its members."))); return; }
    const err = errorLine();
    const members = (g.members || []).slice().sort((a, b) => (a.display || a.username).localeCompare(b.display || b.username));
    const path = ancestors(g);
    fill(detail, card(g.name,
      path.length ? h("p.muted", "In ", path.map((p) => p.name).join(" › ")) : null,
      g.description ? h("p", g.description) : h("p.hint", "No description."),
      canEdit ? h("div.actions",
        h("button.secondary.small", { type: "button", onclick: () => editDialog(g) }, "Rename or move"),
        h("button.secondary.small", { type: "button", onclick: () => membersDialog(g) }, "Add members"),
        h("button.danger.small", { type: "button", onclick: (e) => busy(e.currentTarget, "Deleting…", () => remove(g), err) }, "Delete")) : null,
      err,
      h("h3", `Members (${members.length})`),
      members.length ? h("ul.member-list", members.map((m) => h("li",
        h("a", { href: `#/users/${m.id}` }, userName(m)),
        canEdit ? h("button.link.small", { type: "button", "aria-label": `Remove ${m.display || m.username} from ${g.name}`, onclick: (e) => busy(e.currentTarget, "Removing…", async () => { await admin.groupMembers(g.id, [], [m.id]); toast(`${m.display || m.username} removed.`); await load(); }, err) }, "Remove") : null)))
        : h("p.hint", "No direct members."),
      children(g.id).length ? h("p.hint", `Subgroups: ${children(g.id).map((c) => c.name).join(", ")} (their members count here too).`) : null));
  }

  async function remove(g) {
    const kids = children(g.id);
    const ok = await confirm(`Delete ${g.name}?`, h("div",
      h("p", "The group is removed; its members keep their accounts."),
      kids.length ? h("p", `Its subgroups (${kids.map((k) => k.name).join(", ")}) move up a level.`) : null), { yes: "Delete group", danger: true });
    if (!ok) return;
    await admin.deleteGroup(g.id);
    toast(`${g.name} deleted.`);
    openId = 0;
    await load();
  }

  // Below a group, its own subtree cannot be its parent (a loop).
  function descendants(id) {
    const out = new Set([id]);
    let grew = true;
    while (grew) { grew = false; for (const g of groups) if (g.parent && out.has(g.parent) && !out.has(g.id)) { out.add(g.id); grew = true; } }
    return out;
  }

  function editDialog(g) {
    const name = h("input", { name: "name", value: g?.name || "", required: true, autocomplete: "off" });
    const desc = h("textarea", { name: "description", rows: 3 }, g?.description || "");
    const banned = g ? descendants(g.id) : new Set();
    const parents = [["0", "— None (top level) —"], ...groups.filter((x) => !banned.has(x.id)).sort((a, b) => a.name.localeCompare(b.name)).map((x) => [String(x.id), x.name])];
    const parent = select("parent", parents, String(g?.parent || (g ? 0 : openId || 0)));
    const fields = { name: field("Name", name), description: field("Description (optional)", desc), parent: field("Inside group", parent, "A subgroup's members count as members of this group too.") };
    const err = errorLine();
    const save = h("button.primary", { type: "submit", form: "group-form" }, g ? "Save" : "Create group");
    const form = h("form.stack", { id: "group-form", novalidate: true }, Object.values(fields), err);
    const d = dialog(g ? `Edit ${g.name}` : "New group", form, { actions: [h("button.secondary", { type: "button", onclick: () => d.close() }, "Cancel"), save] });
    name.focus();
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      for (const f of Object.values(fields)) f.setError("");
      if (!name.value.trim()) { fields.name.setError("Enter a name."); name.focus(); return; }
      const body = { name: name.value.trim(), description: desc.value.trim(), parent: Number(parent.value) };
      await busy(save, "Saving…", async () => {
        try {
          const r = g ? await admin.updateGroup(g.id, body) : await admin.createGroup(body);
          openId = r?.group?.id || g?.id || openId;
          d.close();
          toast(g ? "Group saved." : `${body.name} created.`);
          await load();
        } catch (ex) {
          const f = fields[ex.field] || (ex.code === "exists" || /name/i.test(ex.message) ? fields.name : /parent|loop|cycle/i.test(ex.message) ? fields.parent : null);
          if (f) f.setError(ex.message); else throw ex;
        }
      }, err);
    });
  }

  function membersDialog(g) {
    const have = new Set((g.members || []).map((m) => m.id));
    const chosen = new Map();
    const q = h("input", { type: "search", "aria-label": "Find people", placeholder: "Search by name or username", autocomplete: "off" });
    const results = h("ul.pick-list", { "aria-live": "polite" });
    const chips = h("div.chips", { "aria-label": "Chosen people" });
    const err = errorLine();
    const add = h("button.primary", { type: "button", disabled: true }, "Add to group");
    const d = dialog(`Add members to ${g.name}`, h("div", q, chips, results, err), { wide: true, actions: [h("button.secondary", { type: "button", onclick: () => d.close() }, "Cancel"), add] });
    const renderChips = () => {
      fill(chips, [...chosen.values()].map((u) => h("span.chip", u.display || u.username,
        h("button.icon-btn.small", { type: "button", "aria-label": `Remove ${u.display || u.username}`, onclick: () => { chosen.delete(u.id); renderChips(); search(); } }, "×"))));
      add.disabled = chosen.size === 0;
      add.textContent = chosen.size ? `Add ${chosen.size} to group` : "Add to group";
    };
    let seq = 0;
    const search = async () => {
      const my = ++seq;
      let r;
      try { r = await admin.users({ q: q.value.trim(), state: STATE_ACTIVE, limit: 20 }); } catch (e) { err.textContent = e.message; return; }
      if (my !== seq) return;
      const list = (r.users || []).filter((u) => !have.has(u.id));
      fill(results, list.length ? list.map((u) => h("li", h("button.pick-item", {
        type: "button", "aria-pressed": chosen.has(u.id) ? "true" : "false",
        onclick: () => { if (chosen.has(u.id)) chosen.delete(u.id); else chosen.set(u.id, u); renderChips(); search(); },
      }, h("span", userName(u)), h("span.tick", "✓")))) : h("li.hint", "No one else matches."));
    };
    let t;
    q.addEventListener("input", () => { clearTimeout(t); t = setTimeout(search, 200); });
    add.addEventListener("click", () => busy(add, "Adding…", async () => {
      await admin.groupMembers(g.id, [...chosen.keys()], []);
      d.close();
      toast(`${chosen.size} added to ${g.name}.`);
      await load();
    }, err));
    q.focus();
    search();
  }

  await load();
}
