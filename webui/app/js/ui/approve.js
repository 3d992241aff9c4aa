// @ts-check
// The dialog an existing device shows when a new device asks to join the
// account (PROTOCOL.md 3.1): who asked, a field for the code the new
// device shows, Approve and Deny.
import { Approver } from "../approval.js";
import { dialog, fmtFull, h, toast } from "./dom.js";
import { browserOf } from "../agent.js";

/** @type {{d: HTMLDialogElement, id: number} | null} the dialog shown, and its request */
let current = null;
let checking = false, again = false;

/**
 * approvalDialog answers the devices waiting to join this account and
 * shows one: with the code field on the device that answered it, and
 * with Deny alone on the user's other devices. One dialog at a time; it
 * closes when its request is gone (approved or denied anywhere), and is
 * opened again by the next devices frame or the next start.
 * @param {any} ui the mounted app
 */
export async function approvalDialog(ui) {
  if (!ui.c) return;
  if (checking) { again = true; return; } // a frame came while asking: ask once more after
  const c = ui.c;
  const approver = new Approver({ vault: c.vault, keys: c.keys, dir: c, user: c.me.id });
  let reqs;
  checking = true;
  try { reqs = await approver.pending(); } catch { reqs = null; /* offline, or an old server: asked again later */ } finally { checking = false; }
  if (again) { again = false; return approvalDialog(ui); }
  if (!reqs) return;
  if (current && !reqs.some((x) => x.id === current.id)) current.d.close();
  if (current) return;
  const r = reqs.find((x) => x.mine) || reqs[0];
  if (!r) return;
  const { browser, os } = browserOf(r.agent || "");
  // The name usually says the browser already (Curbside web on Chrome).
  const what = browser && !r.name.includes(browser) ? [browser, os].filter(Boolean).join(" on ") : "";
  const err = h("p.form-error", { role: "alert", "aria-live": "assertive" });
  const code = h("input.code", { id: "approval-code", name: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 7, pattern: "[0-9 ]*" });
  const approve = h("button.primary", { type: "submit", form: "approval-form" }, "Approve");
  const deny = h("button.danger", { type: "button" }, "Deny");
  const asked = h("p", "A new device wants to join your account: ", h("span.device-name", r.name), what ? ` (${what})` : "", `, asked ${fmtFull(r.created_at)}.`);
  const form = r.mine
    ? h("form.approval-request", { id: "approval-form", novalidate: true }, asked,
      h("p", "If it is yours, enter the 6-digit code it shows. If you did not just sign in on a new device, deny it and tell your administrator: someone may know your password."),
      h("p.history-note", "Messages from before are not copied to the new device: they stay on the devices that received them, this one included."),
      h("div.field", h("label", { for: "approval-code" }, "Code shown on the new device"), code),
      err)
    : h("form.approval-request", { id: "approval-form", novalidate: true }, asked,
      h("p", "It is being approved on another of your devices: enter its code there. If you did not just sign in on a new device, deny it here and tell your administrator."),
      err);
  const d = dialog("Approve a new device?", form, { actions: r.mine ? [deny, approve] : [deny], onclose: () => { current = null; } });
  current = { d, id: r.id };
  if (r.mine) code.focus();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    if (!/^\d{6}$/.test(code.value.replace(/\s/g, ""))) { err.textContent = "Enter the 6 digits the new device shows."; return; }
    approve.disabled = true;
    try {
      const why = await approver.approve(r.id, code.value);
      if (why) { err.textContent = why; approve.disabled = false; return; }
      d.close();
      toast(`${r.name} was approved. It can now receive your messages.`);
    } catch (ex) {
      err.textContent = ex.message || String(ex);
      approve.disabled = false;
    }
  });
  deny.addEventListener("click", async () => {
    try {
      await approver.deny(r.id);
      d.close();
      toast("The new device was denied. It receives nothing.", { kind: "warn" });
    } catch (ex) {
      err.textContent = ex.message || String(ex);
    }
  });
}
