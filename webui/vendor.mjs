#!/usr/bin/env node
// vendor.mjs fetches the PWA's few third-party packages from the npm
// registry with `npm pack`, copies the files the browser loads into
// webui/app/vendor/<name>@<version>/, and records the SHA-256 of every
// vendored file in webui/app/vendor/SHA256SUMS (and the table in VENDOR.md).
//
//   node webui/vendor.mjs          re-vendor and rewrite SHA256SUMS
//   node webui/vendor.mjs --check  re-fetch, rebuild in a temp dir and fail
//                                  unless it equals what is committed
//
// Why vendored and not loaded from a CDN: the app's CSP allows no other
// origin, and a clinic's server must not depend on a third party at run time.
// Why checked: a reviewer can re-derive every vendored byte from the
// registry's tarball (whose sha512 integrity is pinned below) with one command.
//
// The one change made to upstream bytes: @hpke/core, @hpke/dhkem-x25519 and
// @hpke/hybridkem-x-wing import their dependencies by bare package name
// ("@hpke/common", "@hpke/dhkem-x25519", "mlkem"), which a browser resolves
// only through an import map, and an inline import map is blocked by the
// strict CSP. The script rewrites those specifiers to the relative paths of
// the vendored copies, and fails if a bare static import is left. And
// go:embed skips files whose names begin with "_", so @hpke/common's and
// mlkem's esm/_dnt.shims.js become dnt.shims.js, mlkem's _u64.js becomes
// u64.js, and their importers are rewritten to match.
// Nothing else is touched, and --check repeats both before comparing.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const vendorDir = path.join(here, "app", "vendor");

// Each package: the exact version, the registry tarball's integrity, which
// files of the tarball the browser needs, and the license.
const packages = [
  {
    name: "@hpke/common", version: "1.10.1", license: "MIT",
    integrity: "sha512-moJwhmtLtuxiUzzNp1jpfBfx8yefKoO9D/RCR9dmwrnc7qjJqId1rEtQz+lSlU5cabX8daToMSx/7HayXOiaFw==",
    files: (f) => /^esm\/.*\.js$/.test(f) || f === "LICENSE",
    // go:embed leaves out files whose names start with "_" (unless the
    // pattern says all:), so the one such file is renamed and its two
    // importers rewritten to match.
    rename: { "esm/_dnt.shims.js": "esm/dnt.shims.js" },
    rewriteRel: { "_dnt.shims.js": "dnt.shims.js" },
  },
  {
    name: "@hpke/core", version: "1.9.0", license: "MIT",
    integrity: "sha512-pFxWl1nNJeQCSUFs7+GAblHvXBCjn9EPN65vdKlYQil2aURaRxfGMO6vBKGqm1YHTKwiAxJQNEI70PbSowMP9Q==",
    files: (f) => /^esm\/.*\.js$/.test(f) || f === "LICENSE",
    rewrite: { "@hpke/common": "hpke-common@1.10.1/esm/mod.js" },
  },
  // The post-quantum hybrid KEM X-Wing (suite 2, webui/app/js/xwing.js) and
  // what it imports: ML-KEM-768 and SHA-3 from mlkem, X25519 from
  // @hpke/dhkem-x25519 (pure JS: WebCrypto's X25519 cannot derive a public
  // key from a private one, which X-Wing's seed expansion needs).
  {
    name: "@hpke/dhkem-x25519", version: "1.8.0", license: "MIT",
    integrity: "sha512-S1MWWkAfu+TFxySgv5+2P3O4Mx/jk7BsoplzQaA1s3sfUJVJ2UsZsSzSsMc+FXJumLXncoJFlO6mK6mDGspfmA==",
    files: (f) => /^esm\/.*\.js$/.test(f) || f === "LICENSE",
    rewrite: { "@hpke/common": "hpke-common@1.10.1/esm/mod.js" },
  },
  {
    name: "mlkem", version: "2.7.0", license: "MIT",
    integrity: "sha512-I2bcB5d6jtkdan6MLGOxObpUbidqv0ej+PhbCGnXUqmcGYZ6X8F0qBpU6HE4mvYc81NSznBrVDp+Uc808Ba2RA==",
    files: (f) => /^esm\/.*\.js$/.test(f) || f === "LICENSE",
    // Two files whose names start with "_", renamed for go:embed as above.
    rename: { "esm/_dnt.shims.js": "esm/dnt.shims.js", "esm/src/sha3/_u64.js": "esm/src/sha3/u64.js" },
    rewriteRel: { "_dnt.shims.js": "dnt.shims.js", "_u64.js": "u64.js" },
  },
  {
    name: "@hpke/hybridkem-x-wing", version: "0.7.0", license: "MIT",
    integrity: "sha512-95M8gJMperA4iWwHFgsEkmxjKcvAX8M4koheFnT85zXcqLL/vBh4597ucw2wLol6d2dC6gpKp9ZApL4d6hmDzA==",
    files: (f) => /^esm\/.*\.js$/.test(f) || f === "LICENSE",
    rewrite: {
      "@hpke/common": "hpke-common@1.10.1/esm/mod.js",
      "@hpke/dhkem-x25519": "hpke-dhkem-x25519@1.8.0/esm/mod.js",
      "mlkem": "mlkem@2.7.0/esm/mod.js",
    },
  },
  {
    name: "qrcode-generator", version: "2.0.4", license: "MIT",
    integrity: "sha512-mZSiP6RnbHl4xL2Ap5HfkjLnmxfKcPWpWe/c+5XxCuetEenqmNFf1FH/ftXPCtFG5/TDobjsjz6sSNL0Sr8Z9g==",
    files: (f) => f === "dist/qrcode.mjs" || f === "LICENSE" || f === "package.json",
  },
];

const dirName = (p) => `${p.name.replace(/^@/, "").replace("/", "-")}@${p.version}`;

function sha256(buf) { return createHash("sha256").update(buf).digest("hex"); }

function walk(dir, base = dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, base, out);
    else out.push(path.relative(base, p).split(path.sep).join("/"));
  }
  return out.sort();
}

// build vendors every package into outDir and returns "sum  path" lines.
function build(outDir) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "curbside-vendor-"));
  try {
    for (const p of packages) {
      const spec = `${p.name}@${p.version}`;
      const out = JSON.parse(execFileSync("npm", ["pack", spec, "--json", "--pack-destination", tmp],
        { cwd: tmp, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
      if (out[0].integrity !== p.integrity) {
        throw new Error(`${spec}: the registry's tarball has integrity ${out[0].integrity}; pinned ${p.integrity}`);
      }
      const x = path.join(tmp, dirName(p));
      fs.mkdirSync(x);
      execFileSync("tar", ["xzf", path.join(tmp, out[0].filename), "-C", x]);
      const src = path.join(x, "package");
      const dst = path.join(outDir, dirName(p));
      for (const f of walk(src).filter(p.files)) {
        let data = fs.readFileSync(path.join(src, f));
        if (p.rewriteRel && f.endsWith(".js")) {
          let text = data.toString("utf8");
          for (const [from, to] of Object.entries(p.rewriteRel)) text = text.replace(new RegExp(`(from "(?:\\.\\.?/)+)${from.replace(".", "\\.")}"`, "g"), `$1${to}"`);
          data = Buffer.from(text, "utf8");
        }
        if (p.rewrite && f.endsWith(".js")) {
          let text = data.toString("utf8");
          for (const [bare, target] of Object.entries(p.rewrite)) {
            // The relative path from this file's folder to the vendored target.
            let rel = path.posix.relative(path.posix.dirname(`${dirName(p)}/${f}`), target);
            if (!rel.startsWith(".")) rel = "./" + rel;
            text = text.split(`from "${bare}"`).join(`from "${rel}"`);
          }
          data = Buffer.from(text, "utf8");
        }
        if (f.endsWith(".js") || f.endsWith(".mjs")) {
          // A browser under the app's CSP resolves only relative specifiers:
          // a bare one left in a static import or export would fail to load.
          const bare = data.toString("utf8").split("\n")
            .filter((l) => /^\s*(import|export)\b.*\bfrom "[^./]/.test(l));
          if (bare.length) throw new Error(`${spec} ${f}: bare import left: ${bare[0].trim()}`);
        }
        const out = (p.rename && p.rename[f]) || f;
        fs.mkdirSync(path.dirname(path.join(dst, out)), { recursive: true });
        fs.writeFileSync(path.join(dst, out), data);
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return packages.flatMap((p) => walk(path.join(outDir, dirName(p)))
    .map((f) => `${sha256(fs.readFileSync(path.join(outDir, dirName(p), f)))}  ${dirName(p)}/${f}`));
}

function table() {
  const rows = packages.map((p) => `| ${p.name} | ${p.version} | ${p.license} | \`${dirName(p)}/\` | \`${p.integrity}\` |`);
  return ["| package | version | license | folder | registry tarball integrity |", "| --- | --- | --- | --- | --- |", ...rows].join("\n");
}

const check = process.argv.includes("--check");
if (check) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "curbside-vendor-check-"));
  try {
    const want = build(tmp).join("\n") + "\n";
    const have = fs.readFileSync(path.join(vendorDir, "SHA256SUMS"), "utf8");
    if (want !== have) {
      console.error("vendor check: SHA256SUMS does not match a fresh vendoring from the registry");
      process.exit(1);
    }
    // And the committed files must match their recorded sums.
    for (const line of have.trim().split("\n")) {
      const [sum, f] = line.split("  ");
      if (sha256(fs.readFileSync(path.join(vendorDir, f))) !== sum) {
        console.error(`vendor check: ${f} differs from its recorded SHA-256`);
        process.exit(1);
      }
    }
    const extra = walk(vendorDir).filter((f) => f.includes("/") && !have.includes(`  ${f}\n`));
    if (extra.length) {
      console.error(`vendor check: files not from the registry: ${extra.join(", ")}`);
      process.exit(1);
    }
    console.log(`vendor check: ${have.trim().split("\n").length} files match the registry`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
} else {
  for (const p of packages) fs.rmSync(path.join(vendorDir, dirName(p)), { recursive: true, force: true });
  const sums = build(vendorDir);
  fs.writeFileSync(path.join(vendorDir, "SHA256SUMS"), sums.join("\n") + "\n");
  const md = fs.readFileSync(path.join(vendorDir, "VENDOR.md"), "utf8");
  const start = md.indexOf("<!-- packages -->"), end = md.indexOf("<!-- /packages -->");
  fs.writeFileSync(path.join(vendorDir, "VENDOR.md"),
    md.slice(0, start) + "<!-- packages -->\n" + table() + "\n" + md.slice(end));
  console.log(`vendored ${sums.length} files; SHA256SUMS and VENDOR.md updated`);
}
