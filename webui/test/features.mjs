// What every messenger has, each checked in real Chromium with users of
// its own (fay at desktop width; gus at phone width, a touch device with
// Chromium's fake microphone; both in the group "Ward 5"): the empty list
// says history stays on the old device; links are clickable and safe;
// a reply carries a quote that leads back to the original; typing shows
// and goes; a conversation opens at a "new messages" divider; search in
// a conversation highlights and steps; a muted group stays quiet but for
// an @mention picked from its members; an image is previewed before it
// is sent and a phone offers the camera; a voice note is recorded,
// encrypted, sent and played.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openProfile } from "./lib/browser.mjs";
import { assert, msgLocator, msgStatus, online, openConv, sendText, sh, signUp, startConversation, waitFor } from "./lib/harness.mjs";

const PW = { fay: "fay long passphrase 81", gus: "gus long passphrase 82" };
const PIN = { fay: "583016", gus: "640271" };
const FAY = "Dr Fay Moss", GUS = "Nurse Gus Lee", GROUP = "Ward 5";
const MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"];

// A 2×2 red PNG.
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==", "base64");

async function shot(ctx, page, name) {
  if (ctx.shots) await page.screenshot({ path: path.join(ctx.shots, `${name}.png`) });
}

/** unreadOf reads the unread count the list shows for a conversation (0 if none). */
async function unreadOf(page, title) {
  const label = await page.locator(".conv-item").filter({ has: page.locator(".conv-title", { hasText: title }) }).first().getAttribute("aria-label");
  return Number(/, (\d+) unread/.exec(label || "")?.[1] || 0);
}

async function toList(page) {
  const back = page.getByRole("button", { name: "Back to conversations" });
  if (await back.isVisible()) await back.click();
}

/** closeFeatureProfiles closes this file's browsers. */
export async function closeFeatureProfiles(ctx) {
  for (const p of ["fay", "gus"]) if (ctx[p]) await ctx[p].close();
}

export function featureTests() {
  return [
    ["features setup: fay and gus sign in; a new browser says history stays on the old device", async (ctx) => {
      for (const [u, d] of [["fay", FAY], ["gus", GUS]]) {
        await sh(ctx.bin, ["user", "add", "--data", ctx.srv.dataDir, "--username", u, "--display", d, "--role", "staff", "--password-stdin"], { input: PW[u] + "\n" });
      }
      ctx.fay = await openProfile("fay", { viewport: { width: 1280, height: 820 } });
      ctx.gus = await openProfile("gus", { hasTouch: true, args: MEDIA });
      await signUp(ctx.fay.page, ctx.srv.url, "fay", PW.fay, PIN.fay);
      await signUp(ctx.gus.page, ctx.srv.url, "gus", PW.gus, PIN.gus);
      await online(ctx.fay.page); await online(ctx.gus.page);
      for (const p of [ctx.fay.page, ctx.gus.page]) {
        await p.locator(".history-note").filter({ hasText: "stay on the devices that received them" }).waitFor();
        // A first device has nothing from before: no one-time notice.
        assert.equal(await p.locator(".banner.history-notice").count(), 0);
      }
      await shot(ctx, ctx.gus.page, "ft-01-first-run-phone");
      await shot(ctx, ctx.fay.page, "ft-01-first-run-desktop");
    }],

    ["features: links are clickable, open apart with no opener or referrer, only for safe schemes, and nothing fetches them", async (ctx) => {
      const f = ctx.fay.page, g = ctx.gus.page;
      await startConversation(f, "gus", [GUS]);
      const text = "Guide: https://example.org/k-guide?x=1. Mail mailto:ward3@example.org, call tel:+15550100 — not javascript:alert(1) or data:text/html,hi";
      await sendText(f, text);
      await openConv(g, FAY);
      const m = msgLocator(g, "Guide:");
      await m.waitFor();
      const links = await m.locator("a.msg-link").evaluateAll((as) => as.map((a) => ({ href: a.getAttribute("href"), text: a.textContent, target: a.target, rel: a.rel })));
      assert.deepEqual(links.map((l) => l.href), ["https://example.org/k-guide?x=1", "mailto:ward3@example.org", "tel:+15550100"]);
      for (const l of links) { assert.equal(l.target, "_blank"); assert.equal(l.rel, "noopener noreferrer"); }
      assert.equal(links[0].text, "https://example.org/k-guide?x=1", "the full stop after the link is not part of it");
      assert.match(await m.locator(".text").textContent(), /not javascript:alert\(1\) or data:text\/html,hi/);
      assert.deepEqual([...ctx.fay.foreign, ...ctx.gus.foreign], [], "no request to another origin (no link preview)");
    }],

    ["features: a reply carries a quote of the message; tapping it goes to the original", async (ctx) => {
      const f = ctx.fay.page, g = ctx.gus.page;
      // Some history first, so the original is scrolled away.
      await sendText(f, "Potassium for bed 12 is 5.9, please repeat the sample");
      await msgLocator(g, "Potassium for bed 12").waitFor();
      for (let i = 1; i <= 12; i++) await sendText(f, `Round note ${i}: obs stable`);
      await msgLocator(g, "Round note 12").waitFor();
      await msgLocator(g, "Potassium for bed 12").getByRole("button", { name: "Reply" }).click();
      await g.locator(".reply-bar").filter({ hasText: `Replying to ${FAY}` }).filter({ hasText: "Potassium for bed 12" }).waitFor();
      await shot(ctx, g, "ft-02-replying-phone");
      await sendText(g, "Repeat sent to the lab");
      const reply = msgLocator(f, "Repeat sent to the lab");
      const quote = reply.locator("button.quote");
      await quote.waitFor();
      assert.equal(await quote.locator(".quote-from").textContent(), "You");
      assert.match(await quote.locator(".quote-text").textContent(), /^Potassium for bed 12 is 5\.9/);
      assert.equal(await g.locator(".reply-bar").isVisible(), false, "the bar goes once the reply is sent");
      await quote.click();
      const orig = msgLocator(f, "Potassium for bed 12").and(f.locator(".msg.highlight"));
      await orig.waitFor();
      await waitFor(async () => (await orig.boundingBox()) && await orig.isVisible() && await orig.evaluate((el) => {
        const r = el.getBoundingClientRect(), box = el.closest(".messages").getBoundingClientRect();
        return r.top >= box.top && r.bottom <= box.bottom;
      }), "the original scrolled into view");
      await shot(ctx, f, "ft-03-reply-quote-desktop");
      await shot(ctx, g, "ft-03-reply-quote-phone");
    }],

    ["features: someone typing is shown to the other side and goes when their message arrives", async (ctx) => {
      const f = ctx.fay.page, g = ctx.gus.page;
      const line = g.locator(".typing-line");
      await f.getByLabel("Message", { exact: true }).pressSequentially("Cal", { delay: 30 });
      await line.filter({ hasText: `${FAY} is typing…` }).waitFor();
      await shot(ctx, g, "ft-04-typing-phone");
      await f.getByLabel("Message", { exact: true }).fill("Call me when the result is back");
      await f.getByRole("button", { name: "Send" }).click();
      await msgLocator(g, "Call me when the result is back").waitFor();
      await waitFor(async () => (await line.textContent()) === "", "the typing line cleared by the message");
      // Fay's own screen never says she is typing.
      assert.equal(await f.locator(".typing-line").textContent(), "");
    }],

    ["features: a conversation with unread messages opens at a \"new messages\" divider", async (ctx) => {
      const f = ctx.fay.page, g = ctx.gus.page;
      await toList(g);
      // More than a phone's screen holds, so opening at the bottom would
      // hide the first of them.
      for (let i = 1; i <= 12; i++) await sendText(f, `Unread update ${i}`);
      await waitFor(async () => (await unreadOf(g, FAY)) === 12, "twelve unread for gus");
      await openConv(g, FAY);
      const divider = g.locator(".unread-divider");
      await divider.filter({ hasText: "12 new messages" }).waitFor();
      // It sits right before the first unread message, and the view opens there.
      // (Asked again until it holds: receipts arriving redraw the list, and
      // a divider read as it is replaced has no sibling.)
      const nextOf = () => divider.evaluate((el) => el.isConnected ? el.nextElementSibling?.textContent || "" : "");
      await waitFor(async () => /Unread update 1(?!\d)/.test(await nextOf()), "the divider right before the first unread message");
      const inView = await divider.evaluate((el) => {
        const r = el.getBoundingClientRect(), box = el.closest(".messages").getBoundingClientRect();
        return r.top >= box.top - 1 && r.top < box.top + 80;
      });
      assert.ok(inView, "the conversation opened at the divider, not at the bottom");
      await shot(ctx, g, "ft-05-unread-divider-phone");
      // Opened without unread messages: no divider.
      await toList(g);
      await openConv(g, FAY);
      assert.equal(await g.locator(".unread-divider").count(), 0);
    }],

    ["features: messages arriving while the reader is scrolled back are counted on a button that goes to the first of them; unseen, they are not marked read", async (ctx) => {
      const f = ctx.fay.page, g = ctx.gus.page;
      const box = g.locator(".messages");
      const jump = g.locator("button.jump-new");
      const inView = (loc) => loc.evaluate((el) => {
        const r = el.getBoundingClientRect(), view = el.closest(".messages").getBoundingClientRect();
        return r.top >= view.top && r.bottom <= view.bottom;
      });
      const readBack = async () => {
        await box.evaluate((el) => { el.scrollTop = 0; });
        await waitFor(async () => (await box.evaluate((el) => el.scrollTop)) === 0, "scrolled to the top");
      };
      // Gus reads back through the history: the view must stay put.
      await readBack();
      await sendText(f, "Below the fold 1: the porter is here");
      await sendText(f, "Below the fold 2: and the family is here");
      await msgLocator(g, "Below the fold 2").waitFor({ state: "attached" });
      await jump.filter({ hasText: "2 new messages" }).waitFor();
      assert.equal(await box.evaluate((el) => el.scrollTop), 0, "the view did not move while gus read back");
      assert.equal(await inView(msgLocator(g, "Below the fold 1")), false, "the new message is below the view");
      assert.equal(await jump.getAttribute("aria-label"), "2 new messages below: go to the first");
      assert.equal(await jump.evaluate((el) => el.classList.contains("urgent")), false, "two ordinary messages are not urgent");
      await shot(ctx, g, "ft-05b-new-below-phone");
      // Not seen, so not read: fay's screen says delivered.
      for (const t of ["Below the fold 1", "Below the fold 2"]) {
        await waitFor(async () => /^Delivered/.test(await msgStatus(f, t)), `"${t}" delivered, not read`);
      }
      await jump.click();
      await waitFor(() => inView(msgLocator(g, "Below the fold 1")), "the first new message scrolled into view");
      await jump.waitFor({ state: "hidden" });
      for (const t of ["Below the fold 1", "Below the fold 2"]) {
        await waitFor(async () => /^Read/.test(await msgStatus(f, t)), `"${t}" read once gus went to it`);
      }
      // Back at the newest message, the next one is followed and read as
      // before: no button.
      await sendText(f, "Below the fold 3: thanks");
      await msgLocator(g, "Below the fold 3").waitFor();
      await waitFor(() => inView(msgLocator(g, "Below the fold 3")), "the view follows the newest message");
      await waitFor(async () => /^Read/.test(await msgStatus(f, "Below the fold 3")), "a message that arrives in view is read");
      assert.equal(await jump.isVisible(), false, "no button while the newest message is in view");
      // Scrolled back again, a message arrives and gus leaves without
      // going to it: it stays unread, and opens at the divider next time.
      await readBack();
      await sendText(f, "Below the fold 4: one more thing", { urgent: true });
      await jump.filter({ hasText: "1 new message, urgent" }).waitFor();
      assert.equal(await jump.evaluate((el) => el.classList.contains("urgent")), true, "the button is marked urgent");
      await shot(ctx, g, "ft-05c-new-below-urgent-phone");
      await waitFor(async () => /^Delivered/.test(await msgStatus(f, "Below the fold 4")), "delivered, not read");
      await toList(g);
      assert.equal(await unreadOf(g, FAY), 1, "the message gus never had in view is unread");
      await openConv(g, FAY);
      await g.locator(".unread-divider").filter({ hasText: "1 new message" }).waitFor();
      await waitFor(async () => /^Read/.test(await msgStatus(f, "Below the fold 4")), "read once gus opened the conversation there");
      // What gus sends while scrolled back is shown: the view goes to it.
      await readBack();
      await sendText(g, "Noted, on my way to bed 3");
      await waitFor(() => inView(msgLocator(g, "Noted, on my way to bed 3")), "gus's own message in view once sent");
    }],

    ["features: search inside a conversation highlights the matches and steps through them", async (ctx) => {
      const f = ctx.fay.page;
      await f.getByRole("button", { name: "Search in this conversation" }).click();
      const input = f.getByLabel("Search this conversation");
      // "Round note 1", 10, 11 and 12; the newest is shown first.
      await input.fill("round NOTE 1");
      const count = f.locator(".conv-search-count");
      await count.filter({ hasText: "4 of 4" }).waitFor();
      assert.equal(await f.locator(".msg.search-hit").count(), 4);
      const current = f.locator(".msg.search-current");
      assert.match(await current.locator(".text").textContent(), /^Round note 12:/);
      assert.equal(await current.locator("mark.search-mark").textContent(), "Round note 1");
      await f.getByRole("button", { name: "Older match" }).click();
      await count.filter({ hasText: "3 of 4" }).waitFor();
      assert.match(await current.locator(".text").textContent(), /^Round note 11:/);
      assert.ok(await current.evaluate((el) => {
        const r = el.getBoundingClientRect(), box = el.closest(".messages").getBoundingClientRect();
        return r.top >= box.top && r.bottom <= box.bottom;
      }), "the current match is scrolled into view");
      await shot(ctx, f, "ft-06-search-desktop");
      await input.press("Enter"); // older again
      await count.filter({ hasText: "2 of 4" }).waitFor();
      await f.getByRole("button", { name: "Newer match" }).click();
      await count.filter({ hasText: "3 of 4" }).waitFor();
      await input.fill("no such words");
      await count.filter({ hasText: "No matches" }).waitFor();
      await f.getByRole("button", { name: "Close the search" }).click();
      assert.equal(await f.locator("mark.search-mark").count(), 0);
    }],

    ["features: a muted group makes no banner, but an @mention picked from its members does", async (ctx) => {
      const f = ctx.fay.page, g = ctx.gus.page;
      await sh(ctx.bin, ["group", "add", "--data", ctx.srv.dataDir, "--name", GROUP]);
      await sh(ctx.bin, ["group", "members", "--data", ctx.srv.dataDir, "--name", GROUP, "--add", "fay,gus"]);
      // The apps learn of the group on their next connection.
      for (const p of [f, g]) {
        await p.evaluate(() => { window.dispatchEvent(new Event("offline")); });
        await p.evaluate(() => { window.dispatchEvent(new Event("online")); });
        await online(p);
      }
      await waitFor(async () => (await f.locator(".conv-title", { hasText: GROUP }).count()) && (await g.locator(".conv-title", { hasText: GROUP }).count()), "the group listed");
      await openConv(f, GROUP);
      const toastFrom = g.locator(".toast", { hasText: `from ${FAY}` });
      // Not muted: a banner.
      await sendText(f, "Ward 5 huddle at 2");
      await g.locator(".toast", { hasText: `New message from ${FAY}` }).waitFor();
      await g.locator(".toast button[aria-label=Dismiss]").first().click();
      // Gus mutes the group on his phone.
      await openConv(g, GROUP);
      await g.getByRole("button", { name: "Mute this conversation" }).click();
      await g.getByRole("button", { name: "Unmute this conversation" }).waitFor();
      // Clear any banner left (one may time out by itself meanwhile: a short wait each).
      for (const t of await g.locator(".toast").all()) await t.locator("button[aria-label=Dismiss]").click({ timeout: 2000 }).catch(() => {});
      await openConv(g, FAY);
      const before = await unreadOf(g, GROUP);
      await sendText(f, "Beds 4 and 5 are free");
      await waitFor(async () => (await unreadOf(g, GROUP)) === before + 1, "the muted group's message arrived");
      assert.equal(await toastFrom.count(), 0, "a muted group shows no banner");
      assert.equal(await g.locator(".conv-item", { hasText: GROUP }).locator(".muted-mark").count(), 1, "the list marks it muted");
      // Fay mentions gus, picking him after "@gu".
      const ta = f.getByLabel("Message", { exact: true });
      await ta.fill("");
      await ta.pressSequentially("Can you take bed 4 @gu", { delay: 20 });
      const opt = f.locator(".mention-list li", { hasText: GUS });
      await opt.waitFor();
      await shot(ctx, f, "ft-07-mention-picker-desktop");
      await ta.press("Enter");
      assert.equal(await ta.inputValue(), `Can you take bed 4 @${GUS} `);
      await f.getByRole("button", { name: "Send" }).click();
      await g.locator(".toast", { hasText: `You were mentioned from ${FAY}` }).waitFor();
      await shot(ctx, g, "ft-07-mention-toast-phone");
      await openConv(g, GROUP);
      const m = msgLocator(g, "Can you take bed 4");
      await m.locator(".mention.me", { hasText: `@${GUS}` }).waitFor();
      assert.ok(await m.evaluate((el) => el.classList.contains("mentions-me")));
      await shot(ctx, g, "ft-07-mention-phone");
    }],

    ["features: an image is previewed before sending; the phone offers the camera, the desktop does not", async (ctx) => {
      const f = ctx.fay.page, g = ctx.gus.page;
      // Gus's phone: a Camera choice, an image-only picker that asks for the camera.
      const cam = g.getByRole("button", { name: "Camera" });
      await cam.waitFor();
      const input = g.locator("input[type=file][capture]");
      assert.equal(await input.getAttribute("accept"), "image/*");
      assert.equal(await input.getAttribute("capture"), "environment");
      assert.equal(await f.getByRole("button", { name: "Camera" }).count(), 0, "no Camera on a desktop");
      // A photo taken (picked through the camera input) is shown before it goes.
      await input.setInputFiles({ name: "wound.png", mimeType: "image/png", buffer: PNG });
      const prev = g.locator(".file-chip img.chip-preview");
      await prev.waitFor();
      assert.match(await prev.getAttribute("src"), /^blob:/);
      await waitFor(() => prev.evaluate((img) => img.complete && img.naturalWidth === 2), "the preview drawn");
      await g.locator(".file-chip .ok", { hasText: "Ready" }).waitFor();
      await shot(ctx, g, "ft-08-image-preview-phone");
      await sendText(g, "Wound photo, day 3");
      await msgLocator(f, "Wound photo, day 3").locator("img.preview").waitFor();
      assert.equal(await g.locator(".file-chip").count(), 0, "the preview goes once sent");
    }],

    ["features: a toast shown over a dialog can be read and dismissed, and outlives the dialog", async (ctx) => {
      for (const p of [ctx.fay.page, ctx.gus.page]) {
        await p.evaluate(async () => {
          const prefix = document.querySelector("script[type=module]").src.replace(/\/js\/main\.js$/, "");
          const { dialog, h, toast } = await import(`${prefix}/js/ui/dom.js`);
          /** @type {any} */ (window).testDialog = dialog("A dialog", h("p", "Its body"));
          toast("First toast", { timeout: 0 });
        });
        const dlg = p.locator("dialog[open]");
        const first = p.locator(".toast", { hasText: "First toast" });
        await first.waitFor();
        assert.equal(await dlg.locator(".toast", { hasText: "First toast" }).count(), 1, "the toast is in the open dialog, not under its backdrop");
        // A real click: it fails if the toast were inert behind the modal.
        await first.getByRole("button", { name: "Dismiss" }).click({ timeout: 5000 });
        await first.waitFor({ state: "detached" });
        await p.evaluate(async () => {
          const prefix = document.querySelector("script[type=module]").src.replace(/\/js\/main\.js$/, "");
          const { toast } = await import(`${prefix}/js/ui/dom.js`);
          toast("Second toast", { timeout: 0 });
          /** @type {any} */ (window).testDialog.close();
        });
        await dlg.waitFor({ state: "detached" });
        const second = p.locator("body > .toasts .toast", { hasText: "Second toast" });
        await second.waitFor();
        await second.getByRole("button", { name: "Dismiss" }).click({ timeout: 5000 });
        await second.waitFor({ state: "detached" });
      }
    }],

    ["features: a message's banner goes once its conversation is opened, however it was opened", async (ctx) => {
      const f = ctx.fay.page, g = ctx.gus.page;
      await openConv(f, GROUP);
      await openConv(g, FAY);
      await sendText(g, "Bed 3 is asking for you");
      const banner = f.locator(".toast", { hasText: `New message from ${GUS}` });
      await banner.waitFor();
      await shot(ctx, f, "ft-10-banner-desktop");
      await openConv(f, GUS); // from the list, not the banner's Open
      await msgLocator(f, "Bed 3 is asking for you").waitFor();
      assert.equal(await banner.count(), 0, "the banner went when its conversation opened");
    }],

    ["features: a voice note is recorded, previewed, encrypted, sent and played", async (ctx) => {
      const f = ctx.fay.page, g = ctx.gus.page;
      await openConv(g, FAY);
      await openConv(f, GUS);
      await g.getByRole("button", { name: "Record a voice note" }).click();
      const rec = g.locator(".voice-rec");
      await rec.filter({ hasText: "Recording" }).waitFor();
      await rec.locator(".voice-clock", { hasText: /0:0[2-9]/ }).waitFor();
      await shot(ctx, g, "ft-09-recording-phone");
      await rec.getByRole("button", { name: "Stop" }).click();
      const chip = g.locator(".file-chip", { hasText: "Voice note ·" });
      await chip.locator("audio.chip-audio").waitFor();
      await chip.locator(".ok", { hasText: "Ready" }).waitFor();
      await sendText(g, "Handover for bed 9");
      const m = msgLocator(f, "Handover for bed 9");
      await m.locator(".voice-note", { hasText: /Voice note · 0:0\d/ }).waitFor();
      await m.getByRole("button", { name: "Play" }).click();
      const audio = m.locator("audio[aria-label='Voice note']");
      await audio.waitFor();
      assert.match(await audio.getAttribute("src"), /^blob:/);
      // The decrypted bytes are a recording the browser decodes, saved as WebM.
      await waitFor(() => audio.evaluate((a) => a.readyState >= 1 && !a.error), "the voice note's audio decoded");
      assert.match(await m.locator("a[download]").getAttribute("download"), /^Voice note \d{4}\.webm$/);
      await shot(ctx, f, "ft-09-voice-note-desktop");
      await shot(ctx, g, "ft-09-voice-note-phone");
      for (const p of ["fay", "gus"]) {
        assert.deepEqual(ctx[p].csp, [], `${p}: CSP violations`);
        assert.deepEqual(ctx[p].problems.filter((x) => /page error/.test(x)), [], `${p}: uncaught script errors`);
      }
    }],
  ];
}
