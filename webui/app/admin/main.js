// @ts-check
// Curbside admin console: sign-in (with the second factor), the shell with
// a navigation that shows only what the signed-in level may do, hash
// routing, and sign-out after the policy's inactivity time.
import { admin } from "./api.js";
import { fill, h, icon, rank, toast, LEVELS, labelOf, errorLine, field } from "./ui.js";
import { usersPage, userPage } from "./users.js";
import { groupsPage } from "./groups.js";
import { importPage } from "./import.js";
import { invitationsPage } from "./invitations.js";
import { policyPage } from "./policy.js";
import { emailPage } from "./email.js";
import { backupPage } from "./backup.js";
import { devicesPage } from "./devices.js";
import { auditPage } from "./audit.js";
import { reportsPage } from "./reports.js";
import { accountPage } from "./account.js";
import { loadMFA } from "./mfa.js";
import { CODE_FORBIDDEN_NETWORK, CODE_MFA_ENROLLMENT_REQUIRED, CODE_MFA_REQUIRED, LEVEL_ADMIN, LEVEL_HELPDESK, LEVEL_NONE } from "../js/constants.js";

const root = document.getElementById("console");

// Each page, the least level that may open it, and its nav label. What a
// level may not use is not shown at all (the server refuses it anyway).
/** @type {{path: string, label: string, icon: string, level: string, render: (view: HTMLElement, ctx: any, arg?: string[]) => any}[]} */
const PAGES = [
  { path: "users", label: "Users", icon: "user", level: LEVEL_HELPDESK, render: usersPage },
  { path: "groups", label: "Groups", icon: "users", level: LEVEL_HELPDESK, render: groupsPage },
  { path: "import", label: "Import", icon: "file", level: LEVEL_ADMIN, render: importPage },
  { path: "invitations", label: "Invitations", icon: "megaphone", level: LEVEL_ADMIN, render: invitationsPage },
  { path: "devices", label: "Devices", icon: "lock", level: LEVEL_ADMIN, render: devicesPage },
  { path: "policy", label: "Policy", icon: "settings", level: LEVEL_ADMIN, render: policyPage },
  { path: "email", label: "Email", icon: "bell", level: LEVEL_ADMIN, render: emailPage },
  { path: "backup", label: "Backup", icon: "shield", level: LEVEL_ADMIN, render: backupPage },
  { path: "audit", label: "Audit log", icon: "shield", level: LEVEL_ADMIN, render: auditPage },
  { path: "reports", label: "Reports", icon: "clock", level: LEVEL_ADMIN, render: reportsPage },
  { path: "account", label: "My account", icon: "user", level: LEVEL_HELPDESK, render: accountPage },
];

const DEFAULT_IDLE_MS = 5 * 60 * 1000;

// The test harness reads this; it holds no secret.
window.curbsideConsole = { state: "booting" };
function setState(s) { window.curbsideConsole.state = s; document.documentElement.dataset.state = s; }

let session = null; // {me, level, idleMs}

// ------------------------------------------------------------ sign-in

function authScreen(title, intro, ...body) {
  fill(root, h("main.auth", { "aria-labelledby": "auth-title" },
    h("div.auth-card",
      h("div.brand", icon("shield"), h("span", "Curbside"), h("span.brand-sub", "Admin console")),
      h("h1", { id: "auth-title", tabindex: "-1" }, title),
      intro ? h("p.intro", intro) : null,
      body)));
  const first = /** @type {HTMLElement} */ (root.querySelector("input:not([readonly])") || root.querySelector("h1"));
  first?.focus();
}

function showSignIn(message) {
  setState("signin");
  stopIdle();
  session = null;
  const err = errorLine();
  const info = h("p.form-info", { role: "status" }, message || "");
  const user = h("input", { name: "username", autocomplete: "username", autocapitalize: "none", spellcheck: "false", required: true });
  const pass = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const btn = h("button.primary.big", { type: "submit" }, "Sign in");
  const form = h("form.auth-form", { novalidate: true }, info, field("Username", user), field("Password", pass), err, btn,
    h("p.hint.center", "Forgot your password? Another administrator can send you a reset link."));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    if (!user.value.trim() || !pass.value) { err.textContent = "Enter your username and password."; return; }
    btn.disabled = true;
    btn.textContent = "Signing in…";
    try {
      const res = await admin.login(user.value.trim(), pass.value);
      if (res && res.mfa) { await showMFAStep(res.mfa); return; }
      await enter();
    } catch (ex) {
      btn.disabled = false;
      btn.textContent = "Sign in";
      err.textContent = ex.message || String(ex);
      pass.select();
    }
  });
  authScreen("Sign in to the admin console", "Administrators and helpdesk staff of your practice sign in here.", form,
    h("p.fineprint", icon("lock"), " Every console action is recorded in the practice's audit log."));
}

async function showMFAStep(mfa) {
  setState("mfa");
  const box = h("div.mfa-box");
  authScreen("Confirm it is you", "Your account is protected with a second factor.", box);
  const m = await loadMFA(box);
  if (!m) return;
  m.mfaStep(box, {
    mfa,
    onDone: () => enter(),
    onCancel: () => showSignIn(),
  });
}

async function showEnrollment() {
  setState("enroll");
  const box = h("div.mfa-box");
  // The enrollment screen says itself why it is needed.
  authScreen("Set up a second factor", null, box,
    h("button.link", { type: "button", onclick: signOut }, "Sign out"));
  const m = await loadMFA(box);
  if (!m) return;
  m.mfaEnroll(box, { required: true, onDone: () => enter() });
}

function showNoAccess(me) {
  setState("no-access");
  authScreen("This account has no console access",
    `${me.user.display || me.user.username} is signed in, but the admin console is only for accounts with an administrator level (helpdesk, admin or owner). Ask your practice's Curbside owner if you need access.`,
    h("div.row", h("a.secondary", { href: "/" }, "Open Curbside messages"), h("button.primary", { type: "button", onclick: signOut }, "Sign out")));
}

function showMFAResignIn(me) {
  setState("mfa-resign");
  authScreen("Sign in again with your second factor",
    "The console needs a sign-in confirmed with a second factor, and this sign-in was not. Sign out, then sign in again: you will be asked for your code or passkey.",
    h("button.primary.big", { type: "button", onclick: signOut }, "Sign out and sign in again"));
}

function showRefused(text) {
  setState("refused");
  authScreen("The console cannot be used from here", text, h("button.primary", { type: "button", onclick: signOut }, "Sign out"));
}

/**
 * enter decides, from /me and one console call, what the signed-in person
 * sees: the sign-in, an enrollment, a refusal, or the console.
 */
async function enter(message) {
  let me;
  try {
    me = await admin.me();
  } catch (e) {
    if (e.status === 401 || e.status === 403) { showSignIn(message); return; }
    showRefused(e.message);
    return;
  }
  const level = me.user.admin_level || me.admin_level || LEVEL_NONE;
  if (!rank(level)) { showNoAccess(me); return; }
  if (me.mfa_enrollment_required) {
    showEnrollment();
    return;
  }
  try {
    await admin.users({ limit: 1 });
  } catch (e) {
    if (e.code === CODE_MFA_ENROLLMENT_REQUIRED) { showEnrollment(); return; }
    if (e.code === CODE_MFA_REQUIRED) { showMFAResignIn(me); return; }
    if (e.code === CODE_FORBIDDEN_NETWORK) { showRefused(e.message); return; }
    if (e.status === 401) { showSignIn(); return; }
    showRefused(e.message);
    return;
  }
  let idleMs = DEFAULT_IDLE_MS;
  try { idleMs = (await admin.config()).policy?.inactivity_lock_ms || DEFAULT_IDLE_MS; } catch { /* the default */ }
  session = { me, level, idleMs };
  mountShell();
  startIdle(idleMs);
}

async function signOut(message) {
  stopIdle();
  try { await admin.logout(); } catch { /* the session may be gone already */ }
  showSignIn(typeof message === "string" ? message : "You are signed out.");
}

// ------------------------------------------------------------ idle sign-out

let idleTimer = null;
let lastActive = Date.now();
const activity = () => { lastActive = Date.now(); };

function startIdle(ms) {
  stopIdle();
  lastActive = Date.now();
  for (const ev of ["pointerdown", "keydown", "wheel", "touchstart"]) document.addEventListener(ev, activity, { passive: true });
  // Checked often rather than one long timer: a sleeping laptop's timers
  // stop, and on waking the check must see the real idle time.
  idleTimer = setInterval(() => {
    if (Date.now() - lastActive >= ms) {
      const mins = ms >= 60000 ? `${Math.round(ms / 60000)} min` : `${Math.round(ms / 1000)} s`;
      signOut(`You were signed out after ${mins} without activity (the practice's inactivity policy).`);
    }
  }, Math.min(5000, Math.max(1000, ms / 10)));
}

function stopIdle() {
  if (idleTimer) clearInterval(idleTimer);
  idleTimer = null;
  for (const ev of ["pointerdown", "keydown", "wheel", "touchstart"]) document.removeEventListener(ev, activity);
}

// ------------------------------------------------------------ the shell

let mainEl, navEl;

function allowed(p) { return rank(session.level) >= rank(p.level); }

function mountShell() {
  setState("console");
  const u = session.me.user;
  navEl = h("nav.side-nav", { "aria-label": "Console sections" },
    h("ul", PAGES.filter(allowed).map((p) => h("li", h("a.nav-link", { href: "#/" + p.path, "data-path": p.path }, icon(p.icon), h("span", p.label))))));
  mainEl = h("main.content", { id: "main", tabindex: "-1" });
  fill(root,
    h("a.skip", { href: "#main", onclick: (e) => { e.preventDefault(); mainEl.focus(); } }, "Skip to content"),
    h("div.console",
      h("header.topbar",
        h("div.brand", icon("shield"), h("span", "Curbside"), h("span.brand-sub", "Admin console")),
        h("div.who", h("span.who-name", u.display || u.username), h("span.pill", labelOf(LEVELS, session.level))),
        h("button.secondary.small", { type: "button", onclick: () => signOut() }, "Sign out")),
      navEl,
      mainEl));
  route();
}

function route() {
  if (!session) return;
  // "#/groups?open=3": the path, then the page's own query (read by the page).
  const parts = (location.hash.replace(/^#\/?/, "").split("?")[0] || "users").split("/").filter(Boolean);
  const page = PAGES.find((p) => p.path === parts[0]);
  for (const a of navEl.querySelectorAll("a")) {
    if (a.dataset.path === parts[0]) {
      a.setAttribute("aria-current", "page");
      a.scrollIntoView({ block: "nearest", inline: "nearest" }); // the phone's scrolling strip
    } else a.removeAttribute("aria-current");
  }
  const view = h("div.view");
  fill(mainEl, view);
  window.scrollTo(0, 0); // a new page starts at its top
  if (!page) { fill(view, h("h1", { tabindex: "-1" }, "Page not found"), h("p", h("a", { href: "#/users" }, "Back to users"))); return; }
  if (!allowed(page)) {
    fill(view, h("h1", { tabindex: "-1" }, page.label), h("p.notice.warn", `Your level (${labelOf(LEVELS, session.level)}) cannot use ${page.label}.`));
    return;
  }
  const ctx = {
    me: session.me.user,
    level: session.level,
    can: (level) => rank(session.level) >= rank(level),
    go: (hash) => { location.hash = hash; },
    refreshMe: async () => { session.me = await admin.me(); },
    onSessionEnded: () => showSignIn("Your session has ended. Sign in again."),
    // A saved inactivity policy applies to this session at once.
    policyChanged: async () => {
      try { session.idleMs = (await admin.config()).policy?.inactivity_lock_ms || session.idleMs; } catch { return; }
      startIdle(session.idleMs);
    },
  };
  document.title = `${page.label} · Curbside admin`;
  const arg = parts.slice(1);
  const r = page.path === "users" && arg[0] ? userPage(view, ctx, arg[0]) : page.render(view, ctx, arg);
  Promise.resolve(r).catch((e) => {
    if (e && e.status === 401) { showSignIn("Your session has ended. Sign in again."); return; }
    toast(e.message || String(e), { kind: "error" });
  }).finally(() => {
    // Focus the page's heading so a screen reader announces where it is.
    const h1 = view.querySelector("h1");
    if (h1 && !view.contains(document.activeElement)) h1.focus({ preventScroll: true });
  });
}

window.addEventListener("hashchange", route);
window.addEventListener("curbside:signed-out", () => { if (session) showSignIn("Your session has ended. Sign in again."); });
enter().catch((e) => showRefused(e.message || String(e)));
