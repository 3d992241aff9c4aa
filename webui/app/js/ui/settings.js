// @ts-check
// The settings page: status and automatic reply, sounds, quick messages,
// security (lock, PIN, devices), sign-in security and the account.
import { PRESENCE_SETTABLE } from "../constants.js";
import { confirmDialog, fill, h, icon } from "./dom.js";
import { fmtDuration, PRESENCE } from "./common.js";
import { changePinDialog } from "./dialogs.js";
import { mfaSettings } from "./mfa.js";
import { pushSettings } from "./notifications.js";
import { play, SOUNDS } from "./sounds.js";

export function renderSettings(ui) {
  const c = ui.c;
  const s = c.settings;
  const sec = (title, ...kids) => h("section.settings-section", { "aria-labelledby": "s-" + title.replace(/\W/g, "") }, h("h2", { id: "s-" + title.replace(/\W/g, "") }, title), kids);
  const autoReply = h("textarea", { id: "auto-reply", rows: 2, autocomplete: "off", value: s.autoReply || "", placeholder: "e.g. In theatre until 3 pm. For urgent matters call the ward." });
  autoReply.addEventListener("change", () => c.saveSettings({ autoReply: autoReply.value.trim() }));
  const soundSel = h("select", { id: "sound", onchange: (e) => { c.saveSettings({ sound: e.target.value }); play(e.target.value); } },
    Object.entries(SOUNDS).filter(([k]) => k !== "urgent").map(([k, v]) => h("option", { value: k, selected: s.sound === k }, v.label)));
  const newQuick = h("input", { id: "new-quick", maxlength: 200, autocomplete: "off", placeholder: "e.g. Please call me on extension 2214" });
  const devices = h("ul.devices", h("li.muted", "Loading…"));
  // One element for the app's life: settings re-render on every change,
  // and an enrollment under way (a QR code on screen) must survive that.
  if (!ui.signInSecurity) { ui.signInSecurity = h("div.sign-in-security"); mfaSettings(ui.signInSecurity); }
  const signInSecurity = ui.signInSecurity;
  // The key fingerprint is what the admin console shows for each device,
  // so an administrator and the owner can tell which device is which.
  c.myDevices().then((ds) => fill(devices, ds.map((d) => h("li", { "data-device": d.id }, icon(d.me ? "check" : "shield"), " ", h("span.device-name", { dir: "auto" }, d.name || `Device ${d.id}`), d.me ? h("strong", " (this browser)") : null, d.active ? "" : h("span.muted", " (inactive)"),
    h("span.fingerprint", { title: "Key fingerprint" }, d.fingerprint)))),
    () => fill(devices, h("li.muted", "Connect to see your devices.")));
  fill(ui.pane, h("section.settings", { "aria-label": "Settings" },
    h("header.bar", h("button.icon-btn.back", { type: "button", "aria-label": "Back to conversations", onclick: () => ui.go("/") }, icon("back")),
      h("div.conv-id", h("h1", { tabindex: "-1" }, "Settings"))),
    h("div.settings-body",
      sec("Status",
        h("fieldset.radio-group", h("legend.visually-hidden", "Your status"),
          PRESENCE_SETTABLE.map((st) => h("label.radio", h("input", { type: "radio", name: "presence", value: st, checked: s.presence === st, onchange: () => c.setPresence(st) }), " ", PRESENCE[st]))),
        h("p.hint", "Do not disturb silences sounds and holds back notifications (urgent messages still come through)."),
        h("label", { for: "auto-reply" }, "Automatic reply while on Do not disturb (optional)"), autoReply),
      sec("Sounds and notifications",
        h("label", { for: "sound" }, "Message sound"), h("div.row", soundSel, h("button.secondary", { type: "button", onclick: () => play(soundSel.value) }, "Play")),
        h("h3", "Notifications"), pushSettings(ui),
        h("p.hint", "A notification says only that a secure message is waiting, and whether it is urgent: never who wrote or what. The message opens after you unlock Curbside with your PIN.")),
      sec("Quick messages",
        h("ul.quick-manage", (s.quick || []).map((t, i) => h("li", h("span", t), h("button.link", { type: "button", onclick: () => c.saveSettings({ quick: s.quick.filter((_, j) => j !== i) }) }, "Remove")))),
        h("form.row", { onsubmit: (e) => { e.preventDefault(); const t = newQuick.value.trim(); if (t) c.saveSettings({ quick: [...(s.quick || []), t] }); } },
          h("label.visually-hidden", { for: "new-quick" }, "New quick message"), newQuick, h("button.secondary", { type: "submit" }, "Add")),
        (c.config.quick_messages || []).length ? [h("h3", "From your practice"), h("ul.quick-manage", c.config.quick_messages.map((t) => h("li", t)))] : null),
      sec("Security",
        h("p", `Curbside locks after ${fmtDuration(c.policy.inactivity_lock_ms)} without use. Messages disappear from every device after ${fmtDuration(c.policy.retention_ms)}.`),
        h("div.row", h("button.secondary", { type: "button", onclick: () => ui.actions.onLock() }, icon("lock"), " Lock now"),
          h("button.secondary", { type: "button", onclick: () => changePinDialog(ui) }, "Change PIN")),
        h("h3", "Your devices"), devices,
        h("p.hint", "Each browser or app you sign in on is a device with its own keys. The people you talk to are warned when a device is added.")),
      sec("Sign-in security",
        h("p.hint", "A second step when you sign in with your password: a code from an authenticator app, or a passkey."),
        signInSecurity),
      sec("Account",
        h("p", `Signed in as ${c.me.display || c.me.username} (@${c.me.username}).`),
        h("div.row",
          h("button.secondary", { type: "button", onclick: () => ui.actions.onSignOut() }, "Sign out"),
          h("button.danger", { type: "button", onclick: async () => { if (await confirmDialog("Erase this device?", h("p", "Its message history on this browser will be deleted for good."), { yes: "Sign out and erase", danger: true })) ui.actions.onErase(); } }, "Sign out and erase this device")),
        h("p.hint", "Signing out keeps this device's encrypted history; signing in again restores it. Erasing deletes it.")))));
}
