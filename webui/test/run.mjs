#!/usr/bin/env node
// The PWA's browser tests, in Debian's Chromium through playwright-core.
//
//   node webui/test/run.mjs --bin PATH_TO_CURBSIDE [--server URL --data DIR]
//                           [--screenshots DIR] [--gointerop PATH] [--only TEXT]
//
// Without --server, it starts `curbside serve` itself on a fresh data
// directory and a free loopback port. With --server, --data must name that
// server's data directory (users and policy are set through the CLI on it).
// --gointerop is the built webui/test/gointerop command; without it the test
// builds it with `go build`. --only runs the tests whose name contains
// TEXT, or any of several TEXTs separated by "|". It prints one line per test and closes with
// exactly "N passed, M failed"; it exits non-zero if anything failed.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { attackTests, closeAttackProfiles } from "./attack.mjs";
import { closeConsole, consoleTests } from "./console.mjs";
import { closeFeatureProfiles, featureTests } from "./features.mjs";
import { closeFirstDayWalk, firstDayWalkTests, walkFailShots } from "./firstday.mjs";
import { closeFirstDayProfiles, firstDayTests } from "./firstday_fixes.mjs";
import { closeFirstDay, firstDayTests as firstDayStatusTests } from "./firstday_status.mjs";
import { interopTests } from "./interop.mjs";
import { closeMemberProfiles, memberTests } from "./members.mjs";
import { closeMfaProfiles, mfaTests } from "./mfa.mjs";
import { openProfile } from "./lib/browser.mjs";
import { assert, startServer } from "./lib/harness.mjs";
import { serveStatic } from "./lib/static.mjs";
import { closePush, pushTests } from "./push.mjs";
import { closePinProfiles, pinTests } from "./pin.mjs";
import { closeRotationProfiles, rotationTests } from "./rotation.mjs";
import { closePQProfiles, pqTests } from "./pq.mjs";
import { PIN, RUN, scenarioTests } from "./scenarios.mjs";
import { closeSigProfiles, sigTests } from "./sig.mjs";
import { wipeTests } from "./wipe.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
// The tests run.mjs defines itself: the private keys at rest, CSP and one
// origin, the profiles at rest, the server at rest.
const AT_REST_TESTS = 4;
const repo = path.resolve(here, "../..");

function args() {
  const out = {};
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    if (!a[i].startsWith("--")) throw new Error(`unexpected argument ${a[i]}`);
    out[a[i].slice(2)] = a[i + 1];
    i++;
  }
  return out;
}

const opt = args();
if (!opt.bin) {
  console.error("usage: node webui/test/run.mjs --bin PATH_TO_CURBSIDE [--server URL --data DIR] [--screenshots DIR] [--gointerop PATH] [--only TEXT]");
  process.exit(2);
}
opt.bin = path.resolve(opt.bin);
if (opt.screenshots) fs.mkdirSync(opt.screenshots, { recursive: true });

let passed = 0, failed = 0;
async function run(name, fn, ctx) {
  if (opt.only && !opt.only.split("|").some((o) => name.includes(o))) return;
  const t0 = Date.now();
  try {
    await fn(ctx);
    passed++;
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}\n     ${String(e.stack || e).split("\n").slice(0, 6).join("\n     ")}`);
    for (const p of ["alice", "bob", "bob2", "bob3", "wanda", "walt", "dana", "erin", "frank", "gail", "mallory", "vera", "petra", "ana", "ben", "fay", "gus", "nia", "ola", "sam", "tess", "otto", "wynn"]) {
      if (ctx[p] && opt.screenshots) await ctx[p].page.screenshot({ path: path.join(opt.screenshots, `FAIL-${p}-${name.slice(0, 30).replace(/\W+/g, "-")}.png`) }).catch(() => {});
    }
    if (ctx.failShots && opt.screenshots) await ctx.failShots(name).catch(() => {});
  }
}

// ------------------------------------------------------------ crypto interop

const gointerop = opt.gointerop || path.join(fs.mkdtempSync(path.join(os.tmpdir(), "gointerop-")), "gointerop");
if (!opt.gointerop) execFileSync("go", ["build", "-o", gointerop, "./webui/test/gointerop"], { cwd: repo, stdio: "inherit" });
{
  const st = await serveStatic();
  const p = await openProfile("interop");
  await p.page.goto(st.url + "/");
  for (const [name, fn] of interopTests()) await run(name, fn, { page: p.page, prefix: st.prefix, gointerop });
  await p.close();
  await st.close();
}

// ------------------------------------------------------- end-to-end in Chromium

const own = !opt.server;
const srv = own ? await startServer(opt.bin) : { url: opt.server.replace(/\/$/, ""), dataDir: opt.data, stop: async () => {} };
if (!srv.dataDir) { console.error("--server needs --data DIR (the server's data directory)"); process.exit(2); }
const ctx = { srv, bin: opt.bin, shots: opt.screenshots, gointerop };
try {
  for (const [name, fn] of scenarioTests()) await run(name, fn, ctx);
  // Remote lock and wipe, with users of their own.
  for (const [name, fn] of wipeTests()) await run(name, fn, ctx);
  // A hostile sender's attachments, and a victim whose key fetches fail.
  for (const [name, fn] of attackTests()) await run(name, fn, ctx);
  // Protocol version 2: receipts and recalls a server makes up, an old app.
  for (const [name, fn] of sigTests()) await run(name, fn, ctx);
  // What broke on a clinic's first day, with users of their own.
  for (const [name, fn] of firstDayTests()) await run(name, fn, ctx);
  // What every messenger has, with users of their own.
  for (const [name, fn] of featureTests()) await run(name, fn, ctx);
  // Group membership changes everyone in the group sees, with users of their own.
  for (const [name, fn] of memberTests()) await run(name, fn, ctx);
  // The local store against a copied profile: PIN proofs, grace, upgrade.
  for (const [name, fn] of pinTests()) await run(name, fn, ctx);
  // Forward secrecy: encryption keys rotate, across the browser and Go.
  for (const [name, fn] of rotationTests()) await run(name, fn, ctx);
  // The post-quantum suite: the app lists an X-Wing key, Go and the app
  // exchange suite 2, a downgrade is refused.
  for (const [name, fn] of pqTests()) await run(name, fn, ctx);

  // The profile at rest: a copy of the browser profile must reveal no
  // message text and no usable private key. First, with the PIN and the
  // live session (what only the owner has), open each profile's store
  // through the app's own code and take the raw private keys, to know what
  // to search the files for.
  await run("at rest: the device's private keys open only with the PIN and the server's share", async () => {
    ctx.secrets = [];
    for (const [who, pin] of [["alice", PIN.alice], ["bob", PIN.bob]]) {
      const page = ctx[who].page;
      const prefix = await page.evaluate(() => document.querySelector("script[type=module]").src.replace(/\/js\/main\.js$/, ""));
      const keys = await page.evaluate(async ([prefix, pin]) => {
        const store = await import(`${prefix}/js/store.js`);
        const { unb64 } = await import(`${prefix}/js/bytes.js`);
        const meta = await store.getMeta();
        const { b64 } = await import(`${prefix}/js/bytes.js`);
        const P = await store.derivePin(pin, meta);
        const proof = b64(await store.pinProof(meta, P));
        const res = await fetch(`/api/v1/devices/${meta.device}/share`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ proof }) });
        const share = unb64((await res.json()).share);
        let wrongRefused = false;
        try { await store.unwrapDataKey(meta, await store.derivePin("111111", meta), share); } catch { wrongRefused = true; }
        const DK = await store.unwrapDataKey(meta, P, share);
        const v = await store.Vault.open(DK);
        const k = await v.get("keys", "device");
        // The meta record (plaintext) holds only wrapped keys and public
        // facts, and the wipe-check key, which opens nothing: it only lets
        // a locked device prove itself to the wipe check. Nothing is
        // wrapped under the password, and with the offline grace off (the
        // default) nothing under the PIN alone.
        return { k, wrongRefused, metaKeys: Object.keys(meta).sort(), pinKeys: Object.keys(meta.pin).sort(), shareOK: res.status };
      }, [prefix, pin]);
      assert.ok(keys.wrongRefused, "a wrong PIN must not unwrap the data key");
      assert.equal(keys.shareOK, 200, "the right PIN's proof fetches the share");
      assert.deepEqual(keys.pinKeys, ["iterations", "kekSalt", "salt", "verified", "wrapped"], "the PIN record: salts, the wrapped data key, and that the server has the verifier");
      assert.deepEqual(keys.metaKeys, ["commandKey", "created", "device", "encPub", "failed", "pin", "signPub", "user", "v", "wipeKey", "wipeKeyPub", "wipeKeySet"]);
      ctx.secrets.push({ who, what: "X25519 private key", b64: keys.k.encPriv }, { who, what: "Ed25519 seed", b64: keys.k.seed });
    }
  }, ctx);
  await run("strict CSP and one origin: no violation, no request to any other origin, no script error", async () => {
    assert.ok(ctx.alice && ctx.bob, "the scenarios ran");
    for (const p of ["alice", "bob", "bob2"].filter((x) => ctx[x])) {
      assert.deepEqual(ctx[p].csp, [], `${p}: CSP violations`);
      assert.deepEqual(ctx[p].foreign, [], `${p}: requests to other origins`);
      const errors = ctx[p].problems.filter((x) => /page error/.test(x));
      assert.deepEqual(errors, [], `${p}: uncaught script errors`);
    }
    // The headers the app runs under are the strict ones.
    const res = await fetch(srv.url + "/");
    const csp = res.headers.get("content-security-policy");
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.doesNotMatch(await res.text(), /<script(?![^>]*\bsrc=)[^>]*>/, "index.html has no inline script");
  }, ctx);

  // The second sign-in step, with its own users and browsers.
  for (const [name, fn] of mfaTests()) await run(name, fn, ctx);
} finally {
  for (const p of ["alice", "bob", "bob2", "bob3", "wanda", "walt", "wynn"]) if (ctx[p]) await ctx[p].close();
  await closeMfaProfiles(ctx);
  await closeAttackProfiles(ctx);
  await closeSigProfiles(ctx);
  await closeFirstDayProfiles(ctx);
  await closeFeatureProfiles(ctx);
  await closeMemberProfiles(ctx);
  await closePinProfiles(ctx);
  await closeRotationProfiles(ctx);
  await closePQProfiles(ctx);
}

// With every browser closed (its files flushed), search the profiles and the
// server's data directory.
function files(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function needles() {
  const m = `PHIMARK-${RUN}`;
  return [Buffer.from(m), Buffer.from(m, "utf16le")];
}

function scan(dirs, extra = []) {
  const hits = [];
  const ns = [...needles().map((b) => ({ what: "message marker", b })), ...extra];
  for (const d of dirs) {
    for (const f of files(d)) {
      let data;
      try { data = fs.readFileSync(f); } catch { continue; }
      for (const n of ns) if (data.includes(n.b)) hits.push(`${n.what} in ${f}`);
    }
  }
  return hits;
}

await run("at rest: the browser profiles hold no message text and no private key", async () => {
  assert.ok(ctx.alice && ctx.bob, "the scenarios ran");
  const extra = [];
  for (const s of ctx.secrets || []) {
    const raw = Buffer.from(s.b64, "base64");
    extra.push({ what: `${s.who}'s ${s.what} (raw)`, b: raw }, { what: `${s.who}'s ${s.what} (base64)`, b: Buffer.from(s.b64) },
      { what: `${s.who}'s ${s.what} (base64url)`, b: Buffer.from(raw.toString("base64url")) });
  }
  assert.ok(extra.length >= 4, "private keys were taken to search for");
  const dirs = ["alice", "bob", "bob2"].filter((p) => ctx[p]).map((p) => ctx[p].dir);
  const hits = scan(dirs, extra);
  assert.deepEqual(hits, [], `found in the profiles:\n${hits.join("\n")}`);
  // The scan can find things: the marker is in the test's own output.
  const probe = fs.mkdtempSync(path.join(os.tmpdir(), "probe-"));
  fs.writeFileSync(path.join(probe, "x"), `x PHIMARK-${RUN}-probe x`);
  assert.equal(scan([probe]).length, 1);
}, ctx);

await run("at rest: the server's data directory and log hold no message text", async () => {
  assert.ok(ctx.alice, "the scenarios ran");
  const dirs = [srv.dataDir];
  const hits = scan(dirs);
  if (srv.logFile) { const log = fs.readFileSync(srv.logFile); for (const n of needles()) if (log.includes(n)) hits.push(`marker in ${srv.logFile}`); }
  assert.deepEqual(hits, [], `found on the server:\n${hits.join("\n")}`);
}, ctx);

if (own) await srv.stop();

// ------------------------------------------------------- the admin console
// On a server of its own: it starts from the first-run set-up link, which a
// server prints only while it has no administrator.
{
  const tests = consoleTests();
  const c = tests[0][2];
  const cctx = {
    bin: opt.bin, shots: opt.screenshots,
    failShots: async (name) => {
      for (const x of [c.o, c.d, c.h].filter(Boolean)) {
        for (const [i, pg] of x.context.pages().entries()) await pg.screenshot({ path: path.join(opt.screenshots, `FAIL-${x.name}-${i}-${name.slice(0, 40).replace(/\W+/g, "-")}.png`) }).catch(() => {});
      }
    },
  };
  try {
    for (const [name, fn] of tests) await run(name, fn, cctx);
  } finally {
    await closeConsole(c);
  }
}

// ------------------------------------------------------- Web Push
// On a server of its own (--push-allow-loopback) with web-push-testing as
// the push service.
{
  const tests = pushTests();
  try {
    for (const [name, fn] of tests) await run(name, fn, { bin: opt.bin, shots: opt.screenshots });
  } finally {
    await closePush(tests[0][2]);
  }
}

// What broke on a clinic's first day, on a server of its own.
try {
  for (const [name, fn] of firstDayStatusTests()) await run(name, fn, ctx);
} finally {
  await closeFirstDay();
}

// A clinic's first day walked through, on a server of its own: it starts
// from the first-run set-up link, as a new practice does.
try {
  const failShots = opt.screenshots ? (name) => walkFailShots(opt.screenshots, name) : undefined;
  for (const [name, fn] of firstDayWalkTests()) await run(name, fn, { bin: opt.bin, shots: opt.screenshots, failShots });
} finally {
  await closeFirstDayWalk();
}

// A block that stopped early must not pass for a short green run: every
// test planned must have run.
const planned = interopTests().length + scenarioTests().length + wipeTests().length + attackTests().length + firstDayTests().length + mfaTests().length + consoleTests().length + pushTests().length + firstDayStatusTests().length + firstDayWalkTests().length + featureTests().length + memberTests().length + sigTests().length + pinTests().length + rotationTests().length + pqTests().length + AT_REST_TESTS;
if (!opt.only && passed + failed !== planned) {
  console.log(`FAIL only ${passed + failed} of the ${planned} planned tests ran`);
  failed += Math.max(planned - passed - failed, 1);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
