// The second sign-in step in real Chromium against the real server: TOTP
// set up in the PWA's settings (codes computed here per RFC 6238 from the
// key the page shows), sign-in with password and code, a recovery code that
// works once, an enrollment the policy requires before device set-up, and
// a passkey added and used with Chromium's virtual authenticator. Each
// scenario has its own fresh user made with the CLI.
import { createHmac } from "node:crypto";
import path from "node:path";
import { openProfile } from "./lib/browser.mjs";
import { assert, sh, signUp, unlock, unlocked, waitFor } from "./lib/harness.mjs";

const PW = { dana: "dana long passphrase 4", erin: "erin long passphrase 5", frank: "frank long passphrase 6", gail: "gail long passphrase 7" };
const PIN = { dana: "615243", erin: "352614", frank: "918273", gail: "264813" };

/** base32 decodes RFC 4648 base32 (what authenticator apps take). */
function base32(s) {
  const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0, val = 0;
  const out = [];
  for (const c of s.replace(/[\s=]/g, "").toUpperCase()) {
    const i = alpha.indexOf(c);
    if (i < 0) throw new Error(`not base32: ${c}`);
    val = (val << 5) | i;
    bits += 5;
    if (bits >= 8) { out.push((val >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  return Buffer.from(out);
}

/** totp is RFC 6238 with SHA-1, 30-second steps and 6 digits. */
export function totp(secret, at = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = createHmac("sha1", base32(secret)).update(counter).digest();
  const off = mac[mac.length - 1] & 0x0f;
  const n = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(n % 1000000).padStart(6, "0");
}

/** freshCode waits for a code of a step later than the last one used (the server accepts each step once). */
async function freshCode(ctx, secret) {
  const used = ctx.mfaUsedStep?.[secret] ?? -1;
  await waitFor(() => Math.floor(Date.now() / 30000) > used, "a fresh TOTP step", 40000);
  const step = Math.floor(Date.now() / 30000);
  ctx.mfaUsedStep = { ...ctx.mfaUsedStep, [secret]: step };
  return totp(secret, step * 30000 + 1000);
}

async function shot(ctx, page, name) {
  if (ctx.shots) await page.screenshot({ path: path.join(ctx.shots, `${name}.png`) });
}

async function addUser(ctx, name, display, role) {
  await sh(ctx.bin, ["user", "add", "--data", ctx.srv.dataDir, "--username", name, "--display", display, "--role", role, "--password-stdin"], { input: PW[name] + "\n" });
}

async function openSettings(page) {
  if (await page.locator(".sign-in-security").isVisible()) return;
  await page.getByRole("button", { name: "Settings" }).first().click();
  await page.locator(".sign-in-security").waitFor();
}

async function signOut(page) {
  await openSettings(page);
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.waitForFunction(() => window.curbside.state === "signin");
}

/** passwordAgain signs in again on a set-up browser and stops at the second step. */
async function passwordAgain(page, password) {
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in again" }).click();
  await page.waitForFunction(() => window.curbside.state === "mfa");
}

/** totpSetup runs the authenticator-app set-up that is on screen; returns the key and the recovery codes. */
async function totpSetup(ctx, page, shotName) {
  const key = (await page.locator(".totp-secret").textContent()).replace(/\s+/g, "");
  assert.match(key, /^[A-Z2-7]{32}$/, "the key is shown as base32 text");
  assert.ok(await page.locator("img.qr").isVisible(), "a QR code is shown");
  if (shotName) await shot(ctx, page, shotName);
  // A wrong code is refused in words.
  await page.getByLabel("Code from the app").fill(totp(key) === "000000" ? "111111" : "000000");
  await page.getByRole("button", { name: "Turn on" }).click();
  await page.getByRole("alert").filter({ hasText: /not right/ }).waitFor();
  await page.getByLabel("Code from the app").fill(await freshCode(ctx, key));
  await page.getByRole("button", { name: "Turn on" }).click();
  await page.locator(".code-list").waitFor();
  const codes = await page.locator(".code-list code").allTextContents();
  assert.equal(codes.length, 10);
  for (const c of codes) assert.match(c, /^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);
  // Continuing needs the confirmation that they were kept.
  const go = page.locator(".recovery-codes button.primary");
  assert.ok(await go.isDisabled(), "continue waits for 'I saved these codes'");
  await page.getByLabel("I saved these codes").check();
  await go.click();
  return { key, codes };
}

async function me(page) {
  return page.evaluate(async () => (await fetch("/api/v1/me", { credentials: "same-origin" })).json());
}

export function mfaTests() {
  return [
    ["mfa: a user turns on an authenticator app in settings and then signs in with password and code", async (ctx) => {
      await addUser(ctx, "dana", "Dana Diaz", "staff");
      ctx.dana = await openProfile("dana");
      const p = ctx.dana.page;
      await signUp(p, ctx.srv.url, "dana", PW.dana, PIN.dana);
      await openSettings(p);
      await p.getByText("Authenticator app: off.").waitFor();
      await p.getByRole("button", { name: "Set up an authenticator app" }).click();
      await p.locator(".totp-secret").waitFor();
      ctx.danaTotp = await totpSetup(ctx, p, "mfa-01-totp-setup");
      await p.getByText("Authenticator app: on.").waitFor();
      await p.getByText("Recovery codes left: 10.").waitFor();
      await shot(ctx, p, "mfa-02-settings-on");

      await signOut(p);
      await passwordAgain(p, PW.dana);
      await shot(ctx, p, "mfa-03-code-step");
      // A wrong code is refused; the right one goes on to the PIN.
      const code = p.getByLabel("6-digit code from your authenticator app");
      await code.fill(totp(ctx.danaTotp.key) === "000000" ? "111111" : "000000");
      await p.getByRole("button", { name: "Confirm" }).click();
      await p.getByRole("alert").filter({ hasText: /not right/ }).waitFor();
      await code.fill(await freshCode(ctx, ctx.danaTotp.key));
      await p.getByRole("button", { name: "Confirm" }).click();
      await p.waitForFunction(() => window.curbside.state === "locked");
      await unlock(p, PIN.dana);
      assert.equal((await me(p)).mfa, "totp", "the session records the TOTP confirmation");
    }],

    ["mfa: a recovery code signs in once, and then is refused", async (ctx) => {
      const p = ctx.dana.page;
      const rc = ctx.danaTotp.codes[0];
      await signOut(p);
      await passwordAgain(p, PW.dana);
      await p.getByRole("button", { name: "Use a recovery code" }).click();
      await p.getByLabel("Recovery code").fill(rc);
      await p.getByRole("button", { name: "Confirm" }).click();
      await p.waitForFunction(() => window.curbside.state === "locked");
      await unlock(p, PIN.dana);
      assert.equal((await me(p)).mfa, "recovery");
      await openSettings(p);
      await p.getByText("Recovery codes left: 9.").waitFor();

      await signOut(p);
      await passwordAgain(p, PW.dana);
      await p.getByRole("button", { name: "Use a recovery code" }).click();
      await p.getByLabel("Recovery code").fill(rc);
      await p.getByRole("button", { name: "Confirm" }).click();
      await p.getByRole("alert").filter({ hasText: /not right|already used/ }).waitFor();
      // Cancel goes back to the password.
      await p.getByRole("button", { name: "Cancel and start again" }).click();
      await p.getByLabel("Password").waitFor();
      // Another of the codes still works.
      await passwordAgain(p, PW.dana);
      await p.getByRole("button", { name: "Use a recovery code" }).click();
      await p.getByLabel("Recovery code").fill(ctx.danaTotp.codes[1].toUpperCase());
      await p.getByRole("button", { name: "Confirm" }).click();
      await p.waitForFunction(() => window.curbside.state === "locked");
      await unlock(p, PIN.dana);
    }],

    ["mfa: when the policy requires a second step, a new user sets one up before the device is set up", async (ctx) => {
      await addUser(ctx, "erin", "Erin Evans", "external");
      await sh(ctx.bin, ["policy", "set", "--data", ctx.srv.dataDir, "mfa_required=owner|admin|helpdesk|external"]);
      ctx.erin = await openProfile("erin");
      const p = ctx.erin.page;
      await p.goto(ctx.srv.url + "/");
      await p.getByLabel("Username").fill("erin");
      await p.getByLabel("Password").fill(PW.erin);
      await p.getByRole("button", { name: "Sign in" }).click();
      await p.waitForFunction(() => window.curbside.state === "mfa-enroll");
      await p.getByText("Your practice requires a second sign-in step").waitFor();
      await shot(ctx, p, "mfa-04-required-enrollment");
      // Until then, the session can do nothing else.
      const blocked = await p.evaluate(async () => (await fetch("/api/v1/directory?q=", { credentials: "same-origin" })).json());
      assert.equal(blocked.error?.code, "mfa_enrollment_required");
      await p.getByRole("button", { name: "Use an authenticator app" }).click();
      await p.locator(".totp-secret").waitFor();
      await totpSetup(ctx, p);
      // Next: the PIN of the new device, as for anyone.
      await p.getByLabel("New PIN").fill(PIN.erin);
      await p.getByLabel("Repeat the PIN").fill(PIN.erin);
      await p.getByRole("button", { name: "Set PIN and continue" }).click();
      await unlocked(p);
      const m = await me(p);
      assert.equal(m.mfa, "totp");
      assert.equal(m.mfa_enrollment_required, false);
    }],

    ["mfa: a passkey is added in settings and then signs in (virtual authenticator, on localhost)", async (ctx) => {
      await addUser(ctx, "frank", "Frank Fisher", "staff");
      const url = ctx.srv.url.replace("127.0.0.1", "localhost");
      ctx.frank = await openProfile("frank");
      const p = ctx.frank.page;
      const cdp = await ctx.frank.context.newCDPSession(p);
      await cdp.send("WebAuthn.enable");
      const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
        options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
      });
      await signUp(p, url, "frank", PW.frank, PIN.frank);
      await openSettings(p);
      await p.getByRole("button", { name: "Add a passkey" }).click();
      await p.getByLabel("Name for this passkey").fill("Frank's laptop");
      await p.getByRole("button", { name: "Add passkey" }).click();
      // The first factor comes with recovery codes.
      await p.locator(".code-list").waitFor();
      assert.equal((await p.locator(".code-list code").allTextContents()).length, 10);
      await p.getByLabel("I saved these codes").check();
      await p.locator(".recovery-codes button.primary").click();
      await p.locator(".passkeys li", { hasText: "Frank's laptop" }).waitFor();
      await shot(ctx, p, "mfa-05-passkey-added");
      const creds = (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials;
      assert.equal(creds.length, 1, "the authenticator holds one credential");
      assert.equal(creds[0].rpId, "localhost");
      const countBefore = creds[0].signCount;

      await signOut(p);
      await passwordAgain(p, PW.frank);
      await shot(ctx, p, "mfa-06-passkey-step");
      await p.getByRole("button", { name: "Use a passkey" }).click();
      await p.waitForFunction(() => window.curbside.state === "locked");
      await unlock(p, PIN.frank);
      assert.equal((await me(p)).mfa, "passkey");
      const after = (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials;
      assert.ok(after[0].signCount > countBefore, "the passkey signed the sign-in");
      // The passkey list shows when it was last used, and it can be removed.
      await openSettings(p);
      await p.locator(".passkeys li", { hasText: "last used" }).waitFor();
      await p.getByRole("button", { name: "Remove passkey Frank's laptop" }).click();
      await p.locator("dialog[open]").getByRole("button", { name: "Remove passkey", exact: true }).click();
      await p.getByText("No passkeys.").waitFor();
    }],

    ["mfa: when the policy starts requiring a second step, a set-up browser asks for it at the next unlock", async (ctx) => {
      await addUser(ctx, "gail", "Gail Green", "patient");
      ctx.gail = await openProfile("gail");
      const p = ctx.gail.page;
      await signUp(p, ctx.srv.url, "gail", PW.gail, PIN.gail);
      await sh(ctx.bin, ["policy", "set", "--data", ctx.srv.dataDir, "mfa_required=owner|admin|helpdesk|external|patient"]);
      await p.getByRole("button", { name: "Lock Curbside" }).click();
      await p.waitForFunction(() => window.curbside.state === "locked");
      await p.getByLabel("PIN").fill(PIN.gail);
      await p.getByRole("button", { name: "Unlock" }).click();
      await p.waitForFunction(() => window.curbside.state === "mfa-enroll");
      await p.getByRole("button", { name: "Use an authenticator app" }).click();
      await p.locator(".totp-secret").waitFor();
      await totpSetup(ctx, p);
      await p.getByText("Your second sign-in step is set up").waitFor();
      await unlock(p, PIN.gail);
      assert.equal((await me(p)).mfa, "totp");
    }],

    ["mfa: no CSP violation, foreign request or script error on the second-step screens", async (ctx) => {
      for (const who of ["dana", "erin", "frank", "gail"]) {
        assert.ok(ctx[who], `${who} ran`);
        assert.deepEqual(ctx[who].csp, [], `${who}: CSP violations`);
        assert.deepEqual(ctx[who].foreign, [], `${who}: requests to other origins`);
        assert.deepEqual(ctx[who].problems.filter((x) => /page error/.test(x)), [], `${who}: script errors`);
      }
      await sh(ctx.bin, ["policy", "set", "--data", ctx.srv.dataDir, "mfa_required=owner|admin|helpdesk"]);
    }],
  ];
}

/** closeMfaProfiles closes the browsers the MFA scenarios opened. */
export async function closeMfaProfiles(ctx) {
  for (const who of ["dana", "erin", "frank", "gail"]) if (ctx[who]) await ctx[who].close();
}
