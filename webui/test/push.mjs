// Web Push in the browser, on a server of its own started with
// --push-allow-loopback and with npm web-push-testing as the push service.
//
// Headless Chromium cannot make a real push subscription (its push service
// is Google's, unreachable here), so the page's PushManager.subscribe is
// replaced by one that asks web-push-testing for a subscription to the
// key the app passes, through a function the test exposes. Everything else
// is real: the settings toggle and the one-time offer, the app's calls to
// the server, the server's encrypted, signed push to web-push-testing, and
// the service worker, which gets that very payload through CDP's
// ServiceWorker.deliverPushMessage and shows the notification. A click on
// the notification is a notificationclick event dispatched in the worker;
// with a (locked) window open the app goes to the conversation after the
// PIN. Not covered: Chromium's own push transport, and clients.openWindow
// with no window open (a synthetic click has no user activation).
//
//   node webui/test/push.mjs --bin PATH_TO_CURBSIDE [--screenshots DIR]
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openProfile } from "./lib/browser.mjs";
import { assert, freePort, sh, signUp, startServer, unlock, unlocked, waitFor } from "./lib/harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const PW = { petra: "petra long passphrase 71", quinn: "quinn long passphrase 82", ivy: "ivy long passphrase 93" };
const PIN = { petra: "372915", ivy: "481526" };
const IPHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1";
const MARK = "PUSHMARK-Jane-Doe-1962";

/** startPushService runs web-push-testing on a free loopback port. */
async function startPushService() {
  const port = await freePort();
  const bin = path.join(here, "node_modules/web-push-testing/src/bin/server.js");
  const child = spawn(process.execPath, [bin, String(port)], { stdio: "ignore" });
  const url = `http://localhost:${port}`;
  const call = async (p, body) => {
    const res = await fetch(url + p, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
    return res.ok ? res.json().catch(() => ({})) : Promise.reject(new Error(`${p}: ${res.status} ${await res.text()}`));
  };
  await waitFor(() => call("/status").then(() => true), "web-push-testing");
  return { url, call, stop: () => child.kill() };
}

/** fakePushManager replaces PushManager in the page (see the file's comment); the subscription lasts the tab's session. */
function fakePushManager() {
  const KEY = "__fakePushSubscription";
  const make = (json) => ({
    endpoint: json.endpoint, expirationTime: null, options: {},
    getKey: () => null,
    toJSON: () => ({ endpoint: json.endpoint, expirationTime: null, keys: json.keys }),
    unsubscribe: async () => { sessionStorage.removeItem(KEY); sessionStorage.setItem("__fakePushUnsubscribed", "1"); return true; },
  });
  const b64url = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  PushManager.prototype.subscribe = async function (opts) {
    const key = b64url(/** @type {ArrayBuffer} */ (opts.applicationServerKey));
    const json = await /** @type {any} */ (window).__pushSubscribe(key);
    sessionStorage.setItem(KEY, JSON.stringify(json));
    return make(json);
  };
  PushManager.prototype.getSubscription = async function () {
    const j = sessionStorage.getItem(KEY);
    return j ? make(JSON.parse(j)) : null;
  };
}

export function pushTests() {
  const s = {};
  return [
    ["push: a gentle offer and a settings toggle subscribe the device with the server; nothing asks at page load", async (ctx) => {
      s.ps = await startPushService();
      s.srv = await startServer(ctx.bin, undefined, ["--push-allow-loopback"]);
      for (const [u, d] of [["petra", "Petra Nurse"], ["quinn", "Quinn Doctor"]]) {
        await sh(ctx.bin, ["user", "add", "--data", s.srv.dataDir, "--username", u, "--display", d, "--role", "staff", "--password-stdin"], { input: PW[u] + "\n" });
      }
      s.petra = await openProfile("petra");
      const { page, context } = s.petra;
      s.hashes = [];
      await page.exposeFunction("__pushSubscribe", async (key) => {
        const r = await s.ps.call("/subscribe", { userVisibleOnly: "true", applicationServerKey: key });
        s.hashes.push(r.data.clientHash);
        return { endpoint: r.data.endpoint, keys: r.data.keys };
      });
      await page.addInitScript(fakePushManager);
      // Nothing may ask for permission by itself: count the prompts.
      await page.addInitScript(() => {
        const real = Notification.requestPermission.bind(Notification);
        /** @type {any} */ (window).__permissionAsked = 0;
        Notification.requestPermission = (...a) => { /** @type {any} */ (window).__permissionAsked++; return real(...a); };
      });
      await context.grantPermissions(["notifications"], { origin: s.srv.url });
      await signUp(page, s.srv.url, "petra", PW.petra, PIN.petra);
      // The offer, in the sidebar; no prompt yet.
      const offer = page.locator(".banner.push-offer");
      await offer.waitFor();
      assert.equal(await page.evaluate(() => /** @type {any} */ (window).__permissionAsked), 0, "asked for permission before the person chose to");
      if (ctx.shots) await page.screenshot({ path: path.join(ctx.shots, "push-offer-phone.png") });
      await offer.getByRole("button", { name: "Not now" }).click();
      await offer.waitFor({ state: "detached" });
      // The settings toggle.
      await page.getByRole("button", { name: "Settings" }).click();
      const box = page.locator(".push-settings");
      await box.getByText("Notifications are off for this device.").waitFor();
      if (ctx.shots) await page.screenshot({ path: path.join(ctx.shots, "push-settings-phone.png"), fullPage: true });
      await box.getByRole("button", { name: "Get notifications on this device" }).click();
      await box.getByText("Notifications are on for this device.").waitFor();
      assert.equal(await page.evaluate(() => /** @type {any} */ (window).__permissionAsked), 1);
      const st = await page.evaluate(() => fetch("/api/v1/devices/me/push").then((r) => r.json()));
      assert.equal(st.subscribed, true, "the server holds the subscription");
      assert.equal(s.hashes.length, 1, "one subscription made with the server's VAPID key");
      // A reload keeps the offer answered.
      await page.reload();
      await unlock(page, PIN.petra);
      await page.waitForFunction(() => document.documentElement.dataset.pushOffer);
      assert.equal(await page.evaluate(() => document.documentElement.dataset.pushOffer), "no", "the offer came back after being answered");
    }],

    ["push: a message for the closed app is pushed by the server; the service worker shows it without a word of it", async (ctx) => {
      assert.ok(s.petra, "the subscription test ran");
      const { page, context } = s.petra;
      // The app closes (a page of another origin is no client of the
      // worker); quinn writes, urgently.
      await page.goto("about:blank");
      const state = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "quinn-")), "state.json");
      await sh(ctx.bin, ["client", "login", "--server", s.srv.url, "--username", "quinn", "--password-stdin", "--state", state], { input: PW.quinn + "\n" });
      await sh(ctx.bin, ["client", "send", "--state", state, "--to", "petra", "--urgent", `${MARK} please call about bed 4`]);
      const msgs = await waitFor(async () => {
        const r = await s.ps.call("/get-notifications", { clientHash: s.hashes[0] });
        return r.data.messages.length ? r.data.messages : null;
      }, "the server's push");
      assert.equal(msgs.length, 1);
      const payload = msgs[0];
      for (const bad of [MARK, "bed 4", "Quinn", "quinn", "Petra"]) assert.ok(!payload.includes(bad), `the push carries ${bad}: ${payload}`);
      s.payload = JSON.parse(payload);
      assert.equal(s.payload.urgent, true);

      // The very payload, delivered to the worker through CDP.
      const cdp = await context.newCDPSession(page);
      const regs = [];
      cdp.on("ServiceWorker.workerRegistrationUpdated", (e) => regs.push(...e.registrations));
      await cdp.send("ServiceWorker.enable");
      const reg = await waitFor(() => regs.find((r) => r.scopeURL === s.srv.url + "/" && !r.isDeleted), "the worker's registration");
      // The worker may have been stopped and started again: ask the newest.
      const worker = () => context.serviceWorkers().filter((w) => w.url().startsWith(s.srv.url)).at(-1);
      const count = (title) => worker()?.evaluate(async (t) => (await /** @type {any} */ (self).registration.getNotifications()).filter((n) => !t || n.title === t).length, title);
      // A push that reaches a worker while Chromium is still starting it is
      // sometimes lost in headless mode; delivery is at-least-once anyway,
      // and a repeat replaces the notification (same tag), so deliver again
      // until it shows.
      const deliver = async (data, title) => {
        for (let i = 0; i < 10; i++) {
          await cdp.send("ServiceWorker.deliverPushMessage", { origin: s.srv.url, registrationId: reg.registrationId, data });
          try { await waitFor(() => count(title).then((n) => n > 0), "the notification", 3000); return; } catch { /* deliver again */ }
        }
        throw new Error("no notification was shown for the push");
      };
      await deliver(payload, "Urgent secure message");
      const shown = await waitFor(() => worker()?.evaluate(async () => (await /** @type {any} */ (self).registration.getNotifications()).map((n) => ({ title: n.title, body: n.body, data: n.data }))).then((l) => l.length ? l : null), "the notification");
      assert.equal(shown.length, 1);
      assert.equal(shown[0].title, "Urgent secure message");
      assert.equal(shown[0].body, "Open Curbside to read it.");
      assert.equal(shown[0].data.conv, s.payload.conv);
      for (const bad of [MARK, "bed 4", "Quinn", "quinn"]) assert.ok(!JSON.stringify(shown).includes(bad), `the notification shows ${bad}`);
      // A normal one says so.
      await deliver(JSON.stringify({ ...s.payload, urgent: false }), "New secure message");
      s.worker = worker;
    }],

    ["push: tapping the notification opens its conversation, after the PIN", async () => {
      assert.ok(s.worker, "the notification test ran");
      const { page } = s.petra;
      await page.goto(s.srv.url + "/");
      await page.getByLabel("PIN").waitFor();
      // The tap, as the notificationclick event the browser dispatches.
      await s.worker().evaluate(async () => {
        const g = /** @type {any} */ (self);
        const [n] = (await g.registration.getNotifications()).filter((x) => x.title === "Urgent secure message");
        g.dispatchEvent(new NotificationEvent("notificationclick", { notification: n }));
      });
      await waitFor(() => page.evaluate(() => location.hash).then((h) => decodeURIComponent(h) === "#/c/" + s.payload.conv), "the address of the conversation");
      // Still locked: nothing of the conversation shows before the PIN.
      assert.equal(await page.evaluate(() => /** @type {any} */ (window).curbside.state), "locked");
      assert.equal(await page.locator(".conversation").count(), 0);
      await unlock(page, PIN.petra);
      await page.locator(".conversation .conv-id h1", { hasText: "Quinn Doctor" }).waitFor();
      await page.locator(".msg", { hasText: `${MARK} please call about bed 4` }).waitFor();
    }],

    ["push: turning notifications off deletes the subscription on the server and in the browser", async (ctx) => {
      assert.ok(s.petra, "the subscription test ran");
      const { page } = s.petra;
      await unlocked(page);
      await page.getByRole("button", { name: "Back to conversations" }).click().catch(() => {});
      await page.getByRole("button", { name: "Settings" }).click();
      const box = page.locator(".push-settings");
      await box.getByRole("button", { name: "Stop notifications on this device" }).click();
      await box.getByText("Notifications are off for this device.").waitFor();
      const st = await page.evaluate(() => fetch("/api/v1/devices/me/push").then((r) => r.json()));
      assert.equal(st.subscribed, false, "the server still holds the subscription");
      assert.equal(await page.evaluate(() => sessionStorage.getItem("__fakePushUnsubscribed")), "1", "the browser's subscription was not ended");
      if (ctx.shots) await page.screenshot({ path: path.join(ctx.shots, "push-settings-off-phone.png"), fullPage: true });
    }],

    ["push: on iPhone in a browser tab the app says to add it to the Home Screen; from the Home Screen it offers notifications", async (ctx) => {
      assert.ok(s.srv, "the subscription test ran");
      await sh(ctx.bin, ["user", "add", "--data", s.srv.dataDir, "--username", "ivy", "--display", "Ivy Nurse", "--role", "staff", "--password-stdin"], { input: PW.ivy + "\n" });
      s.ivy = await openProfile("ivy", { userAgent: IPHONE_UA, hasTouch: true });
      const { page } = s.ivy;
      await page.addInitScript(() => {
        /** @type {any} */ (window).__permissionAsked = 0;
        Notification.requestPermission = async () => { /** @type {any} */ (window).__permissionAsked++; return "default"; };
      });
      await signUp(page, s.srv.url, "ivy", PW.ivy, PIN.ivy);
      assert.equal(await page.evaluate(() => navigator.userAgent.includes("iPhone") && !(/** @type {any} */ (navigator).standalone)), true, "not an iPhone tab");
      // Safari, not the Home Screen: no offer of what it cannot have, but a
      // note, once, of how to get notifications; settings say it too.
      await page.waitForFunction(() => document.documentElement.dataset.pushOffer);
      assert.equal(await page.evaluate(() => document.documentElement.dataset.pushOffer), "home-screen", "an iPhone tab was not told how to get notifications");
      const note = page.locator(".banner.push-offer.home-screen");
      await note.getByText("tap Share, then Add to Home Screen").waitFor();
      assert.equal(await page.getByRole("button", { name: "Allow notifications" }).count(), 0, "an iPhone tab was offered notifications it cannot have");
      if (ctx.shots) await page.screenshot({ path: path.join(ctx.shots, "push-ios-tab-note-phone.png") });
      await note.getByRole("button", { name: "Got it" }).click();
      await note.waitFor({ state: "detached" });
      await page.reload();
      await unlock(page, PIN.ivy);
      await page.waitForFunction(() => document.documentElement.dataset.pushOffer);
      assert.equal(await page.evaluate(() => document.documentElement.dataset.pushOffer), "no", "the Home Screen note came back after Got it");
      assert.equal(await page.locator(".banner.push-offer").count(), 0);
      await page.getByRole("button", { name: "Settings" }).click();
      const box = page.locator(".push-settings");
      await box.getByText("On iPhone and iPad, notifications work only when Curbside is added to the Home Screen: tap Share, then Add to Home Screen, and open Curbside from there.").waitFor();
      assert.equal(await box.getAttribute("data-push"), "ios-home-screen");
      assert.equal(await box.getByRole("button").count(), 0, "a button to turn on what an iPhone tab cannot have");
      if (ctx.shots) await page.screenshot({ path: path.join(ctx.shots, "push-ios-tab-phone.png"), fullPage: true });
      assert.equal(await page.evaluate(() => /** @type {any} */ (window).__permissionAsked), 0, "asked for permission on an iPhone tab");

      // Opened from the Home Screen (Safari sets navigator.standalone): the
      // offer and the toggle are there.
      await page.addInitScript(() => Object.defineProperty(Navigator.prototype, "standalone", { get: () => true, configurable: true }));
      await page.goto(s.srv.url + "/");
      await unlock(page, PIN.ivy);
      await page.waitForFunction(() => document.documentElement.dataset.pushOffer);
      assert.equal(await page.evaluate(() => document.documentElement.dataset.pushOffer), "shown", "the Home Screen app was not offered notifications");
      await page.locator(".banner.push-offer").waitFor();
      await page.getByRole("button", { name: "Settings" }).click();
      await box.getByRole("button", { name: "Get notifications on this device" }).waitFor();
      assert.equal(await page.getByText("added to the Home Screen").count(), 0, "the Home Screen notice shows in the Home Screen app");
    }],
  ].map(([name, fn]) => [name, fn, s]);
}

/** closePush ends what the push tests started. */
export async function closePush(s) {
  if (s.petra) await s.petra.close();
  if (s.ivy) await s.ivy.close();
  if (s.srv) await s.srv.stop();
  if (s.ps) s.ps.stop();
}

// Run alone: node webui/test/push.mjs --bin PATH [--screenshots DIR]
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const a = process.argv.slice(2);
  const opt = {};
  for (let i = 0; i < a.length; i += 2) opt[a[i].replace(/^--/, "")] = a[i + 1];
  if (!opt.bin) { console.error("usage: node webui/test/push.mjs --bin PATH_TO_CURBSIDE [--screenshots DIR]"); process.exit(2); }
  if (opt.screenshots) fs.mkdirSync(opt.screenshots, { recursive: true });
  const ctx = { bin: path.resolve(opt.bin), shots: opt.screenshots };
  const tests = pushTests();
  let passed = 0, failed = 0;
  for (const [name, fn] of tests) {
    const t0 = Date.now();
    try { await fn(ctx); passed++; console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`); }
    catch (e) {
      failed++;
      console.log(`FAIL ${name}\n     ${String(e.stack || e).split("\n").slice(0, 6).join("\n     ")}`);
      if (ctx.shots && tests[0][2].petra) await tests[0][2].petra.page.screenshot({ path: path.join(ctx.shots, `FAIL-push-${name.slice(6, 36).replace(/\W+/g, "-")}.png`) }).catch(() => {});
    }
  }
  await closePush(tests[0][2]);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
