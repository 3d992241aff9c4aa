// @ts-check
// Curbside web app: start-up, the lock, and the hand-over between the
// sign-in screens and the unlocked app.
import { Client } from "./client.js";
import * as session from "./session.js";
import { mountApp } from "./ui/app.js";
import { enrollScreen, mfaScreen, pinSetupScreen, signInScreen, unlockScreen, updateScreen, waitingScreen, wipedScreen } from "./ui/auth.js";
import { Denied } from "./approval.js";
import { dialog, h } from "./ui/dom.js";

const root = document.getElementById("app");
let client = null;
let ui = null;
let lastActivity = Date.now();
let lockTimer = null;

// The test harness and the service worker read this; it holds no secret.
window.curbside = { state: "booting" };
function setState(s) { window.curbside.state = s; document.documentElement.dataset.state = s; }

let swRegistered = Promise.resolve();

async function boot() {
  swRegistered = registerServiceWorker();
  if (navigator.storage?.persist) navigator.storage.persist().catch(() => {}); // eviction must not lose keys (HIPAA.md notes)
  // A grace copy of the key share past its expiry is deleted now, before
  // anything else: a profile copied later must not hold it.
  try { await session.dropExpiredGrace(); } catch (e) { console.error("offline grace:", e); }
  const meta = await session.getMeta();
  if (meta) showUnlock();
  else if (await session.wipeStarted()) wipeIfOrdered(); // a wipe cut short: finish it
  else showSignIn(wasWiped() ? "This browser was wiped: its earlier messages were erased. Sign in to set it up again." : undefined);
}

/**
 * signInHooks show the second sign-in step and a required enrollment in
 * place of the password form. Once either has shown, an error cannot be
 * reported on the password form (it is gone): back(message) starts over.
 */
function signInHooks(back) {
  const hooks = {
    left: false,
    onMfa: (mfa) => new Promise((resolve, reject) => {
      hooks.left = true;
      setState("mfa");
      mfaScreen(root, { mfa, onDone: resolve, onCancel: () => reject(new session.SessionError("cancelled", "")) });
    }),
    onEnroll: () => new Promise((resolve, reject) => {
      hooks.left = true;
      setState("mfa-enroll");
      enrollScreen(root, {
        onDone: resolve,
        onSignOut: async () => { await session.signOut(); reject(new session.SessionError("cancelled", "")); },
      });
    }),
  };
  hooks.fail = (e) => {
    if (e.kind === "cancelled") { back(); return true; }
    if (hooks.left) { back(e.message || String(e)); return true; }
    return false;
  };
  return hooks;
}

function showSignIn(message) {
  setState("signin");
  signInScreen(root, {
    message,
    onSubmit: async (username, password) => {
      const hooks = signInHooks(showSignIn);
      let user;
      try {
        user = await session.signIn(username, password, hooks);
      } catch (e) {
        if (hooks.fail(e)) return;
        throw e;
      }
      showPinSetup(user, password);
    },
  });
}

function showResume(meta, message) {
  setState("signin");
  signInScreen(root, {
    known: meta.user,
    message,
    onSubmit: async (_u, password, progress) => {
      const hooks = signInHooks((m) => showResume(meta, m));
      try {
        await session.resume(password, progress, hooks);
      } catch (e) {
        if (e.kind === "wiped") { showSignIn(e.message); return; }
        if (e.kind === "wiped_by_admin") { showWiped(); return; }
        if (hooks.fail(e)) return;
        throw e;
      }
      showUnlock("Signed in. Now enter your PIN.");
    },
    onOtherAccount: () => offerFreshStart("Setting up this browser for someone else erases the current account's messages on this browser."),
  });
}

function offerFreshStart(text) {
  const d = dialog("Set up this browser again?", h("p", text), {
    actions: [
      h("button.secondary", { type: "button", onclick: () => d.close() }, "Cancel"),
      h("button.danger", { type: "button", onclick: async () => { d.close(); await session.eraseDevice(); showSignIn(); } }, "Erase and set up again"),
    ],
  });
}

function showPinSetup(user, password) {
  setState("pin-setup");
  pinSetupScreen(root, {
    onSubmit: async (pin, progress) => {
      let res, waiting = false;
      const wiped = wasWiped();
      try {
        res = await session.setUp(user, password, pin, progress, (code, byAdmin) => {
          waiting = true;
          setState("awaiting-approval");
          waitingScreen(root, { who: user.display || user.username, code, byAdmin, wiped, onCancel: async () => { await session.signOut(); location.reload(); } });
        }, { wiped });
      } catch (e) {
        // Once the waiting screen is up, the PIN form is gone: say what went wrong on the sign-in screen.
        if (e instanceof Denied || waiting) { await session.signOut(); showSignIn(e.message || String(e)); return; }
        throw e;
      }
      wipedHere = false;
      await startApp(res);
    },
  });
}

async function showUnlock(message) {
  setState("locked");
  const meta = await session.getMeta();
  if (!meta) { showSignIn(message); return; }
  unlockScreen(root, {
    who: meta.user.display || meta.user.username,
    message,
    onSubmit: async (pin) => {
      let res;
      try {
        res = await session.unlock(pin);
      } catch (e) {
        if (e.kind === "need_password") { showResume(meta, e.message); return; }
        if (e.kind === "wiped") { showSignIn(e.message); return; }
        if (e.kind === "wiped_by_admin") { showWiped(); return; }
        if (e.kind === "need_enroll") { showEnrollThenUnlock(); return; }
        throw e;
      }
      await startApp(res);
    },
    onForgot: () => offerFreshStart("Your PIN protects this browser's copy of your messages; without it they cannot be opened. You can set this browser up again: its message history will be erased, and new messages will arrive as usual."),
  });
  // On every contact the device asks whether it was wiped while away; the
  // PIN is not needed to obey a signed wipe.
  wipeIfOrdered();
}

/**
 * wipeIfOrdered carries out a wipe command waiting on the server, if one
 * verifies (session.checkWipe), and then shows the wiped screen. It
 * returns whether it did.
 */
async function wipeIfOrdered() {
  await swRegistered; // a registration still under way would outlive the wipe
  let wiped = false;
  try {
    wiped = await session.checkWipe();
  } catch (e) {
    console.error("remote wipe:", e);
    root.textContent = `${session.WIPED}, but erasing this browser's data did not finish (${e.message}). Close every Curbside tab and clear this site's data in the browser settings.`;
    setState("wipe-failed");
    return true;
  }
  if (wiped) showWiped();
  return wiped;
}

// wasWiped says whether this browser was wiped just before the set-up now
// under way, so that the set-up can say its earlier messages were erased,
// not kept. The wiped screen's button reloads the page with "?wiped" in
// its address, read once at start and taken out of the address at once:
// nothing is stored, as a wipe leaves nothing behind.
const WIPED_PARAM = "wiped";
let wipedHere = new URLSearchParams(location.search).has(WIPED_PARAM);
if (wipedHere) history.replaceState(null, "", location.pathname + location.hash);
function wasWiped() { return wipedHere; }

function showWiped() {
  teardown();
  setState("wiped");
  wipedScreen(root, { title: session.WIPED, onRestart: () => location.replace(`/?${WIPED_PARAM}`) });
}

// showEnrollThenUnlock: the policy began to require a second factor while
// this session was open; set one up, then unlock as usual.
function showEnrollThenUnlock() {
  setState("mfa-enroll");
  enrollScreen(root, {
    onDone: () => showUnlock("Your second sign-in step is set up. Enter your PIN to continue."),
    onSignOut: async () => { await session.signOut(); const m = await session.getMeta(); showResume(m, "You have signed out. Your history stays encrypted on this device."); },
  });
}

async function startApp(res) {
  client = new Client(res);
  await client.load();
  client.start();
  client.addEventListener("notify", onClientNotify);
  if (!location.hash) location.hash = "/";
  ui = mountApp(root, client, { onLock: lock, onSignOut: signOut, onErase: erase, onChangePin: session.changePin });
  setState("unlocked");
  window.curbside.device = res.keys.id;
  window.curbside.user = res.meta.user.id;
  window.curbside.offlineUnlock = res.offline;
  lastActivity = Date.now();
  clearInterval(lockTimer);
  lockTimer = setInterval(checkIdle, 1000);
}

function onClientNotify(e) {
  const k = e.detail.kind;
  if (k === "locked_by_admin") { teardown(); session.getMeta().then((m) => showResume(m, "An administrator ended this device's session. Sign in with your password to continue; your history stays on this device.")); }
  else if (k === "session_ended") { teardown(); session.getMeta().then((m) => showResume(m, "Your session has ended. Sign in with your password to continue.")); }
  else if (k === "revoked") {
    teardown();
    wipeIfOrdered().then((wiped) => {
      if (!wiped) session.eraseDevice().then(() => showSignIn("This device was removed from your account, so its messages on this browser were erased."));
    });
  }
  else if (k === "mfa_enrollment") { teardown(); showEnrollThenUnlock(); }
  else if (k === "replaced") { teardown(); showUnlock("Curbside was opened in another tab or window. Unlock here to use it in this one."); }
  else if (k === "update_required") { teardown(); setState("update-required"); updateScreen(root, { text: e.detail.text, onReload: () => location.reload() }); }
}

function teardown() {
  session.forgetDeviceKey(); // with the rest of what unlocking opened
  clearInterval(lockTimer);
  if (ui) { ui.unmount(); ui = null; }
  if (client) { client.removeEventListener("notify", onClientNotify); client.stop(); client = null; }
}

/** lock drops every decrypted thing from memory and asks for the PIN again. */
function lock(message) {
  teardown();
  session.forgetDeviceKey();
  showUnlock(typeof message === "string" ? message : undefined);
}

async function signOut() {
  teardown();
  await session.signOut();
  const meta = await session.getMeta();
  showResume(meta, "You have signed out. Your history stays encrypted on this device.");
}

async function erase() {
  teardown();
  await session.eraseDevice();
  showSignIn("This device has been erased.");
}

// --------------------------------------------------------- inactivity lock

for (const ev of ["pointerdown", "keydown", "touchstart", "wheel"]) {
  window.addEventListener(ev, () => { lastActivity = Date.now(); }, { passive: true, capture: true });
}

function checkIdle() {
  if (!client) return;
  if (Date.now() - lastActivity >= client.policy.inactivity_lock_ms) lock("Curbside locked itself after a period without use.");
}
// A background tab's timers are throttled: check again the moment it shows.
document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") checkIdle(); });

// A device that is locked or signed out keeps no connection to the relay,
// so it asks about a wipe the moment it is back online.
window.addEventListener("online", () => { if (!client) wipeIfOrdered(); });

// --------------------------------------------------------- service worker

function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return Promise.resolve();
  return navigator.serviceWorker.register("/sw.js", { scope: "/" }).then((reg) => {
    window.curbside.sw = true;
    window.dispatchEvent(new CustomEvent("curbside:sw", { detail: reg }));
  }).catch((e) => console.warn("service worker not registered:", e.message));
}

// A tapped notification names its conversation (sw.js). The address is
// set whether the app is unlocked or not: the conversation shows only
// after the PIN, when the app routes by the address.
navigator.serviceWorker?.addEventListener("message", (e) => {
  const m = e.data;
  if (e.origin && e.origin !== location.origin) return;
  if (m && m.type === "curbside:open" && typeof m.conv === "string") location.hash = "/c/" + m.conv;
});

boot().catch((e) => {
  console.error(e);
  root.textContent = `Curbside could not start: ${e.message}`;
});
