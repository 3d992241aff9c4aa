// Attacks on the PWA by a hostile sender, in real Chromium against the real
// server: mallory (the attacker, whose own app is made to let through what
// the policy refuses) and vera (the victim), users of their own, so the file
// runs after the main scenarios without touching their state.
//
//   - an SVG attachment with script, which a blob: URL of the app's origin
//     would run with the victim's session (it could read her key share);
//   - an HTML attachment, which the policy does not allow and the sender's
//     app was tricked into sending, and which, even where a policy allows
//     it, must never become a document of the app's origin;
//   - the victim's fetch of the sender's keys failing (500, 429, 401):
//     the message must be kept and retried, and the sender must not see
//     "delivered" until it is really stored.
//   - the sender's keys answering 404 (the rules now hide the sender, or
//     the sender is gone): the app gives the message up after a few tries,
//     says so in the catalogue's words and acks it, instead of fetching
//     once a minute until it expires; the sender still sees "Sent".
//   - a device the server signs into the sender's list itself (a list
//     that verifies, but no device the victim had seen signed it): the
//     victim's app must refuse to seal to it, and say why.
//   - guesses at the victim's password from elsewhere, which start her
//     username's backoff: her own browser, signing in again, must still get
//     in at once, with a device proof signed by its wipe-check key.
//
// A script that runs reports itself by fetching a marker URL on the server;
// every request of each browser is watched for it. A control opens the same
// SVG the way the app once did, to prove that the payload and the watch
// work: without it, "no marker" would prove nothing.
import crypto from "node:crypto";
import path from "node:path";
import { openProfile } from "./lib/browser.mjs";
import { assert, msgLocator, msgStatus, online, openConv, sendText, sh, signUp, startConversation, unlock, waitFor } from "./lib/harness.mjs";

const PW = { mallory: "mallory long passphrase 7", vera: "vera long passphrase 88", petra: "petra long passphrase 51" };
const PIN = { mallory: "274915", vera: "863027", petra: "519374" };
const MARK = "/attack-marker/";

async function shot(ctx, page, name) {
  if (ctx.shots) await page.screenshot({ path: path.join(ctx.shots, `${name}.png`) });
}

/** toList goes back to the conversation list where a phone shows one pane at a time. */
async function toList(page) {
  const back = page.getByRole("button", { name: "Back to conversations" });
  if (await back.isVisible()) await back.click();
}

/** relock locks and unlocks the app, which then fetches the config again. */
async function relock(page, pin) {
  await toList(page);
  await page.getByRole("button", { name: "Lock Curbside" }).click();
  await page.waitForFunction(() => window.curbside.state === "locked");
  await unlock(page, pin);
  await online(page);
}

/**
 * widenPolicy makes one browser believe the policy allows more attachment
 * types than it does, by rewriting its copy of GET /api/v1/config: a hostile
 * sender's app, or (for the victim) a policy an administrator widened.
 */
async function widenPolicy(page, types) {
  await page.route("**/api/v1/config", async (route) => {
    const res = await route.fetch();
    const cfg = await res.json();
    cfg.policy.attachment_types = [...cfg.policy.attachment_types, ...types];
    await route.fulfill({ response: res, json: cfg });
  });
}

/** markers lists the marker URLs a browser has requested: each one is script that ran. */
function markers(who) {
  return who.requests.filter((u) => u.includes(MARK));
}

/** openInTab opens a URL the page holds in a new tab, as "open in new tab" would: "document <type>" or "download". */
async function openInTab(who, url) {
  const tab = await who.context.newPage();
  try {
    const how = await tab.goto(url).then(() => "document", (e) => (/Download is starting|net::ERR_ABORTED/.test(e.message) ? "download" : `error: ${e.message}`));
    if (how !== "document") return how;
    return `document ${await tab.evaluate(() => document.contentType)}`;
  } finally {
    await tab.close();
  }
}

/** attachURLs returns every URL an attachment's box hands the reader (sources and links). */
function attachURLs(box) {
  return box.evaluate((el) => [...el.querySelectorAll("[src], [href]")].map((x) => x.getAttribute("src") || x.getAttribute("href")));
}

function svgPayload(url) {
  return `<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60" onload="fetch('${url}${MARK}svg-onload')">
  <script>fetch('${url}${MARK}svg-script'); fetch('/api/v1/devices/me/share').then((r) => r.text()).then((t) => fetch('${url}${MARK}svg-share?' + encodeURIComponent(t)));</script>
  <rect width="120" height="60" fill="#1f6feb"/><text x="10" y="36" fill="#fff">chart</text>
</svg>`;
}

export function attackTests() {
  return [
    ["attack setup: an attacker (mallory) and a victim (vera) in browsers of their own", async (ctx) => {
      for (const [u, d] of [["mallory", "Mallory Marsh"], ["vera", "Vera Vance"]]) {
        await sh(ctx.bin, ["user", "add", "--data", ctx.srv.dataDir, "--username", u, "--display", d, "--role", "staff", "--password-stdin"], { input: PW[u] + "\n" });
      }
      ctx.mallory = await openProfile("mallory", { viewport: { width: 1280, height: 820 } });
      ctx.vera = await openProfile("vera", { viewport: { width: 1280, height: 820 } });
      for (const who of [ctx.mallory, ctx.vera]) {
        who.requests = [];
        who.context.on("request", (r) => who.requests.push(r.url()));
      }
      await signUp(ctx.mallory.page, ctx.srv.url, "mallory", PW.mallory, PIN.mallory);
      await signUp(ctx.vera.page, ctx.srv.url, "vera", PW.vera, PIN.vera);
      const m = ctx.mallory.page, v = ctx.vera.page;
      await online(m); await online(v);
      await startConversation(m, "vera", ["Vera Vance"]);
      await sendText(m, "Hello Vera");
      await v.locator(".conv-item", { hasText: "Mallory Marsh" }).waitFor();
      await openConv(v, "Mallory Marsh");
      await msgLocator(v, "Hello Vera").waitFor();
    }],

    ["attack: an SVG attachment with script is shown only as an image; opened in a tab, nothing of it runs", async (ctx) => {
      const m = ctx.mallory.page, v = ctx.vera.page;
      const svg = svgPayload(ctx.srv.url);
      // SVG is an image/* type, which the default policy allows: mallory's
      // app sends it as it is.
      await openConv(m, "Vera Vance");
      await m.locator("input[type=file]").setInputFiles({ name: "chart.svg", mimeType: "image/svg+xml", buffer: Buffer.from(svg) });
      await m.locator(".file-chip .ok").waitFor();
      await sendText(m, "Chart attached");
      await openConv(v, "Mallory Marsh");
      const box = msgLocator(v, "Chart attached").locator(".attachment");
      const img = box.locator("img.preview");
      await img.waitFor();
      await waitFor(() => img.evaluate((el) => el.complete && el.naturalWidth === 120 && el.naturalHeight === 60), "the SVG renders as an image of its own size");
      assert.equal(await box.getAttribute("data-kind"), "svg");
      assert.equal(await box.getByRole("link", { name: "Save" }).getAttribute("download"), "chart.svg");
      assert.equal(await box.locator("a[target]").count(), 0, "nothing opens in a tab");
      await shot(ctx, v, "30-attack-svg-as-image");
      // The victim opens everything the app gave her in a tab of its own: the
      // image is a PNG (the SVG was drawn, not kept), the Save link downloads.
      const urls = await attachURLs(box);
      assert.equal(urls.length, 2, `an image and a Save link: ${urls}`);
      const opened = [];
      for (const u of urls) {
        assert.match(u, /^blob:/);
        opened.push(await openInTab(ctx.vera, u));
      }
      assert.deepEqual(opened, ["document image/png", "download"]);
      assert.deepEqual(markers(ctx.vera), [], "no script of the SVG ran");

      // Control: the same bytes as an image/svg+xml blob: URL of the app's
      // origin, opened in a tab (what the app did before), run the script.
      const typed = await v.evaluate((s) => URL.createObjectURL(new Blob([s], { type: "image/svg+xml" })), svg);
      const tab = await ctx.vera.context.newPage();
      await tab.goto(typed);
      await waitFor(() => markers(ctx.vera).some((u) => u.includes("svg-script")), "the control's script reports itself");
      await tab.close();
      ctx.vera.requests.length = 0;
    }],

    ["attack: an HTML attachment the policy refuses is refused by the receiving app, though the sending app let it through", async (ctx) => {
      const m = ctx.mallory.page, v = ctx.vera.page;
      // Mallory's app believes text/html is allowed; the real policy does not.
      await widenPolicy(m, ["text/html"]);
      await relock(m, PIN.mallory);
      const html = `<!doctype html><title>notes</title><script>fetch('${ctx.srv.url}${MARK}html')</script><p>notes</p>`;
      await openConv(m, "Vera Vance");
      // Until the rewritten config arrives, mallory's app still refuses it.
      await waitFor(async () => {
        await m.locator("input[type=file]").setInputFiles({ name: "notes.html", mimeType: "text/html", buffer: Buffer.from(html) });
        const chip = m.locator(".file-chip", { hasText: "notes.html" });
        await chip.locator(".ok").or(chip.locator(".form-error")).waitFor();
        if (await chip.locator(".ok").count()) return true;
        await chip.getByRole("button", { name: /Remove/ }).click();
        return false;
      }, "mallory's app believes text/html is allowed and uploads it");
      ctx.vera.requests.length = 0;
      await sendText(m, "Discharge notes");
      await openConv(v, "Mallory Marsh");
      const box = msgLocator(v, "Discharge notes").locator(".attachment");
      await box.waitFor();
      assert.equal(await box.getAttribute("data-kind"), "refused");
      assert.match(await box.getByRole("note").textContent(), /"notes\.html" is a kind of file your organisation does not allow \(text\/html\)/);
      assert.deepEqual(await attachURLs(box), [], "nothing to open or save");
      assert.equal(await box.locator("button").count(), 0, "nothing to click");
      assert.deepEqual(ctx.vera.requests.filter((u) => u.includes("/api/v1/blobs/")), [], "the refused attachment was not even downloaded");
      await shot(ctx, v, "31-attack-html-refused");

      // Where a policy does allow HTML, it is a download only: the Save
      // link is an application/octet-stream Blob, which a tab downloads.
      await widenPolicy(v, ["text/html"]);
      await relock(v, PIN.vera);
      await openConv(v, "Mallory Marsh");
      const box2 = msgLocator(v, "Discharge notes").locator(".attachment");
      await waitFor(async () => (await box2.getAttribute("data-kind")) === "file", "the widened policy reached vera's app");
      await box2.getByRole("button", { name: "Download" }).click();
      const save = box2.getByRole("link", { name: "Save" });
      await save.waitFor();
      assert.equal(await save.getAttribute("download"), "notes.html");
      assert.deepEqual(await attachURLs(box2).then((us) => Promise.all(us.map((u) => openInTab(ctx.vera, u)))), ["download"]);
      await shot(ctx, v, "32-attack-html-download-only");
      assert.deepEqual(markers(ctx.vera), [], "no script of the HTML ran");
      await m.unroute("**/api/v1/config");
      await v.unroute("**/api/v1/config");
    }],

    ["attack: declared types and names that try to pass for inert ones are refused, downloaded or cleaned", async (ctx) => {
      const v = ctx.vera.page;
      const policy = ["image/*", "application/pdf", "audio/*", "video/*", "text/plain"];
      const cases = [
        // [declared type, how it is shown]
        ["image/png", "image"],
        ["IMAGE/PNG; charset=binary", "image"],
        ["image/svg+xml", "svg"], // allowed by image/*, yet never kept as an SVG
        ["Image/SVG+XML;charset=utf-8", "svg"],
        ["image/x-icon", "file"], // allowed, not on the app's inert list
        ["application/pdf", "file"], // a PDF viewer is a document: download only
        ["text/plain", "file"],
        ["audio/mpeg", "audio"],
        ["audio/x-unknown", "file"],
        ["video/mp4", "video"],
        ["text/html", "refused"],
        ["application/xhtml+xml", "refused"],
        ["text/xml", "refused"],
        ["image/png\u0000text/html", "refused"], // not a type at all
        ["", "refused"], // no type: application/octet-stream, which the policy does not allow
      ];
      const names = [["../../evil.html", "evil.html"], ["C:\\Users\\x\\scan.pdf", "scan.pdf"], ["", "file"], ["..", "file"], ["a\u0000b\u001b.txt", "ab.txt"]];
      const got = await v.evaluate(async ([policy, cases, names]) => {
        const prefix = document.querySelector("script[type=module]").src.replace(/\/js\/main\.js$/, "");
        const at = await import(`${prefix}/js/attachments.js`);
        return {
          kinds: cases.map(([mime]) => [mime, at.attachmentKind({ blob: "x", key: "k", mime }, policy)]),
          names: names.map(([name]) => [name, at.fileName({ blob: "x", key: "k", name })]),
          malformed: [{ blob: "x" }, { blob: 1, key: "k" }, { blob: "x", key: "k", size: -1 }, { blob: "x", key: "k", name: {} }, null].map(at.wellFormed),
        };
      }, [policy, cases, names]);
      assert.deepEqual(got.kinds, cases);
      assert.deepEqual(got.names, names);
      assert.deepEqual(got.malformed, [false, false, false, false, false], "malformed attachment records are dropped on receipt");
    }],

    ["attack: a failing fetch of the sender's keys (500, 429, 401) is never reported as delivered; the message is kept and delivered once it works", async (ctx) => {
      const m = ctx.mallory.page, v = ctx.vera.page;
      // Vera's app forgets the keys it fetched (a new session of the app),
      // and every fetch of keys fails, in turn with each status, until the
      // test lets them through.
      const statuses = [[500, "internal"], [429, "rate_limited"], [401, "unauthorized"]];
      const answered = [];
      let failing = true;
      await v.route("**/api/v1/keys/*", async (route) => {
        if (!failing) return route.continue();
        const [status, code] = statuses[answered.length % statuses.length];
        answered.push(status);
        await route.fulfill({ status, json: { error: { code, message: `test: keys fail with ${status}` } } });
      });
      await relock(v, PIN.vera);
      await toList(v);
      await openConv(m, "Vera Vance");
      const t = "Bed 3 is free";
      const before = answered.length;
      await sendText(m, t);
      await waitFor(async () => /^(Sent|Delivered|Read)/.test(await msgStatus(m, t)), "the server accepted mallory's message");
      assert.equal(await msgStatus(m, t), "Sent", "not delivered: vera's app could not open it");
      // Vera's app tries, fails, and tries again with each of the statuses.
      await waitFor(() => new Set(answered.slice(before)).size === statuses.length, "vera's app retried through 500, 429 and 401", 60000);
      assert.equal(await msgStatus(m, t), "Sent", "not delivered while vera's app cannot open it");
      assert.equal(await v.locator(".toast", { hasText: /discarded/ }).count(), 0, "vera is not told it was discarded");
      await shot(ctx, m, "33-attack-keys-failing-sender-sees-sent");
      failing = false;
      await openConv(v, "Mallory Marsh");
      await msgLocator(v, t).waitFor();
      await waitFor(async () => /^(Delivered|Read)/.test(await msgStatus(m, t)), "delivered once vera's app stored it");
      await shot(ctx, m, "34-attack-keys-recovered-delivered");
      await v.unroute("**/api/v1/keys/*");
    }],

    ["attack: a message whose sender's keys answer 404 (hidden by the rules, or gone) is given up after a few tries and said so in the catalogue's words", async (ctx) => {
      const m = ctx.mallory.page, v = ctx.vera.page;
      const { codes, tries } = await v.evaluate(async () => {
        const prefix = document.querySelector("script[type=module]").src.replace(/\/js\/main\.js$/, "");
        const { CODES } = await import(`${prefix}/js/constants.js`);
        const { SENDER_GONE_TRIES } = await import(`${prefix}/js/client.js`);
        return { codes: CODES, tries: SENDER_GONE_TRIES };
      });
      // Vera's app forgets the keys it fetched, and the server answers
      // mallory's keys as it answers someone the rules hide: 404.
      let answered = 0;
      await v.route("**/api/v1/keys/*", async (route) => {
        answered++;
        await route.fulfill({ status: 404, json: { error: { code: "not_found", message: codes.not_found.message } } });
      });
      await relock(v, PIN.vera);
      await toList(v);
      await openConv(m, "Vera Vance");
      const t = "Are you on call tonight?";
      await sendText(m, t);
      await v.locator(".toast", { hasText: codes.sender_unknown.message }).first().waitFor({ timeout: 60000 });
      assert.ok(answered >= tries, `the keys were asked for ${answered} times, want at least ${tries}`);
      await shot(ctx, v, "36-attack-sender-unknown-given-up");
      // Given up means acked: with the keys answering again, the message
      // does not come back, while a later one arrives (the queue is in
      // order, so the first would have come before it).
      await v.unroute("**/api/v1/keys/*");
      await relock(v, PIN.vera);
      const later = "Never mind, found the rota";
      await sendText(m, later);
      await openConv(v, "Mallory Marsh");
      await msgLocator(v, later).waitFor();
      assert.equal(await msgLocator(v, t).count(), 0, "the given-up message is not redelivered");
      assert.equal(await msgStatus(m, t), "Sent", "never delivered: vera's app could not open it");
      await waitFor(async () => /^(Delivered|Read)/.test(await msgStatus(m, later)), "the later message delivered");
    }],

    ["attack: a device the server signs into mallory's list itself is refused by vera's app, which says why", async (ctx) => {
      const v = ctx.vera.page;
      // The server (here: the network between it and vera) answers mallory's
      // keys with her real list plus a device of its own, in a list that
      // device signed: well formed, and its signature verifies.
      let forged = 0;
      await v.route("**/api/v1/keys/*", async (route) => {
        const res = await route.fetch();
        const body = await res.json();
        if (body.user?.username !== "mallory" || !body.list) return route.fulfill({ response: res, json: body });
        forged++;
        const intruder = newDevice();
        const list = { user: body.list.user, version: body.list.version + 1, devices: [...body.list.devices, intruder.listed].sort((a, b) => a.id - b.id) };
        list.signer = intruder.listed.id;
        list.sig = crypto.sign(null, deviceListBytes(list), intruder.sign).toString("base64");
        await route.fulfill({ response: res, json: { ...body, list, active: [...body.active, intruder.listed.id] } });
      });
      await relock(v, PIN.vera);
      await openConv(v, "Mallory Marsh");
      await sendText(v, "Is bay 2 free?").catch(() => {});
      await v.getByText(/none of their own devices approved/).first().waitFor();
      assert.ok(forged > 0, "the forged list was served");
      await shot(ctx, v, "35-attack-self-signed-device-refused");
      await v.unroute("**/api/v1/keys/*");
    }],

    ["attack: a patient's composer offers neither Urgent nor an acknowledgement request until the policy allows each", async (ctx) => {
      // Urgent breaks through do-not-disturb; a patient may use it only
      // where the practice allows (patient_urgent, patient_ack: off by
      // default). The server refuses what the policy does not allow; the
      // composer must not offer it either.
      await sh(ctx.bin, ["user", "add", "--data", ctx.srv.dataDir, "--username", "petra", "--display", "Petra Price", "--role", "patient", "--password-stdin"], { input: PW.petra + "\n" });
      await sh(ctx.bin, ["user", "careteam", "--data", ctx.srv.dataDir, "--username", "petra", "--add", "vera"]);
      ctx.petra = await openProfile("petra");
      const p = ctx.petra.page;
      await signUp(p, ctx.srv.url, "petra", PW.petra, PIN.petra);
      await online(p);
      await startConversation(p, "vera", ["Vera Vance"]);
      assert.equal(await p.getByLabel("Urgent").count(), 0, "no Urgent option for a patient by default");
      assert.equal(await p.getByLabel("Ask to acknowledge").count(), 0, "no acknowledgement request for a patient by default");
      await shot(ctx, p, "35-attack-patient-composer-no-urgent");
      await sendText(p, "Is my appointment still at 3?");
      const v = ctx.vera.page;
      await v.locator(".conv-item", { hasText: "Petra Price" }).waitFor();
      await openConv(v, "Petra Price");
      await msgLocator(v, "Is my appointment still at 3?").waitFor();
      // The practice allows patients to ask for acknowledgement, not Urgent.
      await sh(ctx.bin, ["policy", "set", "--data", ctx.srv.dataDir, "patient_ack=true"]);
      await relock(p, PIN.petra);
      await openConv(p, "Vera Vance");
      await p.getByLabel("Ask to acknowledge").waitFor();
      assert.equal(await p.getByLabel("Urgent").count(), 0, "still no Urgent option");
      await sendText(p, "Please confirm you got my forms", { ack: true });
      await msgLocator(v, "Please confirm you got my forms").waitFor();
      await shot(ctx, p, "36-attack-patient-composer-ack-allowed");
      await sh(ctx.bin, ["policy", "set", "--data", ctx.srv.dataDir, "patient_ack=false"]);
    }],

    ["attack: uploads no message names are deleted after the policy's blob_grace; an attachment the app sent still downloads", async (ctx) => {
      const m = ctx.mallory.page, v = ctx.vera.page;
      // Sent under the default grace (an hour), so the send cannot race
      // the sweep; the app names the upload in the envelope's blobs list.
      await openConv(m, "Vera Vance");
      const t = "Referral letter attached";
      await m.locator("input[type=file]").setInputFiles({ name: "referral.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.4\nreferral\n%%EOF\n") });
      await m.locator(".file-chip .ok").waitFor();
      await sendText(m, t);
      await waitFor(async () => /^(Sent|Delivered|Read)/.test(await msgStatus(m, t)), "the server accepted mallory's message");
      await sh(ctx.bin, ["policy", "set", "--data", ctx.srv.dataDir, "blob_grace=1s"]);
      try {
        // Mallory parks an upload through the app's own API and never sends
        // it. Once the sweep has deleted it, the sweep has passed over the
        // older, sent attachment too.
        const parked = await m.evaluate(async () => {
          const prefix = document.querySelector("script[type=module]").src.replace(/\/js\/main\.js$/, "");
          const { api } = await import(`${prefix}/js/api.js`);
          return (await api.uploadBlob(new Uint8Array(64))).id;
        });
        await waitFor(async () => (await m.evaluate(async (id) => (await fetch(`/api/v1/blobs/${id}`, { cache: "no-store" })).status, parked)) === 404,
          "the sweep deleted the parked upload", 60000);
        // Vera downloads the attachment only now (a file is fetched when
        // asked for, not before): it comes from the server and opens.
        ctx.vera.requests.length = 0;
        await openConv(v, "Mallory Marsh");
        const box = msgLocator(v, t).locator(".attachment");
        await box.getByRole("button", { name: "Download" }).click();
        await box.getByRole("link", { name: "Save" }).waitFor();
        assert.equal(await box.getByRole("link", { name: "Save" }).getAttribute("download"), "referral.pdf");
        assert.ok(ctx.vera.requests.some((u) => u.includes("/api/v1/blobs/")), "the attachment was fetched from the server after the sweep");
      } finally {
        await sh(ctx.bin, ["policy", "set", "--data", ctx.srv.dataDir, "blob_grace=1h"]);
      }
    }],

    ["attack: guesses at vera's password from elsewhere start her backoff; her own browser, signing in again, gets in at once with its device proof", async (ctx) => {
      const v = ctx.vera.page;
      // Vera signs out: her session ends, the signing key is forgotten and
      // sealed under the PIN, and only the wipe-check key is left unsealed.
      await v.getByRole("button", { name: "Settings" }).click();
      await v.getByRole("button", { name: "Sign out", exact: true }).click();
      await v.getByRole("button", { name: "Sign in again" }).waitFor();
      // A script guesses (from the same address here: the per-address
      // allowance of 10 is not what this is about) until her username's
      // backoff runs; then even the right password without a proof waits.
      const login = (password) => fetch(`${ctx.srv.url}/api/v1/login`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username: "vera", password }) });
      for (let i = 0; i < 5; i++) assert.equal((await login(`guess ${i} at it`)).status, 401, "a wrong guess");
      const held = await login(PW.vera);
      assert.equal(held.status, 429, "the backoff holds the right password without a proof");
      assert.equal((await held.json()).error.code, "rate_limited");
      // Her browser signs in again: the sign-in carries a proof, signed
      // with the wipe-check key the server holds for this device.
      const m = await v.evaluate(async () => {
        const prefix = document.querySelector("script[type=module]").src.replace(/\/js\/main\.js$/, "");
        const meta = await (await import(`${prefix}/js/store.js`)).getMeta();
        return { user: meta.user.id, device: meta.device, wipeKeyPub: meta.wipeKeyPub };
      });
      const sent = v.waitForRequest((r) => r.url().endsWith("/api/v1/login") && r.method() === "POST");
      const answer = v.waitForResponse((r) => r.url().endsWith("/api/v1/login") && r.request().method() === "POST");
      await v.getByLabel("Password").fill(PW.vera);
      await v.getByRole("button", { name: "Sign in again" }).click();
      const proof = (await sent).postDataJSON().device;
      assert.ok(proof, "the sign-in carries a device proof");
      assert.equal(proof.id, m.device, "for this browser's device");
      const pub = crypto.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(m.wipeKeyPub, "base64").toString("base64url") }, format: "jwk" });
      assert.ok(crypto.verify(null, loginProofBytes(m.user, m.device, Buffer.from(proof.nonce, "base64")), pub, Buffer.from(proof.sig, "base64")), "signed with the wipe-check key");
      assert.equal((await answer).status(), 200, "signed in during the backoff");
      await unlock(v, PIN.vera);
      await online(v);
      assert.equal(await v.evaluate(() => window.curbside.device), m.device, "the same device resumed");
      await shot(ctx, v, "37-attack-known-browser-past-backoff");
    }],
  ];
}

/** loginProofBytes is protocol.LoginProofBytes. */
function loginProofBytes(user, device, nonce) {
  const u64 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; };
  const n = Buffer.alloc(4); n.writeUInt32BE(nonce.length);
  return Buffer.concat([Buffer.from("curbside/login/v1"), u64(user), u64(device), n, nonce]);
}

/** closeAttackProfiles closes the browsers of this file. */
export async function closeAttackProfiles(ctx) {
  for (const p of ["mallory", "vera", "petra"]) if (ctx[p]) await ctx[p].close();
}

/** newDevice makes a device's key pairs in Node, as a server inventing one would. */
function newDevice() {
  const sign = crypto.generateKeyPairSync("ed25519"), enc = crypto.generateKeyPairSync("x25519");
  const signPub = Buffer.from(sign.publicKey.export({ format: "jwk" }).x, "base64url");
  const encPub = Buffer.from(enc.publicKey.export({ format: "jwk" }).x, "base64url");
  const h = crypto.createHash("sha256").update(signPub).digest();
  let id = 0;
  for (let i = 0; i < 6; i++) id = id * 256 + h[i];
  return { sign: sign.privateKey, listed: { id, enc: encPub.toString("base64"), sign: signPub.toString("base64") } };
}

/** deviceListBytes is protocol.DeviceList.SignedBytes. */
function deviceListBytes(list) {
  const parts = [Buffer.from("curbside/devices/v1")];
  const u64 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; };
  const bytes = (b64) => { const b = Buffer.from(b64, "base64"); const n = Buffer.alloc(4); n.writeUInt32BE(b.length); return Buffer.concat([n, b]); };
  const n = Buffer.alloc(4); n.writeUInt32BE(list.devices.length);
  parts.push(u64(list.user), u64(list.version), n);
  for (const d of list.devices) parts.push(u64(d.id), bytes(d.enc), bytes(d.sign));
  return Buffer.concat(parts);
}
