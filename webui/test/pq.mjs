// The post-quantum suite in the PWA (PROTOCOL.md "Suite 2: X-Wing",
// negotiation), against the real server, with users of their own: wren in
// Chromium and zeke, a Go CLI user who logs in with --post-quantum.
//
//   - with its vault's "post-quantum" setting on, wren's app adds an X-Wing
//     key to her signed list at its next connect, by a rotation;
//   - zeke's Go client then seals to her with suite 2 and her app opens
//     it; her app seals to zeke with suite 2 and his Go client opens it;
//   - a suite-1 envelope from zeke's device, made after wren listed her key
//     (the server playing a sender who was shown her list without it), is
//     discarded in words and not shown.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openProfile } from "./lib/browser.mjs";
import { assert, msgLocator, online, openConv, openVault, sendText, sh, signUp, unlock, waitFor } from "./lib/harness.mjs";

const PW = { wren: "wren long passphrase 6603", zeke: "zeke long passphrase 1947" };
const PIN = { wren: "285014" };
const FORGED_SEQ = 9_100_000_000_000; // far past any seq the server gives

/**
 * tap passes wren's relay WebSocket through to the real server, keeps the
 * frames both ways, and lets the test inject frames as the server.
 */
async function tap(who) {
  who.fromPage = [];
  who.msgFrames = [];
  await who.context.routeWebSocket(/\/api\/v1\/relay$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => { who.fromPage.push(String(m)); server.send(m); });
    server.onMessage((m) => {
      if (String(m).startsWith('{"type":"msg"')) who.msgFrames.push(JSON.parse(String(m)));
      ws.send(m);
    });
    who.toPage = ws;
  });
}

/**
 * editVault opens wren's vault through the app's own code with her PIN (and
 * the server's share) and applies one named edit; the app reads it at its
 * next unlock.
 */
async function editVault(page, pin, edit, arg) {
  await openVault(page, pin);
  return page.evaluate(async ([edit, arg]) => {
    const v = window.__testVault, meta = window.__testMeta;
    const dev = await v.get("keys", "device");
    if (edit === "post-quantum on") await v.put("settings", "post-quantum", { on: true });
    if (edit === "pq since") await v.put("keys", "device", { ...dev, pqSince: arg });
    return { device: meta.device, user: meta.user.id, pqSince: dev.pqSince || 0, hasSeed: !!dev.pqSeed };
  }, [edit, arg]);
}

/** listed returns device's entry in the server's list of user uid. */
async function listed(page, uid, device) {
  const { list } = await page.evaluate(async (uid) => (await fetch(`/api/v1/keys/${uid}`)).json(), uid);
  return list.devices.find((d) => d.id === device);
}

export function pqTests() {
  return [
    ["post-quantum setup: wren in Chromium and zeke on the Go CLI with --post-quantum", async (ctx) => {
      for (const [u, d] of [["wren", "Wren Vale"], ["zeke", "Zeke Moor"]]) {
        await sh(ctx.bin, ["user", "add", "--data", ctx.srv.dataDir, "--username", u, "--display", d, "--role", "staff", "--password-stdin"], { input: PW[u] + "\n" });
      }
      ctx.zekeState = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "curbside-zeke-")), "zeke.json");
      await sh(ctx.bin, ["client", "login", "--server", ctx.srv.url, "--username", "zeke", "--password-stdin", "--state", ctx.zekeState, "--post-quantum"], { input: PW.zeke + "\n" });
      const st = JSON.parse(fs.readFileSync(ctx.zekeState, "utf8"));
      ctx.zekeUser = st.user.id;
      ctx.zekeKeys = st.keys;
      ctx.zekeDevice = st.device;
      ctx.wren = await openProfile("wren", { viewport: { width: 1280, height: 820 } });
      await tap(ctx.wren);
      await signUp(ctx.wren.page, ctx.srv.url, "wren", PW.wren, PIN.wren);
      await online(ctx.wren.page);
    }],

    ["post-quantum: the app lists an X-Wing key at its next connect; Go and the app exchange suite 2 through the relay", async (ctx) => {
      const p = ctx.wren.page;
      const before = await editVault(p, PIN.wren, "post-quantum on");
      assert.ok(!(await listed(p, before.user, before.device)).pq, "wren's list had an X-Wing key before the setting");
      await p.reload();
      await unlock(p, PIN.wren);
      await online(p);
      await waitFor(async () => (await listed(p, before.user, before.device))?.pq, "wren's list to give her device an X-Wing key");
      const entry = await listed(p, before.user, before.device);
      assert.equal(Buffer.from(entry.pq, "base64").length, 1216);
      await waitFor(async () => (await editVault(p, PIN.wren, "read")).pqSince > 0, "wren's vault to note when she listed her key");
      ctx.wrenUser = before.user;
      ctx.wrenDevice = before.device;

      // Go → app: zeke's client sees wren's signed list with her key.
      await sh(ctx.bin, ["client", "send", "--state", ctx.zekeState, "--to", "wren", "Suite 2 from the CLI"]);
      await p.locator(".conv-item", { hasText: "Zeke Moor" }).waitFor();
      await openConv(p, "Zeke Moor");
      await msgLocator(p, "Suite 2 from the CLI").waitFor();
      const got = ctx.wren.msgFrames.find((f) => f.env?.from?.user === ctx.zekeUser);
      assert.equal(got?.env.suite, 2, "zeke's message reached wren in suite 2");
      assert.equal(Buffer.from(got.env.keys[0].key, "base64").length, 1168);

      // App → Go.
      await sendText(p, "Suite 2 from the app");
      await waitFor(async () => ctx.wren.fromPage.some((m) => m.startsWith('{"type":"send"') && JSON.parse(m).env?.suite === 2), "the app to send a suite-2 envelope");
      const out = execFileSync(ctx.bin, ["client", "recv", "--state", ctx.zekeState, "--wait", "15s", "--count", "1"], { encoding: "utf8", timeout: 60000 });
      assert.ok(out.includes("Suite 2 from the app"), `zeke's client did not read wren's message: ${out}`);
    }],

    ["post-quantum: a suite-1 message made after the app listed its X-Wing key is discarded in words", async (ctx) => {
      const p = ctx.wren.page;
      // wren's device listed its key ten minutes ago, past the clock-skew allowance.
      await editVault(p, PIN.wren, "pq since", Date.now() - 600e3);
      await p.reload();
      await unlock(p, PIN.wren);
      await online(p);
      const text = "Sealed classically to a post-quantum device";
      const pt = Buffer.from(JSON.stringify({ type: "text", text })).toString("base64");
      const enc = (await listed(p, ctx.wrenUser, ctx.wrenDevice)).enc;
      const id = "downgrade_" + Date.now().toString(36) + "xxxxxxxx";
      const env = JSON.parse(execFileSync(ctx.gointerop, ["seal"], {
        input: JSON.stringify({
          keys: ctx.zekeKeys,
          header: { id, suite: 1, conv: `d:${Math.min(ctx.wrenUser, ctx.zekeUser)}:${Math.max(ctx.wrenUser, ctx.zekeUser)}`, from: { user: ctx.zekeUser, device: ctx.zekeDevice }, created: Date.now(), flags: 0 },
          recipients: [{ user: ctx.wrenUser, device: ctx.wrenDevice, enc }],
          plaintext: pt,
        }),
        encoding: "utf8",
      }));
      assert.equal(env.suite, 1);
      ctx.wren.toPage.send(JSON.stringify({ type: "msg", seq: FORGED_SEQ, ts: Date.now(), env }));
      await waitFor(async () => ctx.wren.fromPage.some((m) => { try { const f = JSON.parse(m); return f.type === "ack" && f.seqs.includes(FORGED_SEQ); } catch { return false; } }), "the app to ack the downgraded message");
      await p.getByText("A message sealed without the post-quantum protection that all its recipients' devices have was discarded", { exact: false }).first().waitFor();
      await openConv(p, "Zeke Moor");
      assert.equal(await msgLocator(p, text).count(), 0, "a downgraded message was shown");
      if (ctx.shots) await p.screenshot({ path: `${ctx.shots}/pq-downgrade.png` });
    }],
  ];
}

/** closePQProfiles closes the browsers of this file. */
export async function closePQProfiles(ctx) {
  if (ctx.wren) await ctx.wren.close();
}
