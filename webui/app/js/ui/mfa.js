// @ts-check
// Screens of the second sign-in step: the step itself (a code, a recovery
// code or a passkey), enrolling a factor, and the "Sign-in security"
// settings. They render into a container the caller owns, so the PWA and
// the admin console place them in their own frames.
import { qrcode } from "../../vendor/qrcode-generator@2.0.4/dist/qrcode.mjs";
import {
  addPasskey, beginTotp, confirmTotp, listPasskeys, loginMfa, mfaStatus, newRecoveryCodes, passkeyLogin,
  passkeysSupported, removePasskey, removeTotp,
} from "../mfa.js";
import { confirmDialog, fill, fmtFull, h, icon } from "./dom.js";

let seq = 0;
const uid = (p) => `${p}-${++seq}`;

function field(label, input, hint) {
  input.id = input.id || uid("mfa-f");
  const hid = hint ? input.id + "-hint" : null;
  if (hid) input.setAttribute("aria-describedby", hid);
  return h("div.field", h("label", { for: input.id }, label), input, hint ? h("p.hint", { id: hid }, hint) : null);
}

const errorBox = () => h("p.form-error", { role: "alert", "aria-live": "assertive" });

function codeInput(recovery) {
  return h("input", {
    name: "code", autocomplete: "one-time-code", autocapitalize: "none", spellcheck: "false", required: true,
    inputmode: recovery ? "text" : "numeric", maxlength: recovery ? 20 : 6, pattern: recovery ? null : "[0-9]*",
  });
}

// busy runs fn with btn disabled and relabelled; an error lands in err.
async function busy(btn, err, label, fn) {
  const was = btn.textContent;
  btn.disabled = true;
  btn.setAttribute("aria-busy", "true");
  btn.textContent = label;
  err.textContent = "";
  try {
    return await fn();
  } catch (e) {
    err.textContent = e.message || String(e);
    return undefined;
  } finally {
    btn.disabled = false;
    btn.removeAttribute("aria-busy");
    btn.textContent = was;
  }
}

/**
 * mfaStep asks for the second factor after a right password. mfa is the
 * login answer's {token, methods}; onDone receives the login result
 * ({user, expires_at, mfa_confirmed}); onCancel goes back to the password.
 */
export function mfaStep(container, { mfa, onDone, onCancel, web = true }) {
  const methods = mfa.methods || [];
  const hasTotp = methods.includes("totp"), hasRec = methods.includes("recovery");
  const hasPass = methods.includes("passkey") && passkeysSupported();
  // What is offered first: the app's code, else the passkey, else a recovery code.
  let mode = hasTotp ? "totp" : hasPass ? "passkey" : "recovery";
  const err = errorBox();
  const form = h("form.auth-form.mfa-step", { novalidate: true });
  let input = null;

  const passkeyButton = (primary) => {
    const btn = h(`button.${primary ? "primary" : "secondary"}.big`, { type: "button" }, icon("shield"), " Use a passkey");
    btn.addEventListener("click", async () => {
      const res = await busy(btn, err, "Waiting for your passkey…", () => passkeyLogin(mfa.token, web));
      if (res) onDone(res);
    });
    return btn;
  };
  const switchTo = (m, label) => h("button.link", { type: "button", onclick: () => { mode = m; err.textContent = ""; render(); } }, label);

  const render = () => {
    const kids = [];
    if (mode === "passkey") {
      kids.push(h("p.hint", "Your account confirms sign-in with a passkey: your fingerprint, face or device PIN."), err, passkeyButton(true));
      if (hasRec) kids.push(switchTo("recovery", "Use a recovery code"));
    } else {
      const rec = mode === "recovery";
      input = codeInput(rec);
      kids.push(h("p.hint", "Your account has a second sign-in step."),
        field(rec ? "Recovery code" : "6-digit code from your authenticator app", input,
          rec ? "One of the codes you saved when you set up your second step. Each works once." : "Open your authenticator app and enter the code it shows for Curbside."),
        err, h("button.primary.big", { type: "submit" }, "Confirm"));
      if (rec && hasTotp) kids.push(switchTo("totp", "Use a code from the authenticator app"));
      if (!rec && hasRec) kids.push(switchTo("recovery", "Use a recovery code"));
      if (hasPass) kids.push(passkeyButton(false));
    }
    kids.push(h("button.link", { type: "button", onclick: () => onCancel?.() }, "Cancel and start again"));
    fill(form, kids);
    (input && mode !== "passkey" ? input : form.querySelector("button"))?.focus();
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (mode === "passkey" || !input) return;
    const code = input.value.replace(/\s+/g, "");
    if (mode === "totp" && !/^[0-9]{6}$/.test(code)) { err.textContent = "Enter the 6 digits your authenticator app shows."; input.focus(); return; }
    if (mode === "recovery" && code.length < 8) { err.textContent = "Enter one of your recovery codes."; input.focus(); return; }
    const res = await busy(form.querySelector("button[type=submit]"), err, "Checking…", () => loginMfa(mfa.token, code, web));
    if (res) onDone(res);
    else input.select();
  });
  fill(container, form);
  render();
  return form;
}

/** recoveryCodes shows a new set of codes once, and calls onSaved when the person confirms they kept them. */
export function recoveryCodesView(codes, onSaved, { confirmLabel = "Continue" } = {}) {
  const saved = h("input", { type: "checkbox", id: uid("saved") });
  const go = h("button.primary", { type: "button", disabled: true, onclick: () => onSaved() }, confirmLabel);
  saved.addEventListener("change", () => { go.disabled = !saved.checked; });
  const text = codes.join("\n");
  const copy = h("button.secondary", { type: "button", onclick: async () => {
    try { await navigator.clipboard.writeText(text); copy.textContent = "Copied"; } catch { copy.textContent = "Select the codes and copy them"; }
  } }, "Copy the codes");
  return h("div.recovery-codes",
    h("h3", "Your recovery codes"),
    h("p", "If you lose your authenticator, each of these codes signs you in once. Keep them somewhere safe, away from this device. They are shown only now."),
    h("ol.code-list", { "aria-label": "Recovery codes" }, codes.map((c) => h("li", h("code", c)))),
    h("div.row", copy),
    h("label.check", saved, " I saved these codes"),
    h("div.row", go));
}

function totpSetup(box, { onDone, onCancel }) {
  const err = errorBox();
  fill(box, h("p", "Preparing…"), err);
  beginTotp().then(({ secret, uri }) => {
    const qr = qrcode(0, "M");
    qr.addData(uri);
    qr.make();
    const input = codeInput(false);
    const submit = h("button.primary", { type: "submit" }, "Turn on");
    const grouped = secret.replace(/(.{4})/g, "$1 ").trim();
    const form = h("form.auth-form", { novalidate: true },
      h("ol.steps",
        h("li", "Open an authenticator app on your phone (for example Microsoft Authenticator, Google Authenticator or FreeOTP)."),
        h("li", "Scan this QR code, or type in the key below."),
        h("li", "Enter the 6-digit code the app shows.")),
      h("img.qr", { src: qr.createDataURL(5, 8), alt: "QR code to add Curbside to an authenticator app", width: 220, height: 220 }),
      h("p", "Key: ", h("code.totp-secret", { "aria-label": "Key for the authenticator app" }, grouped)),
      field("Code from the app", input), err,
      h("div.row", submit, onCancel ? h("button.secondary", { type: "button", onclick: onCancel }, "Cancel") : null));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const code = input.value.replace(/\s+/g, "");
      if (!/^[0-9]{6}$/.test(code)) { err.textContent = "Enter the 6 digits the app shows."; input.focus(); return; }
      const res = await busy(submit, err, "Checking…", () => confirmTotp(code));
      if (!res) { input.select(); return; }
      fill(box, h("p.form-info", { role: "status" }, icon("check"), " The authenticator app is on."),
        recoveryCodesView(res.recovery_codes, () => onDone("totp")));
      box.querySelector("input[type=checkbox]").focus();
    });
    fill(box, form);
    input.focus();
  }, (e) => { err.textContent = e.message; fill(box, err, onCancel ? h("button.secondary", { type: "button", onclick: onCancel }, "Back") : null); });
}

function passkeySetup(box, { onDone, onCancel }) {
  const err = errorBox();
  const name = h("input", { name: "passkey-name", maxlength: 64, autocomplete: "off", value: defaultPasskeyName() });
  const submit = h("button.primary", { type: "submit" }, "Add passkey");
  const form = h("form.auth-form", { novalidate: true },
    h("p", "A passkey lives in this device (or a security key) and is unlocked with your fingerprint, face or device PIN."),
    field("Name for this passkey", name, "So you can tell your passkeys apart later."), err,
    h("div.row", submit, onCancel ? h("button.secondary", { type: "button", onclick: onCancel }, "Cancel") : null));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const n = name.value.trim();
    if (!n) { err.textContent = "Give the passkey a name."; name.focus(); return; }
    const res = await busy(submit, err, "Waiting for your passkey…", () => addPasskey(n));
    if (!res) return;
    const done = h("p.form-info", { role: "status" }, icon("check"), ` Passkey “${res.passkey.name}” added.`);
    if (res.recovery_codes?.length) fill(box, done, recoveryCodesView(res.recovery_codes, () => onDone("passkey")));
    else { fill(box, done); onDone("passkey"); }
  });
  fill(box, form);
  name.focus();
}

function defaultPasskeyName() {
  const ua = navigator.userAgent;
  const os = /iPhone|iPad/.test(ua) ? "iPhone or iPad" : /Android/.test(ua) ? "Android" : /Mac OS X/.test(ua) ? "Mac" : /Windows/.test(ua) ? "Windows" : /Linux/.test(ua) ? "Linux" : "this device";
  return `Passkey on ${os}`;
}

/**
 * mfaEnroll sets up a first factor: an authenticator app (then shows the
 * recovery codes) or a passkey. With required, the intro says the practice
 * asks for it and there is no way to skip; onDone(method) runs once a
 * factor is on (the current session then counts as confirmed).
 * @param {HTMLElement} container
 * @param {{required?: boolean, onDone?: () => void, onSkip?: () => void}} [opts]
 */
export function mfaEnroll(container, { required = false, onDone, onSkip } = {}) {
  const box = h("div.mfa-enroll-body");
  const choose = () => fill(box,
    h("div.choices",
      h("button.primary.big", { type: "button", onclick: () => totpSetup(box, { onDone, onCancel: choose }) }, "Use an authenticator app"),
      passkeysSupported() ? h("button.secondary.big", { type: "button", onclick: () => passkeySetup(box, { onDone, onCancel: choose }) }, icon("shield"), " Use a passkey") : null),
    !required && onSkip ? h("button.link", { type: "button", onclick: onSkip }, "Not now") : null);
  fill(container, h("div.mfa-enroll",
    h("p.intro", required
      ? "Your practice requires a second sign-in step for your account. Set one up now to continue: an authenticator app on your phone, or a passkey on this device."
      : "A second sign-in step keeps your account safe even if someone learns your password."),
    box));
  choose();
  container.querySelector("button")?.focus();
}

/** mfaSettings is the "Sign-in security" section: the factors, recovery codes and passkeys of the signed-in user. */
export function mfaSettings(container) {
  const body = h("div.mfa-settings", h("p.muted", "Loading…"));
  fill(container, body);
  const refresh = async () => {
    let st;
    try { st = await mfaStatus(); } catch (e) { fill(body, h("p.form-error", { role: "alert" }, e.message)); return; }
    const err = errorBox();
    const panel = h("div.mfa-panel");
    const back = () => { fill(panel); refresh(); };
    const needCode = (title, action, run) => {
      const input = codeInput(false);
      const ok = h("button.primary", { type: "submit" }, action);
      const f = h("form.auth-form", { novalidate: true }, h("h3", title), field("Current code from your authenticator app", input), err,
        h("div.row", ok, h("button.secondary", { type: "button", onclick: back }, "Cancel")));
      f.addEventListener("submit", async (e) => {
        e.preventDefault();
        const code = input.value.replace(/\s+/g, "");
        if (!/^[0-9]{6}$/.test(code)) { err.textContent = "Enter the 6 digits the app shows."; return; }
        const res = await busy(ok, err, "Checking…", () => run(code));
        if (res !== undefined) {
          if (res?.recovery_codes) fill(panel, recoveryCodesView(res.recovery_codes, back, { confirmLabel: "Done" }));
          else back();
        }
      });
      fill(panel, f);
      input.focus();
    };
    const pkList = h("ul.passkeys", st.passkeys.length ? st.passkeys.map((p) => h("li",
      icon("shield"), " ", h("strong", p.name),
      h("span.muted", ` added ${fmtFull(p.created_at)}${p.last_used ? ", last used " + fmtFull(p.last_used) : ""}`), " ",
      h("button.link", { type: "button", "aria-label": `Remove passkey ${p.name}`, onclick: async (e) => {
        const btn = e.currentTarget;
        if (!(await confirmDialog(`Remove the passkey “${p.name}”?`, h("p", "It will no longer sign you in."), { yes: "Remove passkey", danger: true }))) return;
        const r = await busy(btn, err, "Removing…", () => removePasskey(p.id).then(() => true));
        if (r) refresh();
      } }, "Remove"))) : h("li.muted", "No passkeys."));
    fill(body,
      st.enrollment_required ? h("p.form-info", { role: "status" }, "Your practice requires a second sign-in step. Set one up below.") : null,
      h("p", st.totp ? [icon("check"), " Authenticator app: on."] : "Authenticator app: off."),
      st.totp || st.passkeys.length ? h("p", `Recovery codes left: ${st.recovery_left}.`) : null,
      st.required ? h("p.hint", "Your practice's policy requires a second step for your account, so the last one cannot be removed.") : null,
      h("div.row",
        st.totp ? null : h("button.secondary", { type: "button", onclick: () => totpSetup(panel, { onDone: back, onCancel: back }) }, "Set up an authenticator app"),
        st.totp ? h("button.secondary", { type: "button", onclick: () => needCode("New recovery codes", "Make new codes", newRecoveryCodes) }, "New recovery codes") : null,
        // A passkey-only account: a sign-in confirmed with the passkey stands in for the code.
        !st.totp && st.passkeys.length && st.session === "passkey" ? h("button.secondary", { type: "button", onclick: async (e) => {
          const res = await busy(e.currentTarget, err, "Making codes…", () => newRecoveryCodes(""));
          if (res) fill(panel, recoveryCodesView(res.recovery_codes, back, { confirmLabel: "Done" }));
        } }, "New recovery codes") : null,
        st.totp ? h("button.secondary", { type: "button", onclick: () => needCode("Turn off the authenticator app", "Turn off", (c) => removeTotp(c).then(() => null)) }, "Turn off the authenticator app") : null),
      h("h3", "Passkeys"), pkList,
      passkeysSupported() ? h("div.row", h("button.secondary", { type: "button", onclick: () => passkeySetup(panel, { onDone: back, onCancel: back }) }, icon("plus"), " Add a passkey")) : null,
      err, panel);
  };
  refresh();
  return { refresh };
}

export { listPasskeys };
