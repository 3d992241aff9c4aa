#!/usr/bin/env node
// The PWA's crypto costs, measured in Chromium on the app's own modules:
//
//   - sealing one message (HPKE to every recipient device, AES-256-GCM body,
//     Ed25519 signature: crypto.sealEnvelope) for 10, 100 and 500 devices;
//   - encrypting a 10 MB attachment in 64 KiB chunks and uploading the
//     ciphertext to a real `curbside serve` (client.uploadFile's two steps).
//
//   node bench/browser/run.mjs --bin PATH_TO_CURBSIDE [--rounds N] [--json FILE]
//
// It prints a Markdown table (median and 90th percentile of N rounds, after
// a warm-up). Timing here is a measurement, never a pass/fail test.
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
const { startServer, sh, signUp } = await import(path.join(repo, "webui/test/lib/harness.mjs"));

const argv = process.argv.slice(2);
const arg = (k, d) => { const i = argv.indexOf("--" + k); return i >= 0 ? argv[i + 1] : d; };
const bin = arg("bin");
if (!bin) { console.error("usage: node bench/browser/run.mjs --bin PATH_TO_CURBSIDE [--rounds N] [--json FILE]"); process.exit(2); }
const rounds = Number(arg("rounds", 20));

const srv = await startServer(path.resolve(bin));
await sh(path.resolve(bin), ["user", "add", "--data", srv.dataDir, "--username", "bench", "--display", "Bench", "--role", "staff", "--password-stdin"], { input: "bench long passphrase 1\n" });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "curbside-bench-profile-"));
const context = await chromium.launchPersistentContext(dir, {
  executablePath: process.env.CURBSIDE_CHROMIUM || "/usr/bin/chromium", headless: true,
  args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = context.pages()[0] || (await context.newPage());
await signUp(page, srv.url, "bench", "bench long passphrase 1", "482913");

const results = await page.evaluate(async ({ rounds }) => {
  const prefix = document.querySelector("script[type=module]").src.replace(/\/js\/main\.js$/, "");
  const c = await import(`${prefix}/js/crypto.js`);
  const { utf8 } = await import(`${prefix}/js/bytes.js`);
  const { api } = await import(`${prefix}/js/api.js`);
  const stats = (xs) => { const s = [...xs].sort((a, b) => a - b); return { median: s[Math.floor(s.length / 2)], p90: s[Math.min(s.length - 1, Math.floor(s.length * 0.9))], n: s.length }; };
  const me = (await c.generateDeviceKeys()).keys;
  const all = [];
  for (let i = 0; i < 500; i++) {
    const k = await crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"]);
    all.push({ user: 1000 + (i >> 2), device: 1e9 + i, enc: new Uint8Array(await crypto.subtle.exportKey("raw", k.publicKey)) });
  }
  const pt = utf8(JSON.stringify({ type: "text", text: "Patient in bay 4 is ready for review; BP 120/80, HR 72." }));
  const out = {};
  for (const n of [10, 100, 500]) {
    const recips = all.slice(0, n);
    const seal = () => c.sealEnvelope({ id: c.newMessageId(), conv: "g:1", from: { user: 1, device: me.id }, created: Date.now(), flags: 0 }, recips, pt, me.signKey);
    for (let i = 0; i < 3; i++) await seal(); // warm-up (and key import caches)
    const times = [];
    for (let i = 0; i < (n === 500 ? Math.max(5, rounds >> 2) : rounds); i++) {
      const t0 = performance.now();
      await seal();
      times.push(performance.now() - t0);
    }
    out[`seal ${n} devices`] = stats(times);
  }
  const file = new Uint8Array(10 << 20);
  for (let o = 0; o < file.length; o += 65536) crypto.getRandomValues(file.subarray(o, o + 65536));
  const enc = [], up = [], total = [];
  for (let i = 0; i < Math.max(3, rounds >> 2); i++) {
    const t0 = performance.now();
    const e = await c.encryptBlob(file);
    const t1 = performance.now();
    await api.uploadBlob(e.blob);
    const t2 = performance.now();
    enc.push(t1 - t0); up.push(t2 - t1); total.push(t2 - t0);
  }
  out["encrypt 10 MB attachment"] = stats(enc);
  out["upload 10 MB ciphertext (loopback)"] = stats(up);
  out["encrypt + upload 10 MB"] = stats(total);
  return { out, ua: navigator.userAgent };
}, { rounds });

await context.close();
await srv.stop();

const cpu = os.cpus()[0]?.model || "unknown CPU";
const version = results.ua.match(/Chrom(?:e|ium)\/([\d.]+)/)?.[1] || "?";
console.log(`Chromium ${version}, ${cpu}, ${os.cpus().length} cores, ${new Date().toISOString().slice(0, 10)}\n`);
console.log("| operation | median (ms) | p90 (ms) | rounds |");
console.log("| --- | ---: | ---: | ---: |");
for (const [k, v] of Object.entries(results.out)) console.log(`| ${k} | ${v.median.toFixed(1)} | ${v.p90.toFixed(1)} | ${v.n} |`);
if (arg("json")) fs.writeFileSync(arg("json"), JSON.stringify({ chromium: version, cpu, results: results.out }, null, 2));
