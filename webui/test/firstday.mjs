// A clinic's first day, told in order in real Chromium against a server of
// its own (a fresh data directory, as a new practice starts), through the
// UI only; the one thing read outside a browser is the first-run set-up
// link in the server's log, as the operations guide tells an owner to do:
//   the owner (desktop) creates the owner account on the welcome page, sets
//   up the second factor the policy requires (TOTP) and reaches the console;
//   invites a doctor, a nurse and a patient, copies each link and gives the
//   patient the doctor as care team; each accepts in a browser of their own
//   (the doctor at desktop width, the nurse and the patient on phones),
//   chooses a password and a PIN and reaches the app; doctor and nurse
//   write both ways, the doctor sends a PDF and an image, the nurse asks for
//   an acknowledgement and gets it; the patient finds only the care team,
//   writes to the doctor, who replies with a quote; the doctor recalls a
//   message sent by mistake; prints the conversation (its PDF's text names
//   senders, times and the acknowledgement); the nurse locks the app and
//   unlocks it with the PIN; the owner wipes the nurse's phone from the
//   console, the nurse sets it up again and the doctor's open app reaches
//   the new device without a reload. No page trips the CSP, loads from
//   another origin or throws.
// Screenshots: day-NN-what-{desktop|phone}.png in the screenshots folder.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { code } from "./console.mjs";
import { openProfile } from "./lib/browser.mjs";
import { assert, msgLocator, msgStatus, online, openConv, sendText, startConversation, startServer, unlock, unlocked, waitFor } from "./lib/harness.mjs";

const DESKTOP = { width: 1280, height: 860 }, PHONE = { width: 390, height: 780 };
const PRACTICE = "Northside Health Centre";
const OWNER = { username: "rosa", display: "Rosa Marin", password: "Rosa first-day owner 2026" };
const DOC = { username: "mei.chen", display: "Dr Mei Chen", role: "staff", password: "mei long passphrase 4711", pin: "381905" };
const NURSE = { username: "sam.okafor", display: "Nurse Sam Okafor", role: "staff", password: "sam long passphrase 5822", pin: "604127", pin2: "915362" };
const PATIENT = { username: "jamie.patel", display: "Jamie Patel", role: "patient", password: "jamie long passphrase 6933", pin: "270481" };
const WIPED = "This device was wiped by your administrator";

/** w is what the walk-through's steps share: the server, the browsers, the links. */
const w = {};

const consoleState = (page, s) => page.waitForFunction((s) => window.curbsideConsole?.state === s, s, { timeout: 60000 });

/** shot saves day-NN-what-{desktop|phone}.png of a person's page. */
async function shot(ctx, who, name, opts = {}) {
  if (!ctx.shots) return;
  const size = who.page.viewportSize().width >= 1000 ? "desktop" : "phone";
  await who.page.screenshot({ path: path.join(ctx.shots, `day-${name}-${size}.png`), ...opts });
}

/** both saves a page at desktop and at phone width (the owner's console and welcome pages). */
async function both(ctx, who, name) {
  const was = who.page.viewportSize();
  for (const vp of [DESKTOP, PHONE]) {
    await who.page.setViewportSize(vp);
    await shot(ctx, who, name);
  }
  await who.page.setViewportSize(was);
}

async function go(page, hash) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.locator(".view h1").first().waitFor();
}

async function toList(page) {
  const back = page.getByRole("button", { name: "Back to conversations" });
  if (await back.isVisible()) await back.click();
}

function pdfText(file) {
  return new Promise((resolve, reject) => execFile("pdftotext", ["-layout", file, "-"], (err, out) => err ? reject(err) : resolve(out)));
}

/** invite adds a person on the console's Users page, copies the link with the Copy button and returns it. */
async function invite(ctx, person, n) {
  const p = w.owner.page;
  await go(p, "#/users");
  await p.getByRole("button", { name: "Add user" }).click();
  const dlg = p.locator("dialog[open]");
  await dlg.getByLabel("Username").fill(person.username);
  await dlg.getByLabel("Full name").fill(person.display);
  await dlg.getByLabel("Role").selectOption(person.role);
  await dlg.getByRole("button", { name: "Create and get link" }).click();
  const box = dlg.getByLabel("Invitation link");
  await box.waitFor();
  await dlg.getByRole("button", { name: "Copy link" }).click();
  await p.getByText("Link copied.").last().waitFor();
  const link = await p.evaluate(() => navigator.clipboard.readText());
  assert.equal(link, await box.inputValue(), "the clipboard holds the link the dialog shows");
  assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/welcome#invite=[A-Za-z0-9_-]{20,}$/);
  await shot(ctx, w.owner, `${n}-invite-${person.username.split(".")[0]}`);
  person.id = Number((await dlg.getByRole("link", { name: "Open user" }).getAttribute("href")).split("/").pop());
  await dlg.getByRole("button", { name: "Done" }).click();
  return link;
}

/** accept opens an invitation in the person's own browser, sets the password, opens the app, signs in and chooses the PIN. */
async function accept(ctx, who, person, link, n) {
  const p = who.page;
  await p.goto(link);
  await p.waitForFunction(() => window.curbsideWelcome?.state === "form");
  await p.getByRole("heading", { name: `Welcome, ${person.display}` }).waitFor();
  // The link names the practice (set in walk-through 1).
  await p.getByText(`${PRACTICE} invited you to Curbside, its secure messenger.`).waitFor();
  assert.equal(await p.locator("dl.facts dt", { hasText: "Practice" }).locator("+ dd").textContent(), PRACTICE);
  await p.getByLabel("Password", { exact: true }).fill(person.password);
  await p.getByLabel("Repeat the password").fill(person.password);
  await shot(ctx, who, `${n}-welcome-${person.username.split(".")[0]}`);
  await p.getByRole("button", { name: /Create my account|Set my password/ }).click();
  await p.waitForFunction(() => window.curbsideWelcome?.state === "done");
  assert.equal(await p.getByRole("link", { name: "Open the admin console" }).count(), 0, "no console for a clinician or a patient");
  await p.getByRole("link", { name: "Open Curbside messages" }).click();
  await signIn(p, person, person.pin);
  await shot(ctx, who, `${n}-app-${person.username.split(".")[0]}`);
}

/** signIn signs in on the app's first screen and chooses the PIN of a new device. */
async function signIn(p, person, pin, { waits = false } = {}) {
  await p.getByLabel("Username").fill(person.username);
  await p.getByLabel("Password").fill(person.password);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.getByLabel("New PIN").fill(pin);
  await p.getByLabel("Repeat the PIN").fill(pin);
  await p.getByRole("button", { name: "Set PIN and continue" }).click();
  if (waits) return; // the device waits for approval
  await unlocked(p);
  await online(p);
}

/** fitsScreen asserts that nothing of the app hangs below the screen (the page would scroll its header away). */
async function fitsScreen(who) {
  const over = await who.page.evaluate(() => [...document.querySelectorAll(".shell, .pane, .conversation")].map((el) => el.scrollHeight - el.clientHeight + el.scrollTop));
  assert.ok(over.every((x) => x <= 1), `${who.name}: the app is taller than the screen (${over})`);
}

/** newestInView reports whether the open conversation shows its newest message (it follows new ones). */
function newestInView(page) {
  return page.evaluate(() => {
    const box = document.querySelector(".conversation .messages"), last = [...document.querySelectorAll(".conversation .msg")].pop();
    if (!box || !last) return false;
    const b = box.getBoundingClientRect(), r = last.getBoundingClientRect();
    return r.bottom <= b.bottom + 1 && r.bottom > b.top;
  });
}

/** A small real PDF: a discharge letter of one page. */
function letterPDF() {
  const objs = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
    null,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
  ];
  const stream = "BT /F1 14 Tf 72 770 Td (Discharge letter: Jamie Patel, bed 4) Tj ET";
  objs[3] = `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`;
  let out = "%PDF-1.4\n";
  const offsets = [];
  objs.forEach((o, i) => { offsets.push(out.length); out += `${i + 1} 0 obj\n${o}\nendobj\n`; });
  const xref = out.length;
  out += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n` + offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("");
  out += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, "latin1");
}

/**
 * firstDayWalkTests are the steps of the day, in order. Each builds on the
 * last: after a failure the rest say so at once instead of each waiting out
 * its own timeout.
 */
export function firstDayWalkTests() {
  return steps().map(([name, fn]) => [name, async (ctx) => {
    if (w.broken) throw new Error(`not run: an earlier step failed (${w.broken})`);
    try { await fn(ctx); } catch (e) { w.broken = name.split(":")[0]; throw e; }
  }]);
}

function steps() {
  return [
    ["walk-through 1: the owner opens the set-up link, creates the account, sets up TOTP and reaches the console", async (ctx) => {
      w.srv = await startServer(ctx.bin);
      const line = await waitFor(() => fs.readFileSync(w.srv.logFile, "utf8").match(/url=(\S+\/welcome#invite=[A-Za-z0-9_-]+)/), "the set-up link in the server's log");
      w.owner = await openProfile("day-owner", { viewport: DESKTOP });
      // The Copy link button writes to the clipboard; the test reads it back.
      await w.owner.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: w.srv.url });
      const p = w.owner.page;
      await p.goto(line[1].replace(/^"|"$/g, ""));
      await p.waitForFunction(() => window.curbsideWelcome?.state === "form");
      await p.getByRole("heading", { name: "Set up Curbside" }).waitFor();
      await p.getByLabel("Username").fill(OWNER.username);
      await p.getByLabel("Your full name").fill(OWNER.display);
      await p.getByLabel("Password", { exact: true }).fill(OWNER.password);
      await p.getByLabel("Repeat the password").fill(OWNER.password);
      await both(ctx, w.owner, "01-set-up");
      await p.getByRole("button", { name: "Create my account" }).click();
      await p.waitForFunction(() => window.curbsideWelcome?.state === "done");
      await both(ctx, w.owner, "02-owner-ready");
      await p.getByRole("link", { name: "Open the admin console" }).click();
      await consoleState(p, "signin");
      await p.getByLabel("Username").fill(OWNER.username);
      await p.getByLabel("Password").fill(OWNER.password);
      await p.getByRole("button", { name: "Sign in" }).click();
      // The default policy asks an owner for a second factor before anything else.
      await consoleState(p, "enroll");
      await p.getByRole("button", { name: "Use an authenticator app" }).waitFor();
      await both(ctx, w.owner, "03-second-factor");
      await p.getByRole("button", { name: "Use an authenticator app" }).click();
      OWNER.secret = (await p.locator(".totp-secret").textContent()).replace(/\s+/g, "");
      assert.match(OWNER.secret, /^[A-Z2-7]{16,}$/, "the page shows a base32 key");
      await p.getByLabel("Code from the app").fill(await code(OWNER));
      await p.getByRole("button", { name: "Turn on" }).click();
      await p.locator(".code-list li").first().waitFor();
      await both(ctx, w.owner, "04-recovery-codes");
      await p.getByLabel("I saved these codes").check();
      await p.getByRole("button", { name: "Continue" }).click();
      await consoleState(p, "console");
      await p.locator(".result-count", { hasText: "1 user" }).waitFor();
      await both(ctx, w.owner, "05-console");
      // The practice's name, which heads every printout (walk-through 5).
      await go(p, "#/policy");
      await p.getByLabel("Practice name", { exact: true }).fill(PRACTICE);
      await p.getByRole("button", { name: "Save policy" }).click();
      await p.getByText("Saved: Practice name.").waitFor();
      assert.equal(await p.getByLabel("Practice name", { exact: true }).inputValue(), PRACTICE);
      const was = p.viewportSize();
      for (const vp of [DESKTOP, PHONE]) {
        await p.setViewportSize(vp);
        await p.getByLabel("Practice name", { exact: true }).evaluate((el) => el.scrollIntoView({ block: "center" }));
        await shot(ctx, w.owner, "05b-policy-practice");
      }
      await p.setViewportSize(was);
      await go(p, "#/users");
      await p.locator(".result-count", { hasText: "1 user" }).waitFor();
    }],

    ["walk-through 2: the owner invites a doctor, a nurse and a patient with a care team; each accepts in their own browser and reaches the app", async (ctx) => {
      const p = w.owner.page;
      const links = {};
      links.doc = await invite(ctx, DOC, "06");
      links.nurse = await invite(ctx, NURSE, "07");
      links.patient = await invite(ctx, PATIENT, "08");
      await p.locator(".result-count", { hasText: "4 users" }).waitFor();
      // The patient's care team: the doctor, and nobody else.
      await go(p, `#/users/${PATIENT.id}`);
      const team = p.locator(".card", { hasText: "Care team" });
      await team.getByText("No care team yet: this patient can reach nobody.").waitFor();
      await team.getByLabel("Assign a person or a group").selectOption("user");
      await team.getByLabel("Username or group name").fill(DOC.username);
      await team.getByRole("button", { name: "Assign" }).click();
      await team.locator("li", { hasText: `${DOC.display} (${DOC.username})` }).waitFor();
      await both(ctx, w.owner, "09-care-team");
      await go(p, "#/users");
      for (const x of [DOC, NURSE, PATIENT]) await p.locator("tbody tr", { hasText: x.display }).locator(".pill", { hasText: "Invited" }).waitFor();
      await both(ctx, w.owner, "10-users-invited");

      w.doc = await openProfile("day-doctor", { viewport: DESKTOP });
      w.nurse = await openProfile("day-nurse", { viewport: PHONE, hasTouch: true });
      w.patient = await openProfile("day-patient", { viewport: PHONE, hasTouch: true });
      for (const x of [w.doc, w.nurse, w.patient]) x.page.on("dialog", (d) => { w.nativeDialog = d.message(); d.dismiss(); });
      await accept(ctx, w.doc, DOC, links.doc, "11");
      await accept(ctx, w.nurse, NURSE, links.nurse, "12");
      await accept(ctx, w.patient, PATIENT, links.patient, "13");
      await w.patient.page.getByText("Start one by choosing someone from your care team.").waitFor();
      // The console lists their new devices, and them as active.
      await go(p, "#/devices");
      for (const x of [DOC, NURSE, PATIENT]) await p.locator("tbody tr", { hasText: x.display }).locator(".pill", { hasText: "Connected now" }).waitFor();
      await both(ctx, w.owner, "14-devices");
      await go(p, "#/users");
      for (const x of [DOC, NURSE, PATIENT]) await p.locator("tbody tr", { hasText: x.display }).locator(".pill", { hasText: "Active" }).waitFor();
      await shot(ctx, w.owner, "15-users-active");
    }],

    ["walk-through 3: doctor and nurse write both ways; a PDF and an image; an acknowledgement asked and given", async (ctx) => {
      const d = w.doc.page, n = w.nurse.page;
      await startConversation(d, "okafor", [NURSE.display]);
      await sendText(d, "Morning Sam, I'm on the ward from 9. Bed 4 is Jamie Patel, new on warfarin.");
      await n.locator(`.conv-item[aria-label='${DOC.display}, 1 unread']`).waitFor();
      await shot(ctx, w.nurse, "16-unread");
      await openConv(n, DOC.display);
      await msgLocator(n, "Bed 4 is Jamie Patel").waitFor();
      await sendText(n, "Morning. INR for bed 4 is back: 3.4.");
      await msgLocator(d, "INR for bed 4 is back: 3.4").waitFor();
      await waitFor(async () => /^Read/.test(await msgStatus(d, "Bed 4 is Jamie Patel")), "the doctor's first message read");
      // The doctor sends a discharge letter and a photo of the chart.
      const file = d.locator("input[type=file]");
      await file.setInputFiles({ name: "discharge-letter.pdf", mimeType: "application/pdf", buffer: letterPDF() });
      await d.locator(".file-chip .ok").waitFor();
      await sendText(d, "Letter for bed 4 attached");
      const png = fs.readFileSync(new URL("../app/icons/icon-192.png", import.meta.url));
      await file.setInputFiles({ name: "chart-bed4.png", mimeType: "image/png", buffer: png });
      await d.locator(".file-chip .ok").waitFor();
      await sendText(d, "Photo of the chart");
      const img = msgLocator(n, "Photo of the chart").locator("img.preview");
      await img.waitFor();
      await waitFor(() => img.evaluate((el) => el.complete && el.naturalWidth === 192), "the decrypted image renders on the nurse's phone");
      // Opened at its one unread message, the conversation follows new ones.
      await waitFor(() => newestInView(n), "the nurse's phone to show the newest message");
      const pdf = msgLocator(n, "discharge-letter.pdf");
      await pdf.getByRole("button", { name: "Download" }).click();
      await pdf.getByRole("link", { name: "Save" }).waitFor();
      assert.equal(await pdf.getByRole("link", { name: "Save" }).getAttribute("download"), "discharge-letter.pdf");
      await shot(ctx, w.nurse, "17-attachments");
      await shot(ctx, w.doc, "17-attachments");
      for (const x of [w.doc, w.nurse]) await fitsScreen(x);
      // The nurse asks for an acknowledgement; the doctor gives it.
      await sendText(n, "Holding tonight's warfarin dose for bed 4, please acknowledge", { ack: true });
      const asked = msgLocator(d, "Holding tonight's warfarin");
      await asked.getByText("The sender asked you to acknowledge this message.").waitFor();
      await shot(ctx, w.doc, "18-ack-asked");
      await asked.getByRole("button", { name: "Acknowledge" }).click();
      await asked.getByText(/You acknowledged this/).waitFor();
      await msgLocator(n, "Holding tonight's warfarin").getByText(/Acknowledged \d/).waitFor();
      await shot(ctx, w.nurse, "19-acknowledged");
    }],

    ["walk-through 3b: the patient finds only the care team, writes to the doctor, who replies with a quote", async (ctx) => {
      const pt = w.patient.page, d = w.doc.page;
      await pt.getByRole("button", { name: "New message" }).first().click();
      const dlg = pt.locator("dialog[open]");
      // Before typing, the dialog lists whom the patient can reach.
      await dlg.locator(".pick-item").first().waitFor();
      assert.deepEqual((await dlg.locator(".pick-item > span:nth-child(2)").allTextContents()).map((t) => t.split(" @")[0]), [DOC.display], "the patient's directory is the care team");
      for (const q of ["okafor", "sam", "rosa", "nurse"]) {
        await dlg.getByLabel("Find people").fill(q);
        await dlg.getByText("Nobody matches.").waitFor();
        assert.equal(await dlg.locator(".pick-item").count(), 0, `a search for "${q}" finds nobody outside the care team`);
      }
      await shot(ctx, w.patient, "20-directory-care-team");
      await dlg.getByLabel("Find people").fill("chen");
      await dlg.locator(".pick-item", { hasText: DOC.display }).click();
      await dlg.locator("footer button.primary").click();
      await pt.locator(".conversation .conv-id h1", { hasText: DOC.display }).waitFor();
      await sendText(pt, "Hello doctor, should I take the warfarin tonight?");
      await openConv(d, PATIENT.display);
      const q = msgLocator(d, "should I take the warfarin tonight");
      await q.waitFor();
      await q.getByRole("button", { name: "Reply" }).click();
      await d.locator(".reply-bar").filter({ hasText: `Replying to ${PATIENT.display}` }).waitFor();
      await sendText(d, "No, skip tonight's dose. The nurse will check your INR tomorrow.");
      const reply = msgLocator(pt, "skip tonight's dose");
      await reply.locator("button.quote").waitFor();
      assert.equal(await reply.locator(".quote-from").textContent(), "You");
      assert.match(await reply.locator(".quote-text").textContent(), /should I take the warfarin tonight/);
      await shot(ctx, w.patient, "21-reply-quote");
      await shot(ctx, w.doc, "21-reply-quote");
      for (const x of [w.doc, w.patient]) await fitsScreen(x);
    }],

    ["walk-through 4: the doctor recalls a message sent by mistake; it disappears for the nurse", async (ctx) => {
      const d = w.doc.page, n = w.nurse.page;
      await openConv(d, NURSE.display);
      const wrong = "Bed 6 potassium is 6.8, repeat now";
      await sendText(d, wrong);
      await msgLocator(n, wrong).waitFor();
      await msgLocator(d, wrong).getByRole("button", { name: "Message options" }).click();
      await d.getByRole("button", { name: "Recall from everyone" }).click();
      const dlg = d.locator("dialog[open]");
      await dlg.getByRole("heading", { name: "Recall this message?" }).waitFor();
      await shot(ctx, w.doc, "22-recall-ask");
      await dlg.getByRole("button", { name: "Recall", exact: true }).click();
      await d.getByText("You recalled this message.").waitFor();
      await waitFor(async () => (await msgLocator(n, wrong).count()) === 0, "the recalled text gone from the nurse's phone");
      await n.getByText("This message was recalled by the sender.").waitFor();
      assert.equal(w.nativeDialog, undefined, "no native confirm()");
      await shot(ctx, w.doc, "23-recalled");
      await shot(ctx, w.nurse, "23-recalled");
    }],

    ["walk-through 5: the doctor prints the conversation; the PDF names senders, times and the acknowledgement", async (ctx) => {
      const d = w.doc.page;
      await openConv(d, NURSE.display);
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "curbside-day-")), "conversation.pdf");
      await d.emulateMedia({ media: "print" });
      await d.pdf({ path: file, format: "A4" });
      await shot(ctx, w.doc, "24-print", { fullPage: true });
      await d.emulateMedia({ media: "screen" });
      if (ctx.shots) fs.copyFileSync(file, path.join(ctx.shots, "day-24-print.pdf"));
      const text = await pdfText(file);
      const time = String.raw`[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2}(?: [AP]M)?`;
      for (const want of [
        new RegExp(PRACTICE, "i"), // set on the console's policy page (walk-through 1)
        `Participants: ${DOC.display} (printed by), ${NURSE.display}`,
        "Messages from",
        new RegExp(`${DOC.display} \\(you\\) · ${time}`),
        new RegExp(`${NURSE.display} · ${time}`),
        "INR for bed 4 is back: 3.4",
        "discharge-letter.pdf",
        "chart-bed4.png",
        "Holding tonight's warfarin dose",
        new RegExp(`You acknowledged this ${time}`),
        new RegExp(`You recalled this message\\. It was sent ${time}\\.`),
        /Page 1 of \d/,
      ]) {
        const ok = typeof want === "string" ? text.includes(want) : want.test(text);
        assert.ok(ok, `the PDF says ${want}:\n${text.slice(0, 3000)}`);
      }
      assert.ok(!text.includes("potassium is 6.8"), "the recalled text is not in the record");
      assert.doesNotMatch(text, /\b(Download|Save)\b/, "no buttons on paper");
    }],

    ["walk-through 6: the nurse locks the app and unlocks it with the PIN", async (ctx) => {
      const n = w.nurse.page;
      await toList(n);
      await n.getByRole("button", { name: "Lock Curbside" }).click();
      await n.waitForFunction(() => window.curbside.state === "locked");
      assert.equal(await n.getByText("INR for bed 4").count(), 0, "nothing of the conversation on the lock screen");
      await shot(ctx, w.nurse, "25-locked");
      await unlock(n, NURSE.pin);
      await online(n);
      await openConv(n, DOC.display);
      await msgLocator(n, "INR for bed 4 is back").waitFor();
      await shot(ctx, w.nurse, "26-unlocked");
    }],

    ["walk-through 7: the owner wipes the nurse's phone; the nurse sets it up again, the owner approves it, and the doctor's open app reaches it without a reload", async (ctx) => {
      const p = w.owner.page, d = w.doc.page, n = w.nurse.page;
      await openConv(d, NURSE.display);
      await go(p, `#/users/${NURSE.id}`);
      const devices = p.locator(".card", { hasText: "Devices" });
      await devices.locator("tbody tr").first().waitFor();
      await devices.getByRole("button", { name: /^Wipe / }).click();
      const dlg = p.locator("dialog[open]");
      assert.match(await dlg.textContent(), /cannot be undone/);
      await both(ctx, w.owner, "27-wipe-ask");
      await dlg.getByRole("button", { name: "Wipe device" }).click();
      // "Wipe sent" until the phone fetched its command, then "Wiped".
      await devices.locator(".pill", { hasText: /^(Wipe sent|Wiped)$/ }).waitFor();
      await n.getByRole("heading", { name: WIPED }).waitFor();
      await shot(ctx, w.nurse, "28-wiped");
      // Once the phone fetched its command, the console's device list says Wiped.
      await go(p, "#/devices");
      await p.locator("tbody tr", { hasText: NURSE.display }).locator(".pill", { hasText: /^Wiped$/ }).waitFor();
      await both(ctx, w.owner, "29-console-wiped");
      // The doctor's app, left open, is told the nurse has no device.
      const note = d.locator(".reachbanner .reach-note");
      await note.filter({ hasText: `${NURSE.display}: They have no device that can receive messages` }).waitFor();
      await shot(ctx, w.doc, "30-nurse-unreachable");
      // The nurse sets the phone up again: a new device with a new PIN.
      // She has no other device left, so it waits for an administrator.
      await n.getByRole("button", { name: "Set up this browser again" }).click();
      // The set-up says the wipe erased this phone's messages, not kept them.
      await n.getByRole("status").filter({ hasText: "This browser was wiped: its earlier messages were erased." }).waitFor();
      await signIn(n, NURSE, NURSE.pin2, { waits: true });
      await n.getByText("your practice's administrator approves this one").waitFor();
      await n.locator(".history-note", { hasText: "This browser's earlier messages were erased when it was wiped. Messages from before are not copied to this device, so it starts with none." }).waitFor();
      await shot(ctx, w.nurse, "31-waits-for-the-owner");
      // The owner, having called her back, starts the approval on her page;
      // the phone shows six digits, which the nurse reads out, and the owner
      // types them with her own authenticator code.
      await go(p, `#/users/${NURSE.id}`);
      const rq = p.locator("section.recovery-request");
      await rq.locator(".history-note", { hasText: "Messages from before are not copied to the new device" }).waitFor();
      await rq.getByRole("button", { name: "Start approval" }).click();
      const shown = n.locator(".approval-code");
      await shown.waitFor();
      await shot(ctx, w.nurse, "31-code-to-read-out");
      await rq.getByLabel("Code on their device").fill((await shown.textContent()).replace(/\s+/g, ""));
      await rq.getByLabel("Your authenticator code").fill(await code(OWNER));
      await both(ctx, w.owner, "31-owner-approves");
      await rq.getByRole("button", { name: "Approve device" }).click();
      await p.getByText(/is approved and set up/).waitFor();
      await unlocked(n);
      await online(n);
      // Once set up, the phone says so once more, until she dismisses it,
      // and its empty list does not say the history stayed here.
      const notice = n.locator(".banner.history-notice");
      await notice.filter({ hasText: "This browser's earlier messages were erased when it was wiped. Messages from before are not copied to it, so it starts with none." }).waitFor();
      await shot(ctx, w.nurse, "31-set-up-again");
      await n.locator(".convlist .history-note", { hasText: "This browser's earlier messages were erased when it was wiped, and Curbside does not copy history to a new device." }).waitFor();
      await notice.getByRole("button", { name: "Got it" }).click();
      await notice.waitFor({ state: "detached" });
      await note.waitFor({ state: "detached" });
      const after = "Welcome back Sam, bed 4 INR recheck at 8 tomorrow";
      // The doctor is told that the nurse's devices changed, and who approved the new one.
      await d.locator(".keybanner .banner.warn", { hasText: "the new one was approved by the administrator" }).waitFor();
      await sendText(d, after);
      await waitFor(async () => /Delivered|Read/.test(await msgStatus(d, after)), "the doctor's message delivered to the nurse's new device");
      await openConv(n, DOC.display);
      await msgLocator(n, after).waitFor();
      await shot(ctx, w.nurse, "32-reached-again");
      await shot(ctx, w.doc, "32-reached-again");
      // The owner's page, read again, shows the new device connected.
      await go(p, "#/devices");
      await go(p, `#/users/${NURSE.id}`);
      await devices.locator(".pill", { hasText: "Connected now" }).waitFor();
      await shot(ctx, w.owner, "33-console-new-device");
    }],

    ["walk-through 8: no CSP violation, no request to another origin, no script error in any page", async () => {
      for (const x of [w.owner, w.doc, w.nurse, w.patient]) {
        assert.ok(x, "every browser was opened");
        assert.deepEqual(x.csp, [], `${x.name}: CSP violations`);
        assert.deepEqual(x.foreign, [], `${x.name}: requests to other origins`);
        assert.deepEqual(x.problems.filter((m) => /page error/.test(m)), [], `${x.name}: script errors`);
      }
    }],
  ];
}

/** walkFailShots saves every open page of the walk-through's browsers when a step fails. */
export async function walkFailShots(dir, name) {
  for (const x of [w.owner, w.doc, w.nurse, w.patient].filter(Boolean)) {
    for (const [i, pg] of x.context.pages().entries()) await pg.screenshot({ path: path.join(dir, `FAIL-${x.name}-${i}-${name.slice(0, 40).replace(/\W+/g, "-")}.png`) }).catch(() => {});
  }
}

/** closeFirstDayWalk closes the walk-through's browsers and stops its server. */
export async function closeFirstDayWalk() {
  for (const x of [w.owner, w.doc, w.nurse, w.patient]) if (x) await x.close();
  if (w.srv) await w.srv.stop();
}
