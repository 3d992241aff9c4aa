// What broke on a clinic's first day, each fixed and checked in real
// Chromium, with users of its own (ana at desktop width, ben at phone
// width; dan and cleo never sign in; fdadmin acts through the console API):
// a colleague wiped and set up again is reached without a reload, and a
// message that cannot be sealed says why; a printed conversation is a
// record (checked in the PDF's text); a text over the limit is refused in
// words, never cut; a group shows who can receive and who read what.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openProfile } from "./lib/browser.mjs";
import { totp } from "./mfa.mjs";
import { adminApproves, assert, consoleCaller, stepUpCode, msgLocator, msgStatus, online, openConv, sendText, sh, signUp, startConversation, unlock, waitFor } from "./lib/harness.mjs";

const PW = { ana: "ana long passphrase 71", ben: "ben long passphrase 72", dan: "dan long passphrase 73", cleo: "cleo long passphrase 74", fdadmin: "fdadmin long passphrase 75" };
const PIN = { ana: "358164", ben: "629417" };
const PRACTICE = "Riverside Family Practice";
const WIPED = "This device was wiped by your administrator";

async function shot(ctx, page, name, opts = {}) {
  if (ctx.shots) await page.screenshot({ path: path.join(ctx.shots, `${name}.png`), ...opts });
}

/** admin calls a console route as fdadmin, over HTTP with a bearer token. */
function admin(ctx, method, route, body) {
  ctx.fdCall = ctx.fdCall || consoleCaller(ctx.srv, "fdadmin", PW.fdadmin);
  return ctx.fdCall(method, route, body);
}

async function userID(ctx, username) {
  const { users } = await admin(ctx, "GET", `/api/v1/admin/users?q=${username}`);
  return users.find((u) => u.username === username).id;
}

function pdfText(file) {
  return new Promise((resolve, reject) => execFile("pdftotext", ["-layout", file, "-"], (err, out) => err ? reject(err) : resolve(out)));
}

/** pdfWords reads a PDF's words with their boxes (`pdftotext -bbox`), and the first page's width, in points. */
async function pdfWords(file) {
  const out = await new Promise((resolve, reject) => execFile("pdftotext", ["-bbox", file, "-"], { maxBuffer: 1 << 24 }, (err, o) => err ? reject(err) : resolve(o)));
  const width = +/<page width="([\d.]+)"/.exec(out)[1];
  const words = [...out.matchAll(/<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<\/word>/g)]
    .map((x) => ({ xMin: +x[1], yMin: +x[2], xMax: +x[3], yMax: +x[4], text: x[5] }));
  return { width, words };
}

async function toList(page) {
  const back = page.getByRole("button", { name: "Back to conversations" });
  if (await back.isVisible()) await back.click();
}

/** closeFirstDayProfiles closes this file's browsers. */
export async function closeFirstDayProfiles(ctx) {
  for (const p of ["ana", "ben"]) if (ctx[p]) await ctx[p].close();
}

export function firstDayTests() {
  return [
    ["first day setup: ana and ben sign in; dan, cleo and an admin exist", async (ctx) => {
      for (const [u, d, role] of [["ana", "Ana Diaz", "staff"], ["ben", "Nurse Ben Cole", "staff"], ["dan", "Dan Ito", "staff"], ["cleo", "Cleo Park", "staff"], ["fdadmin", "Fay Admin", "admin"]]) {
        await sh(ctx.bin, ["user", "add", "--data", ctx.srv.dataDir, "--username", u, "--display", d, "--role", role, "--password-stdin"], { input: PW[u] + "\n" });
      }
      // This admin has no second factor: the requirement is lifted for the
      // file and put back by its last test.
      const shown = await sh(ctx.bin, ["policy", "show", "--data", ctx.srv.dataDir]);
      ctx.fdMfa = /^mfa_required=(.*)$/m.exec(shown)[1];
      await sh(ctx.bin, ["policy", "set", "--data", ctx.srv.dataDir, "mfa_required="]);
      // The practice's name, which a printout's header gives (the apps
      // read it with the config when they connect).
      await sh(ctx.bin, ["policy", "set", "--data", ctx.srv.dataDir, `practice_name=${PRACTICE}`]);
      ctx.ana = await openProfile("ana", { viewport: { width: 1280, height: 820 } });
      // Ana's relay connection passes through here: a test can drop the
      // server's devices frames to her (ctx.anaDrop), keeping what it drops.
      ctx.anaDrop = false;
      ctx.anaDropped = [];
      await ctx.ana.page.routeWebSocket(/\/api\/v1\/relay$/, (ws) => {
        const server = ws.connectToServer();
        ws.onMessage((m) => server.send(m));
        server.onMessage((m) => {
          if (ctx.anaDrop && typeof m === "string" && /^\{"type":"devices"/.test(m)) { ctx.anaDropped.push(m); return; }
          ws.send(m);
        });
      });
      ctx.ben = await openProfile("ben");
      await signUp(ctx.ana.page, ctx.srv.url, "ana", PW.ana, PIN.ana);
      await signUp(ctx.ben.page, ctx.srv.url, "ben", PW.ben, PIN.ben);
      await online(ctx.ana.page); await online(ctx.ben.page);
    }],

    ["first day: a colleague wiped and set up again is reached without a reload; a message that cannot be sealed says why", async (ctx) => {
      const a = ctx.ana.page, b = ctx.ben.page;
      await startConversation(a, "ben", ["Nurse Ben Cole"]);
      await sendText(a, "Bed 7 obs are due at 10");
      await waitFor(async () => /Delivered|Read/.test(await msgStatus(a, "Bed 7 obs are due")), "delivered to ben");
      // Ben's device is wiped. Ana's open app is told at once (the relay's
      // devices frame) and says so before she writes anything.
      const device = await b.evaluate(() => window.curbside.device);
      await admin(ctx, "POST", `/api/v1/admin/devices/${device}/wipe`, { reason: "phone reset" });
      await b.getByRole("heading", { name: WIPED }).waitFor();
      const note = a.locator(".reachbanner .reach-note");
      await note.filter({ hasText: "Nurse Ben Cole: They have no device that can receive messages" }).waitFor();
      await sendText(a, "Are you back on the ward?");
      const failed = msgLocator(a, "Are you back on the ward?").locator("div.failed");
      await failed.waitFor();
      assert.equal(await failed.getAttribute("data-code"), "no_device");
      assert.match(await failed.textContent(), /Nurse Ben Cole: They have no device that can receive messages/);
      await shot(ctx, a, "fd-01-no-device-desktop");
      // Ben sets up again: a new device, which "Try again" must find by
      // itself: the relay's devices frames to ana are dropped meanwhile, so
      // her app is not told (walk-through 7 shows that, told, it learns
      // without a reload). He has no device left, so an administrator
      // approves the new one.
      const benID = await userID(ctx, "ben"); // signs fdadmin in: ctx.fdCall
      ctx.anaDrop = true;
      await b.getByRole("button", { name: "Set up this browser again" }).click();
      await signUp(b, ctx.srv.url, "ben", PW.ben, PIN.ben, { waits: true });
      await b.getByText("your practice's administrator approves this one").waitFor();
      await adminApproves(ctx.fdCall, b, benID, await stepUpCode(ctx.fdCall, totp));
      await online(b);
      await waitFor(() => ctx.anaDropped.some((m) => JSON.parse(m).user === benID), "the devices frame about ben's new device reached ana's connection and was dropped");
      assert.equal(await note.count(), 1, "ana's app was not told of ben's new device");
      await failed.getByRole("button", { name: "Try again" }).click();
      await waitFor(async () => /Delivered|Read/.test(await msgStatus(a, "Are you back on the ward?")), "the retried message delivered to ben's new device");
      ctx.anaDrop = false;
      await openConv(b, "Ana Diaz");
      await msgLocator(b, "Are you back on the ward?").waitFor();
      // Cleo never signed in: no device yet. Then her account is switched
      // off: the note and the refusal say so instead.
      await startConversation(a, "cleo", ["Cleo Park"]);
      await note.filter({ hasText: "Cleo Park: They have no device" }).waitFor();
      await sendText(a, "Welcome to the team");
      const cf = msgLocator(a, "Welcome to the team").locator("div.failed");
      await cf.waitFor();
      assert.equal(await cf.getAttribute("data-code"), "no_device");
      await admin(ctx, "POST", `/api/v1/admin/users/${await userID(ctx, "cleo")}/state`, { state: "disabled" });
      await note.filter({ hasText: "Cleo Park: This person's account is switched off" }).waitFor();
      await cf.getByRole("button", { name: "Try again" }).click();
      await waitFor(async () => (await cf.getAttribute("data-code")) === "recipient_inactive", "refused as an account switched off");
      assert.match(await cf.textContent(), /account is switched off/);
      await shot(ctx, a, "fd-02-account-off-desktop");
    }],

    ["first day: a printed conversation names each message's sender, time, urgency, receipts and acknowledgement, with a header and page numbers", async (ctx) => {
      const a = ctx.ana.page, b = ctx.ben.page;
      await openConv(a, "Nurse Ben Cole");
      await openConv(b, "Ana Diaz");
      await sendText(a, "Potassium 6.1 in bed 7, please repeat", { urgent: true, ack: true });
      const m = msgLocator(b, "Potassium 6.1 in bed 7");
      await m.getByRole("button", { name: "Acknowledge" }).click();
      await msgLocator(a, "Potassium 6.1 in bed 7").getByText(/Acknowledged \d/).waitFor();
      // A long handover, so the record runs over a page.
      const handover = Array.from({ length: 90 }, (_, i) => `Handover line ${i + 1}: observations stable, fluids running, review at the next round.`).join("\n");
      await sendText(b, handover);
      await msgLocator(a, "Handover line 90").waitFor();
      // The conversation was opened a while before printing: "Printed"
      // must be the time of printing, after every message on the page.
      await new Promise((r) => setTimeout(r, 2500));
      const before = Date.now();
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "curbside-print-")), "conversation.pdf");
      await a.emulateMedia({ media: "print" });
      await a.pdf({ path: file, format: "A4" });
      if (ctx.shots) fs.copyFileSync(file, path.join(ctx.shots, "fd-03-print.pdf"));
      await shot(ctx, a, "fd-03-print-desktop", { fullPage: true });
      await a.emulateMedia({ media: "screen" });
      const text = await pdfText(file);
      assert.ok(text.toLowerCase().includes(PRACTICE.toLowerCase()), `the PDF names the practice:\n${text.slice(0, 1500)}`);
      for (const want of ["Participants: Ana Diaz (printed by), Nurse Ben Cole", "Messages from", "Ana Diaz (you)", "Nurse Ben Cole ·", "Urgent", "Acknowledged by Nurse Ben Cole", "Handover line 90"]) {
        assert.ok(text.includes(want), `the PDF says ${JSON.stringify(want)}:\n${text.slice(0, 1500)}`);
      }
      // Each receipt of a message of mine is dated, as on paper a record must be.
      assert.match(text, /(Acknowledged|Read) by Nurse Ben Cole \([A-Z][a-z]{2} \d{1,2}, \d{4}/, "a receipt in the printout has its date and time");
      // Page numbers, from the CSS @page margin boxes.
      const pages = [...text.matchAll(/Page (\d+) of (\d+)/g)].map((x) => [+x[1], +x[2]]);
      assert.ok(pages.length >= 2 && pages.every(([, n]) => n === pages.length) && pages.every(([i], k) => i === k + 1), `page numbers ${JSON.stringify(pages)}`);
      const printed = Date.parse(/Printed (.+?) by Ana Diaz/.exec(text)[1]);
      const times = [...text.matchAll(/ · ([A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2}(?: [AP]M)?)/g)].map((x) => Date.parse(x[1]));
      assert.ok(times.length >= 3, `message times in the PDF: ${times}`);
      assert.ok(printed >= Math.max(...times), `printed ${new Date(printed)} is not before the newest message ${new Date(Math.max(...times))}`);
      assert.ok(printed >= before - 1000, `printed ${new Date(printed)} is the time of printing (${new Date(before)})`);
      // Mine and theirs are set apart on paper, as on screen: my message
      // (and my name over it) starts well right of ben's.
      const { width, words } = await pdfWords(file);
      const first = (w) => words.find((x) => x.text === w) || assert.fail(`no word ${w} in the PDF`);
      const [mine, theirs] = [first("Potassium"), first("Handover")];
      assert.ok(mine.xMin - theirs.xMin > width * 0.1, `my message starts right of ben's (at ${mine.xMin} and ${theirs.xMin} of ${width} pt)`);
    }],

    ["first day: a text over 20,000 characters is refused in words, never cut, typed or pasted", async (ctx) => {
      const a = ctx.ana.page, b = ctx.ben.page;
      await openConv(a, "Nurse Ben Cole");
      const ta = a.getByLabel("Message", { exact: true });
      const count = a.locator(".char-count");
      await ta.fill("x".repeat(1000));
      assert.equal(await count.isVisible(), false, "no counter far from the limit");
      await ta.fill("x".repeat(18500));
      await count.filter({ hasText: "18,500 of 20,000 characters" }).waitFor();
      // A paste that goes over the limit is kept whole and refused in words.
      await ta.fill("");
      await ta.focus();
      await a.keyboard.insertText("y".repeat(25000));
      assert.equal((await ta.inputValue()).length, 25000, "the pasted text is not cut");
      await count.filter({ hasText: "Too long to send: 25,000 characters, 5,000 over the limit of 20,000" }).waitFor();
      assert.equal(await a.getByRole("button", { name: "Send" }).isDisabled(), true);
      const before = await a.locator(".msg").count();
      await ta.press("Enter");
      await a.locator(".composer .form-error", { hasText: "Not sent: the text is too long" }).waitFor();
      assert.equal(await a.locator(".msg").count(), before, "nothing was sent");
      assert.equal((await ta.inputValue()).length, 25000, "the text stays to be shortened");
      await shot(ctx, a, "fd-04-too-long-desktop");
      // Shortened under the limit, it goes whole.
      const long = "z".repeat(19990) + " END";
      await ta.fill(long);
      assert.equal(await a.getByRole("button", { name: "Send" }).isDisabled(), false);
      await a.getByRole("button", { name: "Send" }).click();
      const got = msgLocator(b, " END").locator("p.text");
      await got.waitFor();
      assert.equal((await got.textContent()).length, long.length, "the recipient has the whole text");
      // The phone shows the counter too.
      await b.getByLabel("Message", { exact: true }).fill("w".repeat(19000));
      await b.locator(".char-count", { hasText: "19,000 of 20,000" }).waitFor();
      await shot(ctx, b, "fd-05-counter-phone");
      await b.getByLabel("Message", { exact: true }).fill("");
    }],

    ["first day: a group shows its members and who can receive, notes who misses its messages, and the details say who read and who was not reached", async (ctx) => {
      const a = ctx.ana.page, b = ctx.ben.page;
      await sh(ctx.bin, ["group", "add", "--data", ctx.srv.dataDir, "--name", "Ward 3"]);
      await sh(ctx.bin, ["group", "members", "--data", ctx.srv.dataDir, "--name", "Ward 3", "--add", "ana,ben,dan"]);
      for (const [p, pin] of [[a, PIN.ana], [b, PIN.ben]]) { // the groups are read on unlock
        await toList(p);
        await p.getByRole("button", { name: "Lock Curbside" }).click();
        await unlock(p, pin);
        await online(p);
      }
      await openConv(a, "Ward 3");
      await a.locator(".reach-note", { hasText: "Messages here do not reach everyone. Dan Ito: They have no device" }).waitFor();
      await a.locator(".conv-head").getByRole("button", { name: "Group info" }).click();
      const dlg = a.locator("dialog");
      await dlg.locator('.member[data-state="no_device"]', { hasText: "Dan Ito" }).filter({ hasText: "Cannot receive: no device yet" }).waitFor();
      await dlg.locator('.member[data-state="ok"]', { hasText: "Nurse Ben Cole" }).filter({ hasText: "Can receive" }).waitFor();
      await dlg.locator(".member", { hasText: "Ana Diaz" }).filter({ hasText: "You" }).waitFor();
      await dlg.getByText("1 of 2 others can receive messages").waitFor();
      await shot(ctx, a, "fd-06-group-info-desktop");
      await a.keyboard.press("Escape");
      await sendText(a, "Ward 3 huddle at 2");
      await openConv(b, "Ward 3");
      await msgLocator(b, "Ward 3 huddle at 2").waitFor();
      await b.locator(".conv-head").getByRole("button", { name: "Group info" }).click();
      await b.locator("dialog .member", { hasText: "Dan Ito" }).filter({ hasText: "no device yet" }).waitFor();
      await shot(ctx, b, "fd-07-group-info-phone");
      await b.keyboard.press("Escape");
      await waitFor(async () => /Read by 1 of 2/.test(await msgStatus(a, "Ward 3 huddle at 2")), "read by ben");
      await msgLocator(a, "Ward 3 huddle at 2").getByRole("button", { name: "Message options" }).click();
      await a.getByRole("button", { name: "Details" }).click();
      await a.locator("dialog .receipt-summary", { hasText: "Read by Nurse Ben Cole; not delivered to Dan Ito: no device yet." }).waitFor();
      await a.locator('dialog table.recipients tr[data-user]', { hasText: "Dan Ito" }).filter({ hasText: "Not delivered: no device yet" }).waitFor();
      await shot(ctx, a, "fd-08-details-desktop");
      await a.keyboard.press("Escape");
    }],

    ["first day teardown: the MFA policy is put back; no script error, no CSP violation", async (ctx) => {
      await sh(ctx.bin, ["policy", "set", "--data", ctx.srv.dataDir, `mfa_required=${ctx.fdMfa ?? "owner,admin,helpdesk"}`, "practice_name="]);
      for (const who of [ctx.ana, ctx.ben]) {
        assert.deepEqual(who.csp, [], `${who.name}: CSP violations`);
        assert.deepEqual(who.problems.filter((x) => /page error/.test(x)), [], `${who.name}: script errors`);
      }
    }],
  ];
}
