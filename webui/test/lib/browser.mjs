// Launching Debian's Chromium through playwright-core. Every context is a
// persistent one with its own temporary profile directory, so a test can
// read the profile's files afterwards (what a stolen laptop would give up).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.CURBSIDE_CHROMIUM || "/usr/bin/chromium";

const ARGS = [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--disable-dev-shm-usage",
];

/**
 * openProfile launches Chromium on a fresh profile directory and returns
 * {context, page, dir, close}. viewport defaults to a phone (375 wide).
 * downloads lets a test receive files the page saves (the console's exports).
 * args are extra Chromium switches; hosts are further names the page may
 * load from besides 127.0.0.1 and localhost (the server's own name).
 * hasTouch makes the page a touch device (a coarse pointer).
 */
export async function openProfile(name, { viewport = { width: 390, height: 780 }, dir, downloads = false, args = [], hosts = [], hasTouch = false, userAgent } = {}) {
  dir = dir || fs.mkdtempSync(path.join(os.tmpdir(), `curbside-profile-${name}-`));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM, headless: true, args: [...ARGS, ...args], viewport,
    serviceWorkers: "allow", acceptDownloads: downloads, hasTouch, userAgent,
  });
  // Generous: under `go test ./...` the browser shares two cores with other
  // packages' tests. A wait that times out is a failure, never a measure.
  context.setDefaultTimeout(60000);
  const page = context.pages()[0] || (await context.newPage());
  const problems = [];
  // What the app must never do: load from another origin, or trip the CSP.
  const foreign = [];
  const csp = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`${name} console: ${m.text()}`);
    if (/Content Security Policy|Refused to (load|execute|apply|connect|frame)/i.test(m.text())) csp.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(`${name} page error: ${e.message}`));
  context.on("request", (r) => {
    const u = new URL(r.url());
    if (!["http:", "https:", "ws:", "wss:"].includes(u.protocol)) return; // blob:, data:
    if (u.hostname !== "127.0.0.1" && u.hostname !== "localhost" && !hosts.includes(u.hostname)) foreign.push(r.url());
  });
  return {
    name, context, page, dir, problems, foreign, csp,
    close: async () => { await context.close().catch(() => {}); },
  };
}
