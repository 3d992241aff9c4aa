// @ts-check
// Curbside service worker: the offline shell and Web Push notifications.
//
// The server serves this file at /sw.js with __ASSETS__ replaced by the
// versioned asset prefix (/assets/<hash>), so each release gets its own
// cache and the old one is dropped on activation. Only the app's code, style
// and icons are cached; API responses, and so messages, never are: the local
// history lives in the encrypted IndexedDB store, not in a cache.
/** The worker's global scope, typed as what it is. */
const sw = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));
const ASSETS = "__ASSETS__";
const CACHE = "curbside-shell-" + ASSETS.split("/").pop();

// The shell is found by crawling the module graph from main.js, so the list
// cannot go stale when a module is added.
async function shellFiles() {
  const seen = new Set();
  const queue = [ASSETS + "/js/main.js"];
  while (queue.length) {
    const url = queue.shift();
    if (seen.has(url)) continue;
    seen.add(url);
    const res = await fetch(url, { cache: "no-cache" });
    if (!res.ok) throw new Error(`precache: ${url}: ${res.status}`);
    const text = await res.text();
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      queue.push(new URL(m[1], new URL(url, sw.location.origin)).pathname);
    }
  }
  return ["/", "/manifest.webmanifest", ASSETS + "/css/app.css", ASSETS + "/css/messaging.css", ASSETS + "/icons/icon.svg", ASSETS + "/icons/icon-192.png", ASSETS + "/icons/icon-512.png", ...seen];
}

sw.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(await shellFiles());
    await sw.skipWaiting();
  })());
});

sw.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const k of await caches.keys()) if (k.startsWith("curbside-shell-") && k !== CACHE) await caches.delete(k);
    await sw.clients.claim();
  })());
});

sw.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== sw.location.origin) return;
  if (url.pathname.startsWith("/api/") || url.pathname === "/healthz") return; // never cached
  if (url.pathname.startsWith("/assets/")) {
    // Versioned and immutable: the cache is always right.
    event.respondWith(caches.match(event.request).then((hit) => hit || fetch(event.request)));
    return;
  }
  if (url.pathname.startsWith("/admin") || url.pathname === "/welcome") {
    // The console and the welcome page are not part of the offline shell:
    // the network only. Offline, the page's own cached copy if a browser
    // kept one, else a plain notice, never the messaging app in their place.
    if (event.request.mode === "navigate") {
      event.respondWith(fetch(event.request).catch(async () => (await caches.match(event.request, { ignoreSearch: true })) ||
        new Response("Curbside is offline. The admin console and invitation links need a connection to the server. Reconnect and reload this page.",
          { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } })));
    }
    return;
  }
  if (event.request.mode === "navigate" || url.pathname === "/" || url.pathname === "/manifest.webmanifest") {
    // The network first, so a new release is picked up; the cached shell offline.
    event.respondWith(fetch(event.request).catch(async () => (await caches.match(event.request, { ignoreSearch: true })) || caches.match("/")));
  }
});

// ---- Web Push. A push carries no PHI (PROTOCOL.md, Web Push): that a
// secure message is waiting, whether it is urgent, and the opaque id of its
// conversation. The notification says no more; the app, once unlocked with
// the PIN, fetches and decrypts the message over the relay.

/**
 * pushPayload reads a push's JSON, keeping only the fields the server sends
 * and a conversation id of the protocol's shape.
 * @param {PushMessageData | null} data
 * @returns {{urgent: boolean, conv: string}}
 */
function pushPayload(data) {
  let p = {};
  try { p = data ? data.json() : {}; } catch { /* not JSON: a plain wake-up */ }
  const conv = typeof p.conv === "string" && /^(d:\d+:\d+|g:\d+|b:\d+:[A-Za-z0-9_-]{1,64})$/.test(p.conv) ? p.conv : "";
  return { urgent: p.urgent === true, conv };
}

sw.addEventListener("push", (event) => {
  event.waitUntil((async () => {
    const { urgent, conv } = pushPayload(event.data);
    const wins = await sw.clients.matchAll({ type: "window", includeUncontrolled: true });
    if (wins.some((w) => w.visibilityState === "visible")) return; // the open app alerts by itself
    await sw.registration.showNotification(urgent ? "Urgent secure message" : "New secure message", {
      body: "Open Curbside to read it.",
      tag: urgent ? "curbside-urgent" : "curbside",
      icon: ASSETS + "/icons/icon-192.png",
      requireInteraction: urgent,
      data: { conv },
    });
  })());
});

sw.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const conv = typeof event.notification.data?.conv === "string" ? event.notification.data.conv : "";
  const url = conv ? "/#/c/" + encodeURIComponent(conv) : "/";
  event.waitUntil((async () => {
    const wins = await sw.clients.matchAll({ type: "window", includeUncontrolled: true });
    if (wins.length) {
      // The open app goes to the conversation; while locked it keeps the
      // address and shows it once unlocked.
      if (conv) wins[0].postMessage({ type: "curbside:open", conv });
      return wins[0].focus();
    }
    return sw.clients.openWindow(url);
  })());
});
