#!/usr/bin/env node
// The PWA over HTTPS in Chromium: one person signs in to a server with a
// real certificate (from Pebble, in e2e.TestHTTPSFromACME), sets a PIN and
// sends a message to a user the Go test holds a connection for.
//
//   node webui/test/https.mjs --url https://NAME:PORT --spki BASE64 \
//        --username U --password P --to "Display Name" --text TEXT
//
// NAME is mapped to 127.0.0.1 inside Chromium. The certificate is trusted
// by the SHA-256 hash of a public key in its chain (--ignore-certificate-
// errors-spki-list; the Go test gives the key of the CA's intermediate, so
// that a renewal during the test is trusted too): Chromium accepts chains
// with that key and still refuses any other, which a control launch
// without the hash shows. Names, dates and the rest are still checked. It prints "ok" lines and exits
// non-zero on any failure.
import { openProfile } from "./lib/browser.mjs";
import { assert, msgStatus, sendText, signUp, startConversation, waitFor } from "./lib/harness.mjs";

const opt = {};
{
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) opt[a[i].replace(/^--/, "")] = a[i + 1];
}
for (const k of ["url", "spki", "username", "password", "to", "text"]) {
  if (!opt[k]) { console.error(`https.mjs: --${k} is required`); process.exit(2); }
}
const host = new URL(opt.url).hostname;
const resolve = `--host-resolver-rules=MAP ${host} 127.0.0.1`;

let failed = false;
async function step(name, fn) {
  try { await fn(); console.log(`ok   ${name}`); } catch (e) { failed = true; console.log(`FAIL ${name}\n     ${String(e.stack || e).split("\n").slice(0, 6).join("\n     ")}`); }
}

await step("without the key's hash, Chromium refuses the certificate", async () => {
  const p = await openProfile("https-control", { args: [resolve], hosts: [host] });
  try {
    let err = "";
    await p.page.goto(opt.url + "/").catch((e) => { err = e.message; });
    assert.match(err, /ERR_CERT_AUTHORITY_INVALID|ERR_CERT/, "an untrusted certificate must not load");
  } finally { await p.close(); }
});

const p = await openProfile("https", { args: [resolve, `--ignore-certificate-errors-spki-list=${opt.spki}`], hosts: [host] });
try {
  await step("the app loads over HTTPS, a secure context under HSTS", async () => {
    const res = await p.page.goto(opt.url + "/");
    assert.equal(res.status(), 200);
    assert.match(res.headers()["strict-transport-security"] || "", /max-age=\d{8}/);
    const sec = await res.securityDetails();
    assert.ok(sec && /^TLS 1\.[23]$/.test(sec.protocol), `TLS: ${JSON.stringify(sec)}`);
    assert.match(sec.issuer || "", /Pebble/);
    assert.ok(await p.page.evaluate(() => window.isSecureContext && location.protocol === "https:"));
  });
  await step("sign-in over HTTPS sets a Secure session cookie; the service worker runs", async () => {
    await signUp(p.page, opt.url, opt.username, opt.password, "246810");
    const cookies = await p.context.cookies(opt.url);
    const session = cookies.find((c) => c.httpOnly);
    assert.ok(session && session.secure, `session cookie: ${JSON.stringify(session)}`);
    assert.ok(await p.page.evaluate(() => navigator.serviceWorker.ready.then((r) => !!r.active)));
  });
  await step("a message goes out over WSS and is delivered", async () => {
    await startConversation(p.page, opt.to.split(" ")[0].toLowerCase(), [opt.to]);
    await sendText(p.page, opt.text);
    await waitFor(async () => /Delivered|Read/.test(await msgStatus(p.page, opt.text)), "delivered", 60000);
  });
  await step("no request left the server's origin, no CSP violation, no script error", async () => {
    assert.deepEqual(p.foreign, []);
    assert.deepEqual(p.csp, []);
    assert.deepEqual(p.problems.filter((x) => /page error/.test(x)), []);
  });
} finally {
  await p.close();
}
process.exit(failed ? 1 : 0);
