// Helpers shared by the browser scenarios: the server under test, the
// curbside CLI, and driving the app the way a person does (labels and
// roles, not private hooks).
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export function sh(bin, args, { input, timeout = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const p = execFile(bin, args, { timeout, maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(bin)} ${args.join(" ")}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
    if (input !== undefined) p.stdin.end(input);
  });
}

export async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** startServer runs `curbside serve` (with any extra flags) on a fresh data directory and waits for /healthz. */
export async function startServer(bin, dataDir, extra = []) {
  dataDir = dataDir || fs.mkdtempSync(path.join(os.tmpdir(), "curbside-webui-data-"));
  const port = await freePort();
  const log = fs.openSync(path.join(os.tmpdir(), `curbside-webui-server-${port}.log`), "w");
  const child = spawn(bin, ["serve", "--data", dataDir, "--listen", `127.0.0.1:${port}`, ...extra], { stdio: ["ignore", log, log] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try { if ((await fetch(url + "/healthz")).ok) break; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
    if (child.exitCode !== null) throw new Error(`curbside serve exited with ${child.exitCode}`);
  }
  return { url, dataDir, logFile: path.join(os.tmpdir(), `curbside-webui-server-${port}.log`), stop: () => new Promise((r) => { child.once("exit", r); child.kill("SIGTERM"); }) };
}

/** waitFor polls fn until it returns a truthy value (real events, not a timing threshold). */
export async function waitFor(fn, what, timeout = 30000) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try { const v = await fn(); if (v) return v; } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what}${last ? ": " + last.message : ""}`);
}

/**
 * consoleCaller returns admin(method, route, body), which calls a console
 * route over HTTP as username with a bearer token (signing in on first
 * use), checks for 200 and returns the answer.
 */
export function consoleCaller(srv, username, password) {
  let token;
  return async (method, route, body) => {
    if (!token) {
      const res = await fetch(`${srv.url}/api/v1/login`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username, password }) });
      assert.equal(res.status, 200, `${username} signs in`);
      token = (await res.json()).token;
    }
    const res = await fetch(srv.url + route, {
      method, headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await res.json().catch(() => null);
    assert.equal(res.status, 200, `${method} ${route}: ${JSON.stringify(data)}`);
    return data;
  };
}

// ------------------------------------------------------------ driving the app

export async function signUp(page, url, username, password, pin, { waits = false } = {}) {
  await page.goto(url + "/");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("New PIN").fill(pin);
  await page.getByLabel("Repeat the PIN").fill(pin);
  await page.getByRole("button", { name: "Set PIN and continue" }).click();
  if (waits) return; // the device waits for approval
  await unlocked(page);
}

/**
 * stepUpCodes gives the administrator behind call (consoleCaller) an
 * authenticator app, once per caller, and returns one of the recovery
 * codes it came with, each good for one step-up. totp is mfa.mjs's.
 */
export async function stepUpCode(call, totp) {
  if (!call.recovery) {
    const { secret } = await call("POST", "/api/v1/me/mfa/totp");
    call.recovery = (await call("POST", "/api/v1/me/mfa/totp/confirm", { code: totp(secret) })).recovery_codes;
  }
  return call.recovery.shift();
}

/**
 * adminApproves approves, as the administrator behind call (consoleCaller),
 * the one device of user uid that waits for an administrator because the
 * user has no device left (PROTOCOL.md 3.2): it starts the approval, reads
 * the code the waiting page shows, and sends it with stepUp (a TOTP or
 * recovery code of the administrator's). It returns once the page is unlocked.
 */
export async function adminApproves(call, page, uid, stepUp) {
  const base = `/api/v1/admin/users/${uid}/device-requests`;
  const { requests } = await call("GET", base);
  assert.equal(requests.length, 1, `one device waits for an administrator: ${JSON.stringify(requests)}`);
  await call("POST", `${base}/${requests[0].id}/answer`);
  const shown = page.locator(".approval-code");
  await shown.waitFor();
  const code = (await shown.textContent()).replace(/\s+/g, "");
  await call("POST", `${base}/${requests[0].id}/approve`, { code, step_up: stepUp });
  await unlocked(page);
}

/**
 * openVault opens the page's vault through the app's own code with pin
 * (and the server's share for the PIN's proof), as the app does at unlock,
 * and leaves it, with the profile's public record, at window.__testVault
 * and window.__testMeta for the test's next page.evaluate.
 */
export async function openVault(page, pin) {
  const prefix = await page.evaluate(() => document.querySelector("script[type=module]").src.replace(/\/js\/main\.js$/, ""));
  await page.evaluate(async ([prefix, pin]) => {
    const store = await import(`${prefix}/js/store.js`);
    const { b64, unb64 } = await import(`${prefix}/js/bytes.js`);
    const meta = await store.getMeta();
    const P = await store.derivePin(pin, meta);
    const proof = b64(await store.pinProof(meta, P));
    const res = await fetch(`/api/v1/devices/${meta.device}/share`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ proof }) });
    const v = await store.Vault.open(await store.unwrapDataKey(meta, P, unb64((await res.json()).share)));
    Object.assign(window, { __testVault: v, __testMeta: meta });
  }, [prefix, pin]);
}

export async function unlocked(page) {
  await page.waitForFunction(() => window.curbside?.state === "unlocked", null, { timeout: 60000 });
}

export async function unlock(page, pin) {
  await page.getByLabel("PIN").fill(pin);
  await page.getByRole("button", { name: "Unlock" }).click();
  await unlocked(page);
}

export async function online(page) {
  await page.locator(".banner.offline").first().waitFor({ state: "detached", timeout: 30000 });
}

/** openConv opens a conversation from wherever the app is (a phone shows one pane at a time). */
export async function openConv(page, title) {
  for (const d of await page.locator("dialog[open]").all()) await page.keyboard.press("Escape").catch(() => {});
  const back = page.getByRole("button", { name: "Back to conversations" });
  if (await back.isVisible()) await back.click();
  await page.getByLabel("Search messages").fill("");
  const exact = new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(Keys changed)?$`);
  await page.locator(".conv-item").filter({ has: page.locator(".conv-title", { hasText: exact }) }).first().click();
  await page.locator(".conversation .conv-id h1").filter({ hasText: exact }).waitFor();
}

export async function startConversation(page, search, names) {
  await page.getByRole("button", { name: "New message" }).first().click();
  const dlg = page.locator("dialog");
  await dlg.getByLabel("Find people").fill(search);
  for (const n of names) await dlg.locator(".pick-item", { hasText: n }).click();
  await dlg.locator("footer button.primary").click();
  // Wait for the new conversation itself: the one open before it is also a
  // ".conversation", and typing into its composer while the new one
  // renders loses the text.
  let title = page.locator(".conversation .conv-id h1");
  for (const n of names) title = title.filter({ hasText: n });
  await title.waitFor();
}

export async function sendText(page, text, { ack = false, urgent = false } = {}) {
  if (ack) await page.getByLabel("Ask to acknowledge").check();
  if (urgent) await page.getByLabel("Urgent").check();
  await page.getByLabel("Message", { exact: true }).fill(text);
  await page.getByRole("button", { name: "Send" }).click();
}

export function msgLocator(page, text) {
  return page.locator(".msg", { hasText: text });
}

export async function msgStatus(page, text) {
  return (await msgLocator(page, text).locator(".status").textContent()).trim();
}

export { assert };
