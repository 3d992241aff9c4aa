// Crypto interop between the browser (webui/app/js/crypto.js on Chromium's
// WebCrypto and the vendored @hpke/core) and the Go reference (package e2ee,
// through webui/test/gointerop): envelopes both ways, device lists both ways,
// safety numbers, and attachment blobs both ways. No server is involved;
// the end-to-end run in scenarios.mjs does the same through the relay.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

function go(bin, cmd, req) {
  const out = execFileSync(bin, [cmd], { input: req ? JSON.stringify(req) : "", encoding: "utf8", maxBuffer: 64 << 20 });
  return JSON.parse(out);
}

/** interopTests returns named tests; ctx has {page, prefix, gointerop}. */
export function interopTests() {
  return [
    ["crypto interop: Go seals, the browser opens (and the other way round)", async ({ page, prefix, gointerop }) => {
      const g = go(gointerop, "keys");
      // The browser makes its device, signs its list; Go verifies it.
      const b = await page.evaluate(async (prefix) => {
        const c = await import(`${prefix}/js/crypto.js`);
        const { b64 } = await import(`${prefix}/js/bytes.js`);
        const { raw, keys } = await c.generateDeviceKeys();
        window.__me = keys;
        const list = await c.signDeviceList({ user: 9, version: 1, devices: [{ id: keys.id, enc: b64(keys.encPub), sign: b64(keys.signPub) }] }, keys);
        return { id: keys.id, enc: b64(raw.encPub), sign: b64(raw.signPub), list };
      }, prefix);
      assert.deepEqual(go(gointerop, "verifylist", { list: b.list }), { ok: true });

      // The device-approval commitment and code are the same in both.
      const nonce = randomBytes(32).toString("base64"), approverNonce = randomBytes(32).toString("base64");
      const goApproval = go(gointerop, "approval", { user: 9, device: { id: b.id, enc: b.enc, sign: b.sign }, nonce, approver_nonce: approverNonce });
      const jsApproval = await page.evaluate(async ([prefix, b, nonce, approverNonce]) => {
        const a = await import(`${prefix}/js/approval.js`);
        const { b64, unb64 } = await import(`${prefix}/js/bytes.js`);
        return { commit: b64(await a.approvalCommit(unb64(nonce))), code: await a.approvalCode(9, { id: b.id, enc: unb64(b.enc), sign: unb64(b.sign) }, unb64(nonce), unb64(approverNonce)) };
      }, [prefix, b, nonce, approverNonce]);
      assert.deepEqual(jsApproval, goApproval);
      assert.match(goApproval.code, /^\d{6}$/);

      // Go signs its list; the browser verifies it, and rejects a tampered copy.
      const glist = go(gointerop, "signlist", { keys: g.keys, list: { user: 7, version: 3, devices: [g.device] } });
      const verdict = await page.evaluate(async ([prefix, glist]) => {
        const c = await import(`${prefix}/js/crypto.js`);
        await c.verifyDeviceList(glist);
        const bad = structuredClone(glist);
        bad.version = 4;
        try { await c.verifyDeviceList(bad); return "tampered list accepted"; } catch { return "ok"; }
      }, [prefix, glist]);
      assert.equal(verdict, "ok");

      // Go → browser.
      const text = "BP 120/80 — interop ✓ " + randomBytes(8).toString("hex");
      const pt = Buffer.from(JSON.stringify({ type: "text", text }));
      const env = go(gointerop, "seal", {
        keys: g.keys,
        header: { id: "goToBrowser_" + randomBytes(8).toString("hex"), conv: "d:7:9", from: { user: 7, device: g.device.id }, created: Date.now(), flags: 3 },
        recipients: [{ user: 9, device: b.id, enc: b.enc }, { user: 7, device: 123456, enc: g.device.enc }],
        plaintext: pt.toString("base64"),
      });
      const opened = await page.evaluate(async ([prefix, env, sign]) => {
        const c = await import(`${prefix}/js/crypto.js`);
        const { unb64, fromUtf8 } = await import(`${prefix}/js/bytes.js`);
        const out = fromUtf8(await c.openEnvelope(env, unb64(sign), window.__me));
        // A changed flag must make it fail (the header is signed and is the AAD).
        const bad = structuredClone(env); bad.flags = 1;
        let tamper = "accepted";
        try { await c.openEnvelope(bad, unb64(sign), window.__me); } catch (e) { tamper = e.kind; }
        return { out, tamper };
      }, [prefix, env, g.device.sign]);
      assert.equal(JSON.parse(opened.out).text, text);
      assert.equal(opened.tamper, "signature");

      // Browser → Go, sealed to the Go device and one more.
      const benv = await page.evaluate(async ([prefix, g]) => {
        const c = await import(`${prefix}/js/crypto.js`);
        const { unb64, utf8 } = await import(`${prefix}/js/bytes.js`);
        const other = await c.generateDeviceKeys();
        return c.sealEnvelope({ id: c.newMessageId(), conv: "d:7:9", from: { user: 9, device: window.__me.id }, created: Date.now(), flags: 1 },
          [{ user: 7, device: g.device.id, enc: unb64(g.device.enc) }, { user: 9, device: other.keys.id, enc: other.raw.encPub }],
          utf8(JSON.stringify({ type: "text", text: "from the browser ✓" })), window.__me.signKey);
      }, [prefix, g]);
      assert.equal(Buffer.from(benv.keys[0].key, "base64").length, 80);
      const gout = go(gointerop, "open", { keys: g.keys, env: benv, sender_sign: b.sign });
      assert.equal(JSON.parse(Buffer.from(gout.plaintext, "base64")).text, "from the browser ✓");

      // Safety numbers agree.
      const goSafety = go(gointerop, "safety", { list: glist, list2: b.list }).safety;
      const brSafety = await page.evaluate(async ([prefix, a, b]) => (await import(`${prefix}/js/crypto.js`)).safetyNumber(a, b), [prefix, b.list, glist]);
      assert.equal(brSafety, goSafety);
    }],

    ["crypto interop: attachment blobs both ways (empty, one chunk, exact chunk, many chunks)", async ({ page, prefix, gointerop }) => {
      for (const size of [0, 1000, 65536, 65536 * 3 + 17]) {
        const data = randomBytes(size);
        // Browser encrypts, Go decrypts.
        const enc = await page.evaluate(async ([prefix, data]) => {
          const c = await import(`${prefix}/js/crypto.js`);
          const { b64, unb64 } = await import(`${prefix}/js/bytes.js`);
          const r = await c.encryptBlob(unb64(data));
          return { blob: b64(r.blob), key: b64(r.key), sha256: b64(r.sha256) };
        }, [prefix, data.toString("base64")]);
        const back = go(gointerop, "blobopen", { data: enc.blob, key: enc.key, sha256: enc.sha256 });
        assert.equal(Buffer.from(back.data || "", "base64").toString("hex"), data.toString("hex"), `size ${size}: Go could not open the browser's blob`);
        // Go encrypts, browser decrypts.
        const genc = go(gointerop, "blobseal", { data: data.toString("base64") });
        const out = await page.evaluate(async ([prefix, g]) => {
          const c = await import(`${prefix}/js/crypto.js`);
          const { b64, unb64 } = await import(`${prefix}/js/bytes.js`);
          const pt = await c.decryptBlob(unb64(g.blob || ""), unb64(g.key), unb64(g.sha256));
          // Truncating a chunk-aligned blob must fail (the last-chunk flag).
          let trunc = "accepted";
          const blob = unb64(g.blob || "");
          if (blob.length > 65552) {
            const cut = blob.subarray(0, 65552);
            try { await c.decryptBlob(cut, unb64(g.key), await c.sha256(cut)); } catch { trunc = "refused"; }
          }
          return { pt: b64(pt), trunc };
        }, [prefix, genc]);
        assert.equal(Buffer.from(out.pt, "base64").toString("hex"), data.toString("hex"), `size ${size}: the browser could not open Go's blob`);
        if (size > 65536) assert.equal(out.trunc, "refused");
      }
    }],
  ];
}
