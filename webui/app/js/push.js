// @ts-check
// Web Push on this device: whether it can be had here, turning it on (only
// when the person asks: the browser's permission prompt comes from a tap in
// settings or in the one-time offer, never at page load) and off, in the
// browser and on the server. A push says only that a secure message is
// waiting (PROTOCOL.md, Web Push); the service worker shows it.
import { api } from "./api.js";
import { unb64url } from "./bytes.js";

/**
 * @typedef {"ok" | "ios-home-screen" | "unsupported" | "off-on-server" | "denied"} PushAvailability
 */

/** isIOS tells an iPhone or iPad, including an iPad that presents itself as a Mac. */
export function isIOS() {
  const ua = navigator.userAgent;
  return /iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1);
}

/** standalone is true when the app runs from the home screen, not in a browser tab. */
export function standalone() {
  return /** @type {any} */ (navigator).standalone === true || window.matchMedia("(display-mode: standalone)").matches;
}

/**
 * availability says whether this device can turn notifications on, and if
 * not, why: iOS gives push only to an app added to the home screen.
 * @param {import("./types.js").ConfigAnswer} config
 * @returns {PushAvailability}
 */
export function availability(config) {
  if (isIOS() && !standalone()) return "ios-home-screen";
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return "unsupported";
  if (!config.push?.vapid_key) return "off-on-server";
  if (Notification.permission === "denied") return "denied";
  return "ok";
}

/** AVAILABILITY_TEXT explains each case to the person, with what to do. */
export const AVAILABILITY_TEXT = {
  "ios-home-screen": "On iPhone and iPad, notifications work only when Curbside is added to the Home Screen: tap Share, then Add to Home Screen, and open Curbside from there.",
  unsupported: "This browser cannot show notifications when Curbside is closed.",
  "off-on-server": "Your practice's server does not send notifications. Keep Curbside open to hear new messages.",
  denied: "Notifications are blocked for Curbside in this browser's settings. Allow them there, then come back.",
};

/** subscribed reports whether this device is subscribed, in the browser and on the server. */
export async function subscribed() {
  const reg = await navigator.serviceWorker.ready;
  const sub = await reg.pushManager.getSubscription();
  if (!sub) return false;
  const st = await api.pushStatus();
  return st.subscribed;
}

/**
 * enable asks the browser's permission, subscribes with the server's VAPID
 * key and registers the subscription with the server.
 * @param {string} vapidKey base64url
 * @returns {Promise<boolean>} false when the person did not allow notifications
 */
export async function enable(vapidKey) {
  if ((await Notification.requestPermission()) !== "granted") return false;
  const reg = await navigator.serviceWorker.ready;
  let sub = await reg.pushManager.getSubscription();
  if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: /** @type {Uint8Array<ArrayBuffer>} */ (unb64url(vapidKey)) });
  try {
    await api.putPush(sub.toJSON());
  } catch (e) {
    await sub.unsubscribe().catch(() => {});
    throw e;
  }
  return true;
}

/** disable deletes the subscription on the server, then in the browser. */
export async function disable() {
  await api.deletePush();
  const reg = await navigator.serviceWorker.ready;
  const sub = await reg.pushManager.getSubscription();
  if (sub) await sub.unsubscribe();
}
