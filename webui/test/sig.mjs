// Protocol version 2 in the PWA, against the real server, with users of
// their own: what a malicious server may not make a client believe.
//
//   - receipts and a recall that the server makes up (injected into the
//     relay's frames between the server and sam's browser) change nothing
//     sam sees; only what tess's device signed shows;
//   - a server time far from a message's signed time is noted, and the
//     signed time is what is shown;
//   - a message queued again after the app let it expire is not shown;
//   - a message signed by a device after the keys answer says it was
//     revoked is discarded, in words;
//   - an app that speaks version 1 is told, in the catalogue's words, to
//     reload, and stops trying.
import { openProfile } from "./lib/browser.mjs";
import { assert, msgLocator, msgStatus, online, openConv, sendText, sh, signUp, startConversation, unlock, waitFor } from "./lib/harness.mjs";

const PW = { sam: "sam long passphrase 4412", tess: "tess long passphrase 9031", otto: "otto long passphrase 2280" };
const PIN = { sam: "418263", tess: "930571", otto: "662814" };
const FORGED_SEQ = 9_000_000_000_000; // far past any seq the server gives

/**
 * relayTap passes a browser's relay WebSocket through to the real server
 * and lets the test play the server: inject frames to the page, and see the
 * page's frames (acks) on their way.
 */
async function relayTap(who) {
  who.toPage = null;
  who.fromPage = [];
  who.rewrite = null; // (frame) => frame: edits what the server sends before the page sees it
  who.msgFrames = []; // every msg frame the server sent, as sent
  await who.context.routeWebSocket(/\/api\/v1\/relay$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => { who.fromPage.push(String(m)); server.send(m); });
    server.onMessage((m) => {
      if (String(m).startsWith('{"type":"msg"')) who.msgFrames.push(String(m));
      if (!who.rewrite) { ws.send(m); return; }
      const f = JSON.parse(String(m));
      ws.send(JSON.stringify(who.rewrite(f)));
    });
    who.toPage = ws;
  });
}

/** acked reports whether the page has acked queue item seq. */
function acked(who, seq) {
  return who.fromPage.some((m) => { try { const f = JSON.parse(m); return f.type === "ack" && f.seqs.includes(seq); } catch { return false; } });
}

/** inject sends frames to the page as if the server had queued them, and waits until the page has handled (acked) each. */
async function inject(who, frames) {
  for (const f of frames) who.toPage.send(JSON.stringify(f));
  for (const f of frames) await waitFor(async () => acked(who, f.seq), `the app to ack injected seq ${f.seq}`);
}

/** msgId returns the envelope id of the message showing text. */
async function msgId(page, text) {
  return msgLocator(page, text).getAttribute("data-id");
}

export function sigTests() {
  return [
    ["signed receipts setup: sam (whose relay frames the test can edit) and tess", async (ctx) => {
      for (const [u, d] of [["sam", "Sam Stone"], ["tess", "Tess Tran"]]) {
        await sh(ctx.bin, ["user", "add", "--data", ctx.srv.dataDir, "--username", u, "--display", d, "--role", "staff", "--password-stdin"], { input: PW[u] + "\n" });
      }
      ctx.sam = await openProfile("sam", { viewport: { width: 1280, height: 820 } });
      ctx.tess = await openProfile("tess", { viewport: { width: 1280, height: 820 } });
      await relayTap(ctx.sam);
      await signUp(ctx.sam.page, ctx.srv.url, "sam", PW.sam, PIN.sam);
      await signUp(ctx.tess.page, ctx.srv.url, "tess", PW.tess, PIN.tess);
      await online(ctx.sam.page); await online(ctx.tess.page);
      assert.ok(ctx.sam.toPage, "the relay socket is tapped");
    }],

    ["signed receipts: receipts and a recall the server makes up change nothing the sender sees", async (ctx) => {
      const s = ctx.sam.page, t = ctx.tess.page;
      const conv = () => s.evaluate(() => location.hash.slice(4));
      await startConversation(s, "tess", ["Tess Tran"]);
      const text = "Bed 4 needs a drip";
      await sendText(s, text, { ack: true });
      // Tess's app has it (she has not opened it): her device signs
      // "delivered", which is what sam sees.
      await t.locator(".conv-item", { hasText: "Sam Stone" }).waitFor();
      await waitFor(async () => /^Delivered/.test(await msgStatus(s, text)), "a signed delivered receipt");
      const id = await msgId(s, text), c = decodeURIComponent(await conv());
      const samUser = await s.evaluate(() => window.curbside.user);
      const tessUser = Number(c.split(":").slice(1).find((x) => x !== String(samUser)));
      const tessDevice = await t.evaluate(() => window.curbside.device);
      const now = Date.now();
      // The server's inventions: read and acknowledged, unsigned (the v1
      // shape), and signed with bytes tess's device never made.
      await inject(ctx.sam, [
        { type: "receipt", seq: FORGED_SEQ + 1, msg: id, user: tessUser, device: tessDevice, kind: "read", ts: now },
        { type: "receipt", seq: FORGED_SEQ + 2, msg: id, user: tessUser, device: tessDevice, kind: "acknowledged", ts: now,
          conv: c, at: now, sig: Buffer.alloc(64, 7).toString("base64") },
      ]);
      assert.match(await msgStatus(s, text), /^Delivered/, "a forged read receipt was shown");
      assert.equal(await msgLocator(s, text).getByText(/Acknowledged \d/).count(), 0, "a forged acknowledgement was shown");

      // Tess opens it and acknowledges: her device's signed receipts show.
      await openConv(t, "Sam Stone");
      await msgLocator(t, text).getByRole("button", { name: "Acknowledge" }).click();
      await msgLocator(s, text).getByText(/Acknowledged \d/).waitFor();

      // A recall of tess's message that tess never sent.
      const reply = "On my way to bed 4";
      await sendText(t, reply);
      await msgLocator(s, reply).waitFor();
      const rid = await msgId(s, reply);
      await inject(ctx.sam, [
        { type: "recall", seq: FORGED_SEQ + 3, msg: rid, ts: Date.now() },
        { type: "recall", seq: FORGED_SEQ + 4, msg: rid, user: tessUser, device: tessDevice, ts: Date.now(), conv: c, at: Date.now(), sig: Buffer.alloc(64, 9).toString("base64") },
      ]);
      assert.equal(await msgLocator(s, reply).count(), 1, "a forged recall removed tess's message");
      assert.equal(await s.locator(".msg.recalled").count(), 0, "a forged recall left a tombstone");
      await openConv(s, "Tess Tran");
      await msgLocator(s, reply).waitFor();
    }],

    ["signed times: a message whose server time is far from its signed time is shown at the signed time, with a note", async (ctx) => {
      const s = ctx.sam.page, t = ctx.tess.page;
      // The server claims it took the next message two hours later than
      // tess's device signed it was made.
      ctx.sam.rewrite = (f) => (f.type === "msg" ? { ...f, ts: f.ts + 2 * 3600e3 } : f);
      const text = "Dressing changed at the bedside";
      const before = Date.now();
      await sendText(t, text);
      await msgLocator(s, text).waitFor();
      ctx.sam.rewrite = null;
      const m = msgLocator(s, text);
      await m.getByText("The server's time for this message differs.").waitFor();
      const shown = Date.parse(await m.locator("time").getAttribute("datetime"));
      assert.ok(shown >= before - 60e3 && shown < before + 3600e3, `the message is shown at ${new Date(shown).toISOString()}, not at its signed time`);
      // An honest server's time gets no note.
      const plain = "And the chart is updated";
      await sendText(t, plain);
      await msgLocator(s, plain).waitFor();
      assert.equal(await msgLocator(s, plain).locator(".time-note").count(), 0);
      if (ctx.shots) await s.screenshot({ path: `${ctx.shots}/sig-time-note.png` });
    }],

    ["replays: a message the server queues again after the app has let it expire is not shown again", async (ctx) => {
      const s = ctx.sam.page, t = ctx.tess.page;
      const policy = (kv) => sh(ctx.bin, ["policy", "set", "--data", ctx.srv.dataDir, kv]);
      const relock = async (page, pin) => {
        const back = page.getByRole("button", { name: "Back to conversations" });
        if (await back.isVisible()) await back.click();
        await page.getByRole("button", { name: "Lock Curbside" }).click();
        await page.waitForFunction(() => window.curbside.state === "locked");
        await unlock(page, pin);
        await online(page);
      };
      try {
        await policy("retention=20s");
        await relock(s, PIN.sam);
        await openConv(t, "Sam Stone");
        const text = "Hand-over notes for bay 2";
        await sendText(t, text);
        await msgLocator(s, text).waitFor();
        const id = await msgId(s, text);
        const kept = ctx.sam.msgFrames.map((m) => JSON.parse(m)).find((f) => f.env.id === id);
        assert.ok(kept, "the tap kept the message's frame");
        // The app deletes it at the retention age, by its signed time...
        await waitFor(async () => (await msgLocator(s, text).count()) === 0, "the message expired on sam's device", 90000);
        // ...and the server queues it again, as it was.
        await inject(ctx.sam, [{ ...kept, seq: FORGED_SEQ + 10 }]);
        assert.equal(await msgLocator(s, text).count(), 0, "a replayed expired message was shown again");
        assert.equal(await s.evaluate((id) => document.querySelector(`[data-id="${id}"]`) !== null, id), false);
      } finally {
        await policy("retention=168h");
        await relock(s, PIN.sam);
      }
    }],

    ["revoked devices: a message its device signed after the device was revoked is discarded in words; one signed before it is shown", async (ctx) => {
      const s = ctx.sam.page, t = ctx.tess.page;
      const tessUser = await t.evaluate(() => window.curbside.user);
      const tessDevice = await t.evaluate(() => window.curbside.device);
      // The keys answer sam's app fetches says tess's device was revoked at
      // revokedAt; a devices frame makes the app fetch them again.
      let revokedAt = 0, fetched = 0;
      const keysRoute = new RegExp(`/api/v1/keys/${tessUser}$`);
      await ctx.sam.context.route(keysRoute, async (route) => {
        const res = await route.fetch();
        const body = await res.json();
        body.revoked = [{ id: tessDevice, at: revokedAt }];
        fetched++;
        await route.fulfill({ response: res, json: body });
      });
      const refetch = async () => {
        const before = fetched;
        ctx.sam.toPage.send(JSON.stringify({ type: "devices", user: tessUser }));
        await waitFor(async () => fetched > before, "sam's app fetches tess's keys again");
      };
      try {
        if (await t.locator(".conv-item", { hasText: "Sam Stone" }).count()) await openConv(t, "Sam Stone");
        else await startConversation(t, "sam", ["Sam Stone"]);
        // Revoked an hour from now: what the device signs now is from
        // before (whether or not sam's app has fetched that yet).
        revokedAt = Date.now() + 3600e3;
        const before = "Signed before the device was removed";
        await sendText(t, before);
        await openConv(s, "Tess Tran");
        await msgLocator(s, before).waitFor();
        // Revoked ten minutes ago, past the clock-skew bound: refused.
        revokedAt = Date.now() - 600e3;
        await refetch();
        const after = "Signed after the device was removed";
        await sendText(t, after);
        await s.getByText("A message signed by a device after it was removed (wiped or taken out of use) was discarded.").waitFor();
        assert.equal(await msgLocator(s, after).count(), 0, "a message signed after its device's revocation was shown");
        if (ctx.shots) await s.screenshot({ path: `${ctx.shots}/sig-revoked-device.png` });
      } finally {
        await ctx.sam.context.unroute(keysRoute);
        ctx.sam.toPage.send(JSON.stringify({ type: "devices", user: tessUser }));
      }
    }],

    ["update required: an app that speaks protocol version 1 is told to reload, in the catalogue's words", async (ctx) => {
      await sh(ctx.bin, ["user", "add", "--data", ctx.srv.dataDir, "--username", "otto", "--display", "Otto Old", "--role", "staff", "--password-stdin"], { input: PW.otto + "\n" });
      ctx.otto = await openProfile("otto");
      // The handshake of an app from before version 2: it offers only curbside.v1.
      await ctx.otto.context.addInitScript(() => {
        const WS = window.WebSocket;
        window.WebSocket = /** @type {any} */ (function (url, protocols) { return new WS(url, protocols === "curbside.v2" ? "curbside.v1" : protocols); });
        Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
      });
      const o = ctx.otto.page;
      await signUp(o, ctx.srv.url, "otto", PW.otto, PIN.otto).catch(() => {}); // it never comes online
      await o.waitForFunction(() => window.curbside?.state === "update-required");
      await o.getByText("This version of Curbside is out of date. Reload the page to update it.").waitFor();
      await o.getByRole("button", { name: "Reload" }).waitFor();
      if (ctx.shots) await o.screenshot({ path: `${ctx.shots}/sig-update-required.png` });
    }],
  ];
}

/** closeSigProfiles closes the browsers of this file. */
export async function closeSigProfiles(ctx) {
  for (const p of ["sam", "tess", "otto"]) if (ctx[p]) await ctx[p].close();
}
