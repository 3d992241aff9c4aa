// End-to-end tests of the admin console and the welcome page in real
// Chromium against a real server of their own (a fresh data directory, so
// the first-run set-up link is printed and no earlier scenario's policy
// applies). They run in order and share state, as the practice's owner,
// a new colleague and a helpdesk member would:
//   set-up link → owner on /welcome → console sign-in → required TOTP
//   enrollment (codes computed here, RFC 6238) → add a user, who accepts
//   in another browser and sets up the app → CSV import in both modes →
//   policy enforced (password length, inactivity sign-out) → lock and wipe
//   that user's device → helpdesk sees only its part → groups → offboard →
//   audit page and CSV export → reports chart → screenshots of each page.
import { createHmac } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { openProfile } from "./lib/browser.mjs";
import { assert, signUp, startServer, waitFor } from "./lib/harness.mjs";

const PW = {
  owner: "Owner passphrase 2026!",
  dana: "dana long passphrase 7",
  hanna: "hanna long passphrase 8",
};
const PIN = "592817";

// ------------------------------------------------------------ TOTP (RFC 6238)

/** base32 decodes RFC 4648 base32 (no padding needed, spaces ignored). */
export function base32(s) {
  const A = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0, val = 0;
  const out = [];
  for (const c of s.replace(/[\s=]/g, "").toUpperCase()) {
    const i = A.indexOf(c);
    if (i < 0) throw new Error(`not base32: ${c}`);
    val = (val << 5) | i;
    bits += 5;
    if (bits >= 8) { out.push((val >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  return Buffer.from(out);
}

/** hotp is RFC 4226 with HMAC-SHA1 and 6 digits. */
export function hotp(key, counter) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac("sha1", key).update(msg).digest();
  const o = mac[mac.length - 1] & 0x0f;
  const n = ((mac[o] & 0x7f) << 24) | (mac[o + 1] << 16) | (mac[o + 2] << 8) | mac[o + 3];
  return String(n % 1e6).padStart(6, "0");
}

// RFC 6238 appendix B, SHA-1, 8 digits at T=59 is 94287082; 6 digits: 287082.
assert.equal(hotp(Buffer.from("12345678901234567890"), Math.floor(59 / 30)), "287082");

const step = () => Math.floor(Date.now() / 30000);

/**
 * code returns a TOTP code for a time step not used before by this secret.
 * The server refuses a step used already (or an earlier one), and accepts
 * one step of clock skew (RFC 6238 section 5.2): so the next unused step
 * is used at once if it is at most one ahead, else this waits for the
 * clock (an event, not a timing threshold).
 */
export async function code(who) {
  const target = Math.max(step(), (who.lastStep ?? -1) + 1);
  if (target > step() + 1) await waitFor(() => target <= step() + 1, "the next TOTP time step", 40000);
  who.lastStep = target;
  return hotp(base32(who.secret), target);
}

// ------------------------------------------------------------ helpers

async function shot(ctx, page, name) {
  if (!ctx.shots) return;
  await page.screenshot({ path: path.join(ctx.shots, `console-${name}.png`), fullPage: true });
}

/** api calls the server from the page, with its session cookie. */
async function api(page, method, url, body) {
  return page.evaluate(async ([method, url, body]) => {
    const res = await fetch(url, { method, headers: body !== undefined ? { "Content-Type": "application/json" } : {}, body: body !== undefined ? JSON.stringify(body) : undefined });
    let data = null;
    try { data = await res.json(); } catch { /* empty */ }
    return { status: res.status, body: data };
  }, [method, url, body]);
}

const consoleState = (page, s) => page.waitForFunction((s) => window.curbsideConsole?.state === s, s, { timeout: 60000 });

async function go(page, hash) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.locator(".view h1").first().waitFor();
}

/** enrollTOTP sets up the authenticator app from the page's key and returns the person with it. */
async function enrollTOTP(page, who) {
  await page.getByRole("button", { name: "Use an authenticator app" }).click();
  who.secret = (await page.locator(".totp-secret").textContent()).replace(/\s+/g, "");
  assert.match(who.secret, /^[A-Z2-7]{16,}$/, "the page shows a base32 key");
  await page.getByLabel("Code from the app").fill(await code(who));
  await page.getByRole("button", { name: "Turn on" }).click();
  await page.locator(".code-list li").first().waitFor();
  await page.getByLabel("I saved these codes").check();
  await page.getByRole("button", { name: "Continue" }).click();
}

async function signIn(page, url, who) {
  await page.goto(url + "/admin/");
  await consoleState(page, "signin");
  await page.getByLabel("Username").fill(who.username);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  if (who.secret) {
    await page.getByLabel("6-digit code from your authenticator app").fill(await code(who));
    await page.getByRole("button", { name: "Confirm" }).click();
  }
}

/** acceptInvitation opens a link on the welcome page and sets the password. */
async function acceptInvitation(page, link, password, { username, display } = {}) {
  await page.goto(link);
  await page.waitForFunction(() => window.curbsideWelcome?.state === "form");
  if (username) await page.getByLabel("Username").fill(username);
  if (display) await page.getByLabel("Your full name").fill(display);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Repeat the password").fill(password);
  await page.getByRole("button", { name: /Create my account|Set my password/ }).click();
  await page.waitForFunction(() => window.curbsideWelcome?.state === "done");
}

/** addUser fills the Add user dialog and returns the invitation link it shows. */
async function addUser(page, { username, display, role = "staff", level = "", email = "", groups = [] }) {
  await go(page, "#/users");
  await page.getByRole("button", { name: "Add user" }).click();
  const dlg = page.locator("dialog[open]");
  await dlg.getByLabel("Username").fill(username);
  await dlg.getByLabel("Full name").fill(display);
  if (email) await dlg.getByLabel("E-mail (optional)").fill(email);
  await dlg.getByLabel("Role").selectOption(role);
  await dlg.getByLabel("Admin level").selectOption(level);
  for (const g of groups) await dlg.getByLabel(g, { exact: true }).check();
  await dlg.getByRole("button", { name: "Create and get link" }).click();
  const link = await dlg.getByLabel("Invitation link").inputValue();
  assert.match(link, /\/welcome#invite=[A-Za-z0-9_-]{20,}$/);
  await dlg.getByRole("button", { name: "Done" }).click();
  return link;
}

async function userId(page, username) {
  const r = await api(page, "GET", `/api/v1/admin/users?q=${encodeURIComponent(username)}`);
  const u = r.body.users.find((x) => x.username === username);
  assert.ok(u, `user ${username} exists`);
  return u.id;
}

/** setPolicy changes fields on the Policy page and saves. */
async function setPolicy(page, changes) {
  await go(page, "#/policy");
  for (const [label, fill] of changes) await fill(page.locator(".policy-field", { has: page.getByText(label, { exact: true }) }));
  await page.getByRole("button", { name: "Save policy" }).click();
}

// ------------------------------------------------------------ the tests

export function consoleTests() {
  const c = { owner: { username: "olivia", password: PW.owner }, dana: { username: "dana", password: PW.dana }, hanna: { username: "hanna", password: PW.hanna } };
  return [
    ["console: the first-run set-up link creates the owner on the welcome page", async (ctx) => {
      c.srv = await startServer(ctx.bin);
      const line = await waitFor(() => fs.readFileSync(c.srv.logFile, "utf8").match(/url=(\S+\/welcome#invite=[A-Za-z0-9_-]+)/), "the set-up link in the server's log");
      c.setup = line[1].replace(/^"|"$/g, "");
      c.o = await openProfile("console-owner", { viewport: { width: 1280, height: 860 }, downloads: true });
      const p = c.o.page;
      await p.goto(c.setup);
      await p.waitForFunction(() => window.curbsideWelcome?.state === "form");
      assert.doesNotMatch(p.url(), /invite=/, "the token is taken out of the address bar");
      await p.getByRole("heading", { name: "Set up Curbside" }).waitFor();
      await p.getByLabel("Username").fill("olivia");
      await p.getByLabel("Your full name").fill("Olivia Owens");
      // The rules are shown live: a short password meets none of them.
      await p.getByLabel("Password", { exact: true }).fill("short");
      assert.equal(await p.locator(".pw-rules li.met").count(), 0);
      await p.getByLabel("Repeat the password").fill("short");
      await p.getByRole("button", { name: "Create my account" }).click();
      await p.getByText(/at least \d+ characters/).first().waitFor();
      assert.equal(await p.evaluate(() => window.curbsideWelcome.state), "form", "a short password is refused before it is sent");
      await shot(ctx, p, "welcome-setup-1280");
      await p.setViewportSize({ width: 390, height: 800 });
      await shot(ctx, p, "welcome-setup-390");
      await p.setViewportSize({ width: 1280, height: 860 });
      await p.getByLabel("Password", { exact: true }).fill(PW.owner);
      await p.getByLabel("Repeat the password").fill(PW.owner);
      assert.equal(await p.locator(".pw-rules li:not(.met)").count(), 0, "every rule is met");
      await p.getByRole("button", { name: "Create my account" }).click();
      await p.waitForFunction(() => window.curbsideWelcome?.state === "done");
      await p.getByRole("link", { name: "Open the admin console" }).waitFor();
      await shot(ctx, p, "welcome-done-1280");
      // The link works once.
      const again = await c.o.context.newPage();
      await again.goto(c.setup);
      await again.waitForFunction(() => window.curbsideWelcome?.state === "problem");
      await again.getByRole("heading", { name: "This link was already used" }).waitFor();
      await again.goto(c.srv.url + "/welcome#invite=not-a-real-token-at-all");
      await again.getByRole("heading", { name: "This link is not valid" }).waitFor();
      await again.close();
    }],

    ["console: sign-in needs a second factor: the owner enrolls an authenticator app, then signs in with a code", async (ctx) => {
      const p = c.o.page;
      await p.goto(c.srv.url + "/admin/");
      await consoleState(p, "signin");
      await shot(ctx, p, "signin-1280");
      // A wrong password is refused (and counted in the reports).
      await p.getByLabel("Username").fill("olivia");
      await p.getByLabel("Password").fill("not the password");
      await p.getByRole("button", { name: "Sign in" }).click();
      await p.locator(".form-error", { hasText: /./ }).waitFor();
      assert.equal(await p.evaluate(() => window.curbsideConsole.state), "signin");
      await p.getByLabel("Password").fill(PW.owner);
      await p.getByRole("button", { name: "Sign in" }).click();
      // The owner has no second factor yet, and the default policy requires one.
      await consoleState(p, "enroll");
      const r = await api(p, "GET", "/api/v1/admin/users");
      assert.equal(r.status, 403, "the console API is closed before enrollment");
      await shot(ctx, p, "enroll-1280");
      await enrollTOTP(p, c.owner);
      await consoleState(p, "console");
      const nav = await p.locator(".side-nav a").allTextContents();
      assert.deepEqual(nav, ["Users", "Groups", "Import", "Invitations", "Devices", "Policy", "Email", "Backup", "Audit log", "Reports", "My account"]);
      // Sign out, and in again: now the code is asked for at sign-in.
      await p.getByRole("button", { name: "Sign out" }).click();
      await consoleState(p, "signin");
      assert.equal((await api(p, "GET", "/api/v1/me")).status, 401, "signed out on the server too");
      await p.getByLabel("Username").fill("olivia");
      await p.getByLabel("Password").fill(PW.owner);
      await p.getByRole("button", { name: "Sign in" }).click();
      await consoleState(p, "mfa");
      await shot(ctx, p, "mfa-step-1280");
      await p.getByLabel("6-digit code from your authenticator app").fill(await code(c.owner));
      await p.getByRole("button", { name: "Confirm" }).click();
      await consoleState(p, "console");
      assert.equal((await api(p, "GET", "/api/v1/admin/users")).status, 200);
    }],

    ["console: add a user, who accepts the invitation in another browser and sets up the app", async (ctx) => {
      const p = c.o.page;
      const link = await addUser(p, { username: "dana", display: "Dana Diaz", email: "dana@example.org" });
      await p.locator(".result-count", { hasText: "2 users" }).waitFor();
      c.d = await openProfile("console-dana");
      await acceptInvitation(c.d.page, link, PW.dana);
      await c.d.page.getByRole("link", { name: "Open Curbside messages" }).waitFor();
      assert.equal(await c.d.page.getByRole("link", { name: "Open the admin console" }).count(), 0, "no console link for a staff member");
      // Dana sets up the messaging app on this browser: a device to lock and wipe later.
      await signUp(c.d.page, c.srv.url, "dana", PW.dana, PIN);
      c.danaId = await userId(p, "dana");
      await go(p, `#/users/${c.danaId}`);
      await p.getByRole("heading", { name: "Dana Diaz" }).waitFor();
      await p.locator(".card", { hasText: "Devices" }).locator("tbody tr").first().waitFor();
      assert.equal(await p.locator(".card", { hasText: "Devices" }).getByRole("button", { name: /^Lock / }).count(), 1);
      // A staff member's session gets no console.
      const denied = await api(c.d.page, "GET", "/api/v1/admin/users");
      assert.equal(denied.status, 403);
      const dp = await c.d.context.newPage();
      await dp.goto(c.srv.url + "/admin/");
      await dp.getByRole("heading", { name: "This account has no console access" }).waitFor();
      await shot(ctx, dp, "no-access-390");
      await dp.close();
    }],

    ["console: CSV import with one bad row: all-or-nothing imports nothing, 'good rows' imports the rest", async (ctx) => {
      const p = c.o.page;
      await go(p, "#/import");
      const csv = "username,display,role,email,groups\n" +
        "erin,Erin Evans,staff,erin@example.org,\n" +
        "frank,Frank Fox,nurse,,\n" +
        "gail,Gail Green,external,,\n";
      await p.getByLabel("CSV text").fill(csv);
      await p.getByLabel("Import nothing if any row is bad").check();
      await p.getByRole("button", { name: "Import", exact: true }).click();
      const summary = p.locator(".import-result .summary");
      await summary.waitFor();
      assert.match(await summary.textContent(), /^Nothing was imported: 1 of 3 rows has a problem/);
      const bad = p.locator(".import-result tbody tr", { hasText: "frank" });
      assert.equal((await bad.locator("td").first().textContent()).trim(), "3", "the bad row is named by its line (header is line 1)");
      assert.match(await bad.locator(".row-error").textContent(), /nurse|role/i);
      for (const u of ["erin", "frank", "gail"]) {
        const r = await api(p, "GET", `/api/v1/admin/users?q=${u}`);
        assert.equal(r.body.users.filter((x) => x.username === u).length, 0, `${u} not imported in mode all`);
      }
      await shot(ctx, p, "import-all-1280");
      await p.getByLabel("Import the good rows").check();
      await p.getByRole("button", { name: "Import", exact: true }).click();
      await summary.filter({ hasText: "Only the good rows were imported" }).waitFor();
      assert.match(await summary.textContent(), /2 users added; 1 row skipped/);
      assert.equal(await p.locator(".import-result tbody code", { hasText: "/welcome#invite=" }).count(), 2, "an invitation link per imported user");
      await p.getByRole("button", { name: "Copy all links" }).waitFor();
      for (const [u, want] of [["erin", 1], ["frank", 0], ["gail", 1]]) {
        const r = await api(p, "GET", `/api/v1/admin/users?q=${u}`);
        assert.equal(r.body.users.filter((x) => x.username === u).length, want, `${u} after mode valid`);
      }
      const dl = p.waitForEvent("download");
      await p.getByRole("button", { name: "Download links (CSV)" }).click();
      const file = fs.readFileSync(await (await dl).path(), "utf8");
      assert.match(file, /^username,invitation_url\n/);
      assert.match(file, /erin,http\S+\/welcome#invite=/);
      assert.match(file, /gail,http\S+\/welcome#invite=/);
      await shot(ctx, p, "import-valid-1280");
    }],

    ["console: offline unlock is off by default; turned on, the policy page states its length and what a copied profile's PIN search costs", async (ctx) => {
      const p = c.o.page;
      await go(p, "#/policy");
      const row = p.locator(".policy-field", { has: p.getByText("Offline unlock grace", { exact: true }) });
      await row.locator(".policy-note", { hasText: "Offline unlock is off" }).waitFor();
      assert.equal(await row.locator("input").inputValue(), "0", "off by default");
      await setPolicy(p, [["Offline unlock grace", async (f) => { await f.locator("input").fill("3"); await f.locator("select").selectOption("d"); }]]);
      await p.locator(".notice.ok", { hasText: "Saved" }).waitFor();
      const note = row.locator(".policy-note");
      await note.filter({ hasText: "Offline unlock is on for 3 days" }).waitFor();
      assert.match(await note.textContent(), /a copied browser profile could be searched for the PIN offline.*at least \d+ guesses per second on a laptop.*all 6-digit PINs in at most about \d+ hours/);
      if (ctx.shots) await row.screenshot({ path: path.join(ctx.shots, "console-policy-grace-on.png") });
      await setPolicy(p, [["Offline unlock grace", (f) => f.locator("input").fill("0")]]);
      await row.locator(".policy-note", { hasText: "Offline unlock is off" }).waitFor();
    }],

    ["console: a policy change is enforced: a longer minimum password on the welcome page and the server; inactivity sign-out", async (ctx) => {
      const p = c.o.page;
      // A value out of range is refused next to its field.
      await setPolicy(p, [["Minimum password length", (f) => f.locator("input").fill("3")]]);
      const row = p.locator(".policy-field", { has: p.getByText("Minimum password length", { exact: true }) });
      await row.locator(".field-error", { hasText: /./ }).waitFor();
      assert.match(await row.locator(".field-error").textContent(), /8/, "the error names the allowed range");
      await setPolicy(p, [["Minimum password length", (f) => f.locator("input").fill("24")]]);
      await p.locator(".notice.ok", { hasText: "Saved" }).waitFor();
      const pol = await api(p, "GET", "/api/v1/admin/policy");
      assert.equal(pol.body.values.password_min_length, "24");
      await shot(ctx, p, "policy-1280");
      // A new invitation: the welcome page applies the new rule, and so does the server.
      await go(p, "#/invitations");
      await p.getByRole("button", { name: "New invitation" }).click();
      const dlg = p.locator("dialog[open]");
      await dlg.getByLabel("Full name").fill("Ivy Ito");
      await dlg.getByLabel("Username (optional)").fill("ivy");
      await dlg.getByRole("button", { name: "Create link" }).click();
      const link = await dlg.getByLabel("Invitation link").inputValue();
      await dlg.getByRole("button", { name: "Done" }).click();
      await p.locator("tbody tr", { hasText: "Ivy Ito" }).waitFor();
      const w = await c.o.context.newPage();
      await w.goto(link);
      await w.waitForFunction(() => window.curbsideWelcome?.state === "form");
      await w.getByText("At least 24 characters").waitFor();
      const short = "twenty chars long ok";
      await w.getByLabel("Password", { exact: true }).fill(short);
      await w.getByLabel("Repeat the password").fill(short);
      await w.getByRole("button", { name: "Create my account" }).click();
      await w.locator(".form-error", { hasText: "at least 24 characters" }).waitFor();
      const token = link.split("#invite=")[1];
      const direct = await api(w, "POST", "/api/v1/invitations/accept", { token, password: short });
      assert.equal(direct.status, 400, "the server refuses it too");
      assert.equal(direct.body.error.code, "weak_password");
      // Revoked in the console, the link stops working.
      await p.locator("tbody tr", { hasText: "Ivy Ito" }).getByRole("button", { name: /^Revoke/ }).click();
      await p.locator("dialog[open]").getByRole("button", { name: "Revoke" }).click();
      await p.locator("tbody tr", { hasText: "Ivy Ito" }).waitFor({ state: "detached" });
      await w.goto("about:blank");
      await w.goto(link);
      await w.getByRole("heading", { name: "This link was withdrawn" }).waitFor();
      await w.close();
      // Inactivity: at 10 s the console signs out by itself.
      await setPolicy(p, [["Lock / sign out after inactivity", async (f) => { await f.locator("input").fill("10"); await f.locator("select").selectOption("s"); }]]);
      await p.locator(".notice.ok", { hasText: "Saved" }).waitFor();
      await p.reload();
      await consoleState(p, "console");
      await consoleState(p, "signin");
      await p.getByText(/signed out after 10 s without activity/).waitFor();
      assert.equal((await api(p, "GET", "/api/v1/me")).status, 401, "the server session ended too");
      await signIn(p, c.srv.url, c.owner);
      await consoleState(p, "console");
      await setPolicy(p, [
        ["Lock / sign out after inactivity", async (f) => { await f.locator("input").fill("15"); await f.locator("select").selectOption("m"); }],
        ["Minimum password length", (f) => f.locator("input").fill("12")],
      ]);
      await p.locator(".notice.ok", { hasText: "Saved" }).waitFor();
      assert.equal((await api(p, "GET", "/api/v1/admin/policy")).body.values.inactivity_lock, "15m0s");
    }],

    ["console: offline, the app's service worker serves neither the app's shell nor a stale page for /admin/ and /welcome", async () => {
      // Dana's browser has the messaging app's service worker (she set the app up;
      // it goes once her device is wiped, so this runs before the wipe test).
      const p = await c.d.context.newPage();
      await p.goto(c.srv.url + "/");
      await p.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout: 60000 });
      await c.d.context.setOffline(true);
      try {
        for (const u of ["/admin/", "/welcome"]) {
          const err = await p.goto(c.srv.url + u).then(() => "", (e) => e.message);
          const body = await p.locator("body").textContent();
          assert.match(body, /Curbside is offline/, `${u} offline: ${err} ${body.slice(0, 200)}`);
          assert.equal(await p.locator("#app").count(), 0, `${u}: not the messaging app's shell`);
        }
      } finally {
        await c.d.context.setOffline(false);
        await p.close();
      }
    }],

    ["console: lock and then wipe a user's device from their page", async (ctx) => {
      const p = c.o.page;
      await go(p, `#/users/${c.danaId}`);
      const devices = p.locator(".card", { hasText: "Devices" });
      await devices.locator("tbody tr").first().waitFor();
      await devices.getByRole("button", { name: /^Lock / }).click();
      let dlg = p.locator("dialog[open]");
      assert.match(await dlg.textContent(), /must sign in with their password again/);
      await dlg.getByRole("button", { name: "Lock device" }).click();
      await waitFor(async () => (await api(p, "GET", `/api/v1/admin/users/${c.danaId}/devices`)).body.devices[0].sessions === 0, "the device's sessions to end");
      await devices.locator(".pill", { hasText: "Signed out" }).waitFor();
      await shot(ctx, p, "user-detail-1280");
      await devices.getByRole("button", { name: /^Wipe / }).click();
      dlg = p.locator("dialog[open]");
      assert.match(await dlg.textContent(), /erase Curbside's data/);
      await dlg.getByRole("button", { name: "Wipe device" }).click();
      await devices.locator(".pill", { hasText: "Wipe sent" }).waitFor();
      const d = (await api(p, "GET", `/api/v1/admin/users/${c.danaId}/devices`)).body.devices[0];
      assert.equal(d.wiped, true);
      assert.equal(d.state, "revoked");
      assert.equal(await devices.getByRole("button", { name: /^(Lock|Wipe) / }).count(), 0, "no actions left on a wiped device");
      // The command waits for the device alone: the console's own session
      // cannot fetch it without the device's signature.
      const ch = await api(p, "POST", `/api/v1/devices/${d.id}/wipe/challenge`, {});
      assert.equal(ch.status, 200);
      const cmd = await api(p, "POST", `/api/v1/devices/${d.id}/wipe`, { nonce: ch.body.nonce, sig: btoa(String.fromCharCode(...new Uint8Array(64).fill(1))) });
      assert.equal(cmd.status, 403, "the wipe command is handed only to the device that proves its key");
    }],

    ["console: a helpdesk member sees and can do only the helpdesk's part", async (ctx) => {
      const p = c.o.page;
      const link = await addUser(p, { username: "hanna", display: "Hanna Hart", level: "helpdesk" });
      c.h = await openProfile("console-helpdesk", { viewport: { width: 1280, height: 860 } });
      const hp = c.h.page;
      await acceptInvitation(hp, link, PW.hanna);
      await hp.getByRole("link", { name: "Open the admin console" }).click();
      await consoleState(hp, "signin");
      await hp.getByLabel("Username").fill("hanna");
      await hp.getByLabel("Password").fill(PW.hanna);
      await hp.getByRole("button", { name: "Sign in" }).click();
      await consoleState(hp, "enroll");
      await enrollTOTP(hp, c.hanna);
      await consoleState(hp, "console");
      assert.deepEqual(await hp.locator(".side-nav a").allTextContents(), ["Users", "Groups", "My account"]);
      const erin = await userId(p, "erin");
      await go(hp, `#/users/${erin}`);
      await hp.getByRole("heading", { name: "Erin Evans" }).waitFor();
      const access = hp.locator(".card", { hasText: "Access" });
      await access.getByRole("button", { name: "Reset password" }).waitFor();
      await access.getByRole("button", { name: "Clear lockout" }).waitFor();
      for (const b of ["Lock", "Disable", "Offboard…"]) assert.equal(await access.getByRole("button", { name: b, exact: true }).count(), 0, `helpdesk has no ${b}`);
      assert.equal(await hp.getByRole("button", { name: "Save changes" }).count(), 0, "helpdesk cannot edit profiles");
      // A reset link, and the server ends the user's sessions.
      await access.getByRole("button", { name: "Reset password" }).click();
      await hp.locator("dialog[open]").getByRole("button", { name: "Make reset link" }).click();
      const reset = await hp.getByLabel("Password reset link").inputValue();
      assert.match(reset, /\/welcome#invite=/);
      await shot(ctx, hp, "helpdesk-user-1280");
      // Pages above the level are not offered, and the server refuses them.
      await go(hp, "#/policy");
      await hp.getByText("cannot use Policy").waitFor();
      for (const u of ["/api/v1/admin/policy", "/api/v1/admin/audit", "/api/v1/admin/reports/activity", "/api/v1/admin/devices"]) {
        assert.equal((await api(hp, "GET", u)).status, 403, `helpdesk ${u}`);
      }
      assert.equal((await api(hp, "POST", `/api/v1/admin/users/${erin}/state`, { state: "locked" })).status, 403);
      await hp.setViewportSize({ width: 390, height: 800 });
      await go(hp, "#/users");
      await shot(ctx, hp, "helpdesk-users-390");
    }],

    ["console: an admin sees a user's second factor and resets it", async () => {
      const p = c.o.page;
      const hanna = c.hannaId = await userId(p, "hanna");
      await go(p, `#/users/${hanna}`);
      const mfa = p.locator(".card", { hasText: "Second factor" });
      await mfa.locator(".pill", { hasText: "Set up" }).waitFor();
      await mfa.getByRole("button", { name: "Reset second factor" }).click();
      await p.locator("dialog[open]").getByRole("button", { name: "Remove second factors" }).click();
      await mfa.locator(".pill", { hasText: "Not set up" }).waitFor();
      const st = (await api(p, "GET", `/api/v1/admin/users/${hanna}`)).body.mfa;
      assert.equal(st.totp, false);
      assert.equal(st.recovery_left, 0);
    }],

    ["console: groups: a subgroup under its parent, with members", async (ctx) => {
      const p = c.o.page;
      await go(p, "#/groups");
      for (const [name, parent] of [["Clinicians", null], ["Cardiology", "Clinicians"]]) {
        await p.getByRole("button", { name: "New group" }).click();
        const dlg = p.locator("dialog[open]");
        await dlg.getByLabel("Name").fill(name);
        await dlg.getByLabel("Description (optional)").fill(`${name} team`);
        if (parent) await dlg.getByLabel("Inside group").selectOption({ label: parent });
        else await dlg.getByLabel("Inside group").selectOption("0");
        await dlg.getByRole("button", { name: "Create group" }).click();
        await p.locator(".tree-item", { hasText: name }).waitFor();
      }
      // Cardiology is drawn inside Clinicians' branch.
      await p.locator("ul.tree.root > li", { hasText: "Clinicians" }).locator("ul.tree .tree-item", { hasText: "Cardiology" }).waitFor();
      await p.locator(".tree-item", { hasText: "Cardiology" }).click();
      await p.getByRole("button", { name: "Add members" }).click();
      const dlg = p.locator("dialog[open]");
      await dlg.getByLabel("Find people").fill("erin");
      await dlg.locator(".pick-item", { hasText: "erin" }).click();
      await dlg.getByRole("button", { name: "Add 1 to group" }).click();
      await p.locator(".member-list li", { hasText: "erin" }).waitFor();
      const g = (await api(p, "GET", "/api/v1/admin/groups")).body.groups;
      const clin = g.find((x) => x.name === "Clinicians"), card = g.find((x) => x.name === "Cardiology");
      assert.equal(card.parent, clin.id);
      assert.ok(clin.members.some((m) => m.username === "erin"), "a subgroup's member counts in its parent");
      await shot(ctx, p, "groups-1280");
      // The user's page lists the group, and its link opens it.
      await go(p, `#/users/${await userId(p, "erin")}`);
      await p.locator(".card", { hasText: "Groups" }).getByRole("link", { name: "Cardiology" }).click();
      await p.locator(".group-detail h2", { hasText: "Cardiology" }).waitFor();
      // Rename and move to the top level, then delete a third group.
      await p.getByRole("button", { name: "Rename or move" }).click();
      let d = p.locator("dialog[open]");
      await d.getByLabel("Name").fill("Cardiology clinic");
      await d.getByLabel("Inside group").selectOption("0");
      await d.getByRole("button", { name: "Save" }).click();
      await p.locator("ul.tree.root > li > .tree-item", { hasText: "Cardiology clinic" }).waitFor();
      const moved = (await api(p, "GET", "/api/v1/admin/groups")).body.groups.find((x) => x.name === "Cardiology clinic");
      assert.ok(!moved.parent, "moved to the top level");
      await p.locator(".tree-item", { hasText: "Clinicians" }).click();
      await p.getByRole("button", { name: "Delete" }).click();
      d = p.locator("dialog[open]");
      await d.getByRole("button", { name: "Delete group" }).click();
      await p.locator(".tree-item", { hasText: "Clinicians" }).waitFor({ state: "detached" });
      assert.ok(!(await api(p, "GET", "/api/v1/admin/groups")).body.groups.some((x) => x.name === "Clinicians"));
    }],

    ["console: an admin assigns a care team on a user's page, and removes part of it", async (ctx) => {
      const p = c.o.page;
      const gail = await userId(p, "gail"); // an external provider
      await go(p, `#/users/${gail}`);
      const team = p.locator(".card", { hasText: "Assigned people and groups" });
      await team.getByText("Nobody assigned.").waitFor();
      for (const [kind, name] of [["user", "erin"], ["group", "Cardiology clinic"]]) {
        await team.getByLabel("Assign a person or a group").selectOption(kind);
        await team.getByLabel("Username or group name").fill(name);
        await team.getByRole("button", { name: "Assign" }).click();
        await team.locator("li", { hasText: name }).waitFor();
      }
      let as = (await api(p, "GET", `/api/v1/admin/users/${gail}/assignments`)).body.assignments;
      assert.deepEqual(as.map((a) => `${a.kind}:${a.name}`).sort(), ["group:Cardiology clinic", "user:erin"]);
      await shot(ctx, p, "careteam-1280");
      await team.getByRole("button", { name: "Remove Cardiology clinic" }).click();
      await team.locator("li", { hasText: "Cardiology clinic" }).waitFor({ state: "detached" });
      as = (await api(p, "GET", `/api/v1/admin/users/${gail}/assignments`)).body.assignments;
      assert.deepEqual(as.map((a) => a.name), ["erin"]);
      // A name that is nobody's says so, in words.
      await team.getByLabel("Username or group name").fill("nobody-here");
      await team.getByRole("button", { name: "Assign" }).click();
      await team.locator(".form-error", { hasText: "nobody-here" }).waitFor();
    }],

    ["console: offboarding says what it will do and shows what it revoked", async (ctx) => {
      const p = c.o.page;
      const gail = await userId(p, "gail");
      await go(p, `#/users/${gail}`);
      await p.getByRole("button", { name: "Offboard…" }).click();
      const dlg = p.locator("dialog[open]");
      assert.match(await dlg.textContent(), /revoked and sent a wipe command/);
      await dlg.getByRole("button", { name: "Offboard now" }).click();
      await p.locator(".notice.ok", { hasText: /Offboarded: 0 sessions ended, 0 devices revoked/ }).waitFor();
      const u = (await api(p, "GET", `/api/v1/admin/users/${gail}`)).body.user;
      assert.equal(u.state, "disabled");
      assert.ok(u.offboarded_at > 0);
    }],

    ["console: the audit page lists the actions, checks the chain and exports them as CSV", async (ctx) => {
      const p = c.o.page;
      await go(p, "#/audit");
      await p.locator(".chain .notice.ok", { hasText: "Integrity check passed" }).waitFor();
      await p.locator("tbody tr").first().waitFor();
      const actions = await p.locator("tbody td[data-label=Action]").allTextContents();
      for (const a of ["setup.owner", "user.create", "policy.update", "device.lock", "device.wipe", "user.offboard", "login.fail"]) {
        assert.ok(actions.includes(a), `the log shows ${a}`);
      }
      await p.getByLabel("Action").selectOption("device.wipe");
      await waitFor(async () => (await p.locator("tbody td[data-label=Action]").allTextContents()).every((x) => x === "device.wipe"), "the filter to apply");
      // Who a detail is about is named, linked to their page, not a bare id.
      const dana = p.locator("tbody td[data-label=Detail] a.user-ref", { hasText: "Dana Diaz" }).first();
      await dana.waitFor();
      assert.equal(await dana.getAttribute("href"), `#/users/${c.danaId}`);
      for (const t of await p.locator("tbody td[data-label=Detail]").allTextContents()) assert.doesNotMatch(t, /user: \d/, "no bare user id");
      await shot(ctx, p, "audit-1280");
      // A device's user agent is the browser's short name; the full string is its title.
      await p.getByLabel("Action").selectOption("device.register");
      await waitFor(async () => (await p.locator("tbody td[data-label=Action]").allTextContents()).every((x) => x === "device.register"), "the filter to apply");
      const agent = p.locator("tbody td[data-label=Detail] .agent").first();
      await agent.waitFor();
      assert.equal(await agent.textContent(), "Chrome on Linux");
      assert.match(await agent.getAttribute("title"), /^Mozilla\/5\.0 .*Chrome\//);
      assert.doesNotMatch(await p.locator("tbody td[data-label=Detail]").first().textContent(), /Mozilla/, "no raw user agent in the table");
      await p.getByLabel("Action").selectOption("");
      await waitFor(async () => (await p.locator("tbody td[data-label=Action]").allTextContents()).includes("policy.update"), "the filter to clear");
      // One person's actions, from their page.
      await go(p, `#/users/${c.hannaId}`);
      await p.getByRole("link", { name: "Audit entries by this person" }).click();
      await p.getByText("Showing only the actions of Hanna Hart (hanna).").waitFor();
      await waitFor(async () => { const who = await p.locator("tbody td[data-label=Who]").allTextContents(); return who.length > 0 && who.every((x) => x === "hanna"); }, "only hanna's entries");
      assert.ok((await p.locator("tbody td[data-label=Action]").allTextContents()).includes("console.refused"), "the helpdesk's refused calls are on the record");
      await go(p, "#/audit");
      await p.locator("tbody tr").first().waitFor();
      const dl = p.waitForEvent("download");
      await p.getByRole("button", { name: "Export CSV" }).click();
      const csv = fs.readFileSync(await (await dl).path(), "utf8");
      for (const a of ["user.create", "policy.update", "device.wipe", "user.offboard"]) assert.ok(csv.includes(a), `the export holds ${a}`);
      assert.ok(csv.includes("olivia"), "the export names the actor");
    }],

    ["console: the reports page draws its charts from the activity report", async (ctx) => {
      const p = c.o.page;
      await go(p, "#/reports");
      const charts = p.locator("svg.chart");
      await charts.first().waitFor();
      assert.equal(await charts.count(), 3);
      const rep = (await api(p, "GET", "/api/v1/admin/reports/activity")).body;
      for (let i = 0; i < 3; i++) assert.equal(await charts.nth(i).locator("rect.bar").count(), rep.days.length, "a bar per day");
      const failed = await p.locator("svg.chart.warn rect.bar").evaluateAll((bars) => bars.map((b) => Number(b.dataset.value)));
      assert.deepEqual(failed, rep.failed_logins.map((x) => x.count));
      assert.ok(failed.reduce((a, b) => a + b, 0) >= 1, "the wrong password counts as a failed sign-in");
      const active = await p.locator("svg.chart.alt rect.bar").evaluateAll((bars) => bars.map((b) => Number(b.dataset.value)));
      assert.deepEqual(active, rep.active_devices.map((x) => x.count));
      await shot(ctx, p, "reports-1280");
    }],

    ["console: its parsers and formatters: Go durations, CSV cells, chart axes", async () => {
      const p = c.o.page;
      const r = await p.evaluate(async () => {
        const prefix = document.querySelector("script[type=module]").src.replace(/\/admin\/main\.js$/, "");
        const { parseGoDuration } = await import(`${prefix}/admin/policy.js`);
        const { csvCell } = await import(`${prefix}/admin/import.js`);
        const { niceMax } = await import(`${prefix}/admin/reports.js`);
        return {
          d: ["168h0m0s", "1h30m", "10s", "5m0s", "0s", "1.5h", "500ms", "", "5 minutes", "10x"].map(parseGoDuration),
          csv: ["plain", "a,b", 'say "hi"', "=HYPERLINK(1)", "+1", "-1", "@x", "line\nbreak"].map(csvCell),
          nice: [0, 3, 4, 5, 11, 99, 101].map(niceMax),
        };
      });
      assert.deepEqual(r.d.slice(0, 7), [604800000, 5400000, 10000, 300000, 0, 5400000, 500]);
      assert.ok(r.d.slice(7).every((x) => x === null || Number.isNaN(x)), `not durations: ${r.d.slice(7)}`);
      // Cells a spreadsheet would run as a formula are made text with a
      // leading apostrophe (OWASP's advice against CSV injection).
      assert.deepEqual(r.csv, ["plain", '"a,b"', '"say ""hi"""', `"'=HYPERLINK(1)"`, `"'+1"`, `"'-1"`, `"'@x"`, '"line\nbreak"']);
      assert.deepEqual(r.nice, [4, 4, 4, 5, 20, 100, 200]);
    }],

    ["console: the Email page saves the SMTP settings without ever showing the password, explains a failed test email, and invitations offer Send by email", async (ctx) => {
      const p = c.o.page;
      // Before email is set up, a new link offers no "Send by email".
      await go(p, "#/invitations");
      await p.getByRole("button", { name: "New invitation" }).click();
      const first = p.locator("dialog[open]");
      await first.getByLabel("Full name").fill("Nell Nomail");
      await first.getByRole("button", { name: "Create link" }).click();
      await first.locator(".copy-row[data-mail=checked]").waitFor();
      assert.equal(await first.getByRole("button", { name: "Send by email" }).count(), 0, "no Send by email while email is not set up");
      await first.getByRole("button", { name: "Done" }).click();
      await go(p, "#/email");
      const secret = "smtp-Secret-9431";
      await p.getByLabel("Mail server (host)").fill("127.0.0.1");
      await p.getByLabel("Port").fill("1"); // nothing listens there: the sends fail
      await p.getByLabel("Security").selectOption("none");
      await p.getByLabel("Username").fill("curbside");
      await p.getByLabel("Password", { exact: true }).fill(secret);
      await p.getByLabel("From address").fill("messages@elm-street.example.org");
      await p.getByLabel("Practice name").fill("Elm Street Clinic");
      await p.getByRole("button", { name: "Save email settings" }).click();
      await p.locator(".notice.ok", { hasText: "Email settings saved" }).waitFor();
      await p.locator(".pill", { hasText: "Set" }).first().waitFor();
      assert.equal(await p.getByLabel("Password", { exact: true }).inputValue(), "", "the password field is empty after saving");
      assert.ok(!(await p.content()).includes(secret), "the page never holds the password");
      const got = await api(p, "GET", "/api/v1/admin/email");
      assert.equal(got.body.password, "set");
      assert.ok(!JSON.stringify(got.body).includes(secret), "the API never answers with the password");
      // Encryption off for a server elsewhere is refused with the reason.
      await p.getByLabel("Mail server (host)").fill("smtp.example.org");
      await p.getByRole("button", { name: "Save email settings" }).click();
      await p.locator(".form-error", { hasText: /security/i }).waitFor();
      await p.getByLabel("Mail server (host)").fill("127.0.0.1");
      // A test email that cannot be sent says why, in words.
      await p.getByLabel("Send to").fill("olivia@example.org");
      await p.getByRole("button", { name: "Send a test email" }).click();
      await p.locator(".notice.bad", { hasText: "could not be reached" }).waitFor();
      await shot(ctx, p, "email-test-failed-1280");
      // A new invitation's link can be sent by email; the send fails
      // later, off the request, and the Email page shows the last result.
      await go(p, "#/invitations");
      await p.getByRole("button", { name: "New invitation" }).click();
      const dlg = p.locator("dialog[open]");
      await dlg.getByLabel("Full name").fill("Mia Mail");
      await dlg.getByLabel("E-mail (optional)").fill("mia@example.org");
      await dlg.getByRole("button", { name: "Create link" }).click();
      await dlg.getByRole("button", { name: "Send by email" }).click();
      await p.getByText("The link is on its way to mia@example.org.").waitFor();
      await dlg.getByRole("button", { name: "Done" }).click();
      await waitFor(async () => { const r = await api(p, "GET", "/api/v1/admin/email"); return r.body.last.kind === "invitation" && r.body.last.ok === false; }, "the failed invitation send to be recorded");
      await go(p, "#/email");
      await p.locator(".last-send", { hasText: "Failed" }).waitFor();
      // Email off again, so that nothing later tries to send.
      await p.getByLabel("Mail server (host)").fill("");
      await p.getByRole("button", { name: "Save email settings" }).click();
      await p.locator(".notice.ok", { hasText: "Email settings saved" }).waitFor();
    }],

    ["console: every page renders at desktop and phone width with no CSP violation or script error", async (ctx) => {
      const p = c.o.page;
      for (const [w, hgt] of [[1280, 860], [390, 800]]) {
        await p.setViewportSize({ width: w, height: hgt });
        for (const r of ["users", `users/${c.danaId}`, "groups", "import", "invitations", "devices", "policy", "email", "backup", "audit", "reports", "account"]) {
          await go(p, "#/" + r);
          await p.locator(".loading").first().waitFor({ state: "detached" }).catch(() => {});
          await p.waitForLoadState("networkidle").catch(() => {});
          await shot(ctx, p, `${r.replace("/", "-")}-${w}`);
          // Nothing wider than the screen at phone width (tables become cards).
          if (w === 390) {
            const over = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
            assert.ok(over <= 1, `#/${r} scrolls sideways at 390 px (${over} px too wide)`);
          }
        }
      }
      await p.setViewportSize({ width: 1280, height: 860 });
      for (const x of [c.o, c.d, c.h].filter(Boolean)) {
        assert.deepEqual(x.csp, [], `${x.name}: CSP violations`);
        assert.deepEqual(x.problems.filter((m) => /page error/.test(m)), [], `${x.name}: script errors`);
        assert.deepEqual(x.foreign, [], `${x.name}: requests to other origins`);
      }
      const res = await fetch(c.srv.url + "/admin/");
      assert.match(res.headers.get("content-security-policy"), /script-src 'self'/);
      assert.doesNotMatch(await res.text(), /<script(?![^>]*\bsrc=)[^>]*>/, "the console's page has no inline script");
    }],
  ].map(([name, fn]) => [name, fn, c]);
}

/** closeConsole closes the browsers and the server the console tests started. */
export async function closeConsole(c) {
  for (const x of [c.o, c.d, c.h]) if (x) await x.close();
  if (c.srv) await c.srv.stop();
}
