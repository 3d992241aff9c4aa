// @ts-check
// The screens before the app: sign in, choose a PIN, unlock. Each is one
// short form with large fields, a visible label per field, and errors read
// out by screen readers (role="alert").
import { fill, h, icon } from "./dom.js";
import { mfaEnroll, mfaStep } from "./mfa.js";

const MIN_PIN = 6;

function screen(root, title, intro, form) {
  fill(root, h("main.auth", { "aria-labelledby": "auth-title" },
    h("div.auth-card",
      h("div.brand", h("img", { src: assetURL("icons/icon.svg"), alt: "", width: 56, height: 56 }), h("span", "Curbside")),
      h("h1", { id: "auth-title" }, title),
      intro ? h("p.intro", intro) : null,
      form,
      h("p.fineprint", icon("lock"), " Messages are end-to-end encrypted. They are decrypted only on your devices."))));
  const first = form.querySelector("input:not([type=hidden]):not([readonly])");
  if (first) first.focus();
}

/** assetURL resolves a path under the versioned asset prefix this module was loaded from. */
export function assetURL(p) { return new URL(`../../${p}`, import.meta.url).pathname; }

function busy(form, on, label) {
  const btn = form.querySelector("button[type=submit]");
  btn.disabled = on;
  if (on) { btn.dataset.label = btn.dataset.label || btn.textContent; btn.textContent = label || "Please wait…"; btn.setAttribute("aria-busy", "true"); }
  else { btn.textContent = btn.dataset.label || btn.textContent; btn.removeAttribute("aria-busy"); }
}

function errorBox() { return h("p.form-error", { role: "alert", "aria-live": "assertive" }); }

function field(label, input, hint) {
  const id = input.id || (input.id = "f-" + Math.random().toString(36).slice(2));
  const hid = hint ? id + "-hint" : null;
  if (hid) input.setAttribute("aria-describedby", hid);
  return h("div.field", h("label", { for: id }, label), input, hint ? h("p.hint", { id: hid }, hint) : null);
}

/**
 * signInScreen asks for the username and password. With known (a returning
 * device), the username is fixed: the device resumes for that user.
 * @param {HTMLElement} root
 * @param {{known?: {username: string, display?: string}, message?: string, onSubmit: (username: string, password: string, progress?: (text: string) => void) => Promise<void>, onOtherAccount?: () => void}} opts
 */
export function signInScreen(root, { known, message, onSubmit, onOtherAccount }) {
  const err = errorBox();
  const info = h("p.form-info", { role: "status" }, message || "");
  const user = h("input", { name: "username", autocomplete: "username", autocapitalize: "none", spellcheck: "false", required: true, value: known?.username || "", readonly: !!known });
  const pass = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h("form.auth-form", { novalidate: true },
    info, field("Username", user), field("Password", pass), err,
    h("button.primary.big", { type: "submit" }, known ? "Sign in again" : "Sign in"),
    forgotPassword(),
    known ? h("button.link", { type: "button", onclick: onOtherAccount }, `Not ${known.display || known.username}? Set up this browser for someone else`) : null);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    if (!user.value.trim() || !pass.value) { err.textContent = "Enter your username and password."; return; }
    busy(form, true, "Signing in…");
    try {
      await onSubmit(user.value.trim(), pass.value, (t) => { form.querySelector("button[type=submit]").textContent = t; });
    } catch (ex) {
      busy(form, false);
      err.textContent = ex.message || String(ex);
      pass.select();
    }
  });
  screen(root, known ? `Welcome back, ${known.display || known.username}` : "Sign in to Curbside",
    known ? "Your session has ended. Enter your password to continue on this device." : "Use the username and password your practice gave you.", form);
}

/**
 * forgotPassword is the sign-in's "Forgot your password?": the app cannot
 * reset a password by itself (nor say whether an account exists), so it
 * tells the person how to get a one-time reset link from an administrator,
 * the same path the console offers.
 */
function forgotPassword() {
  const help = h("div.forgot-help", { id: "forgot-help", role: "region", "aria-label": "How to get a reset link", hidden: true },
    h("p", "Curbside cannot reset a password by itself: ask your practice's Curbside administrator (or helpdesk) for a password reset link."),
    h("p", "They open your name in the admin console and choose Reset password. The link they send you works once: open it, choose a new password, then sign in here."));
  const btn = h("button.link", { type: "button", "aria-expanded": "false", "aria-controls": "forgot-help", onclick: () => {
    help.hidden = !help.hidden;
    btn.setAttribute("aria-expanded", String(!help.hidden));
  } }, "Forgot your password?");
  return h("div.forgot", btn, help);
}

/** checkNewPin returns why a new PIN is refused, or "". */
export function checkNewPin(pin, pin2) {
  if (!new RegExp(`^[0-9]{${MIN_PIN},12}$`).test(pin)) return `The PIN must be ${MIN_PIN} to 12 digits.`;
  if (/^(\d)\1+$/.test(pin) || "0123456789012".includes(pin) || "9876543210987".includes(pin)) return "Choose a PIN that is harder to guess than a repeated digit or a run.";
  if (pin !== pin2) return "The two PINs are different.";
  return "";
}

/** pinSetupScreen asks for a new PIN twice. */
export function pinSetupScreen(root, { onSubmit }) {
  const err = errorBox();
  const pin = h("input", { name: "pin", type: "password", inputmode: "numeric", autocomplete: "new-password", pattern: "[0-9]*", required: true });
  const pin2 = h("input", { name: "pin2", type: "password", inputmode: "numeric", autocomplete: "new-password", pattern: "[0-9]*", required: true });
  const form = h("form.auth-form", { novalidate: true },
    field("New PIN", pin, `At least ${MIN_PIN} digits. You will use it to unlock Curbside on this device.`),
    field("Repeat the PIN", pin2), err,
    h("button.primary.big", { type: "submit" }, "Set PIN and continue"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    const bad = checkNewPin(pin.value, pin2.value);
    if (bad) { err.textContent = bad; pin.focus(); return; }
    busy(form, true, "Setting up…");
    try {
      await onSubmit(pin.value, (t) => { form.querySelector("button[type=submit]").textContent = t; });
    } catch (ex) {
      busy(form, false);
      err.textContent = ex.message || String(ex);
    }
  });
  screen(root, "Choose a PIN", "Curbside locks itself when you step away. Your PIN unlocks it on this device; it never leaves this device.", form);
}

/** unlockScreen asks for the PIN. */
export function unlockScreen(root, { who, message, onSubmit, onForgot }) {
  const err = errorBox();
  // Why the app is locked (a status, not an error) is said apart from errors.
  const info = h("p.form-info", { role: "status" }, message || "");
  const pin = h("input", { name: "pin", type: "password", inputmode: "numeric", autocomplete: "off", pattern: "[0-9]*", required: true });
  const form = h("form.auth-form", { novalidate: true },
    info, field("PIN", pin), err,
    h("button.primary.big", { type: "submit" }, "Unlock"),
    h("button.link", { type: "button", onclick: onForgot }, "Forgot your PIN?"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    info.textContent = "";
    if (!pin.value) { err.textContent = "Enter your PIN."; return; }
    busy(form, true, "Unlocking…");
    try {
      await onSubmit(pin.value);
    } catch (ex) {
      busy(form, false);
      err.textContent = ex.message || String(ex);
      pin.value = "";
      pin.focus();
    }
  });
  screen(root, "Curbside is locked", `Signed in as ${who}. Enter your PIN to see your messages.`, form);
}

/**
 * wipedScreen says that a remote wipe was carried out. Nothing of the
 * account is left on this browser; starting again sets it up from scratch.
 */
export function wipedScreen(root, { title, onRestart }) {
  const form = h("div.auth-form",
    h("p.form-info", { role: "status" }, "Its messages, keys and settings have been erased from this browser. If you did not expect this, contact your practice's administrator."),
    h("button.primary.big", { type: "button", onclick: onRestart }, "Set up this browser again"));
  screen(root, title, null, form);
}

/**
 * updateScreen says that this copy of the app speaks an older protocol
 * than the server (update_required): nothing will work until the page is
 * reloaded, which fetches the new version. Local history is untouched.
 */
export function updateScreen(root, { text, onReload }) {
  const form = h("div.auth-form",
    h("p.form-info", { role: "alert" }, text),
    h("button.primary.big", { type: "button", onclick: onReload }, "Reload"));
  screen(root, "Update Curbside", null, form);
}

/**
 * mfaScreen is the second sign-in step after a right password: a code from
 * the authenticator app, a recovery code, or a passkey.
 */
export function mfaScreen(root, { mfa, onDone, onCancel }) {
  const box = h("div.auth-form");
  screen(root, "Confirm it is you", null, box);
  mfaStep(box, { mfa, onDone, onCancel });
}

/**
 * enrollScreen sets up a second sign-in step that the practice requires
 * before this browser becomes a device. onSignOut abandons the sign-in.
 */
export function enrollScreen(root, { onDone, onSignOut }) {
  const box = h("div");
  const form = h("div.auth-form", box, h("button.link", { type: "button", onclick: onSignOut }, "Cancel and sign out"));
  screen(root, "Set up a second sign-in step", null, form);
  mfaEnroll(box, { required: true, onDone });
}

/**
 * waitingScreen is a new device's screen while it waits to be approved on
 * one of the user's other devices (PROTOCOL.md 3.1), or by an administrator
 * when the user has none left (byAdmin, 3.2): first how to start, then,
 * once the approver has answered, the code to enter there or read out.
 * Either way it says that messages from before are not copied here, and,
 * when this browser was wiped (wiped), that its own were erased.
 * @param {HTMLElement} root
 * @param {{who: string, code: string, byAdmin?: boolean, wiped?: boolean, onCancel: () => void}} opts
 */
export function waitingScreen(root, { who, code, byAdmin = false, wiped = false, onCancel }) {
  const shown = code && h("p.approval-code", { "aria-label": `Approval code ${code.split("").join(" ")}` }, code.slice(0, 3) + " " + code.slice(3));
  let body;
  if (byAdmin) {
    body = code
      ? [h("p.form-info", { role: "status" }, "Read this code to your administrator:"), shown,
        h("p.hint", "Read it only to your practice's administrator, in person or on a call with them. Nobody from your practice will ask you for it by email or text.")]
      : [h("p.form-info", { role: "status" }, "You have no other device signed in to Curbside, so your practice's administrator approves this one."),
        h("p.hint", "Call your administrator or see them in person. When they start the approval, a code appears here for you to read to them. This device receives no messages until then.")];
  } else {
    body = code
      ? [h("p.form-info", { role: "status" }, "On your other device, enter this code:"), shown,
        h("p.hint", "If the code on your other device does not match, do not approve there: someone else may be trying to add a device.")]
      : [h("p.form-info", { role: "status" }, "Open Curbside on a device where you are already signed in. It will ask you to approve this one."),
        h("p.hint", "This device receives no messages until you approve it.")];
  }
  // With no other device left (byAdmin), none kept a copy.
  const history = h("p.hint.history-note", (wiped ? "This browser's earlier messages were erased when it was wiped. " : "") +
    (byAdmin ? "Messages from before are not copied to this device, so it starts with none."
      : `Messages from before are not copied to this device: they stay on ${wiped ? "your other devices" : "the devices"} that received them.`));
  const form = h("div.auth-form.waiting", ...body, history,
    h("button.link", { type: "button", onclick: onCancel }, "Cancel and sign out"));
  const why = byAdmin
    ? `Signed in as ${who}. To keep your messages safe, a new device must be approved, and you have no other device left to approve it on.`
    : `Signed in as ${who}. To keep your messages safe, a new device must be approved on one you already use.`;
  screen(root, "Approve this device", why, form);
}
