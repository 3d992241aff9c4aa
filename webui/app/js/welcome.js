// @ts-check
// The welcome page: an invitation link (<origin>/welcome#invite=TOKEN)
// lets a new person choose a password (and, when the admin left it open,
// a username), lets someone set a new password after a reset, and sets up
// the first owner of a fresh server. The token travels in the fragment so
// it is never sent in a request line or a Referer, and it is taken out of
// the address bar as soon as it is read; the page sends it to the server
// only in request bodies (POST /api/v1/invitations/show and /accept).
import { fill, h, icon } from "./ui/dom.js";
import { CODE_INVITATION_GONE, CODE_INVITATION_INVALID, LEVEL_OWNER, USERNAME_MAX_LEN, USERNAME_RULE, USERNAME_SYMBOLS } from "./constants.js";

const root = document.getElementById("welcome");

// Read the token once, then drop it from the address bar and history.
const token = new URLSearchParams(location.hash.slice(1)).get("invite") || "";
if (location.hash) history.replaceState(null, "", location.pathname);
// Another link opened in this tab changes only the fragment: start over with it.
window.addEventListener("hashchange", () => { if (location.hash.includes("invite=")) location.reload(); });

window.curbsideWelcome = { state: "loading" };
function setState(s) { window.curbsideWelcome.state = s; document.documentElement.dataset.state = s; }

async function call(method, path, body) {
  let res;
  try {
    res = await fetch(path, {
      method, credentials: "same-origin", cache: "no-store",
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw Object.assign(new Error("Cannot reach the Curbside server. Check your connection and try again."), { code: "offline", status: 0 });
  }
  let data = null;
  try { data = await res.json(); } catch { /* no JSON body */ }
  if (!res.ok) {
    const e = data?.error || {};
    throw Object.assign(new Error(e.message || res.statusText), { code: e.code || "http_" + res.status, status: res.status, field: e.field });
  }
  return data;
}

function screen(title, intro, ...body) {
  fill(root, h("main.auth", { "aria-labelledby": "w-title" },
    h("div.auth-card",
      h("div.brand", h("img", { src: new URL("../icons/icon.svg", import.meta.url).pathname, alt: "", width: 56, height: 56 }), h("span", "Curbside")),
      h("h1", { id: "w-title", tabindex: "-1" }, title),
      intro ? h("p.intro", intro) : null,
      body)));
  /** @type {HTMLElement} */ (root.querySelector("input:not([readonly])") || root.querySelector("h1")).focus();
}

/** why turns an invitation error into words a person can act on. */
function why(e) {
  const c = String(e.code || "");
  if (e.status === 0) return ["Cannot reach Curbside", e.message];
  if (/expired/.test(c) || /expired/i.test(e.message)) return ["This link has expired", "Invitation links work for a limited time. Ask your practice's Curbside administrator for a new one."];
  if (/used/.test(c) || /used|already/i.test(e.message)) return ["This link was already used", "Each link works once. If you set your password with it, sign in. If not, ask your administrator for a new link."];
  if (/revoked/.test(c) || /revoked|withdrawn/i.test(e.message)) return ["This link was withdrawn", "Your administrator revoked it. Ask them for a new one."];
  if (e.status === 404 || /not_found|invalid/.test(c) || /not valid/i.test(e.message)) return ["This link is not valid", "Check that you opened the whole link you were given (it is long), or ask your administrator for a new one."];
  if (e.status === 429) return ["Too many attempts", e.message];
  return ["This link cannot be used", e.message];
}

/** @type {[string, RegExp][]} */
const CLASSES = [
  ["lower-case letters", /\p{Ll}/u],
  ["upper-case letters", /\p{Lu}/u],
  ["digits", /\p{Nd}/u],
  ["symbols or spaces", /[^\p{Ll}\p{Lu}\p{Nd}]/u],
];

/** passwordProblems lists what a password still lacks under the policy ({min_length, classes}). */
export function passwordProblems(pw, pw2, pol) {
  const n = [...pw].length;
  const have = CLASSES.filter(([, re]) => re.test(pw)).length;
  return {
    length: n >= pol.min_length,
    classes: have >= (pol.classes || 1),
    blank: pw.trim() !== "",
    match: pw !== "" && pw === pw2,
    have,
  };
}

function rulesList(pol) {
  const need = pol.classes || 1;
  const items = {
    length: h("li", icon("check"), h("span", `At least ${pol.min_length} characters`)),
    classes: need > 1 ? h("li", icon("check"), h("span", `At least ${need} of: ${CLASSES.map(([n]) => n).join(", ")}`)) : null,
    match: h("li", icon("check"), h("span", "Both passwords are the same")),
  };
  const el = h("ul.pw-rules", { "aria-label": "Password rules" }, Object.values(items));
  el.update = (r) => {
    for (const [k, li] of Object.entries(items)) {
      if (!li) continue;
      const ok = r[k];
      li.classList.toggle("met", ok);
      li.querySelector("span").dataset.met = ok ? "yes" : "no";
      li.setAttribute("aria-label", `${li.querySelector("span").textContent}: ${ok ? "met" : "not yet"}`);
    }
  };
  return el;
}

const LEVEL_WORDS = { owner: "Owner", admin: "Administrator", helpdesk: "Helpdesk" };
const ROLE_WORDS = { staff: "Staff", admin: "Practice admin", external: "External", patient: "Patient" };

/**
 * validUsername is model.ValidUsername: the same rule, from the same constants.
 * @param {string} s
 */
export function validUsername(s) {
  return s.length >= 1 && s.length <= USERNAME_MAX_LEN && [...s].every((ch) => /[A-Za-z0-9]/.test(ch) || USERNAME_SYMBOLS.includes(ch));
}

/**
 * showForm is the form that sets the password (and the username and name
 * where the link leaves them open); practice is the practice's name, "" if
 * the server has none.
 * @param {any} inv
 * @param {any} pol
 * @param {string} practice
 */
function showForm(inv, pol, practice) {
  setState("form");
  const needName = !inv.username && inv.kind !== "reset";
  const needDisplay = !inv.display && inv.kind !== "reset";
  const err = h("p.form-error", { role: "alert" });
  const uname = h("input", { id: "w-user", name: "username", autocomplete: "username", autocapitalize: "none", spellcheck: "false", value: inv.username || "", readonly: !needName, required: true });
  const disp = h("input", { id: "w-display", name: "display", autocomplete: "name", required: true });
  const pw = h("input", { id: "w-pass", name: "password", type: "password", autocomplete: "new-password", required: true });
  const pw2 = h("input", { id: "w-pass2", name: "password2", type: "password", autocomplete: "new-password", required: true });
  const rules = rulesList(pol);
  pw.setAttribute("aria-describedby", "w-rules");
  rules.id = "w-rules";
  const label = inv.kind === "reset" ? "Set my password" : "Create my account";
  const btn = h("button.primary.big", { type: "submit" }, label);
  const check = () => { const r = passwordProblems(pw.value, pw2.value, pol); rules.update(r); return r; };
  pw.addEventListener("input", check);
  pw2.addEventListener("input", check);
  check();

  const form = h("form.auth-form", { novalidate: true },
    h("div.who-for", h("dl.facts",
      practice ? [h("dt", "Practice"), h("dd", { dir: "auto" }, practice)] : null,
      inv.display ? [h("dt", "For"), h("dd", inv.display)] : null,
      // The first-run link makes the practice's owner, whatever the role
      // underneath: "Staff" would tell them the wrong thing.
      inv.admin_level === LEVEL_OWNER ? [h("dt", "Role"), h("dd", "Owner")]
        : inv.role ? [h("dt", "Role"), h("dd", ROLE_WORDS[inv.role] || inv.role)] : null,
      inv.admin_level && inv.admin_level !== LEVEL_OWNER ? [h("dt", "Console"), h("dd", LEVEL_WORDS[inv.admin_level] || inv.admin_level)] : null,
      inv.expires_at ? [h("dt", "Link expires"), h("dd", new Date(inv.expires_at).toLocaleString())] : null)),
    h("div.field", h("label", { for: "w-user" }, "Username"), uname, needName ? h("p.hint", `You will sign in with it. ${USERNAME_RULE}.`) : null),
    needDisplay ? h("div.field", h("label", { for: "w-display" }, "Your full name"), disp, h("p.hint", "As colleagues will see it, e.g. Dr. Ana Ruiz.")) : null,
    h("div.field", h("label", { for: "w-pass" }, "Password"), pw),
    h("div.field", h("label", { for: "w-pass2" }, "Repeat the password"), pw2),
    rules, err, btn);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    const r = check();
    if (needName && !uname.value.trim()) { err.textContent = "Choose a username."; uname.focus(); return; }
    if (needName && !validUsername(uname.value.trim())) { err.textContent = `That username cannot be used. A username has ${USERNAME_RULE}.`; uname.focus(); return; }
    if (needDisplay && !disp.value.trim()) { err.textContent = "Enter your full name."; disp.focus(); return; }
    if (!r.length) { err.textContent = `The password must have at least ${pol.min_length} characters.`; pw.focus(); return; }
    if (!r.classes) { err.textContent = `The password needs at least ${pol.classes} kinds of characters; it has ${r.have}.`; pw.focus(); return; }
    if (!r.blank) { err.textContent = "The password cannot be only spaces."; pw.focus(); return; }
    if (!r.match) { err.textContent = "The two passwords are different."; pw2.focus(); return; }
    btn.disabled = true;
    btn.textContent = "Saving…";
    try {
      const body = { token, password: pw.value };
      if (needName) body.username = uname.value.trim();
      if (needDisplay) body.display = disp.value.trim();
      const res = await call("POST", "/api/v1/invitations/accept", body);
      showDone(inv, res.user || {});
    } catch (ex) {
      btn.disabled = false;
      btn.textContent = label;
      if (ex.code === CODE_INVITATION_INVALID || ex.code === CODE_INVITATION_GONE) { const [t, m] = why(ex); showProblem(t, m); return; }
      err.textContent = ex.message;
      (/^username|taken/.test(ex.message) ? uname : /^display/.test(ex.message) ? disp : pw).focus();
    }
  });

  // A "reset" link sets the password of an account that exists: a new
  // colleague's first one (never signed in to: greeted as an invitation),
  // or a replacement after a reset.
  const title = inv.kind === "setup" ? "Set up Curbside" : replaces(inv) ? `Choose your password${inv.display ? ", " + inv.display : ""}` : `Welcome${inv.display ? ", " + inv.display : ""}`;
  const intro = inv.kind === "setup"
    ? "Create the first owner account of this Curbside server. The owner manages users, policy and the audit log in the admin console."
    : replaces(inv)
      ? `${practice ? `The administrator of ${practice}` : "Your practice's administrator"} sent you this link to set the password of your Curbside account. If you had a password, this one replaces it.`
      : `${practice || "Your practice"} invited you to Curbside, its secure messenger. Choose your password to finish.`;
  screen(title, intro, form);
}

/**
 * replaces reports whether a link replaces the password of an account
 * already in use (a reset), rather than setting a new colleague's first.
 * @param {{kind: string, new_account?: boolean}} inv
 */
function replaces(inv) {
  return inv.kind === "reset" && !inv.new_account;
}

function showDone(inv, user) {
  setState("done");
  const toConsole = inv.kind === "setup" || !!(inv.admin_level || user.admin_level);
  const name = user.username || inv.username;
  screen(replaces(inv) ? "Your password is set" : "Your account is ready",
    `Sign in as ${name} with the password you just chose.`,
    h("div.welcome-done",
      h("div.actions-col",
        toConsole ? h("a.primary.big", { href: "/admin/" }, "Open the admin console") : null,
        h(toConsole ? "a.secondary.big" : "a.primary.big", { href: "/" }, "Open Curbside messages")),
      inv.kind === "setup" ? h("p.hint", "The console will ask you to set up a second factor (an authenticator app) at your first sign-in.") : null));
}

function showProblem(title, text) {
  setState("problem");
  screen(title, text, h("div.actions-col", h("a.secondary.big", { href: "/" }, "Go to Curbside")));
}

async function start() {
  if (!token) {
    showProblem("Open the link you were given", "This page needs the full invitation link. If you reloaded the page, open the link from your invitation again: for your safety it is removed from the address bar once read.");
    return;
  }
  try {
    const r = await call("POST", "/api/v1/invitations/show", { token });
    showForm(r.invitation, r.password_policy || { min_length: 8, classes: 1 }, r.practice || "");
  } catch (e) {
    const [t, m] = why(e);
    showProblem(t, m);
  }
}

start();
