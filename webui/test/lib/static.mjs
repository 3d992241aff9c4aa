// A tiny static server for webui/app, for tests that need the app's modules
// in a page but not a Curbside server (the crypto interop test and the
// benchmark). It serves files the way package embed does (under a versioned
// prefix, with __ASSETS__ replaced in index.html) and with the same strict
// Content-Security-Policy, so a module that would break under the real
// server's headers breaks here too.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../app");
const PREFIX = "/assets/dev";
export const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

const types = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png", ".json": "application/json",
  ".webmanifest": "application/manifest+json",
};

/** serveStatic starts the server on a random loopback port; extra(req, res) may answer first. */
export function serveStatic(extra) {
  const srv = http.createServer((req, res) => {
    if (extra && extra(req, res)) return;
    const url = new URL(req.url, "http://x");
    let file, replace = false;
    if (url.pathname === "/") { file = "index.html"; replace = true; }
    else if (url.pathname === "/sw.js" || url.pathname === "/manifest.webmanifest") { file = url.pathname.slice(1); replace = true; }
    else if (url.pathname.startsWith(PREFIX + "/")) file = decodeURIComponent(url.pathname.slice(PREFIX.length + 1));
    const full = file && path.resolve(appDir, file);
    if (!full || !full.startsWith(appDir) || !fs.existsSync(full) || fs.statSync(full).isDirectory()) {
      res.writeHead(404, { "Content-Security-Policy": CSP }); res.end("not found"); return;
    }
    let body = fs.readFileSync(full);
    if (replace) body = Buffer.from(body.toString("utf8").split("__ASSETS__").join(PREFIX));
    res.writeHead(200, { "Content-Type": types[path.extname(full)] || "application/octet-stream", "Content-Security-Policy": CSP, "Cache-Control": "no-cache" });
    res.end(body);
  });
  return new Promise((resolve) => srv.listen(0, "127.0.0.1", () => {
    const { port } = srv.address();
    resolve({ url: `http://127.0.0.1:${port}`, prefix: PREFIX, close: () => new Promise((r) => srv.close(r)) });
  }));
}
