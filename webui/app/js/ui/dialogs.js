// @ts-check
// The app's dialogs: a message's options, its details (receipt times),
// forwarding, a new conversation or broadcast, the safety number, and the
// PIN change.
import { qrcode } from "../../vendor/qrcode-generator@2.0.4/dist/qrcode.mjs";
import { FLAG_ACK_REQUESTED, FLAG_URGENT } from "../constants.js";
import { avatarClass, confirmDialog, dialog, fill, fmtFull, h, icon, initials, toast } from "./dom.js";
import { checkNewPin } from "./auth.js";
import { debounce, roleName } from "./common.js";
import { heldReceipts, receiptSummary, shortReason } from "./reach.js";

export function messageMenu(ui, m) {
  const c = ui.c;
  const items = [];
  const close = () => d.close();
  items.push(h("button.menu-item", { type: "button", onclick: () => { close(); detailsDialog(ui, m.id); } }, icon("clock"), " Details"));
  if (!m.recalled && m.status !== "failed" && m.status !== "pending") {
    items.push(h("button.menu-item", { type: "button", onclick: () => { close(); forwardDialog(ui, m.id); } }, icon("forward"), " Forward"));
  }
  if (!m.out && (m.flags & FLAG_ACK_REQUESTED) && !m.acked && !m.recalled) {
    items.push(h("button.menu-item", { type: "button", onclick: () => { close(); c.acknowledge(m.id); } }, icon("check"), " Acknowledge"));
  }
  if (m.out && !m.recalled && m.status === "sent") {
    items.push(h("button.menu-item.danger", { type: "button", onclick: async () => {
      close();
      if (!(await confirmDialog("Recall this message?", h("p", "It will be removed from every recipient's device. They may have read it already."), { yes: "Recall", danger: true }))) return;
      try { await c.recall(m.id); toast("Message recalled from every device."); } catch (e) { toast(`Could not recall: ${e.message}`, { kind: "error" }); }
    } }, icon("close"), " Recall from everyone"));
  }
  if (m.out && (m.status === "pending" || m.status === "failed")) {
    items.push(h("button.menu-item.danger", { type: "button", onclick: () => { close(); c.discard(m.id); } }, icon("close"), " Delete unsent message"));
  }
  const d = dialog("Message", h("div.menu", items));
}

export async function detailsDialog(ui, id) {
  const c = ui.c;
  const m = c.msgs.get(id);
  if (!m) return;
  const conv = c.convs.get(m.conv);
  const rows = [
    ["Message ID", h("code", m.id)],
    ["From", c.userName(m.from?.user)],
    ["Created", fmtFull(m.created)],
    ["Sent (server)", m.sent ? fmtFull(m.sent) : m.status === "pending" ? "Waiting for connection" : "Not yet"],
  ];
  if (m.flags & FLAG_ACK_REQUESTED) rows.push(["Acknowledgement", "Requested"]);
  if (m.flags & FLAG_URGENT) rows.push(["Priority", "Urgent"]);
  if (!m.out) { rows.push(["Read by you", m.read ? fmtFull(m.read) : "—"]); if (m.flags & FLAG_ACK_REQUESTED) rows.push(["Acknowledged by you", m.acked ? fmtFull(m.acked) : "—"]); }
  if (m.recalled) rows.push(["Recalled", fmtFull(m.recalled)]);
  const table = h("table.recipients", h("caption", "Recipients"),
    h("thead", h("tr", h("th", { scope: "col" }, "Person"), h("th", { scope: "col" }, "Delivered"), h("th", { scope: "col" }, "Read"), h("th", { scope: "col" }, "Acknowledged"))),
    h("tbody"));
  // Who it was not sent to (no device, account off) is a row too, saying why.
  const left = new Map(m.left || []);
  const summary = h("p.receipt-summary", { role: "status" });
  const fillRecipients = (recips) => {
    for (const u of left.keys()) if (!recips.some((r) => r.user === u)) recips.push({ user: u });
    fill(table.tBodies[0], recips.map((r) => h("tr", { dataset: { user: r.user } },
      h("th", { scope: "row" }, c.userName(r.user)),
      left.has(r.user) ? h("td.delivered", { colspan: 3 }, `Not delivered: ${shortReason(left.get(r.user))}`)
        : [h("td.delivered", fmtFull(r.delivered)), h("td.read", fmtFull(r.read)), h("td.acknowledged", fmtFull(r.acknowledged))])));
    summary.textContent = m.status === "sent" ? receiptSummary(c, m, recips) : "";
  };
  const body = h("div.details", h("dl", rows.map(([k, v]) => [h("dt", k), h("dd", v)])), m.out ? summary : null, m.out ? table : null,
    m.out ? h("p.hint.details-source", "") : null);
  dialog("Message details", body, { wide: true });
  if (m.out) {
    // Only receipts signed by the recipients' own devices, verified here:
    // the server's record of them (the details frame) could say anything.
    fillRecipients(heldReceipts(c, conv, m));
    body.querySelector(".details-source").textContent = "Times from receipts signed by the recipients' devices.";
  }
}

export function forwardDialog(ui, id) {
  const c = ui.c;
  const m = c.msgs.get(id);
  const pickConv = async (convId) => {
    d.close();
    await c.send(convId, { text: m.text, attachments: m.attachments || [], forwarded: { from: m.from.user, id: m.id, sent: m.sent || m.created } });
    toast(`Forwarded to ${c.title(c.convs.get(convId))}.`);
    ui.go("/c/" + convId);
  };
  const people = h("ul.pick-list");
  const input = h("input", { type: "search", placeholder: "Search people", "aria-label": "Search people", autocomplete: "off" });
  const convs = h("ul.pick-list", c.conversations().filter((x) => x.conv.id !== m.conv).slice(0, 12).map(({ conv }) =>
    h("li", h("button.pick-item", { type: "button", onclick: () => pickConv(conv.id) }, c.title(conv)))));
  input.addEventListener("input", debounce(async () => {
    const q = input.value.trim();
    if (!q) { fill(people); return; }
    try {
      const users = await c.searchDirectory(q);
      fill(people, users.map((u) => h("li", h("button.pick-item", { type: "button", onclick: async () => pickConv((await c.startDirect(u.id)).id) },
        u.display || u.username, h("span.muted", ` @${u.username}`)))));
    } catch (e) { fill(people, h("li.form-error", e.message)); }
  }, 250));
  const d = dialog("Forward to…", [h("p.hint", "Forwarding sends a new encrypted message to other Curbside users only."),
    h("label.visually-hidden", "Search people"), input, people, h("h3", "Recent conversations"), convs]);
  input.focus();
}

export function newConversation(ui) {
  const c = ui.c;
  const picked = new Map();
  const results = h("ul.pick-list", { "aria-label": "People" });
  const chips = h("div.chips", { "aria-live": "polite" });
  const input = h("input", { type: "search", placeholder: "Name or username", "aria-label": "Find people", autocomplete: "off" });
  const go = h("button.primary", { type: "button", disabled: true }, "Start");
  const renderChips = () => {
    fill(chips, [...picked.values()].map((u) => h("span.chip", u.display || u.username,
      h("button.icon-btn.small", { type: "button", "aria-label": `Remove ${u.display || u.username}`, onclick: () => { picked.delete(u.id); renderChips(); } }, icon("close")))));
    go.disabled = picked.size === 0;
    go.textContent = picked.size > 1 ? `Start broadcast to ${picked.size} people` : "Start conversation";
  };
  const search = async () => {
    const q = input.value.trim();
    try {
      const users = await c.searchDirectory(q);
      fill(results, users.length ? users.map((u) => h("li", h("button.pick-item", { type: "button", "aria-pressed": picked.has(u.id) ? "true" : "false",
        onclick: (e) => { if (picked.has(u.id)) picked.delete(u.id); else picked.set(u.id, u); e.currentTarget.setAttribute("aria-pressed", picked.has(u.id) ? "true" : "false"); renderChips(); } },
        h("span.avatar.small." + avatarClass(u.id), { "aria-hidden": "true" }, initials(u.display || u.username)),
        h("span", u.display || u.username, h("span.muted", ` @${u.username} · ${roleName(u.role)}`)),
        h("span.tick", icon("check"))))) : h("li.muted", "Nobody matches."));
    } catch (e) { fill(results, h("li.form-error", e.message)); }
  };
  input.addEventListener("input", debounce(search, 200));
  const groups = [...c.convs.values()].filter((x) => x.kind === "group");
  go.addEventListener("click", async () => {
    const ids = [...picked.keys()];
    const conv = ids.length === 1 ? await c.startDirect(ids[0]) : await c.startBroadcast(ids);
    d.close();
    ui.go("/c/" + conv.id);
  });
  const d = dialog("New message", [
    h("p.hint", "Pick one person for a conversation, or several for a broadcast (each replies only to you)."),
    input, chips, results,
    groups.length ? [h("h3", "Your groups"), h("ul.pick-list", groups.map((g) => h("li", h("button.pick-item", { type: "button", onclick: () => { d.close(); ui.go("/c/" + g.id); } }, icon("users"), " ", g.name))))] : null,
  ], { actions: [go] });
  input.focus();
  search();
}

export async function safetyDialog(ui, uid) {
  const c = ui.c;
  const body = h("div.safety", h("p", "Loading…"));
  const d = dialog(`Safety number with ${c.userName(uid)}`, body);
  try {
    const num = await c.safety(uid);
    const pin = c.pins.get(uid);
    const [lo, hi] = c.me.id < uid ? [c.me.id, uid] : [uid, c.me.id];
    const qr = qrcode(0, "M");
    qr.addData(`curbside:safety:v1:${lo}:${hi}:${num.replace(/ /g, "")}`);
    qr.make();
    const verified = h("p.verified" + (pin?.verified ? ".yes" : ""), { role: "status" }, pin?.verified ? "✓ You have verified this safety number." : "Not verified yet.");
    fill(body,
      h("p", `Compare this number with ${c.userName(uid)}, in person or on a call you trust. If it matches on both screens, nobody — not even the server — can read your messages in between.`),
      h("div.safety-number", { "aria-label": `Safety number ${num}` }, num.split(" ").map((g) => h("span", g))),
      h("img.qr", { src: qr.createDataURL(6, 8), alt: "QR code of the safety number", width: 240, height: 240 }),
      verified,
      h("div.row",
        h("button.primary", { type: "button", onclick: async () => { await c.markVerified(uid, !pin?.verified); d.close(); safetyDialog(ui, uid); } },
          pin?.verified ? "Clear verification" : "Mark as verified")),
      h("p.hint", "The number changes when either of you adds or removes a device."));
  } catch (e) {
    fill(body, h("p.form-error", e.message));
  }
}

export function changePinDialog(ui) {
  const field = (label, name) => {
    const id = "cp-" + name;
    return [h("label", { for: id }, label), h("input", { id, name, type: "password", inputmode: "numeric", autocomplete: "off", pattern: "[0-9]*" })];
  };
  const err = h("p.form-error", { role: "alert" });
  const form = h("form.auth-form", { novalidate: true }, field("Current PIN", "old"), field("New PIN", "new"), field("Repeat the new PIN", "new2"), err,
    h("button.primary", { type: "submit" }, "Change PIN"));
  const d = dialog("Change PIN", form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = (n) => form.elements[n].value;
    const bad = checkNewPin(v("new"), v("new2"));
    if (bad) { err.textContent = bad; return; }
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true; btn.textContent = "Changing…";
    try {
      await ui.actions.onChangePin(v("old"), v("new"));
      d.close();
      toast("Your PIN has been changed.");
    } catch (ex) {
      err.textContent = ex.offline ? "Changing the PIN needs a connection." : ex.message;
      btn.disabled = false; btn.textContent = "Change PIN";
    }
  });
  form.elements.old.focus();
}
