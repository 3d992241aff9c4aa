#!/usr/bin/env node
// Suite 1 (DHKEM X25519) against suite 2 (X-Wing, ML-KEM-768 + X25519):
// the size of an envelope's key section and the time to seal it, for 10 and
// 100 recipient devices, in Go and in Chromium, from one run:
//
//   node bench/browser/pq.mjs [--rounds N] [--count N] [--json FILE]
//
// Go: `go test ./e2ee -run '^$' -bench Suites -count N` (default 10), the
// median of the N results of each benchmark (e2ee/xwing_bench_test.go).
// Chromium: the app's own modules, served by webui/test/lib/static.mjs under
// the app's CSP (no Curbside server is needed), N rounds (default 15) after
// a warm-up, median and 90th percentile, the operations compared timed in
// turn within each round:
//
//   - key section, suite 1: the content key sealed to every device with the
//     vendored @hpke/core on WebCrypto, exactly as crypto.sealEnvelope does
//     (the seals started together; recipients' keys imported beforehand, as
//     its cache has them in steady state);
//   - key section, suite 2: the same with xwing.sealKeyXWing (pure-JS
//     ML-KEM-768 and X25519), also started together;
//   - a whole envelope in each suite (crypto.sealEnvelope, which picks
//     suite 2 when every recipient has an X-Wing key and imports each key
//     as it seals);
//   - opening one sealed key in each suite.
//
// It prints Markdown tables for docs/BENCHMARKS.md. Timing here is a
// measurement, never a pass/fail test.
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
// playwright-core is pinned once, for the browser tests, in webui/test.
const require = createRequire(path.join(repo, "webui/test/package.json"));
const { chromium } = require("playwright-core");
const { serveStatic } = await import(path.join(repo, "webui/test/lib/static.mjs"));

const argv = process.argv.slice(2);
const arg = (k, d) => { const i = argv.indexOf("--" + k); return i >= 0 ? argv[i + 1] : d; };
const rounds = Number(arg("rounds", 15));
const count = Number(arg("count", 10));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

// The machine's load when the run starts and ends: on a shared machine it
// says how far the figures can be trusted.
const load0 = os.loadavg()[0];

// ------------------------------------------------------------------- Go
const goOut = execFileSync("go", ["test", "./e2ee", "-run", "^$", "-bench", "Suites", "-count", String(count)],
  { cwd: repo, encoding: "utf8", maxBuffer: 16 << 20 });
const goRuns = {};
for (const line of goOut.split("\n")) {
  const m = line.match(/^BenchmarkSuites\/(\S+?)-\d+\s+\d+\s+([\d.]+) ns\/op(.*)$/);
  if (!m) continue;
  const r = (goRuns[m[1]] ||= { all: { "ns/op": [] }, metrics: {} });
  r.all["ns/op"].push(Number(m[2]));
  for (const [, v, unit] of m[3].matchAll(/([\d.]+) (\S+)/g)) {
    r.metrics[unit] = Number(v);
    (r.all[unit] ||= []).push(Number(v));
  }
}
const goCPU = (goOut.match(/^cpu: (.*)$/m) || [])[1] || os.cpus()[0]?.model;

// ------------------------------------------------------------- Chromium
const st = await serveStatic();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "curbside-bench-pq-"));
const context = await chromium.launchPersistentContext(dir, {
  executablePath: process.env.CURBSIDE_CHROMIUM || "/usr/bin/chromium", headless: true,
  args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = context.pages()[0] || (await context.newPage());
await page.goto(st.url + "/");
const br = await page.evaluate(async ({ prefix, rounds }) => {
  const c = await import(`${prefix}/js/crypto.js`);
  const x = await import(`${prefix}/js/xwing.js`);
  const { b64, concat, unb64, utf8 } = await import(`${prefix}/js/bytes.js`);
  const { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } = await import(`${prefix}/vendor/hpke-core@1.9.0/esm/mod.js`);
  const suite1 = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
  const stats = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return { median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2, p90: s[Math.min(s.length - 1, Math.floor(s.length * 0.9))], n: s.length }; };
  // The operations compared are timed in turn within each round, so that
  // load from elsewhere on a shared machine falls on all of them alike.
  const timeEach = async (fns) => {
    const t = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
    for (let i = 0; i < 3 + rounds; i++) {
      for (const [k, fn] of Object.entries(fns)) {
        const t0 = performance.now();
        await fn();
        if (i >= 3) t[k].push(performance.now() - t0);
      }
    }
    return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, stats(v)]));
  };

  const me = (await c.generateDeviceKeys()).keys;
  const devs = [];
  for (let i = 0; i < 100; i++) {
    const k = await crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]);
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", k.publicKey));
    const seed = x.generateXWingSeed();
    const pq = await x.xwingPublicKey(seed);
    devs.push({ user: 1000 + (i >> 2), device: 1e9 + i, enc: raw, x25519: await crypto.subtle.importKey("raw", raw, { name: "X25519" }, true, []),
      xwing: await x.importXWingPublic(pq), pq, seed });
  }
  const K = crypto.getRandomValues(new Uint8Array(32));
  const id = c.newMessageId();
  const keys1 = (rs) => Promise.all(rs.map(async (r) => {
    const res = await suite1.seal({ recipientPublicKey: r.x25519, info: c.keyInfo(id, r.device) }, K);
    return concat(new Uint8Array(res.enc), new Uint8Array(res.ct));
  }));
  const keys2 = (rs) => Promise.all(rs.map((r) => x.sealKeyXWing(r.xwing, id, r.device, K)));
  const json = (rs, sealed) => JSON.stringify(rs.map((r, i) => ({ user: r.user, device: r.device, key: b64(sealed[i]) }))).length;
  const pt = utf8(JSON.stringify({ type: "text", text: "Patient in bay 4 is ready for review; BP 120/80, HR 72." }));
  const out = {};
  for (const n of [10, 100]) {
    const rs = devs.slice(0, n);
    const s1 = await keys1(rs), s2 = await keys2(rs);
    const rs1 = rs.map(({ pq, ...r }) => r); // no X-Wing keys: suite 1
    const t = await timeEach({
      k1: () => keys1(rs), k2: () => keys2(rs),
      e1: () => c.sealEnvelope({ id: c.newMessageId(), conv: "g:1", from: { user: 1, device: me.id }, created: Date.now(), flags: 0 }, rs1, pt, me.signKey),
      e2: () => c.sealEnvelope({ id: c.newMessageId(), conv: "g:1", from: { user: 1, device: me.id }, created: Date.now(), flags: 0 }, rs, pt, me.signKey),
    });
    out[`keys/suite=1/devices=${n}`] = { ...t.k1, raw: s1.reduce((a, s) => a + s.length, 0), json: json(rs, s1) };
    out[`keys/suite=2/devices=${n}`] = { ...t.k2, raw: s2.reduce((a, s) => a + s.length, 0), json: json(rs, s2) };
    out[`envelope/suite=1/devices=${n}`] = t.e1;
    out[`envelope/suite=2/devices=${n}`] = t.e2;
  }
  // Opening one key: suite 1 with a device's own key pair, suite 2 with a seed.
  const mine = await c.generateDeviceKeys();
  const one = (await c.sealEnvelope({ id, conv: "g:1", from: { user: 1, device: me.id }, created: Date.now(), flags: 0 },
    [{ user: 2, device: mine.keys.id, enc: mine.raw.encPub }], pt, me.signKey)).keys[0].key;
  const sealed1 = unb64(one);
  const priv = await x.importXWingPrivate(devs[0].seed);
  const sealed2 = (await keys2([devs[0]]))[0];
  const t = await timeEach({
    o1: () => suite1.open({ recipientKey: mine.keys.encPair, enc: sealed1.slice(0, 32), info: c.keyInfo(id, mine.keys.id) }, sealed1.slice(32)),
    o2: () => x.openKeyXWing(priv, id, devs[0].device, sealed2),
  });
  out["open/suite=1"] = t.o1;
  out["open/suite=2"] = t.o2;
  return { out, ua: navigator.userAgent };
}, { prefix: st.prefix, rounds });
await context.close();
await st.close();

// --------------------------------------------------------------- report
const version = br.ua.match(/Chrom(?:e|ium)\/([\d.]+)/)?.[1] || "?";
const f = (v, d = 2) => v.toFixed(d);
const lines = [];
lines.push(`${goCPU}, ${os.cpus().length} cores; Go ${execFileSync("go", ["env", "GOVERSION"], { encoding: "utf8" }).trim()}, Chromium ${version}; ${new Date().toISOString().slice(0, 10)}`);
lines.push(`Load average (1 min): ${f(load0)} at the start, ${f(os.loadavg()[0])} at the end.`);
lines.push(`Go: median of ${count} runs of each benchmark; Chromium: median (p90) of ${rounds} rounds after 3 warm-up rounds, the operations compared timed in turn within each round.`, "");
const gm = (name, unit) => median(goRuns[name].all[unit]);
lines.push("Key section (the `keys` array), the same in Go and Chromium:", "");
lines.push("| devices | suite 1 raw | suite 1 JSON | suite 2 raw | suite 2 JSON | ratio (JSON) |", "| ---: | ---: | ---: | ---: | ---: | ---: |");
for (const n of [10, 100]) {
  const g1 = goRuns[`keys/suite=1/devices=${n}`].metrics, g2 = goRuns[`keys/suite=2/devices=${n}`].metrics;
  const b1 = br.out[`keys/suite=1/devices=${n}`], b2 = br.out[`keys/suite=2/devices=${n}`];
  if (b1.raw !== g1["key-B"] || b2.raw !== g2["key-B"]) throw new Error("Go and Chromium disagree on the key section's size");
  lines.push(`| ${n} | ${g1["key-B"]} B | ${g1["keys-json-B"]} B | ${g2["key-B"]} B | ${g2["keys-json-B"]} B | ${f(g2["keys-json-B"] / g1["keys-json-B"], 1)}× |`);
}
lines.push("", "Seal time, milliseconds (Go: wall clock, and the process's CPU time; Chromium: wall clock, median and p90):", "");
lines.push("| what | devices | suite 1 | suite 2 | ratio |", "| --- | ---: | ---: | ---: | ---: |");
for (const n of [10, 100]) {
  for (const [what, key] of [["key section", "keys"], ["whole envelope", "envelope"]]) {
    const a = `${key}/suite=1/devices=${n}`, b = `${key}/suite=2/devices=${n}`;
    lines.push(`| Go, ${what}, wall | ${n} | ${f(gm(a, "ns/op") / 1e6)} | ${f(gm(b, "ns/op") / 1e6)} | ${f(gm(b, "ns/op") / gm(a, "ns/op"), 1)}× |`);
    lines.push(`| Go, ${what}, CPU | ${n} | ${f(gm(a, "cpu-ns/op") / 1e6)} | ${f(gm(b, "cpu-ns/op") / 1e6)} | ${f(gm(b, "cpu-ns/op") / gm(a, "cpu-ns/op"), 1)}× |`);
  }
  const b1 = br.out[`keys/suite=1/devices=${n}`], b2 = br.out[`keys/suite=2/devices=${n}`];
  lines.push(`| Chromium, key section | ${n} | ${f(b1.median, 1)} (p90 ${f(b1.p90, 1)}) | ${f(b2.median, 1)} (p90 ${f(b2.p90, 1)}) | ${f(b2.median / b1.median, 1)}× |`);
  const e1 = br.out[`envelope/suite=1/devices=${n}`], e2 = br.out[`envelope/suite=2/devices=${n}`];
  lines.push(`| Chromium, whole envelope | ${n} | ${f(e1.median, 1)} (p90 ${f(e1.p90, 1)}) | ${f(e2.median, 1)} (p90 ${f(e2.p90, 1)}) | ${f(e2.median / e1.median, 1)}× |`);
}
lines.push("", "Opening one sealed key, milliseconds:", "");
lines.push("| what | suite 1 | suite 2 | ratio |", "| --- | ---: | ---: | ---: |");
lines.push(`| Go, wall | ${f(gm("open/suite=1", "ns/op") / 1e6, 3)} | ${f(gm("open/suite=2", "ns/op") / 1e6, 3)} | ${f(gm("open/suite=2", "ns/op") / gm("open/suite=1", "ns/op"), 1)}× |`);
lines.push(`| Go, CPU | ${f(gm("open/suite=1", "cpu-ns/op") / 1e6, 3)} | ${f(gm("open/suite=2", "cpu-ns/op") / 1e6, 3)} | ${f(gm("open/suite=2", "cpu-ns/op") / gm("open/suite=1", "cpu-ns/op"), 1)}× |`);
lines.push(`| Chromium | ${f(br.out["open/suite=1"].median, 1)} (p90 ${f(br.out["open/suite=1"].p90, 1)}) | ${f(br.out["open/suite=2"].median, 1)} (p90 ${f(br.out["open/suite=2"].p90, 1)}) | ${f(br.out["open/suite=2"].median / br.out["open/suite=1"].median, 1)}× |`);
console.log(lines.join("\n"));
if (arg("json")) fs.writeFileSync(arg("json"), JSON.stringify({ go: goRuns, chromium: version, browser: br.out }, null, 2));
