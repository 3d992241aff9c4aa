// The local store against a copied profile, in real Chromium: the server
// counts wrong PINs and wipes the device at the policy's pin_max_attempts;
// a copy of the profile opens nothing without the server, and its wrong
// PINs count with the original's; the offline grace copy is off by default
// and, turned on, opens history offline until it expires, when it is
// deleted; a browser set up before PIN proofs upgrades at its next unlock.
// Its own users, made through the CLI.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openProfile } from "./lib/browser.mjs";
import { adminApproves, assert, consoleCaller, msgLocator, online, openConv, sendText, sh, signUp, startConversation, stepUpCode, unlock, waitFor } from "./lib/harness.mjs";
import { totp } from "./mfa.mjs";

const PW = { pia: "pia long passphrase 81", cody: "cody long passphrase 82", gwen: "gwen long passphrase 83", leo: "leo long passphrase 84", pinadmin: "pinadmin long passphrase 85" };
const PIN = { pia: "418263", cody: "527394", gwen: "639405", leo: "740516" };

async function shot(ctx, page, name) {
  if (ctx.shots) await page.screenshot({ path: path.join(ctx.shots, `${name}.png`) });
}

function policy(ctx, ...kv) { return sh(ctx.bin, ["policy", "set", "--data", ctx.srv.dataDir, ...kv]); }

/** meta reads the plaintext meta record of the page's store (null once erased). */
function meta(page) {
  return page.evaluate(async () => {
    if (!(await indexedDB.databases()).some((d) => d.name === "curbside")) return null;
    const prefix = document.querySelector("script[type=module]").src.replace(/\/js\/main\.js$/, "");
    return (await (await import(`${prefix}/js/store.js`)).getMeta()) || null;
  });
}

/** toList goes back to the conversation list where a phone shows one pane at a time. */
async function toList(page) {
  const back = page.getByRole("button", { name: "Back to conversations" });
  if (await back.isVisible()) await back.click();
}

/** lock locks the app from its toolbar. */
async function lock(page) {
  await toList(page);
  await page.getByRole("button", { name: "Lock Curbside" }).click();
  await page.waitForFunction(() => window.curbside.state === "locked");
}

/** wrongPin enters pin on the lock screen and waits for the words it is refused with. */
async function wrongPin(page, pin, words) {
  await page.getByLabel("PIN").fill(pin);
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.getByRole("alert").filter({ hasText: words }).waitFor();
}

/** copyProfile closes p, copies its profile directory, and opens both again. */
async function copyProfile(p, name) {
  await p.close();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `curbside-profile-${name}-`));
  fs.cpSync(p.dir, dir, { recursive: true, filter: (src) => !/Singleton/.test(path.basename(src)) });
  return [await openProfile(p.name, { dir: p.dir }), await openProfile(name, { dir })];
}

/** closePinProfiles closes this file's browsers. */
export async function closePinProfiles(ctx) {
  for (const k of ["pia", "cody", "codyCopy", "gwen", "leo"]) if (ctx[k]) await ctx[k].close();
}

export function pinTests() {
  return [
    ["pin setup: users for the PIN and profile-copy tests", async (ctx) => {
      for (const [u, d] of [["pia", "Pia Park"], ["cody", "Cody Cole"], ["gwen", "Gwen Gray"], ["leo", "Leo Lund"]]) {
        await sh(ctx.bin, ["user", "add", "--data", ctx.srv.dataDir, "--username", u, "--display", d, "--role", "staff", "--password-stdin"], { input: PW[u] + "\n" });
      }
      // An administrator, to approve a device set up again after a wipe.
      await sh(ctx.bin, ["user", "add", "--data", ctx.srv.dataDir, "--username", "pinadmin", "--display", "Pin Admin", "--role", "staff", "--admin", "admin", "--password-stdin"], { input: PW.pinadmin + "\n" });
    }],

    ["pin: the server counts wrong PINs, the nurse sees the attempts left, and the device is wiped at pin_max_attempts", async (ctx) => {
      await policy(ctx, "pin_max_attempts=3");
      try {
        ctx.pia = await openProfile("pia");
        const p = ctx.pia.page;
        await signUp(p, ctx.srv.url, "pia", PW.pia, PIN.pia);
        await online(p);
        assert.equal((await meta(p)).pin.verified, true, "the server took the PIN's verifier at set-up");
        await lock(p);
        await wrongPin(p, "000000", "That PIN is not right. 2 attempts left.");
        // A right PIN resets the count.
        await unlock(p, PIN.pia);
        await lock(p);
        await wrongPin(p, "000000", "That PIN is not right. 2 attempts left.");
        await wrongPin(p, "111111", "1 attempt left: one more wrong PIN erases this device's messages.");
        await shot(ctx, p, "pin-01-last-attempt");
        await p.getByLabel("PIN").fill("222222");
        await p.getByRole("button", { name: "Unlock" }).click();
        await p.getByText("Too many wrong PINs: this device's messages have been erased.").waitFor();
        await p.getByLabel("Username").waitFor(); // the sign-in screen of a fresh browser
        await shot(ctx, p, "pin-02-wiped");
        assert.equal(await meta(p), null, "nothing of the device is left in IndexedDB");
        // The device is gone from the server: the password sets this
        // browser up as a new device, which, as pia has no device left,
        // an administrator approves.
        await signUp(p, ctx.srv.url, "pia", PW.pia, PIN.pia, { waits: true });
        await p.getByText("your practice's administrator approves this one").waitFor();
        // The policy asks an administrator for a second factor: the code
        // for the step-up comes with setting one up, which comes first.
        const call = consoleCaller(ctx.srv, "pinadmin", PW.pinadmin);
        const stepUp = await stepUpCode(call, totp);
        const { users } = await call("GET", "/api/v1/admin/users?q=pia");
        await adminApproves(call, p, users.find((u) => u.username === "pia").id, stepUp);
        await online(p);
      } finally {
        await policy(ctx, "pin_max_attempts=10");
      }
    }],

    ["pin: a copied profile cannot be unlocked without the server, and its wrong PINs count with the original's", async (ctx) => {
      ctx.cody = await openProfile("cody");
      await signUp(ctx.cody.page, ctx.srv.url, "cody", PW.cody, PIN.cody);
      await online(ctx.cody.page);
      await lock(ctx.cody.page);
      // The grace copy is off by default: the profile holds no share in
      // any form, nor anything wrapped under the password.
      const m = await meta(ctx.cody.page);
      assert.equal(m.grace, undefined, "no grace copy of the share by default");
      assert.equal(m.resume, undefined, "no password-wrapped key");
      [ctx.cody, ctx.codyCopy] = await copyProfile(ctx.cody, "cody-copy");
      const c = ctx.codyCopy.page;
      // The copy, with the server out of reach: the right PIN opens nothing.
      await c.route("**/api/**", (r) => r.abort());
      await c.goto(ctx.srv.url + "/");
      await c.getByLabel("PIN").fill(PIN.cody);
      await c.getByRole("button", { name: "Unlock" }).click();
      await c.getByRole("alert").filter({ hasText: "cannot open its history without the server" }).waitFor();
      assert.notEqual(await c.evaluate(() => window.curbside.state), "unlocked");
      await shot(ctx, c, "pin-03-copy-offline");
      // With the server, the copy's guesses are counted on the device's one count.
      await c.unroute("**/api/**");
      await wrongPin(c, "000000", "That PIN is not right. 9 attempts left.");
      const o = ctx.cody.page;
      await o.goto(ctx.srv.url + "/");
      await wrongPin(o, "111111", "That PIN is not right. 8 attempts left.");
      await unlock(o, PIN.cody);
    }],

    ["grace: off by default; turned on, the PIN opens history offline within it, and the copy is deleted once it expires", async (ctx) => {
      ctx.gwen = await openProfile("gwen");
      const g = ctx.gwen.page;
      await signUp(g, ctx.srv.url, "gwen", PW.gwen, PIN.gwen);
      await online(g);
      await startConversation(g, "cody", ["Cody Cole"]);
      const text = "Bed 7 needs a second opinion";
      await sendText(g, text);
      assert.equal((await meta(g)).grace, undefined, "no grace copy by default");
      await policy(ctx, "offline_grace=1h");
      try {
        // The app reads the policy on reconnecting; the unlock after that keeps the copy.
        await waitFor(async () => {
          await lock(g);
          await unlock(g, PIN.gwen);
          return !!(await meta(g)).grace;
        }, "a grace copy once the policy has one");
        await lock(g);
        // The server is out of reach: wrong PINs are counted on the device,
        // and the last one deletes the grace copy.
        await g.route("**/api/**", (r) => r.abort());
        await g.reload();
        for (let left = 4; left > 0; left--) await wrongPin(g, "000000", `That PIN is not right. ${left} ${left === 1 ? "attempt" : "attempts"} left.`);
        await wrongPin(g, "000000", "Too many wrong PINs. This device can no longer open its history offline");
        assert.equal((await meta(g)).grace, undefined, "the grace copy is deleted after too many wrong PINs offline");
        await g.getByLabel("PIN").fill(PIN.gwen);
        await g.getByRole("button", { name: "Unlock" }).click();
        await g.getByRole("alert").filter({ hasText: "cannot open its history without the server" }).waitFor();
        // Back online, an unlock keeps a new copy; offline, it opens the history.
        await g.unroute("**/api/**");
        await unlock(g, PIN.gwen);
        await online(g);
        const expires = (await meta(g)).grace.expires;
        await lock(g);
        await g.route("**/api/**", (r) => r.abort());
        await g.reload();
        await unlock(g, PIN.gwen);
        assert.equal(await g.evaluate(() => window.curbside.offlineUnlock), true);
        await openConv(g, "Cody Cole");
        await msgLocator(g, text).waitFor();
        await lock(g);
        // Past the grace, the next start deletes the copy, and the PIN no longer opens anything offline.
        await g.clock.setFixedTime(new Date(expires + 60000));
        await g.reload();
        await g.getByLabel("PIN").waitFor();
        await waitFor(async () => (await meta(g)).grace === undefined, "the expired grace copy deleted at start");
        await g.getByLabel("PIN").fill(PIN.gwen);
        await g.getByRole("button", { name: "Unlock" }).click();
        await g.getByRole("alert").filter({ hasText: "cannot open its history without the server" }).waitFor();
      } finally {
        await policy(ctx, "offline_grace=0s");
      }
    }],

    ["upgrade: a browser set up before PIN proofs upgrades at its next unlock, losing no history", async (ctx) => {
      ctx.leo = await openProfile("leo");
      const l = ctx.leo.page;
      // Set up as before PIN proofs: the server gets no verifier, and the
      // profile keeps the device's signing key wrapped under the password.
      await l.route("**/api/v1/devices/me/pin", (r) => r.abort());
      await signUp(l, ctx.srv.url, "leo", PW.leo, PIN.leo);
      await l.unroute("**/api/v1/devices/me/pin");
      await online(l);
      await startConversation(l, "cody", ["Cody Cole"]);
      const text = "Discharge summary for bay 2 is ready";
      await sendText(l, text);
      await waitFor(async () => /Sent|Delivered|Read/.test(await l.locator(".msg .status").first().textContent()), "sent");
      await l.evaluate(async (password) => {
        const prefix = document.querySelector("script[type=module]").src.replace(/\/js\/main\.js$/, "");
        const store = await import(`${prefix}/js/store.js`);
        const { b64, randomBytes } = await import(`${prefix}/js/bytes.js`);
        const { pbkdf2 } = await import(`${prefix}/js/crypto.js`);
        const m = await store.getMeta();
        // The old "resume" record's shape: a seed sealed under PBKDF2(password).
        m.resume = { salt: b64(randomBytes(16)), iterations: 600000, wrapped: b64(await pbkdf2(password, randomBytes(16), 1000)) };
        await store.putMeta(m);
      }, PW.leo);
      let m = await meta(l);
      assert.equal(m.pin.verified, undefined, "no verifier on the server yet");
      const device = await l.evaluate(() => window.curbside.device);
      // Its session ends before the next unlock: the password signs in,
      // and the PIN (which the device still counts itself, as the server
      // has no verifier to check) opens the store and resumes the device.
      await toList(l);
      await l.getByRole("button", { name: "Settings" }).click();
      await l.getByRole("button", { name: "Sign out", exact: true }).click();
      await l.getByLabel("Password").fill(PW.leo);
      await l.getByRole("button", { name: "Sign in again" }).click();
      await wrongPin(l, "000000", "That PIN is not right. 4 attempts left.");
      await unlock(l, PIN.leo);
      await online(l);
      assert.equal(await l.evaluate(() => window.curbside.device), device, "the same device resumed");
      m = await meta(l);
      assert.equal(m.pin.verified, true, "the unlock gave the server the PIN's verifier");
      assert.equal(m.resume, undefined, "the password-wrapped key is deleted");
      await openConv(l, "Cody Cole");
      await msgLocator(l, text).waitFor();
      // From now on the server counts.
      await lock(l);
      await wrongPin(l, "000000", "That PIN is not right. 9 attempts left.");
      await unlock(l, PIN.leo);
      await openConv(l, "Cody Cole");
      await msgLocator(l, text).waitFor();
    }],
  ];
}
