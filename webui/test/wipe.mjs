// Remote lock and remote wipe in real Chromium: an administrator (through
// the console API) locks a signed-in PWA, which must ask for the password
// and keep its history; then wipes it, and the PWA must erase everything
// of this origin on its next contact. Its own users, made through the CLI,
// so it runs after the main scenarios without touching their state.
import path from "node:path";
import { openProfile } from "./lib/browser.mjs";
import { assert, consoleCaller, msgLocator, online, openConv, sendText, sh, signUp, startConversation, unlock, waitFor } from "./lib/harness.mjs";

const PW = { wanda: "wanda long passphrase 4", walt: "walt long passphrase 55", wadmin: "wadmin long passphrase 6", wynn: "wynn long passphrase 77" };
const PIN = { wanda: "591736", walt: "648203", wynn: "730519" };
const WIPED = "This device was wiped by your administrator";

async function shot(ctx, page, name) {
  if (ctx.shots) await page.screenshot({ path: path.join(ctx.shots, `${name}.png`) });
}

/** admin calls a console route as wadmin, over HTTP with a bearer token. */
function admin(ctx, method, route, body) {
  ctx.wadminCall = ctx.wadminCall || consoleCaller(ctx.srv, "wadmin", PW.wadmin);
  return ctx.wadminCall(method, route, body);
}

/** leftovers lists what this origin still holds in the browser. */
function leftovers(page) {
  return page.evaluate(async () => ({
    databases: (await indexedDB.databases()).map((d) => d.name),
    caches: await caches.keys(),
    workers: (await navigator.serviceWorker.getRegistrations()).length,
    local: localStorage.length + sessionStorage.length,
  }));
}

export function wipeTests() {
  return [
    ["remote wipe setup: users, an admin, two PWA devices and a message", async (ctx) => {
      for (const [u, d, role] of [["wanda", "Wanda Wu", "staff"], ["walt", "Walt Wilson", "staff"], ["wadmin", "Wes Admin", "admin"]]) {
        await sh(ctx.bin, ["user", "add", "--data", ctx.srv.dataDir, "--username", u, "--display", d, "--role", role, "--password-stdin"], { input: PW[u] + "\n" });
      }
      // The console asks admins for a second factor by default; this test's
      // admin has none, so the requirement is lifted for the test and put
      // back by the last test of this file.
      const shown = await sh(ctx.bin, ["policy", "show", "--data", ctx.srv.dataDir]);
      ctx.mfaRequired = /^mfa_required=(.*)$/m.exec(shown)[1];
      await sh(ctx.bin, ["policy", "set", "--data", ctx.srv.dataDir, "mfa_required="]);
      ctx.walt = await openProfile("walt");
      ctx.wanda = await openProfile("wanda");
      await signUp(ctx.walt.page, ctx.srv.url, "walt", PW.walt, PIN.walt);
      await signUp(ctx.wanda.page, ctx.srv.url, "wanda", PW.wanda, PIN.wanda);
      const w = ctx.wanda.page;
      await online(w);
      await startConversation(w, "walt", ["Walt Wilson"]);
      await sendText(w, "Room 12 needs a porter");
      await waitFor(async () => /Sent|Delivered|Read/.test(await w.locator(".msg .status").first().textContent()), "sent");
      await msgLocator(ctx.walt.page, "Room 12 needs a porter").or(ctx.walt.page.locator(".conv-item", { hasText: "Wanda Wu" })).first().waitFor();
      // The command key is pinned in the plaintext meta record at set-up.
      const pinned = await w.evaluate(async () => {
        const prefix = document.querySelector("script[type=module]").src.replace(/\/js\/main\.js$/, "");
        return (await (await import(`${prefix}/js/store.js`)).getMeta()).commandKey;
      });
      const cfg = await w.evaluate(async () => (await fetch("/api/v1/config")).json());
      assert.ok(pinned && pinned === cfg.command_key, "the meta record pins the server's command key");
      ctx.wandaKey = pinned;
      // The key fingerprint in the app's settings is the console's.
      const [uid, device] = await w.evaluate(() => [window.curbside.user, window.curbside.device]);
      const { devices } = await admin(ctx, "GET", `/api/v1/admin/users/${uid}/devices`);
      assert.equal(devices.length, 1);
      assert.match(devices[0].agent, /Chrom/, "the agent is the browser's User-Agent");
      const back = w.getByRole("button", { name: "Back to conversations" });
      if (await back.isVisible()) await back.click(); // a phone shows one pane at a time
      await w.getByRole("button", { name: "Settings" }).click();
      const fpShown = w.locator(`.devices li[data-device="${device}"] .fingerprint`);
      await fpShown.waitFor();
      assert.equal(await fpShown.textContent(), devices[0].fingerprint);
      assert.match(devices[0].fingerprint, /^[0-9a-f]{4}( [0-9a-f]{4}){7}$/);
      await shot(ctx, w, "29-settings-fingerprint");
      await w.getByRole("button", { name: "Back to conversations" }).click();
    }],

    ["remote lock: the PWA is signed out at once and asks for the password; signing in again keeps the history", async (ctx) => {
      const w = ctx.wanda.page;
      const device = await w.evaluate(() => window.curbside.device);
      const res = await admin(ctx, "POST", `/api/v1/admin/devices/${device}/lock`, { reason: "left unattended" });
      assert.equal(res.device.state, "active");
      assert.ok(res.ended_sessions >= 1, "the device's session ended");
      // The relay closes with 4002: the password screen, not the wipe.
      await w.getByRole("button", { name: "Sign in again" }).waitFor();
      assert.equal(await w.evaluate(() => window.curbside.state), "signin");
      await w.getByText("An administrator ended this device's session").waitFor();
      await shot(ctx, w, "30-remote-lock");
      await w.getByLabel("Password").fill(PW.wanda);
      await w.getByRole("button", { name: "Sign in again" }).click();
      await w.getByLabel("PIN").waitFor();
      await unlock(w, PIN.wanda);
      await online(w);
      await openConv(w, "Walt Wilson");
      await msgLocator(w, "Room 12 needs a porter").waitFor();
      assert.equal(await w.evaluate(() => window.curbside.device), device, "the same device resumed");
    }],

    ["remote wipe: a connected PWA verifies the signed command and erases databases, caches, storage and its service worker", async (ctx) => {
      const w = ctx.wanda.page;
      const device = await w.evaluate(() => window.curbside.device);
      const user = await w.evaluate(() => window.curbside.user);
      // Before: there is something to erase.
      await w.evaluate(() => navigator.serviceWorker.ready);
      await waitFor(async () => { const l = await leftovers(w); return l.databases.length > 0 && l.caches.length > 0 && l.workers > 0; }, "a database, a cache and a service worker before the wipe");
      await w.evaluate(() => localStorage.setItem("probe", "x"));
      // The app fetches its command proving its key; the test keeps the
      // answer, since afterwards nothing on this browser can ask again.
      const fetched = w.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith(`/api/v1/devices/${device}/wipe`));
      const res = await admin(ctx, "POST", `/api/v1/admin/devices/${device}/wipe`, { reason: "device lost" });
      assert.equal(res.device.wiped, true);
      const answer = await fetched;
      assert.equal(answer.status(), 200, "the device that proved its key gets its command");
      const wipeCmd = await answer.json();
      await w.getByRole("heading", { name: WIPED }).waitFor();
      assert.equal(await w.evaluate(() => window.curbside.state), "wiped");
      await shot(ctx, w, "31-remote-wipe");
      assert.deepEqual(await leftovers(w), { databases: [], caches: [], workers: 0, local: 0 });
      // The app's check refuses a command it did not get from the pinned key.
      const verdicts = await w.evaluate(async ([key, device, user, cmd]) => {
        const prefix = document.querySelector("script[type=module]").src.replace(/\/js\/main\.js$/, "");
        const { verifyWipe } = await import(`${prefix}/js/session.js`);
        const meta = { commandKey: key, device, user: { id: user } };
        const other = { ...meta, commandKey: btoa(String.fromCharCode(...new Uint8Array(32).fill(7))) };
        return {
          genuine: await verifyWipe(cmd, meta),
          otherDevice: await verifyWipe({ ...cmd, device: device + 1 }, { ...meta, device: device + 1 }),
          otherKey: await verifyWipe(cmd, other),
          laterTime: await verifyWipe({ ...cmd, issued_at: cmd.issued_at + 1 }, meta),
        };
      }, [ctx.wandaKey, device, user, wipeCmd]);
      assert.deepEqual(verdicts, { genuine: true, otherDevice: false, otherKey: false, laterTime: false });
      assert.deepEqual(await leftovers(w), { databases: [], caches: [], workers: 0, local: 0 }, "the check itself left nothing behind");
    }],

    ["remote wipe: a PWA wiped while it was locked and away erases itself the moment it is back online, without the PIN", async (ctx) => {
      const p = ctx.walt.page;
      await online(p);
      const device = await p.evaluate(() => window.curbside.device);
      await p.evaluate(() => navigator.serviceWorker.ready);
      await p.getByRole("button", { name: "Lock Curbside" }).click();
      await p.waitForFunction(() => window.curbside.state === "locked");
      // The device is away (offline) when the wipe is ordered, so that it
      // cannot learn of it over a connection; it starts again while still
      // away (locked, as it was, its data all there), and then comes back.
      await ctx.walt.context.setOffline(true);
      await admin(ctx, "POST", `/api/v1/admin/devices/${device}/wipe`);
      await p.reload();
      await p.waitForFunction(() => window.curbside.state === "locked");
      assert.ok((await leftovers(p)).databases.length > 0, "nothing is erased while the command cannot be fetched");
      await ctx.walt.context.setOffline(false);
      await p.getByRole("heading", { name: WIPED }).waitFor();
      await waitFor(async () => (await leftovers(p)).workers === 0, "the service worker unregistered");
      assert.deepEqual(await leftovers(p), { databases: [], caches: [], workers: 0, local: 0 });
      // Starting again is a fresh set-up: the sign-in screen, no account.
      await p.getByRole("button", { name: "Set up this browser again" }).click();
      await p.getByLabel("Username").waitFor();
      assert.equal(await p.getByLabel("Username").inputValue(), "");
    }],

    ["remote wipe: an erase cut short (the tab closed as it began) is finished at the next start", async (ctx) => {
      await sh(ctx.bin, ["user", "add", "--data", ctx.srv.dataDir, "--username", "wynn", "--display", "Wynn Ward", "--role", "staff", "--password-stdin"], { input: PW.wynn + "\n" });
      ctx.wynn = await openProfile("wynn");
      const p = ctx.wynn.page;
      await signUp(p, ctx.srv.url, "wynn", PW.wynn, PIN.wynn);
      await p.evaluate(() => navigator.serviceWorker.ready);
      // The first step of a verified wipe, and nothing after it: what a
      // browser killed mid-erase leaves behind.
      await p.evaluate(async () => {
        const prefix = document.querySelector("script[type=module]").src.replace(/\/js\/main\.js$/, "");
        await (await import(`${prefix}/js/store.js`)).startWipe();
      });
      await p.reload();
      await p.getByRole("heading", { name: WIPED }).waitFor();
      await waitFor(async () => (await leftovers(p)).workers === 0, "the service worker unregistered");
      assert.deepEqual(await leftovers(p), { databases: [], caches: [], workers: 0, local: 0 });
      for (const who of [ctx.walt, ctx.wanda, ctx.wynn]) {
        assert.deepEqual(who.csp, [], `${who.name}: CSP violations`);
        assert.deepEqual(who.problems.filter((x) => /page error/.test(x)), [], `${who.name}: script errors`);
      }
    }],

    ["remote wipe teardown: the MFA policy is put back", async (ctx) => {
      await sh(ctx.bin, ["policy", "set", "--data", ctx.srv.dataDir, `mfa_required=${ctx.mfaRequired ?? "owner,admin,helpdesk"}`]);
      const shown = await sh(ctx.bin, ["policy", "show", "--data", ctx.srv.dataDir]);
      assert.match(shown, /^mfa_required=.+$/m);
    }],
  ];
}
