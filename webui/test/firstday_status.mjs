// What broke on a clinic's first day, in real Chromium against a server of
// its own (a fresh data directory: the first-run set-up link is printed, and
// no other file's users or policy apply):
//   the welcome page names the owner and states the server's username rule;
//   a colleague one never messaged shows their real presence as soon as the
//   conversation opens, and presence reads as unknown while one is offline;
//   do-not-disturb holds back banners for non-urgent messages, and urgent
//   ones never stack; right-to-left text is laid out right to left; recall
//   asks in the app's own dialog; server refusals read as the catalogue's
//   sentences; the sign-in says how to get a password reset; the app and the
//   console give a device one name; the console shows Invited, Connected
//   now, Wiped with its time, short browser names, every problem of a CSV
//   row, audit details in words, the policy's Saved beside its button, and
//   dialog buttons in view on a short phone screen.
import fs from "node:fs";
import path from "node:path";
import { openProfile } from "./lib/browser.mjs";
import { assert, msgLocator, online, sendText, sh, signUp, startConversation, startServer, waitFor } from "./lib/harness.mjs";

const PW = { owner: "Fiona first-day owner 1", nina: "nina long passphrase 31", omar: "omar long passphrase 47", ivy: "ivy long passphrase 59" };
const PIN = { nina: "482915", omar: "730264" };
const ARABIC = "المريض في الغرفة ١٢ يحتاج إلى مسكن";

async function shot(ctx, page, name) {
  if (ctx.shots) await page.screenshot({ path: path.join(ctx.shots, `firstday-${name}.png`) });
}

/** inView reports whether the element is wholly inside the page's viewport. */
async function inView(loc) {
  const box = await loc.boundingBox();
  const vp = loc.page().viewportSize();
  return !!box && box.y >= 0 && box.y + box.height <= vp.height && box.x >= 0 && box.x + box.width <= vp.width;
}

async function go(page, hash) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.locator(".view h1").first().waitFor();
}

/** subline is the presence line under the open conversation's title. */
const subline = (page) => page.locator(".conversation .conv-id .sub");

/** f is what the tests share: the server, the owner's and two colleagues' browsers. */
const f = {};

export function firstDayTests() {
  return [
    ["first day: the welcome page names the owner and states the server's username rule", async (ctx) => {
      f.srv = await startServer(ctx.bin);
      const line = await waitFor(() => fs.readFileSync(f.srv.logFile, "utf8").match(/url=(\S+\/welcome#invite=[A-Za-z0-9_-]+)/), "the set-up link in the server's log");
      // The console's second factor is lifted for this file's owner.
      await sh(ctx.bin, ["policy", "set", "--data", f.srv.dataDir, "mfa_required="]);
      f.o = await openProfile("firstday-owner", { viewport: { width: 1280, height: 860 } });
      const p = f.o.page;
      await p.goto(line[1].replace(/^"|"$/g, ""));
      await p.waitForFunction(() => window.curbsideWelcome?.state === "form");
      const facts = await p.locator(".facts").textContent();
      assert.match(facts, /RoleOwner/, "the owner's link says Owner");
      assert.doesNotMatch(facts, /Staff/, "not the role underneath");
      const hint = await p.locator(".field", { has: p.getByLabel("Username") }).locator(".hint").textContent();
      const rule = await p.evaluate(async () => (await import(document.querySelector("script[type=module]").src.replace(/welcome\.js$/, "constants.js"))).USERNAME_RULE);
      assert.ok(rule && hint.includes(rule), `the hint "${hint}" states the server's rule "${rule}"`);
      assert.match(hint, /underscores/, "the hint names what the server accepts");
      // A name the server would refuse is refused here, in the rule's words.
      await p.getByLabel("Username").fill("fiona owner");
      await p.getByLabel("Your full name").fill("Fiona Owner");
      await p.getByLabel("Password", { exact: true }).fill(PW.owner);
      await p.getByLabel("Repeat the password").fill(PW.owner);
      await p.getByRole("button", { name: "Create my account" }).click();
      await p.locator(".form-error", { hasText: "underscores" }).waitFor();
      await shot(ctx, p, "welcome-owner-1280");
      await p.setViewportSize({ width: 390, height: 800 });
      await shot(ctx, p, "welcome-owner-390");
      await p.setViewportSize({ width: 1280, height: 860 });
      await p.getByLabel("Username").fill("fiona_owner");
      await p.getByRole("button", { name: "Create my account" }).click();
      await p.waitForFunction(() => window.curbsideWelcome?.state === "done");
    }],

    ["first day: a colleague never messaged shows their presence when the conversation opens; offline, presence reads as unknown", async (ctx) => {
      for (const [u, d] of [["nina", "Nina Nasser"], ["omar", "Omar Okafor"], ["ivy", "Ivy Invited"]]) {
        await sh(ctx.bin, ["user", "add", "--data", f.srv.dataDir, "--username", u, "--display", d, "--role", "staff", "--password-stdin"], { input: PW[u] + "\n" });
      }
      f.nina = await openProfile("firstday-nina"); // a phone
      f.omar = await openProfile("firstday-omar", { viewport: { width: 1280, height: 860 } });
      for (const x of [f.nina, f.omar]) x.page.on("dialog", (d) => { f.nativeDialog = d.message(); d.dismiss(); });
      await signUp(f.omar.page, f.srv.url, "omar", PW.omar, PIN.omar);
      await signUp(f.nina.page, f.srv.url, "nina", PW.nina, PIN.nina);
      const n = f.nina.page;
      await online(n);
      await online(f.omar.page);
      // No message between them yet: the server's contacts are empty.
      await startConversation(n, "omar", ["Omar Okafor"]);
      await subline(n).filter({ hasText: /^Available$/ }).waitFor();
      await shot(ctx, n, "presence-available-390");
      // A change reaches her at once.
      await f.omar.page.getByRole("combobox", { name: "Your status" }).selectOption("dnd");
      await subline(n).filter({ hasText: /^Do not disturb$/ }).waitFor();
      await f.omar.page.getByRole("combobox", { name: "Your status" }).selectOption("available");
      await subline(n).filter({ hasText: /^Available$/ }).waitFor();
      // Offline, what she last heard is stale.
      await f.nina.context.setOffline(true);
      await subline(n).filter({ hasText: "Status unknown while you're offline" }).waitFor();
      await shot(ctx, n, "presence-offline-390");
      await f.nina.context.setOffline(false);
      await subline(n).filter({ hasText: /^Available$/ }).waitFor();
    }],

    ["first day: do-not-disturb shows no banner for non-urgent messages; urgent ones show one banner, never a stack", async (ctx) => {
      const n = f.nina.page, o = f.omar.page;
      await n.getByRole("button", { name: "Back to conversations" }).click();
      await n.getByRole("combobox", { name: "Your status" }).selectOption("dnd");
      await startConversation(o, "nina", ["Nina Nasser"]);
      await waitFor(async () => /Do not disturb/.test(await subline(o).textContent()), "omar to see nina's do-not-disturb");
      for (let i = 1; i <= 3; i++) await sendText(o, `Routine note ${i}`);
      await n.locator(".conv-item", { hasText: "Routine note 3" }).waitFor();
      assert.equal(await n.locator(".toast").count(), 0, "no banner for a non-urgent message under do-not-disturb");
      for (let i = 1; i <= 3; i++) await sendText(o, `Urgent: bed ${i} desaturating`, { urgent: true });
      await n.locator(".conv-item", { hasText: "bed 3" }).waitFor();
      await n.locator(".toast.urgent").first().waitFor();
      assert.equal(await n.locator(".toast").count(), 1, "one banner, the newest, however many arrive");
      assert.match(await n.locator(".toast").textContent(), /Urgent message from Omar Okafor/);
      await shot(ctx, n, "dnd-urgent-banner-390");
      await n.locator(".toast").getByRole("button", { name: "Dismiss" }).click();
      assert.equal(await n.locator(".toast").count(), 0, "the banner can be dismissed");
      await n.getByRole("combobox", { name: "Your status" }).selectOption("available");
    }],

    ["first day: right-to-left text is laid out right to left in messages, names and the composer", async (ctx) => {
      const n = f.nina.page, o = f.omar.page;
      await sendText(o, ARABIC);
      await n.locator(".conv-item", { hasText: "Omar Okafor" }).click();
      const text = msgLocator(n, ARABIC).locator(".text");
      await text.waitFor();
      assert.equal(await text.getAttribute("dir"), "auto");
      // A re-render (a receipt, the divider) may replace the element between
      // finding it and reading its style: read it until it holds.
      const direction = (loc) => loc.evaluate((el) => (el.isConnected ? getComputedStyle(el).direction : ""));
      await waitFor(async () => (await direction(text)) === "rtl", "Arabic text runs right to left");
      const latin = msgLocator(n, "Routine note 1").locator(".text");
      await waitFor(async () => (await direction(latin)) === "ltr", "and Latin text left to right");
      assert.equal(await n.locator(".conversation .conv-id h1").getAttribute("dir"), "auto");
      const box = n.getByLabel("Message", { exact: true });
      assert.equal(await box.getAttribute("dir"), "auto", "the composer takes the direction of what is typed");
      await box.fill("שלום");
      await shot(ctx, n, "rtl-390");
      await box.fill("");
      await shot(ctx, o, "rtl-1280");
    }],

    ["first day: recall asks in the app's own dialog, whose buttons stay in view on a short phone", async (ctx) => {
      const n = f.nina.page;
      await n.setViewportSize({ width: 390, height: 520 });
      await sendText(n, "Wrong bed, ignore");
      await waitFor(async () => /Sent|Delivered|Read/.test(await msgLocator(n, "Wrong bed, ignore").locator(".status").textContent()), "sent");
      await msgLocator(n, "Wrong bed, ignore").getByRole("button", { name: "Message options" }).click();
      await n.getByRole("button", { name: "Recall from everyone" }).click();
      const dlg = n.locator("dialog[open]");
      await dlg.getByRole("heading", { name: "Recall this message?" }).waitFor();
      assert.equal(f.nativeDialog, undefined, "no native confirm()");
      await shot(ctx, n, "recall-dialog-390");
      await dlg.getByRole("button", { name: "Recall", exact: true }).click();
      await n.getByText("You recalled this message.").first().waitFor();
      // A dialog taller than the screen scrolls its body; its buttons stay.
      // The phone is made short enough that "New message", once its
      // directory list has drawn (after a fetch), is taller than the screen.
      await n.getByRole("button", { name: "Back to conversations" }).click();
      await n.setViewportSize({ width: 390, height: 360 });
      await n.getByRole("button", { name: "New message" }).first().click();
      const nd = n.locator("dialog[open]");
      await nd.locator("ul.pick-list .pick-item").nth(1).waitFor();
      // Laid out whole, its title, body and buttons would not fit the screen.
      const need = await nd.evaluate((d) => [...d.children].reduce((t, el) => t + el.scrollHeight, 0));
      assert.ok(need > n.viewportSize().height, `the dialog's content (${need} px) is taller than the screen`);
      const [sh, ch] = await nd.locator(".dialog-body").evaluate((el) => [el.scrollHeight, el.clientHeight]);
      assert.ok(sh > ch, `its body scrolls (${sh} px in ${ch} px)`);
      const main = nd.locator("footer button.primary");
      assert.ok(await inView(main), "the dialog's main button is in view");
      const [mb, db] = [await main.boundingBox(), await nd.boundingBox()];
      assert.ok(mb.y + mb.height <= db.y + db.height, "the main button is inside the dialog's visible box");
      await shot(ctx, n, "new-message-dialog-360");
      await n.keyboard.press("Escape");
      await n.setViewportSize({ width: 390, height: 780 });
    }],

    ["first day: server refusals read as the catalogue's sentences; the sign-in says how to get a password reset", async (ctx) => {
      const n = f.nina.page;
      const r = await n.evaluate(async () => {
        const prefix = document.querySelector("script[type=module]").src.replace(/\/js\/main\.js$/, "");
        const { call, sentence } = await import(`${prefix}/js/api.js`);
        let message = "";
        try { await call("POST", "/api/v1/login", { username: ["a", "b"], password: "x" }); } catch (e) { message = e.message; }
        return { message, lower: sentence("no such device") };
      });
      assert.equal(r.message, "The request is not complete or not valid.", "the catalogue's words");
      assert.doesNotMatch(r.message, /unmarshal|Go struct|json/);
      assert.equal(r.lower, "No such device.", "server words read as a sentence");
      const x = await openProfile("firstday-fresh");
      await x.page.goto(f.srv.url + "/");
      await x.page.getByRole("button", { name: "Forgot your password?" }).click();
      const help = x.page.getByRole("region", { name: "How to get a reset link" });
      await help.waitFor();
      assert.match(await help.textContent(), /administrator.*reset link/);
      await shot(ctx, x.page, "forgot-password-390");
      await x.close();
    }],

    ["first day: the app and the console give a device one name; the console shows Invited, Connected now and short browser names", async (ctx) => {
      const n = f.nina.page;
      await n.getByRole("button", { name: "Settings" }).click();
      const device = await n.evaluate(() => window.curbside.device);
      const mine = n.locator(`.devices li[data-device="${device}"] .device-name`);
      await mine.waitFor();
      const appName = await mine.textContent();
      assert.match(appName, /^Curbside web on Chrome/, `the app names the device ${appName}`);
      await n.getByRole("button", { name: "Back to conversations" }).click();
      const p = f.o.page;
      await p.goto(f.srv.url + "/admin/");
      await p.waitForFunction(() => window.curbsideConsole?.state === "signin");
      await p.getByLabel("Username").fill("fiona_owner");
      await p.getByLabel("Password").fill(PW.owner);
      await p.getByRole("button", { name: "Sign in" }).click();
      await p.locator(".view h1").first().waitFor();
      await go(p, "#/users");
      await p.locator("tbody tr", { hasText: "Ivy Invited" }).locator(".pill", { hasText: "Invited" }).waitFor();
      assert.equal(await p.locator("tbody tr", { hasText: "Nina Nasser" }).locator(".pill", { hasText: "Invited" }).count(), 0, "nina has signed in");
      await p.locator("tbody tr", { hasText: "Nina Nasser" }).locator(".pill", { hasText: "Active" }).waitFor();
      await go(p, "#/devices");
      const row = p.locator("tbody tr", { hasText: "Nina Nasser" });
      await row.locator(".pill", { hasText: "Connected now" }).waitFor();
      assert.ok(await row.getByText(appName, { exact: true }).isVisible(), "the console's name is the app's");
      assert.equal((await row.locator("details.agent summary").textContent()).trim(), "Chrome on Linux");
      assert.ok(!(await row.locator("details.agent code").isVisible()), "the raw User-Agent only in the details");
      await row.locator("details.agent summary").click();
      assert.match(await row.locator("details.agent code").textContent(), /^Mozilla\/5\.0/);
      await shot(ctx, p, "console-devices-1280");
    }],

    ["first day: a wiped device shows Wiped with its time once it fetched the command", async (ctx) => {
      const p = f.o.page;
      const omarDevice = await f.omar.page.evaluate(() => window.curbside.device);
      const row = p.locator("tbody tr", { hasText: "Omar Okafor" });
      await row.getByRole("button", { name: /^Wipe / }).click();
      await p.locator("dialog[open]").getByRole("button", { name: "Wipe device" }).click();
      // Omar's app was connected: it is closed (4001), fetches the signed
      // command and erases itself.
      await f.omar.page.getByText("This device was wiped by your administrator").waitFor();
      await waitFor(async () => {
        const res = await p.evaluate(async () => (await fetch("/api/v1/admin/devices")).json());
        return res.devices.find((d) => d.id === omarDevice)?.wiped_at > 0;
      }, "the wipe fetched");
      await go(p, "#/users");
      await go(p, "#/devices");
      await row.locator(".pill", { hasText: /^Wiped$/ }).waitFor();
      assert.match(await row.locator("td", { has: p.locator(".pill", { hasText: /^Wiped$/ }) }).textContent(), /\d/, "with its time");
      await shot(ctx, p, "console-wiped-1280");
      await p.setViewportSize({ width: 390, height: 800 });
      await shot(ctx, p, "console-wiped-390");
      await p.setViewportSize({ width: 1280, height: 860 });
    }],

    ["first day: the console reports every problem of a CSV row, shows Saved where the button is, and audit details in words", async (ctx) => {
      const p = f.o.page;
      await go(p, "#/import");
      await p.getByLabel("CSV text").fill("username,display,role,email,groups\nbad name!,,doctor,not-an-address,Nope\n");
      await p.getByLabel("Import nothing if any row is bad").check();
      await p.getByRole("button", { name: "Import", exact: true }).click();
      const err = p.locator(".import-result .row-error").first();
      await err.waitFor();
      const text = await err.textContent();
      for (const want of ["username", "display", "role", "email", "Nope"]) assert.ok(text.includes(want), `the row's error "${text}" names ${want}`);
      await shot(ctx, p, "console-import-1280");
      // The policy: Saved shows beside the button, in view.
      await go(p, "#/policy");
      const field = p.locator(".policy-field", { has: p.getByText("Keep messages for", { exact: true }) });
      await field.locator("input").fill("30");
      await field.locator("select").selectOption("d");
      await p.getByRole("button", { name: "Save policy" }).scrollIntoViewIfNeeded();
      await p.getByRole("button", { name: "Save policy" }).click();
      const saved = p.locator(".notice.ok", { hasText: "Saved" });
      await saved.waitFor();
      assert.ok(await inView(saved), "Saved is in view where the person pressed Save");
      await shot(ctx, p, "console-policy-saved-1280");
      await go(p, "#/audit");
      const entry = p.locator("tbody tr", { hasText: "policy.update" }).first();
      await entry.waitFor();
      const detail = await entry.textContent();
      assert.match(detail, /retention: from 7 days to 30 days/);
      assert.doesNotMatch(detail, /168h|\{"/, "no Go durations, no raw JSON");
      // Targets are named, not "device:123": a device by its owner and name.
      const reg = p.locator("tbody tr", { hasText: "device.register" }).first().locator("td").nth(4);
      await waitFor(async () => /^\S.*: \S/.test((await reg.textContent()).trim()), "the registered device's target named with its owner");
      assert.doesNotMatch(await reg.textContent(), /device[: ]\d+/, "no device number in place of its name");
      assert.doesNotMatch(await p.locator("tbody").textContent(), /\b(user|group|device|invitation):\d+/, "no raw target anywhere");
      await shot(ctx, p, "console-audit-1280");
      // A console dialog on a short phone keeps its main button in view.
      await p.setViewportSize({ width: 390, height: 560 });
      await go(p, "#/users");
      await p.getByRole("button", { name: "Add user" }).click();
      const submit = p.locator("dialog[open] footer button").last();
      await submit.waitFor();
      assert.ok(await inView(submit), "the Add user dialog's button is in view");
      await shot(ctx, p, "console-dialog-390");
      await p.keyboard.press("Escape");
      await p.setViewportSize({ width: 1280, height: 860 });
    }],
  ];
}

/** closeFirstDay closes this file's browsers and stops its server. */
export async function closeFirstDay() {
  for (const x of [f.o, f.nina, f.omar]) if (x) await x.close();
  if (f.srv) await f.srv.stop();
}
