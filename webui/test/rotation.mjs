// Forward secrecy in the PWA (PROTOCOL.md 3.3), against the real server,
// with users of their own: rhea in Chromium and gil, a Go CLI user.
//
//   - with key_rotation at 2 s, rhea's app makes a new encryption key when
//     it connects, keeps the old one in its vault, and opens both a message
//     gil sealed to the old key before the rotation and one sealed to the
//     new key after it;
//   - gil's Go client rotates too; neither side warns of a key change (no
//     banner in the app, nothing on the CLI's stderr), and the safety
//     numbers still match;
//   - once the retention has passed since the rotation, the retired key is
//     gone from the vault.
//
// The policy is put back at the end (other files share the server).
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openProfile } from "./lib/browser.mjs";
import { assert, msgLocator, online, openConv, openVault, sh, signUp, unlock, waitFor } from "./lib/harness.mjs";

const PW = { rhea: "rhea long passphrase 5521", gil: "gil long passphrase 8374" };
const PIN = { rhea: "730418" };

/** shBoth runs the CLI and returns its stdout and stderr. */
function shBoth(bin, args) {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 60000 }, (err, stdout, stderr) => (err ? reject(new Error(`${args.join(" ")}: ${err.message}\n${stderr}`)) : resolve({ stdout, stderr })));
  });
}

/** policy sets policy keys on the shared server. */
function policy(ctx, ...kv) { return sh(ctx.bin, ["policy", "set", "--data", ctx.srv.dataDir, ...kv]); }

/**
 * vault opens rhea's vault through the app's own code with her PIN (and the
 * server's share) and returns the device key record's public half and age,
 * the retired keys, and her pin of gil's list.
 */
async function vault(page, pin, gil) {
  await openVault(page, pin);
  return page.evaluate(async (gil) => {
    const v = window.__testVault, meta = window.__testMeta;
    const dev = await v.get("keys", "device");
    const retired = (await v.get("keys", "retired"))?.keys || [];
    const gilPin = gil ? await v.get("pin", gil) : null;
    return { device: meta.device, user: meta.user.id, encPub: dev.encPub, created: dev.created, retired, gilPin };
  }, gil);
}

/** listedEnc returns the encryption key the server's list gives a device. */
async function listedEnc(ctx, uid, device) {
  const { list } = await ctx.rhea.page.evaluate(async (uid) => (await fetch(`/api/v1/keys/${uid}`)).json(), uid);
  return list.devices.find((d) => d.id === device)?.enc;
}

/**
 * holdMessages passes rhea's relay WebSocket through to the real server,
 * holding back the queued msg frames while who.hold is set, so that a
 * message waiting when the app connects reaches it only after a rotation.
 */
async function holdMessages(who) {
  who.hold = false;
  who.held = [];
  await who.context.routeWebSocket(/\/api\/v1\/relay$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => server.send(m));
    server.onMessage((m) => {
      if (who.hold && String(m).startsWith('{"type":"msg"')) { who.held.push(m); return; }
      ws.send(m);
    });
    who.release = () => { who.hold = false; for (const m of who.held.splice(0)) ws.send(m); };
  });
}

export function rotationTests() {
  return [
    ["key rotation setup: rhea in Chromium and gil on the Go CLI, who have written once", async (ctx) => {
      for (const [u, d] of [["rhea", "Rhea Lund"], ["gil", "Gil Moss"]]) {
        await sh(ctx.bin, ["user", "add", "--data", ctx.srv.dataDir, "--username", u, "--display", d, "--role", "staff", "--password-stdin"], { input: PW[u] + "\n" });
      }
      ctx.gilState = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "curbside-gil-")), "gil.json");
      await sh(ctx.bin, ["client", "login", "--server", ctx.srv.url, "--username", "gil", "--password-stdin", "--state", ctx.gilState], { input: PW.gil + "\n" });
      ctx.rhea = await openProfile("rhea", { viewport: { width: 1280, height: 820 } });
      await holdMessages(ctx.rhea);
      await signUp(ctx.rhea.page, ctx.srv.url, "rhea", PW.rhea, PIN.rhea);
      await online(ctx.rhea.page);
      await sh(ctx.bin, ["client", "send", "--state", ctx.gilState, "--to", "rhea", "Hello from the CLI"]);
      await ctx.rhea.page.locator(".conv-item", { hasText: "Gil Moss" }).waitFor();
      await openConv(ctx.rhea.page, "Gil Moss");
      await msgLocator(ctx.rhea.page, "Hello from the CLI").waitFor();
      ctx.gilUser = JSON.parse(fs.readFileSync(ctx.gilState, "utf8")).user.id;
    }],

    ["key rotation: the app rotates at connect, and a message sealed before the rotation and one after both open", async (ctx) => {
      const r = ctx.rhea.page;
      const before = await vault(r, PIN.rhea, ctx.gilUser);
      assert.equal(before.retired.length, 0, "no retired key before any rotation");
      assert.equal(await listedEnc(ctx, before.user, before.device), before.encPub, "the server lists the vault's key");
      ctx.safety = (await sh(ctx.bin, ["client", "safety", "--state", ctx.gilState, "--user", "rhea"])).trim();
      // The app is closed; gil seals a message to rhea's current key.
      await r.goto("about:blank");
      const sealedBefore = "Sealed before the rotation";
      await sh(ctx.bin, ["client", "send", "--state", ctx.gilState, "--to", "rhea", sealedBefore]);
      // A short retention, in force when the key is retired: the retired
      // key is kept for the longest retention seen since, so this is what
      // the last test waits for.
      await policy(ctx, "key_rotation=2s", "retention=15s");
      await new Promise((res) => setTimeout(res, 2500)); // let rhea's key grow older than key_rotation
      // It reaches the app only once the app has rotated: it opens with
      // the retired key or not at all.
      ctx.rhea.hold = true;
      await r.goto(ctx.srv.url + "/");
      await unlock(r, PIN.rhea);
      await online(r);
      await waitFor(async () => (await listedEnc(ctx, before.user, before.device)) !== before.encPub, "rhea's app to store a new key");
      await waitFor(async () => ctx.rhea.held.length > 0, "the message sealed before to be held back");
      ctx.rhea.release();
      const after = await vault(r, PIN.rhea, ctx.gilUser);
      assert.notEqual(after.encPub, before.encPub, "the vault holds the new key");
      assert.equal(await listedEnc(ctx, after.user, after.device), after.encPub, "the server lists the new key");
      assert.equal(after.retired.length, 1, "one retired key");
      assert.equal(after.retired[0].encPub, before.encPub, "the retired key is the old one");
      assert.ok(after.retired[0].at > 0, "the retired key has its time");
      await openConv(r, "Gil Moss");
      await msgLocator(r, sealedBefore).waitFor();
      // Gil's CLI (a new process) seals to the new key, and is not warned.
      const sealedAfter = "Sealed after the rotation";
      const { stderr } = await shBoth(ctx.bin, ["client", "send", "--state", ctx.gilState, "--to", "rhea", sealedAfter]);
      assert.doesNotMatch(stderr, /changed/i, `the Go client warned of a key change: ${stderr}`);
      await msgLocator(r, sealedAfter).waitFor();
      ctx.retiredPub = before.encPub;
    }],

    ["key rotation: the Go client rotates too, and neither side warns of a key change", async (ctx) => {
      const r = ctx.rhea.page;
      const pinBefore = (await vault(r, PIN.rhea, ctx.gilUser)).gilPin;
      await new Promise((res) => setTimeout(res, 2500)); // gil's key grows older than key_rotation
      const fromGo = "From the Go client after its rotation";
      const { stderr } = await shBoth(ctx.bin, ["client", "send", "--state", ctx.gilState, "--to", "rhea", fromGo]);
      assert.doesNotMatch(stderr, /changed/i, `the Go client warned: ${stderr}`);
      const st = JSON.parse(fs.readFileSync(ctx.gilState, "utf8"));
      assert.ok((st.retired || []).length >= 1, "gil's state keeps a retired key");
      await msgLocator(r, fromGo).waitFor();
      // Rhea's app hears of gil's new list and pins it quietly.
      await waitFor(async () => (await vault(r, PIN.rhea, ctx.gilUser)).gilPin?.list.version > pinBefore.list.version, "rhea's app to pin gil's rotated list");
      const pin = (await vault(r, PIN.rhea, ctx.gilUser)).gilPin;
      assert.equal(pin.warning, undefined, `a rotation was a key change: ${JSON.stringify(pin.warning)}`);
      assert.equal(await r.locator(".banner.warn", { hasText: "security keys changed" }).count(), 0, "no key-change banner");
      await r.getByRole("button", { name: "Safety number" }).click();
      await r.locator(".safety-number").waitFor();
      const browserNum = (await r.locator(".safety-number").getAttribute("aria-label")).replace("Safety number ", "");
      await r.keyboard.press("Escape");
      const goNum = (await sh(ctx.bin, ["client", "safety", "--state", ctx.gilState, "--user", "rhea"])).trim();
      assert.ok(goNum.includes(browserNum), `Go's safety number ${goNum} matches the browser's ${browserNum}`);
      // It covers both keys of each device, so it moved with the rotations.
      assert.notEqual(goNum, ctx.safety, "the safety number did not change with the keys");
    }],

    ["key rotation: the retired key is deleted from the vault once the retention has passed", async (ctx) => {
      const r = ctx.rhea.page;
      await policy(ctx, "key_rotation=168h", "retention=15s");
      try {
        const v = await vault(r, PIN.rhea, 0);
        const oldest = Math.min(...v.retired.map((x) => x.at));
        assert.ok(v.retired.some((x) => x.encPub === ctx.retiredPub), "the retired key is still kept");
        assert.ok(v.retired.every((x) => x.keep === 15000), `each retired key keeps the retention seen: ${JSON.stringify(v.retired.map((x) => x.keep))}`);
        while (Date.now() - oldest < 15500) await new Promise((res) => setTimeout(res, 250));
        // The app checks its keys on each connection: reopen it.
        await r.reload();
        await unlock(r, PIN.rhea);
        await online(r);
        await waitFor(async () => (await vault(r, PIN.rhea, 0)).retired.length === 0, "the retired key to be deleted");
      } finally {
        await policy(ctx, "retention=168h");
      }
    }],
  ];
}

/** closeRotationProfiles closes the browsers of this file. */
export async function closeRotationProfiles(ctx) {
  if (ctx.rhea) await ctx.rhea.close();
  if (ctx.srv && ctx.bin) await policy(ctx, "key_rotation=168h", "retention=168h").catch(() => {});
}
