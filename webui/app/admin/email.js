// @ts-check
// Email: the SMTP server the console's mail goes through (invitation and
// reset links, unread reminders, alerts to owners and admins), a test
// email, the last send's result, and the alerts that hold now. The
// password is written, never shown: the server says only whether one is set.
import { admin } from "./api.js";
import { badge, busy, card, errorLine, failure, field, fill, fmtDate, h, loading, pageHead, select, toast } from "./ui.js";

const INTRO = "The mail server Curbside sends through: invitation and password-reset links, a reminder to someone who has had a message waiting for a while (it says only that a message waits), and alerts to owners and admins. No email carries anything from a message.";

const SECURITY = [["starttls", "STARTTLS (usually port 587)"], ["tls", "TLS (usually port 465)"], ["none", "None (only a mail server on this machine)"]];

/** MAX_PASSWORD is the server's limit on the SMTP password (mail.MaxPasswordLen). */
const MAX_PASSWORD = 512;

/**
 * @typedef {{host: string, port: number, security: string, username: string, from: string, practice: string}} EmailSettings
 * @typedef {{key: string, title: string, detail: string, since: number, mailed?: number}} Alert
 * @typedef {{settings: EmailSettings, password: string, password_source: string, last: {at: number, kind?: string, ok: boolean, error?: string}, queued: number, alerts: Alert[]}} EmailAnswer
 */

export async function emailPage(view, ctx) {
  fill(view, pageHead("Email", INTRO), loading());
  async function load(notice) {
    /** @type {EmailAnswer} */
    let res;
    try { res = await admin.email(); } catch (e) { fill(view, pageHead("Email", INTRO), failure(e, () => load())); return; }
    fill(view, pageHead("Email", INTRO),
      notice ? h("p.notice.ok", { role: "status" }, notice) : null,
      alertsCard(res.alerts || []),
      settingsCard(res, load),
      testCard(res, ctx));
  }
  await load();
}

/** alertsCard lists the conditions that hold now (nothing when none does). @param {Alert[]} alerts */
function alertsCard(alerts) {
  if (!alerts.length) return null;
  return card("Alerts now",
    h("ul.alert-list", alerts.map((a) => h("li.notice.bad", { role: "alert" },
      h("strong", a.title[0].toUpperCase() + a.title.slice(1)), h("p", a.detail),
      h("p.hint", `Since ${fmtDate(a.since)}. `, a.mailed ? `Emailed ${fmtDate(a.mailed)}.` : "Not emailed: set up email and give owners and admins an address.")))));
}

/** settingsCard is the form of the SMTP settings. @param {EmailAnswer} res */
function settingsCard(res, reload) {
  const s = res.settings || /** @type {EmailSettings} */ ({});
  const host = h("input", { name: "host", value: s.host || "", autocomplete: "off", spellcheck: "false", maxlength: 253, placeholder: "smtp.example-practice.org" });
  const port = h("input", { name: "port", type: "number", value: s.port || 587, min: 1, max: 65535, step: 1, inputmode: "numeric" });
  const security = select("security", SECURITY, s.security || "starttls");
  const username = h("input", { name: "username", value: s.username || "", autocomplete: "off", spellcheck: "false", maxlength: 256 });
  const envPassword = res.password_source === "env";
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password", maxlength: MAX_PASSWORD, disabled: envPassword,
    placeholder: res.password === "set" ? "Set: leave empty to keep it" : "Not set" });
  const clear = h("input", { type: "checkbox", name: "clear_password", disabled: envPassword || res.password !== "set" });
  const from = h("input", { name: "from", type: "email", value: s.from || "", autocomplete: "off", maxlength: 254, placeholder: "messages@example-practice.org" });
  const practice = h("input", { name: "practice", value: s.practice || "", autocomplete: "organization", maxlength: 100 });
  security.addEventListener("change", () => { if (security.value === "tls" && port.value === "587") port.value = "465"; if (security.value === "starttls" && port.value === "465") port.value = "587"; });
  const err = errorLine();
  const save = h("button.primary", { type: "submit" }, "Save email settings");
  const pwHint = envPassword
    ? "Taken from the server's CURBSIDE_SMTP_PASSWORD environment variable, which wins over a stored one."
    : `Stored encrypted with the data directory's secret.key (back it up with the database). At most ${MAX_PASSWORD} characters; never shown again.`;
  const form = h("form.stack", { novalidate: true },
    field("Mail server (host)", host, "Leave empty to turn email off."),
    field("Port", port),
    field("Security", security),
    field("Username", username, "Leave empty if the server takes mail without signing in."),
    field("Password", password, pwHint),
    h("label.check", clear, h("span", "Remove the stored password")),
    field("From address", from),
    field("Practice name", practice, "Shown in every email, e.g. Elm Street Clinic."),
    h("p", "Password: ", badge(res.password === "set" ? "Set" : "Not set", res.password === "set" ? "ok" : ""),
      envPassword ? h("span.muted", " (from the environment)") : null),
    err, h("div.form-actions", save));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    /** @type {Record<string, any>} */
    const body = { host: host.value.trim(), port: Number(port.value), security: security.value, username: username.value.trim(), from: from.value.trim(), practice: practice.value.trim() };
    if (clear.checked) body.password = "";
    else if (password.value) body.password = password.value;
    await busy(save, "Saving…", async () => { await admin.saveEmail(body); toast("Email settings saved."); await reload("Email settings saved."); }, err);
  });
  return card("Mail server", form);
}

/** testCard sends a test email and shows the last send's result. @param {EmailAnswer} res */
function testCard(res, ctx) {
  const to = h("input", { name: "to", type: "email", value: ctx.me?.email || "", autocomplete: "off", maxlength: 254 });
  const out = h("div", { role: "status" });
  const send = h("button.secondary", { type: "submit" }, "Send a test email");
  const last = res.last || { at: 0, ok: false };
  const form = h("form.stack", { novalidate: true },
    field("Send to", to, "Your own address, unless you give another."),
    h("div.form-actions", send), out,
    h("p.last-send", "Last email sent: ", last.at
      ? [badge(last.ok ? "Sent" : "Failed", last.ok ? "ok" : "bad"), ` ${fmtDate(last.at)} (${last.kind || "email"})`, last.error ? h("span.field-error", ` ${last.error}`) : null]
      : "none since the server started.", res.queued ? ` ${res.queued} waiting to be sent.` : ""));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    fill(out);
    await busy(send, "Sending…", async () => {
      try {
        const r = await admin.testEmail(to.value.trim());
        fill(out, h("p.notice.ok", `Test email sent to ${r.to}. Check that it arrived.`));
      } catch (ex) {
        fill(out, h("p.notice.bad", { role: "alert" }, ex.message || String(ex)));
      }
    });
  });
  return card("Test", form);
}
