// @ts-check
// A user's assignments under the participation rules: for a patient, their
// care team (the people and groups they can reach, who can reach them);
// for anyone else, the people and groups assigned to them. Admins edit it
// on the user's page.
import { admin } from "./api.js";
import { busy, card, errorLine, failure, fill, h, loading, select, toast } from "./ui.js";
import { LEVEL_ADMIN, ROLE_PATIENT } from "../js/constants.js";

/**
 * careTeamCard lists a user's assignments with Remove buttons and a form
 * to assign a user or a group by name.
 * @param {{id: number, username: string, display: string, role: string}} u
 * @param {any} ctx
 */
export function careTeamCard(u, ctx) {
  if (!ctx.can(LEVEL_ADMIN)) return null;
  const patient = u.role === ROLE_PATIENT;
  const box = h("div", loading());
  const err = errorLine();

  /** @param {{assignments: Array<{kind: string, id: number, name: string, display: string, role?: string}>}} res */
  const show = (res) => {
    const items = (res.assignments || []).map((a) => h("li",
      h("span", a.kind === "group" ? `Group: ${a.name}` : `${a.display || a.name} (${a.name})`),
      h("button.link.small", {
        type: "button", "aria-label": `Remove ${a.name}`,
        onclick: (/** @type {MouseEvent} */ e) => busy(/** @type {HTMLButtonElement} */ (e.currentTarget), "Removing…", async () => {
          show(await admin.unassign(u.id, a.kind, a.id)); toast(`Removed ${a.name}.`);
        }, err),
      }, "Remove")));
    fill(box, items.length ? h("ul.plain", items) : h("p.hint", patient ? "No care team yet: this patient can reach nobody." : "Nobody assigned."));
  };
  const load = async () => {
    try { show(await admin.assignments(u.id)); } catch (e) { fill(box, failure(e, load)); }
  };
  load();

  const kind = select("kind", [["user", "Person"], ["group", "Group"]], "user", { "aria-label": "Assign a person or a group" });
  const name = h("input", { type: "text", name: "assignee", placeholder: "Username or group name", autocomplete: "off", "aria-label": "Username or group name" });
  const add = h("button.secondary.small", { type: "button" }, "Assign");
  add.addEventListener("click", () => {
    const n = /** @type {HTMLInputElement} */ (name).value.trim();
    if (!n) { err.textContent = "Enter a username or a group's name first."; return; }
    busy(add, "Assigning…", async () => {
      show(await admin.assign(u.id, /** @type {HTMLSelectElement} */ (kind).value, n));
      /** @type {HTMLInputElement} */ (name).value = "";
      toast(`Assigned ${n}.`);
    }, err);
  });
  return card(patient ? "Care team" : "Assigned people and groups",
    h("p.hint", patient
      ? "The people and groups this patient can message. They can message the patient too. A patient reaches nobody else."
      : "People and groups assigned to this person; each can message the other."),
    box, h("div.row", kind, name, add), err);
}
