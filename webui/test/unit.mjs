// Unit checks of the app's pure modules under plain Node, no browser: how
// the app treats a send the server refused. `go test ./webui` runs this
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
  for (const f of ["conv.js", "constants.js"]) cpSync(join(js, f), join(dir, f));
  writeFileSync(join(dir, "package.json"), '{"type":"module"}');
  const conv = await import(pathToFileURL(join(dir, "conv.js")).href);
  const { CODES, CODE_STORAGE_FULL, CODE_ID_REUSED } = await import(pathToFileURL(join(dir, "constants.js")).href);

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
  };
  for (const [name, fn] of Object.entries(tests)) {
    try { fn(); console.log("ok  ", name); } catch (e) { failed++; console.log("FAIL", name, "\n", e.message); }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(failed ? `${failed} failed` : "all passed");
process.exit(failed ? 1 : 0);
