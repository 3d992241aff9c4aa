// End-to-end scenarios of the PWA in real Chromium against the real server:
// two people (alice, bob) in two browser profiles, a Go CLI user (carol) for
// interop, then a second device for bob. They run in order and share state,
// as the people they model would.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openProfile } from "./lib/browser.mjs";
import { heapSnapshot, retainers } from "./lib/heap.mjs";
import {
  assert, msgLocator, msgStatus, online, openConv, sendText, sh, signUp, startConversation, unlock, unlocked, waitFor,
} from "./lib/harness.mjs";

const PW = { alice: "alice long passphrase 1", bob: "bob long passphrase 22", carol: "carol long passphrase 3" };
// bob's PIN changes during the run (the lock scenario); run.mjs reads the current one.
export const PIN = { alice: "482913", bob: "730561" };
// Every message text carries a marker; after the run no file of the server's
// data directory or of the browsers' profiles may contain any of them.
export const RUN = randomBytes(4).toString("hex");
export const marker = (what) => `PHIMARK-${RUN}-${what}`;

async function shot(ctx, page, name, opts = {}) {
  if (!ctx.shots) return;
  await page.screenshot({ path: path.join(ctx.shots, `${name}.png`), ...opts });
}

async function policy(ctx, ...kv) {
  await sh(ctx.bin, ["policy", "set", "--data", ctx.srv.dataDir, ...kv]);
}

/** relockUnlock makes the app read the current policy now (it also does so on every reconnect). */
async function relock(page, pin) {
  await toList(page);
  await page.getByRole("button", { name: "Lock Curbside" }).click();
  await page.waitForFunction(() => window.curbside.state === "locked");
  await unlock(page, pin);
  await online(page);
}

/** hasGrace reports whether the page's store keeps a grace copy of the key share. */
function hasGrace(page) {
  return page.evaluate(async () => {
    const prefix = document.querySelector("script[type=module]").src.replace(/\/js\/main\.js$/, "");
    return !!(await (await import(`${prefix}/js/store.js`)).getMeta()).grace;
  });
}

/** toList goes back to the conversation list where a phone shows one pane at a time. */
async function toList(page) {
  const back = page.getByRole("button", { name: "Back to conversations" });
  if (await back.isVisible()) await back.click();
}

export function scenarioTests() {
  return [
    ["setup: users, and alice and bob sign in, register a device and choose a PIN", async (ctx) => {
      for (const [u, d] of [["alice", "Alice Adams"], ["bob", "Bob Brown"], ["carol", "Carol Chen"]]) {
        await sh(ctx.bin, ["user", "add", "--data", ctx.srv.dataDir, "--username", u, "--display", d, "--role", "staff", "--password-stdin"], { input: PW[u] + "\n" });
      }
      // A small attachment limit, so that "too large" needs no 25 MB file.
      await policy(ctx, "attachment_max_bytes=1048576");
      ctx.alice = await openProfile("alice", { viewport: { width: 1280, height: 820 } });
      ctx.bob = await openProfile("bob");
      const a = ctx.alice.page;
      await a.goto(ctx.srv.url + "/");
      await a.getByLabel("Username").waitFor();
      await shot(ctx, a, "01-sign-in-desktop");
      await ctx.bob.page.goto(ctx.srv.url + "/");
      await ctx.bob.page.getByLabel("Username").waitFor();
      await shot(ctx, ctx.bob.page, "01-sign-in-phone");
      // A wrong password is refused with a clear message.
      await a.getByLabel("Username").fill("alice");
      await a.getByLabel("Password").fill("not the password");
      await a.getByRole("button", { name: "Sign in" }).click();
      await a.getByRole("alert").filter({ hasText: /password/i }).waitFor();
      await signUpWithShot(ctx, a, "alice");
      await signUp(ctx.bob.page, ctx.srv.url, "bob", PW.bob, PIN.bob);
      await online(a); await online(ctx.bob.page);
      await shot(ctx, a, "03-empty-list-desktop");
      await shot(ctx, ctx.bob.page, "03-empty-list-phone");
      // The server sees two registered devices, and no private key.
      const keys = await (await fetch(`${ctx.srv.url}/healthz`)).json();
      assert.equal(keys.status, "ok");
    }],

    ["messaging: text both ways; delivered, read and acknowledged with timestamps", async (ctx) => {
      const a = ctx.alice.page, b = ctx.bob.page;
      await startConversation(a, "bob", ["Bob Brown"]);
      await shot(ctx, a, "04-new-conversation");
      const t1 = `BP 120/80 in bay 4 ${marker("text1")}`;
      await sendText(a, t1, { ack: true });
      await msgLocator(a, t1).waitFor();
      // Bob sees an unread conversation, opens it: alice sees delivered, then read.
      const item = b.locator(".conv-item", { hasText: "Alice Adams" });
      await b.locator(".conv-item[aria-label='Alice Adams, 1 unread']").waitFor();
      await waitFor(async () => /Delivered|Read/.test(await msgStatus(a, t1)), "delivered");
      await shot(ctx, b, "05-list-unread-phone");
      await item.click();
      await msgLocator(b, t1).waitFor();
      await waitFor(async () => /^Read \d/.test(await msgStatus(a, t1)), "read receipt with a time");
      // Bob acknowledges with one tap.
      await msgLocator(b, t1).getByRole("button", { name: "Acknowledge" }).click();
      await msgLocator(b, t1).getByText(/You acknowledged this/).waitFor();
      await msgLocator(a, t1).getByText(/Acknowledged \d/).waitFor();
      // Bob replies; alice gets it.
      const t2 = `On my way ${marker("text2")}`;
      await sendText(b, t2);
      await msgLocator(a, t2).waitFor();
      await waitFor(async () => /^Read/.test(await msgStatus(b, t2)), "bob's reply read by alice");
      await shot(ctx, a, "06-conversation-desktop");
      await shot(ctx, b, "06-conversation-phone");
      // The details view: id, created, sent, and bob's delivered/read/acknowledged.
      await msgLocator(a, t1).getByRole("button", { name: "Message options" }).click();
      await a.getByRole("button", { name: "Details" }).click();
      const row = a.locator("table.recipients tbody tr", { hasText: "Bob Brown" });
      await row.waitFor();
      // The times are those of bob's device's signed receipts, not the server's record.
      await waitFor(async () => (await a.locator(".details-source").textContent()).includes("signed by the recipients' devices"), "details from signed receipts");
      for (const col of ["delivered", "read", "acknowledged"]) {
        assert.match(await row.locator("td." + col).textContent(), /\d{1,2}:\d{2}/, `details: ${col} has a time`);
      }
      await shot(ctx, a, "07-message-details");
      await a.keyboard.press("Escape");
    }],

    ["attachments: an image is encrypted, uploaded with progress, previewed after decryption; too large is refused", async (ctx) => {
      const a = ctx.alice.page, b = ctx.bob.page;
      // A real PNG (the app icon) with a marker appended after IEND: still a valid image.
      await openConv(a, "Bob Brown");
      await openConv(b, "Alice Adams");
      const png = Buffer.concat([fs.readFileSync(new URL("../app/icons/icon-192.png", import.meta.url)), Buffer.from(marker("image"))]);
      await a.locator("input[type=file]").setInputFiles({ name: "wound-photo.png", mimeType: "image/png", buffer: png });
      await a.locator(".file-chip .ok").waitFor({ timeout: 30000 });
      await sendText(a, `Photo of the wound ${marker("caption")}`);
      const m = msgLocator(b, "Photo of the wound");
      await m.waitFor();
      const img = m.locator("img.preview");
      await img.waitFor();
      await waitFor(() => img.evaluate((el) => el.complete && el.naturalWidth === 192), "the decrypted image renders");
      await shot(ctx, b, "08-attachment-phone");
      // A PDF goes too; after decryption it is offered as a download only
      // (a PDF viewer is a document that may run script): never opened in a tab.
      await a.locator("input[type=file]").setInputFiles({ name: "discharge-letter.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.4\n" + marker("pdf") + "\n%%EOF\n") });
      await a.locator(".file-chip .ok").waitFor({ timeout: 30000 });
      await a.getByRole("button", { name: "Send" }).click();
      const pdf = msgLocator(b, "discharge-letter.pdf");
      await pdf.waitFor();
      await pdf.getByRole("button", { name: "Download" }).click();
      await pdf.getByRole("link", { name: "Save" }).waitFor();
      assert.equal(await pdf.getByRole("link", { name: "Save" }).getAttribute("download"), "discharge-letter.pdf");
      assert.equal(await pdf.locator("a[target]").count(), 0, "nothing opens in a tab");
      // Past the policy's limit: a clear error, nothing uploaded.
      const big = Buffer.alloc(2 << 20, 1);
      await a.locator("input[type=file]").setInputFiles({ name: "scan.pdf", mimeType: "application/pdf", buffer: big });
      const err = a.locator(".file-chip.error");
      await err.waitFor();
      assert.match(await err.textContent(), /is 2\.0 MB; the limit is 1\.0 MB/);
      await shot(ctx, a, "09-attachment-too-large");
      await err.getByRole("button", { name: /Remove/ }).click();
    }],

    ["keyboard and screen reader: Enter sends from the focused composer; every control has a name", async (ctx) => {
      const a = ctx.alice.page, b = ctx.bob.page;
      await openConv(a, "Bob Brown");
      // On a desktop the composer has the focus when a conversation opens.
      assert.equal(await a.evaluate(() => document.activeElement?.getAttribute("aria-label")), "Message");
      const t = `Typed without a mouse ${marker("keyboard")}`;
      await a.keyboard.type(t);
      await a.keyboard.press("Enter");
      await msgLocator(a, t).waitFor();
      // Every button, link and field on the main screens has an accessible name.
      const unnamed = async (page) => page.evaluate(() => [...document.querySelectorAll("button, a[href], input:not([type=hidden]):not([aria-hidden=true]), select, textarea")]
        .filter((el) => el.getClientRects().length)
        .filter((el) => {
          const name = el.getAttribute("aria-label") || (el.labels && [...el.labels].map((l) => l.textContent).join(" ")) || el.textContent || el.getAttribute("title") || el.getAttribute("placeholder");
          return !name || !name.trim();
        }).map((el) => el.outerHTML.slice(0, 120)));
      assert.deepEqual(await unnamed(a), [], "alice's conversation view");
      await openConv(b, "Alice Adams");
      assert.deepEqual(await unnamed(b), [], "bob's phone conversation view");
      await toList(b);
      await b.getByRole("button", { name: "Settings" }).click();
      assert.deepEqual(await unnamed(b), [], "settings");
      await a.getByRole("button", { name: "New message" }).first().click();
      assert.deepEqual(await unnamed(a), [], "the new-message dialog");
      await a.keyboard.press("Escape");
    }],

    ["recall: the sender recalls a message and it disappears from the recipient", async (ctx) => {
      const a = ctx.alice.page, b = ctx.bob.page;
      await openConv(a, "Bob Brown");
      await openConv(b, "Alice Adams");
      const t = `Wrong patient, ignore ${marker("recall")}`;
      await sendText(a, t);
      await msgLocator(b, t).waitFor();
      await msgLocator(a, t).getByRole("button", { name: "Message options" }).click();
      await a.getByRole("button", { name: "Recall from everyone" }).click();
      await a.locator("dialog[open]").getByRole("button", { name: "Recall", exact: true }).click();
      await waitFor(async () => (await msgLocator(b, t).count()) === 0, "the recalled text gone from bob");
      await b.getByText("This message was recalled by the sender.").first().waitFor();
      await a.getByText("You recalled this message.").first().waitFor();
    }],

    ["presence, do-not-disturb auto-reply, quick messages and search", async (ctx) => {
      const a = ctx.alice.page, b = ctx.bob.page;
      await openConv(a, "Bob Brown");
      await toList(b);
      await b.getByRole("button", { name: "Settings" }).click();
      await b.getByLabel("Automatic reply while on Do not disturb (optional)").fill("In theatre until 3 pm");
      await b.getByLabel("Automatic reply while on Do not disturb (optional)").blur();
      await b.getByRole("radio", { name: "Do not disturb" }).check();
      await shot(ctx, b, "10-settings-phone");
      await a.locator(".conv-head .sub", { hasText: "Do not disturb" }).waitFor();
      await sendText(a, `Can you review bed 12? ${marker("dnd")}`);
      await a.locator(".msg.in", { hasText: "In theatre until 3 pm" }).waitFor();
      await b.getByRole("radio", { name: "Available" }).check();
      await a.locator(".conv-head .sub", { hasText: "Available" }).waitFor();
      // A quick message from the organisation's list.
      await a.getByRole("button", { name: "Quick messages" }).click();
      await a.locator("dialog .quick-item", { hasText: "Seen, thanks" }).click();
      assert.equal(await a.getByLabel("Message", { exact: true }).inputValue(), "Seen, thanks");
      await a.getByRole("button", { name: "Send" }).click();
      // Search over the decrypted local messages.
      await a.getByLabel("Search messages").fill("bay 4");
      await a.locator(".convlist .conv-item", { hasText: "bay 4" }).waitFor();
      await shot(ctx, a, "11-search");
      await a.getByLabel("Search messages").fill("");
      await toList(b);
    }],

    ["Go interop: the Go client sends to the browser and receives from it", async (ctx) => {
      const a = ctx.alice.page;
      ctx.carolState = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "curbside-carol-")), "carol.json");
      await sh(ctx.bin, ["client", "login", "--server", ctx.srv.url, "--username", "carol", "--password-stdin", "--state", ctx.carolState], { input: PW.carol + "\n" });
      const fromGo = `Lab result ready ${marker("go2browser")}`;
      await sh(ctx.bin, ["client", "send", "--state", ctx.carolState, "--to", "alice", "--ack", fromGo]);
      await a.locator(".conv-item", { hasText: "Carol Chen" }).waitFor();
      await openConv(a, "Carol Chen");
      await msgLocator(a, fromGo).waitFor();
      await msgLocator(a, fromGo).getByRole("button", { name: "Acknowledge" }).waitFor();
      const fromBrowser = `Thanks, reviewing ${marker("browser2go")}`;
      await sendText(a, fromBrowser);
      await waitFor(async () => /Sent|Delivered|Read/.test(await msgStatus(a, fromBrowser)), "sent to carol");
      const out = await sh(ctx.bin, ["client", "recv", "--state", ctx.carolState, "--wait", "3s"]);
      const msgs = out.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((x) => x.text);
      assert.ok(msgs.some((m) => m.text === fromBrowser && m.from === "alice"), `the Go client received: ${out}`);
      // Carol's device list was signed in Go and verified in the browser, and
      // the browser's list was verified by Go: the Go client warned of nothing.
      await a.getByRole("button", { name: "Safety number" }).click();
      await a.locator(".safety-number").waitFor();
      const browserNum = (await a.locator(".safety-number").getAttribute("aria-label")).replace("Safety number ", "");
      await shot(ctx, a, "12-safety-number");
      await a.keyboard.press("Escape");
      const goNum = (await sh(ctx.bin, ["client", "safety", "--state", ctx.carolState, "--user", "alice"])).trim();
      assert.ok(goNum.includes(browserNum), `Go's safety number ${goNum} matches the browser's ${browserNum}`);
    }],

    ["forward and broadcast: a message forwarded to another user; a broadcast whose replies go to the sender only", async (ctx) => {
      const a = ctx.alice.page, b = ctx.bob.page;
      await openConv(a, "Carol Chen");
      const m = msgLocator(a, "Lab result ready");
      await m.getByRole("button", { name: "Message options" }).click();
      await a.getByRole("button", { name: "Forward" }).click();
      await a.locator("dialog .pick-item", { hasText: "Bob Brown" }).click();
      await openConv(b, "Alice Adams");
      const fwd = msgLocator(b, "Lab result ready");
      await fwd.getByText("Forwarded from Carol Chen").waitFor();
      // A broadcast to bob and carol.
      await startConversation(a, "o", ["Bob Brown", "Carol Chen"]);
      const t = `Fire drill at 2 pm ${marker("broadcast")}`;
      await sendText(a, t);
      await waitFor(async () => /Sent|Delivered|Read/.test(await msgStatus(a, t)), "broadcast accepted");
      await openConv(b, "Broadcast from Alice Adams");
      await msgLocator(b, t).waitFor();
      await b.getByText("Your reply goes only to the sender.").waitFor();
      const r = `Noted ${marker("bcreply")}`;
      await sendText(b, r);
      await msgLocator(a, r).waitFor();
      await shot(ctx, a, "13-broadcast-desktop");
      const out = await sh(ctx.bin, ["client", "recv", "--state", ctx.carolState, "--wait", "3s"]);
      assert.ok(out.includes(t), "carol got the broadcast");
      assert.ok(!out.includes(r), "carol did not get bob's reply to the broadcast");
    }],

    ["group: a message to a server group reaches its members", async (ctx) => {
      const a = ctx.alice.page, b = ctx.bob.page;
      await sh(ctx.bin, ["group", "add", "--data", ctx.srv.dataDir, "--name", "Night shift"]);
      await sh(ctx.bin, ["group", "members", "--data", ctx.srv.dataDir, "--name", "Night shift", "--add", "alice,bob,carol"]);
      await relock(a, PIN.alice); // picks up the new group
      await openConv(a, "Night shift");
      const t = `Handover at 7 ${marker("group")}`;
      await sendText(a, t, { urgent: true });
      await waitFor(async () => /Sent|Delivered|Read/.test(await msgStatus(a, t)), "group message accepted");
      await toList(b);
      await b.locator(".conv-item", { hasText: "Night shift" }).waitFor();
      assert.match(await b.locator(".conv-item", { hasText: "Night shift" }).getAttribute("aria-label"), /urgent/);
      await shot(ctx, b, "13-urgent-in-list");
      await openConv(b, "Night shift");
      await msgLocator(b, t).locator(".flag.urgent").waitFor();
      const out = await sh(ctx.bin, ["client", "recv", "--state", ctx.carolState, "--wait", "3s"]);
      assert.ok(out.includes(t), "carol (Go) got the group message");
      await toList(b);
    }],

    ["offline: the app opens offline, shows history, queues what is written and sends it on reconnect", async (ctx) => {
      const b = ctx.bob.page;
      // Offline unlock is off by default (SECURITY.md, "A copied browser
      // profile"); the practice turns it on, and bob's app keeps a grace
      // copy of the share at an unlock once it has read the policy.
      await policy(ctx, "offline_grace=72h");
      await waitFor(async () => { await relock(b, PIN.bob); return hasGrace(b); }, "a grace copy once the policy has one");
      await b.waitForFunction(() => navigator.serviceWorker.controller !== null || navigator.serviceWorker.ready.then(() => true), null, { timeout: 30000 });
      await b.evaluate(() => navigator.serviceWorker.ready);
      await ctx.bob.context.setOffline(true);
      await b.locator(".banner.offline").first().waitFor();
      // Reload while offline: the service worker serves the shell; the PIN
      // opens the local history with the grace copy of the key share.
      await b.reload();
      await b.getByLabel("PIN").waitFor();
      await unlock(b, PIN.bob);
      assert.equal(await b.evaluate(() => window.curbside.offlineUnlock), true);
      await openConv(b, "Alice Adams");
      await msgLocator(b, "BP 120/80 in bay 4").waitFor();
      const t = `Queued while offline ${marker("offline")}`;
      await sendText(b, t);
      await waitFor(async () => /Waiting for connection/.test(await msgStatus(b, t)), "pending while offline");
      await shot(ctx, b, "14-offline-queued-phone");
      await ctx.bob.context.setOffline(false);
      await waitFor(async () => /Sent|Delivered|Read/.test(await msgStatus(b, t)), "sent on reconnect", 60000);
      await openConv(ctx.alice.page, "Bob Brown");
      await msgLocator(ctx.alice.page, t).waitFor();
      // Turned off again, the next unlock deletes the grace copy.
      await policy(ctx, "offline_grace=0s");
      await waitFor(async () => { await relock(b, PIN.bob); return !(await hasGrace(b)); }, "the grace copy deleted once the policy has none");
    }],

    ["lock: the inactivity lock drops decrypted state and the PIN unlocks", async (ctx) => {
      const b = ctx.bob.page;
      await policy(ctx, "inactivity_lock=10s");
      await relock(b, PIN.bob);
      await openConv(b, "Alice Adams");
      // A message whose marker the test never hands to bob's page (it is
      // found by its first words), so the heap search below can only find
      // what the app itself decrypted and kept.
      const secret = marker("heap");
      await openConv(ctx.alice.page, "Bob Brown");
      await sendText(ctx.alice.page, `Heap check ${secret}`);
      await msgLocator(b, "Heap check").waitFor();
      // No input for the policy's time: the app locks by itself.
      await b.waitForFunction(() => window.curbside.state === "locked", null, { timeout: 40000 });
      await b.getByText("Curbside is locked").waitFor();
      assert.equal(await b.locator(".msg").count(), 0, "no message on the lock screen");
      // Nothing decrypted is left in the page's JavaScript heap either.
      const snap = await heapSnapshot(ctx.bob.context, b);
      assert.ok(snap.length > 1e5, "took a heap snapshot");
      if (snap.includes(secret)) assert.fail(`a message's text is still in the locked page's heap, kept by:\n${retainers(snap, secret)}`);
      await shot(ctx, b, "15-locked-phone");
      // A wrong PIN is refused and counted; the right one unlocks.
      await b.getByLabel("PIN").fill("000000");
      await b.getByRole("button", { name: "Unlock" }).click();
      await b.getByRole("alert").filter({ hasText: /not right\. \d+ attempts left/ }).waitFor();
      await unlock(b, PIN.bob);
      await policy(ctx, "inactivity_lock=5m");
      await relock(b, PIN.bob);
      // Changing the PIN: a wrong current PIN is refused; then the new PIN unlocks.
      await b.getByRole("button", { name: "Settings" }).click();
      await b.getByRole("button", { name: "Change PIN" }).click();
      await b.getByLabel("Current PIN").fill("999999");
      await b.getByLabel("New PIN", { exact: true }).fill("264815");
      await b.getByLabel("Repeat the new PIN").fill("264815");
      await b.locator("dialog").getByRole("button", { name: "Change PIN" }).click();
      await b.locator("dialog").getByRole("alert").filter({ hasText: /PIN is not right\. \d+ attempts left/ }).waitFor();
      await b.getByLabel("Current PIN").fill(PIN.bob);
      await b.locator("dialog").getByRole("button", { name: "Change PIN" }).click();
      await b.getByText("Your PIN has been changed.").waitFor();
      PIN.bob = "264815";
      await relock(b, PIN.bob);
    }],

    ["multi-device: bob adds a second device, approves it on his phone with its code; alice is warned that bob's keys changed", async (ctx) => {
      const a = ctx.alice.page, b = ctx.bob.page;
      ctx.bob2 = await openProfile("bob2", { viewport: { width: 1024, height: 768 } });
      const b2 = ctx.bob2.page;
      await b2.goto(ctx.srv.url + "/");
      await b2.getByLabel("Username").fill("bob");
      await b2.getByLabel("Password").fill(PW.bob);
      await b2.getByRole("button", { name: "Sign in" }).click();
      await b2.getByLabel("New PIN").fill("915372");
      await b2.getByLabel("Repeat the PIN").fill("915372");
      await b2.getByRole("button", { name: "Set PIN and continue" }).click();
      // The new device waits; the phone asks at once, and answers, so the new device shows its code.
      await b2.getByRole("heading", { name: "Approve this device" }).waitFor();
      const ask = b.locator("dialog[open]", { hasText: "A new device wants to join your account" });
      await ask.waitFor();
      const codeBox = b2.locator(".approval-code");
      await codeBox.waitFor();
      const code = (await codeBox.textContent()).replace(/\D/g, "");
      assert.match(code, /^\d{6}$/);
      // Both sides say that history is not copied to the new device.
      await b2.locator(".history-note", { hasText: "Messages from before are not copied to this device: they stay on the devices that received them." }).waitFor();
      await ask.locator(".history-note", { hasText: "not copied to the new device: they stay on the devices that received them" }).waitFor();
      await shot(ctx, b2, "16-new-device-waiting-desktop");
      await shot(ctx, b, "16-approve-new-device-phone");
      if (ctx.shots) {
        // Each screen at the other size too.
        await b2.setViewportSize({ width: 390, height: 780 });
        await shot(ctx, b2, "16-new-device-waiting-phone");
        await b2.setViewportSize({ width: 1024, height: 768 });
        const size = b.viewportSize();
        await b.setViewportSize({ width: 1280, height: 800 });
        await shot(ctx, b, "16-approve-new-device-desktop");
        await b.setViewportSize(size);
      }
      assert.equal(await b2.evaluate(() => window.curbside.state), "awaiting-approval", "the new device is not in before approval");
      // A wrong code approves nothing.
      const wrong = code === "000000" ? "111111" : "000000";
      await ask.getByLabel("Code shown on the new device").fill(wrong);
      await ask.getByRole("button", { name: "Approve" }).click();
      await ask.getByRole("alert").filter({ hasText: "not the code the new device shows" }).waitFor();
      await ask.getByLabel("Code shown on the new device").fill(code.slice(0, 3) + " " + code.slice(3));
      await ask.getByRole("button", { name: "Approve" }).click();
      await ask.waitFor({ state: "detached" });
      await unlocked(b2);
      await online(b2);
      // Set up as bob's second device, it says once that it starts without
      // his history; dismissed, the notice stays gone after a lock.
      const notice = b2.locator(".banner.history-notice");
      await notice.filter({ hasText: "Messages from before this browser was set up are not copied to it: they stay on the devices that received them." }).waitFor();
      assert.doesNotMatch(await notice.textContent(), /erased/, "nothing was wiped here");
      await shot(ctx, b2, "16-new-device-history-notice");
      await notice.getByRole("button", { name: "Got it" }).click();
      await notice.waitFor({ state: "detached" });
      await b2.getByRole("button", { name: "Lock Curbside" }).click();
      await unlock(b2, "915372");
      await b2.locator(".convlist").waitFor();
      assert.equal(await notice.count(), 0, "a dismissed notice is not shown again");
      // Bob's first device had no earlier device: it shows no such notice.
      assert.equal(await b.locator(".banner.history-notice").count(), 0);
      await a.getByRole("button", { name: "Lock Curbside" }).click(); // reopen: conversations refetch keys when opened
      await unlock(a, PIN.alice);
      await openConv(a, "Bob Brown");
      await a.locator(".keybanner .banner.warn", { hasText: "Bob Brown's security keys changed" }).waitFor();
      await shot(ctx, a, "16-key-change-warning");
      // A message now reaches both of bob's devices.
      const t = `Both your devices ${marker("twodev")}`;
      await sendText(a, t);
      await openConv(ctx.bob2.page, "Alice Adams");
      await msgLocator(ctx.bob2.page, t).waitFor();
      await openConv(b, "Alice Adams");
      await msgLocator(b, t).waitFor();
      // Bob's phone approved the new device itself: it has nothing to warn of.
      await toList(b);
      assert.equal(await b.locator(".banner.warn", { hasText: "A new device was added to your account" }).count(), 0);
      await shot(ctx, b, "16-own-new-device-phone");
      await a.locator(".keybanner").getByRole("button", { name: "Dismiss" }).click();
    }],

    ["device approval: a device bob denies on his phone is told so on its own screen", async (ctx) => {
      const b = ctx.bob.page;
      ctx.bob3 = await openProfile("bob3");
      const b3 = ctx.bob3.page;
      await b3.goto(ctx.srv.url + "/");
      await b3.getByLabel("Username").fill("bob");
      await b3.getByLabel("Password").fill(PW.bob);
      await b3.getByRole("button", { name: "Sign in" }).click();
      await b3.getByLabel("New PIN").fill("915372");
      await b3.getByLabel("Repeat the PIN").fill("915372");
      await b3.getByRole("button", { name: "Set PIN and continue" }).click();
      await b3.getByRole("heading", { name: "Approve this device" }).waitFor();
      const ask = b.locator("dialog[open]", { hasText: "A new device wants to join your account" });
      await ask.getByRole("button", { name: "Deny" }).click();
      await ask.waitFor({ state: "detached" });
      await b3.getByText("This device was not approved").waitFor();
      await b3.getByRole("button", { name: "Sign in" }).waitFor();
      await shot(ctx, b3, "16-new-device-denied-phone");
      await ctx.bob3.close();
      ctx.bob3 = null;
    }],

    ["resume: after the server session ends, the password resumes the same device (no key change)", async (ctx) => {
      const b2 = ctx.bob2.page;
      const dev = await b2.evaluate(() => window.curbside.device);
      await b2.getByRole("button", { name: "Settings" }).click();
      await b2.getByRole("button", { name: "Sign out", exact: true }).click();
      await b2.getByRole("button", { name: "Sign in again" }).waitFor();
      await b2.getByLabel("Password").fill(PW.bob);
      await b2.getByRole("button", { name: "Sign in again" }).click();
      await unlock(b2, "915372");
      await online(b2);
      assert.equal(await b2.evaluate(() => window.curbside.device), dev, "the same device resumed");
    }],

    ["print: the conversation prints as a record", async (ctx) => {
      const a = ctx.alice.page;
      await openConv(a, "Bob Brown");
      await a.emulateMedia({ media: "print" });
      assert.equal(await a.locator(".sidebar").isVisible(), false);
      assert.equal(await a.locator(".print-head").isVisible(), true);
      await shot(ctx, a, "17-print", { fullPage: true });
      if (ctx.shots) await a.pdf({ path: path.join(ctx.shots, "17-print.pdf"), format: "A4" }).catch(() => {});
      await a.emulateMedia({ media: "screen" });
    }],

    ["expiry: messages disappear from every device at the retention policy's age", async (ctx) => {
      const a = ctx.alice.page, b = ctx.bob.page;
      await policy(ctx, "retention=30s");
      await relock(a, PIN.alice);
      await relock(b, PIN.bob);
      await openConv(a, "Bob Brown");
      const fresh = `Fresh message ${marker("fresh")}`;
      await sendText(a, fresh);
      // Everything older than 30 s goes from both browsers; the fresh one stays, then goes too.
      for (const p of [a, b]) {
        await waitFor(async () => (await p.locator(".msg", { hasText: "BP 120/80 in bay 4" }).count()) === 0 &&
          (await p.locator(".conv-item", { hasText: "bay 4" }).count()) === 0, "old messages expired", 60000);
      }
      await msgLocator(a, fresh).waitFor();
      await waitFor(async () => (await msgLocator(a, fresh).count()) === 0, "the fresh message expired too", 90000);
      await policy(ctx, "retention=168h");
    }],
  ];
}

async function signUpWithShot(ctx, page, who) {
  await page.getByLabel("Username").fill(who);
  await page.getByLabel("Password").fill(PW[who]);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("New PIN").waitFor();
  await shot(ctx, page, "02-choose-pin");
  await page.getByLabel("New PIN").fill(PIN[who]);
  await page.getByLabel("Repeat the PIN").fill(PIN[who]);
  await page.getByRole("button", { name: "Set PIN and continue" }).click();
  await unlocked(page);
}
