// Unit checks of the app's pure modules under plain Node, no browser: how
// the app treats a send the server refused, and the strict JSON check of
// what the relay sends. `go test ./webui` runs this
// (TestUnitModules); by hand: node webui/test/unit.mjs
//
// The app's modules are plain .js ES modules with no package.json of
// their own, so they are copied beside one that says "module" and
// imported from there, whatever Node's version.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import assert from "node:assert/strict";

const js = join(dirname(fileURLToPath(import.meta.url)), "..", "app", "js");
const dir = mkdtempSync(join(tmpdir(), "curbside-unit-"));
let failed = 0;
try {
  for (const f of ["conv.js", "constants.js", "strictjson.js"]) cpSync(join(js, f), join(dir, f));
  writeFileSync(join(dir, "package.json"), '{"type":"module"}');
  const conv = await import(pathToFileURL(join(dir, "conv.js")).href);
  const { CODES, CODE_STORAGE_FULL, CODE_ID_REUSED, MAX_JSON_DEPTH } = await import(pathToFileURL(join(dir, "constants.js")).href);
  const strict = await import(pathToFileURL(join(dir, "strictjson.js")).href);
  const env = (extra = "") => `{"v":1,"suite":1,"id":"AAAAAAAAAAAAAAAAAAAAAA","conv":"d:1:2"${extra},"from":{"user":1,"device":10},` +
    `"created":1,"flags":0,"keys":[{"user":2,"device":20,"key":"AAAA"}],"nonce":"AAAA","body":"AAAA","sig":"AAAA"}`;
  const msg = (e) => `{"type":"msg","seq":1,"ts":2,"env":${e}}`;
  /** @param {string} text @param {RegExp} reason */
  const refused = (text, reason) => {
    assert.throws(() => strict.strictParse(text), (e) => e instanceof strict.StrictJSONError && reason.test(e.reason));
  };

  const tests = {
    "storage_full keeps the message pending, shows the catalogue's words and retries with a growing wait": () => {
      const words = CODES[CODE_STORAGE_FULL].message;
      assert.match(words, /storage is full/);
      assert.match(words, /kept/);
      const first = conv.sendOutcome({ code: CODE_STORAGE_FULL, message: "whatever the frame said" }, 1);
      assert.deepEqual(first, { status: "pending", retryMs: conv.FULL_RETRY_FIRST_MS, note: words });
      const later = conv.sendOutcome({ code: CODE_STORAGE_FULL }, 3);
      assert.equal(later.status, "pending");
      assert.equal(later.retryMs, 4 * conv.FULL_RETRY_FIRST_MS);
      assert.equal(conv.sendOutcome({ code: CODE_STORAGE_FULL }, 100).retryMs, conv.FULL_RETRY_MAX_MS);
    },
    "offline and timeout wait for the connection, with nothing to show": () => {
      for (const code of ["offline", "timeout"]) assert.deepEqual(conv.sendOutcome({ code }, 1), { status: "pending", retryMs: 0, note: "" });
    },
    "any other refusal fails with the server's words, left to the person": () => {
      assert.deepEqual(conv.sendOutcome({ code: CODE_ID_REUSED, message: "This message id was already used." }, 1),
        { status: "failed", retryMs: 0, note: "This message id was already used." });
    },
    "strict JSON: a frame and envelope the server sends parse as JSON.parse would": () => {
      for (const text of [msg(env()), msg(env(`,"later":{"x":[1,{"y":"{\\\"conv\\\":1}"}]}`)), '{"type":"presence","user":3,"status":"away","ts":1}',
        '{"type":"error","code":"devices_changed","message":"a \\"quoted\\" \\\\","devices":{"2":[20,21],"3":[]}}', " [ {} , [] ] "]) {
        assert.deepEqual(strict.strictParse(text), JSON.parse(text), text);
      }
    },
    "strict JSON: conv beside CONV, conv twice, and an escaped second conv are refused": () => {
      refused(msg(env(`,"CONV":"g:5"`)), /case/);
      refused(msg(env(`,"conv":"g:5"`)), /duplicate/);
      refused(msg(env(`,"con\\u0076":"g:5"`)), /duplicate/);
      refused(msg(env(`,"\\u212Aeys":[]`)), /case/); // the Kelvin sign folds to k
    },
    "strict JSON: duplicates nested inside keys and from are refused": () => {
      refused(msg(env().replace('"device":20', '"device":20,"device":21')), /duplicate/);
      refused(msg(env().replace('"device":20', '"device":20,"Device":21')), /case/);
      refused(msg(env().replace('"from":{"user":1', '"from":{"user":1,"user":2')), /duplicate/);
    },
    "strict JSON: case variants of type are refused": () => {
      refused('{"type":"msg","TYPE":"hello"}', /case/);
      refused('{"Type":"hello","type":"msg"}', /case/);
      refused('{"type":"msg","type":"hello"}', /duplicate/);
      assert.equal(strict.strictFault('{"Type":"hello"}'), null); // alone it is not type at all: JSON.parse and Go both leave type unset
    },
    "strict JSON: nesting is bounded, keys of separate objects may repeat, and text that is not JSON is a SyntaxError": () => {
      const deep = (n) => "[".repeat(n) + "]".repeat(n);
      assert.equal(strict.strictFault(deep(MAX_JSON_DEPTH)), null);
      refused(deep(MAX_JSON_DEPTH + 1), /nesting/);
      assert.equal(strict.strictFault('[{"a":1},{"a":2},{"b":{"a":3}}]'), null);
      assert.throws(() => strict.strictParse('{"a":'), SyntaxError);
      assert.ok(strict.strictFault('{"a":"no end') instanceof strict.StrictJSONError);
    },
  };
  for (const [name, fn] of Object.entries(tests)) {
    try { fn(); console.log("ok  ", name); } catch (e) { failed++; console.log("FAIL", name, "\n", e.message); }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(failed ? `${failed} failed` : "all passed");
process.exit(failed ? 1 : 0);
