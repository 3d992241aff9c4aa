// Crypto interop between the browser (webui/app/js/crypto.js on Chromium's
// WebCrypto and the vendored @hpke/core) and the Go reference (package e2ee,
// through webui/test/gointerop): envelopes both ways, device lists both ways,
// safety numbers, attachment blobs both ways, and suite 2's X-Wing sealed
// content keys both ways. No server is involved;
// the end-to-end run in scenarios.mjs does the same through the relay.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

// The suite-2 test vectors package e2ee made and checks (e2ee/xwing_test.go).
const xwingVectors = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../e2ee/testdata/xwing_vectors.json");

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

    ["crypto interop: suite-2 envelopes and X-Wing device lists, Go to the browser and back", async ({ page, prefix, gointerop }) => {
      const g = go(gointerop, "pqkeys");
      assert.equal(Buffer.from(g.device.pq, "base64").length, 1216);
      // The browser makes a device with an X-Wing key and signs its list.
      const b = await page.evaluate(async (prefix) => {
        const c = await import(`${prefix}/js/crypto.js`);
        const x = await import(`${prefix}/js/xwing.js`);
        const { b64 } = await import(`${prefix}/js/bytes.js`);
        const { raw, keys } = await c.generateDeviceKeys();
        const seed = x.generateXWingSeed();
        keys.pqKey = await x.importXWingPrivate(seed);
        window.__pqMe = keys;
        const pq = b64(await x.xwingPublicKey(seed));
        const list = await c.signDeviceList({ user: 9, version: 1, devices: [{ id: keys.id, enc: b64(keys.encPub), sign: b64(keys.signPub), pq }] }, keys);
        return { id: keys.id, enc: b64(raw.encPub), sign: b64(raw.signPub), pq, list };
      }, prefix);
      // Each side verifies the other's signed list with its X-Wing key, and
      // refuses it with the key stripped: the signature covers it.
      assert.deepEqual(go(gointerop, "verifylist", { list: b.list }), { ok: true });
      const strippedB = structuredClone(b.list);
      delete strippedB.devices[0].pq;
      assert.throws(() => go(gointerop, "verifylist", { list: strippedB }), "Go accepted the browser's list with its X-Wing key stripped");
      const glist = go(gointerop, "signlist", { keys: g.keys, list: { user: 7, version: 2, devices: [g.device] } });
      const lists = await page.evaluate(async ([prefix, glist]) => {
        const c = await import(`${prefix}/js/crypto.js`);
        await c.verifyDeviceList(glist);
        const bad = structuredClone(glist);
        delete bad.devices[0].pq;
        try { await c.verifyDeviceList(bad); return "stripped list accepted"; } catch { return "ok"; }
      }, [prefix, glist]);
      assert.equal(lists, "ok");

      // Go seals suite 2 (every recipient lists an X-Wing key); the browser opens it.
      const text = "suite 2 from Go ✓ " + randomBytes(8).toString("hex");
      const env = go(gointerop, "seal", {
        keys: g.keys,
        header: { id: "goToBrowserPQ_" + randomBytes(8).toString("hex"), conv: "d:7:9", from: { user: 7, device: g.device.id }, created: Date.now(), flags: 0 },
        recipients: [{ user: 9, device: b.id, enc: b.enc, pq: b.pq }, { user: 7, device: g.device.id, enc: g.device.enc, pq: g.device.pq }],
        plaintext: Buffer.from(JSON.stringify({ type: "text", text })).toString("base64"),
      });
      assert.equal(env.suite, 2);
      assert.equal(Buffer.from(env.keys[0].key, "base64").length, 1168);
      const opened = await page.evaluate(async ([prefix, env, sign]) => {
        const c = await import(`${prefix}/js/crypto.js`);
        const { unb64, fromUtf8 } = await import(`${prefix}/js/bytes.js`);
        const out = fromUtf8(await c.openEnvelope(env, unb64(sign), window.__pqMe));
        // Without its X-Wing key the device cannot open it.
        let without = "opened";
        try { await c.openEnvelope(env, unb64(sign), { ...window.__pqMe, pqKey: undefined }); } catch (e) { without = e.kind; }
        // Relabelled as suite 1, the signature breaks.
        let relabelled = "opened";
        try { await c.openEnvelope({ ...env, suite: 1 }, unb64(sign), window.__pqMe); } catch (e) { relabelled = e.kind; }
        return { out, without, relabelled };
      }, [prefix, env, g.device.sign]);
      assert.equal(JSON.parse(opened.out).text, text);
      assert.equal(opened.without, "decrypt");
      assert.equal(opened.relabelled, "signature");

      // The browser seals suite 2 to X-Wing devices by itself, suite 1 to a
      // set with a device without one; Go opens both.
      const benvs = await page.evaluate(async ([prefix, g, b]) => {
        const c = await import(`${prefix}/js/crypto.js`);
        const { unb64, utf8 } = await import(`${prefix}/js/bytes.js`);
        const plain = await c.generateDeviceKeys();
        const hdr = () => ({ id: c.newMessageId(), conv: "d:7:9", from: { user: 9, device: window.__pqMe.id }, created: Date.now(), flags: 0 });
        const goDev = { user: 7, device: g.device.id, enc: unb64(g.device.enc), pq: unb64(g.device.pq) };
        const pq = await c.sealEnvelope(hdr(), [goDev, { user: 9, device: b.id, enc: unb64(b.enc), pq: unb64(b.pq) }],
          utf8(JSON.stringify({ type: "text", text: "suite 2 from the browser ✓" })), window.__pqMe.signKey);
        const mixed = await c.sealEnvelope(hdr(), [goDev, { user: 9, device: plain.keys.id, enc: plain.raw.encPub }],
          utf8(JSON.stringify({ type: "text", text: "suite 1 from the browser ✓" })), window.__pqMe.signKey);
        return { pq, mixed };
      }, [prefix, g, b]);
      assert.equal(benvs.pq.suite, 2);
      assert.equal(Buffer.from(benvs.pq.keys[0].key, "base64").length, 1168);
      assert.equal(benvs.mixed.suite, 1);
      for (const [env, want] of [[benvs.pq, "suite 2 from the browser ✓"], [benvs.mixed, "suite 1 from the browser ✓"]]) {
        const gout = go(gointerop, "open", { keys: g.keys, env, sender_sign: b.sign });
        assert.equal(JSON.parse(Buffer.from(gout.plaintext, "base64")).text, want);
      }
    }],

    ["crypto interop: suite 2 (X-Wing) content keys both ways, the shared vectors, under the app's CSP", async ({ page, prefix, gointerop }) => {
      // Record CSP violations from here on: the vendored X-Wing graph
      // (mlkem, @hpke/dhkem-x25519) must load under the strict policy.
      await page.evaluate(() => {
        window.__cspViolations = [];
        document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
      });

      // The fixed vectors: the seed expands to the same public key, the
      // info is the same bytes, and the sealed key opens to the same key.
      const vectors = JSON.parse(fs.readFileSync(xwingVectors, "utf8"));
      assert.ok(vectors.length >= 2);
      const vout = await page.evaluate(async ([prefix, vectors]) => {
        const x = await import(`${prefix}/js/xwing.js`);
        const c = await import(`${prefix}/js/crypto.js`);
        const { b64, unb64 } = await import(`${prefix}/js/bytes.js`);
        const out = [];
        for (const v of vectors) {
          const pub = b64(await x.xwingPublicKey(unb64(v.seed)));
          const info = b64(c.keyInfo(v.msg_id, v.device));
          const key = b64(await x.openKeyXWing(await x.importXWingPrivate(unb64(v.seed)), v.msg_id, v.device, unb64(v.sealed)));
          out.push({ pub, info, key });
        }
        return out;
      }, [prefix, vectors]);
      vectors.forEach((v, i) => {
        assert.equal(vout[i].pub, v.public, `vector ${i}: the browser expands the seed to another public key`);
        assert.equal(vout[i].info, v.info, `vector ${i}: keyInfo differs`);
        assert.equal(vout[i].key, v.key, `vector ${i}: the browser opened another content key`);
      });

      // Go → browser: the browser makes a seed; Go expands the same seed to
      // the same public key, seals a content key to it, the browser opens it.
      const mine = await page.evaluate(async (prefix) => {
        const x = await import(`${prefix}/js/xwing.js`);
        const { b64 } = await import(`${prefix}/js/bytes.js`);
        const seed = x.generateXWingSeed();
        window.__xwingSeed = b64(seed);
        return { seed: b64(seed), public: b64(await x.xwingPublicKey(seed)) };
      }, prefix);
      assert.equal(Buffer.from(mine.public, "base64").length, 1216);
      assert.equal(go(gointerop, "xwingkey", { seed: mine.seed }).public, mine.public, "Go and the browser expand a seed differently");
      const K = randomBytes(32).toString("base64");
      const msgID = "xwingGoToBrowser_" + randomBytes(6).toString("hex");
      const gsealed = go(gointerop, "xwingseal", { public: mine.public, msg_id: msgID, device_id: 987654321, key: K }).sealed;
      assert.equal(Buffer.from(gsealed, "base64").length, 1168);
      const bopen = await page.evaluate(async ([prefix, sealed, msgID]) => {
        const x = await import(`${prefix}/js/xwing.js`);
        const { b64, unb64 } = await import(`${prefix}/js/bytes.js`);
        const priv = await x.importXWingPrivate(unb64(window.__xwingSeed));
        const key = b64(await x.openKeyXWing(priv, msgID, 987654321, unb64(sealed)));
        // The info binds message and device; any changed byte of enc or ct fails.
        const refusals = {};
        const tryOpen = async (name, id, dev, s) => {
          try { await x.openKeyXWing(priv, id, dev, s); refusals[name] = "opened"; } catch (e) { refusals[name] = e.kind; }
        };
        await tryOpen("other device", msgID, 987654322, unb64(sealed));
        await tryOpen("other message", msgID + "x", 987654321, unb64(sealed));
        for (const [name, at] of [["ML-KEM ciphertext", 17], ["X25519 ephemeral key", 1100], ["sealed key", 1130]]) {
          const bad = unb64(sealed); bad[at] ^= 1;
          await tryOpen(name, msgID, 987654321, bad);
        }
        const other = await x.importXWingPrivate(x.generateXWingSeed());
        try { await x.openKeyXWing(other, msgID, 987654321, unb64(sealed)); refusals["other key"] = "opened"; } catch (e) { refusals["other key"] = e.kind; }
        return { key, refusals };
      }, [prefix, gsealed, msgID]);
      assert.equal(bopen.key, K, "the browser did not open Go's X-Wing seal to the same content key");
      assert.deepEqual(bopen.refusals, { "other device": "decrypt", "other message": "decrypt", "ML-KEM ciphertext": "decrypt",
        "X25519 ephemeral key": "decrypt", "sealed key": "decrypt", "other key": "decrypt" });

      // Browser → Go: Go makes the key; the browser seals to its public key.
      const gk = go(gointerop, "xwingkey", {});
      const K2 = randomBytes(32).toString("base64");
      const msg2 = "xwingBrowserToGo_" + randomBytes(6).toString("hex");
      const bsealed = await page.evaluate(async ([prefix, pub, msg2, K2]) => {
        const x = await import(`${prefix}/js/xwing.js`);
        const { b64, unb64 } = await import(`${prefix}/js/bytes.js`);
        return b64(await x.sealKeyXWing(await x.importXWingPublic(unb64(pub)), msg2, 42, unb64(K2)));
      }, [prefix, gk.public, msg2, K2]);
      assert.equal(Buffer.from(bsealed, "base64").length, 1168);
      assert.equal(go(gointerop, "xwingopen", { seed: gk.seed, msg_id: msg2, device_id: 42, sealed: bsealed }).key, K2,
        "Go did not open the browser's X-Wing seal to the same content key");
      // Go refuses it for another device, as the browser does.
      assert.throws(() => execFileSync(gointerop, ["xwingopen"], { input: JSON.stringify({ seed: gk.seed, msg_id: msg2, device_id: 43, sealed: bsealed }), stdio: ["pipe", "pipe", "pipe"] }));

      assert.deepEqual(await page.evaluate(() => window.__cspViolations), [], "CSP violations while loading or running X-Wing");
    }],

    ["crypto interop: key commitment and signed receipts both ways", async ({ page, prefix, gointerop }) => {
      const g = go(gointerop, "keys"), g2 = go(gointerop, "keys");
      const b = await page.evaluate(async (prefix) => {
        const c = await import(`${prefix}/js/crypto.js`);
        const { b64 } = await import(`${prefix}/js/bytes.js`);
        const { raw, keys } = await c.generateDeviceKeys();
        window.__me2 = keys;
        return { id: keys.id, enc: b64(raw.encPub), sign: b64(raw.signPub) };
      }, prefix);

      // A dishonest Go sender: K1 sealed to a Go device and committed to,
      // K2 to the browser, one body that AES-GCM opens under both. The Go
      // device reads it; the browser refuses the key it was given.
      const env = go(gointerop, "twokeys", {
        keys: g.keys,
        header: { id: "twoKeys_" + randomBytes(8).toString("hex"), conv: "g:4", from: { user: 7, device: g.device.id }, created: Date.now(), flags: 0 },
        recipients: [{ user: 8, device: g2.device.id, enc: g2.device.enc }, { user: 9, device: b.id, enc: b.enc }],
      });
      assert.equal(env.v, 2);
      assert.ok(go(gointerop, "open", { keys: g2.keys, env, sender_sign: g.device.sign }).plaintext !== undefined);
      const kind = await page.evaluate(async ([prefix, env, sign]) => {
        const c = await import(`${prefix}/js/crypto.js`);
        const { unb64 } = await import(`${prefix}/js/bytes.js`);
        try { await c.openEnvelope(env, unb64(sign), window.__me2); return "opened"; } catch (e) { return e.kind; }
      }, [prefix, env, g.device.sign]);
      assert.equal(kind, "commitment", "the browser opened a content key the signed header does not commit to");

      // A dishonest browser sender: a real seal, then a commitment to
      // another key, signed again. Go refuses it; the honest seal opens.
      const benv = await page.evaluate(async ([prefix, g]) => {
        const c = await import(`${prefix}/js/crypto.js`);
        const { b64, unb64, utf8 } = await import(`${prefix}/js/bytes.js`);
        const honest = await c.sealEnvelope({ id: c.newMessageId(), conv: "d:7:9", from: { user: 9, device: window.__me2.id }, created: Date.now(), flags: 0 },
          [{ user: 7, device: g.device.id, enc: unb64(g.device.enc) }], utf8(JSON.stringify({ type: "text", text: "committed" })), window.__me2.signKey);
        const bad = structuredClone(honest);
        bad.commit = b64(crypto.getRandomValues(new Uint8Array(32)));
        bad.sig = b64(await c.signEd25519(window.__me2.signKey, c.envelopeSignedBytes(bad)));
        return { honest, bad };
      }, [prefix, g]);
      assert.equal(JSON.parse(Buffer.from(go(gointerop, "open", { keys: g.keys, env: benv.honest, sender_sign: b.sign }).plaintext, "base64")).text, "committed");
      assert.throws(() => execFileSync(gointerop, ["open"], { input: JSON.stringify({ keys: g.keys, env: benv.bad, sender_sign: b.sign }), encoding: "utf8", stdio: "pipe" }),
        (e) => /commitment/.test(String(e.stderr)), "Go opened a content key the signed header does not commit to");

      // Signed receipts and recalls: the browser's verify in Go, Go's in
      // the browser; a changed kind, time or signer does not verify.
      const attest = { kind: "read", msg: "msg_" + randomBytes(8).toString("hex"), conv: "d:7:9", at: Date.now(), user: 9, device: b.id };
      const bsig = await page.evaluate(async ([prefix, a]) => {
        const c = await import(`${prefix}/js/crypto.js`);
        return (await c.signAttestation({ type: "receipt", kind: a.kind, msg: a.msg, conv: a.conv }, { user: a.user, device: a.device, signKey: window.__me2.signKey }, a.at)).sig;
      }, [prefix, attest]);
      assert.deepEqual(go(gointerop, "verifyattest", { attest, sig: bsig, sign_pub: b.sign }), { ok: true });
      assert.deepEqual(go(gointerop, "verifyattest", { attest: { ...attest, kind: "acknowledged" }, sig: bsig, sign_pub: b.sign }), { ok: false });
      const recall = { kind: "recall", msg: attest.msg, conv: "d:7:9", at: Date.now(), user: 7, device: g.device.id };
      const gsig = go(gointerop, "signattest", { keys: g.keys, attest: recall }).sig;
      const verdicts = await page.evaluate(async ([prefix, r, sig, pub]) => {
        const c = await import(`${prefix}/js/crypto.js`);
        const { unb64 } = await import(`${prefix}/js/bytes.js`);
        const ev = { type: "recall", msg: r.msg, conv: r.conv, at: r.at, user: r.user, device: r.device, sig };
        return [await c.verifyAttestation(ev, unb64(pub)), await c.verifyAttestation({ ...ev, at: ev.at + 1 }, unb64(pub)),
          await c.verifyAttestation({ ...ev, type: "receipt", kind: "read" }, unb64(pub)), await c.verifyAttestation({ ...ev, sig: undefined }, unb64(pub))];
      }, [prefix, recall, gsig, g.device.sign]);
      assert.deepEqual(verdicts, [true, false, false, false]);
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
