// @ts-check
// Notifications that wake a closed app (Web Push): the settings section
// that turns them on and off for this device, and the gentle one-time offer
// in the sidebar. The browser's permission prompt appears only after a tap
// on one of them.
import * as push from "../push.js";
import { h, fill, toast } from "./dom.js";

/**
 * turnOn subscribes this device; it says what happened in a toast.
 * @returns {Promise<boolean>} whether notifications are now on
 */
async function turnOn(ui) {
  try {
    const on = await push.enable(ui.c.config.push.vapid_key);
    toast(on ? "Notifications are on for this device. They never show who wrote or what." : "Notifications stay off: the browser was not allowed to show them.");
    return on;
  } catch (e) {
    console.warn("push subscribe:", e);
    toast(e.message && e.code ? e.message : "Notifications could not be turned on in this browser.", { kind: "error", timeout: 10000 });
    return false;
  }
}

/** pushSettings is the settings section's body; it fills in once the device's state is known. */
export function pushSettings(ui) {
  const box = h("div.push-settings", { "data-push": "loading" }, h("p.muted", "Checking notifications…"));
  const why = push.availability(ui.c.config);
  if (why !== "ok") {
    fill(box, h("p.hint", { "data-push": why }, push.AVAILABILITY_TEXT[why]));
    box.dataset.push = why;
    return box;
  }
  const draw = (on) => {
    box.dataset.push = on ? "on" : "off";
    fill(box,
      h("p", on ? "Notifications are on for this device." : "Notifications are off for this device."),
      h("div.row", h("button.secondary", {
        type: "button",
        onclick: async (e) => {
          e.target.disabled = true;
          if (on) {
            try { await push.disable(); toast("Notifications are off for this device."); draw(false); }
            catch (err) { toast(err.message || "Notifications could not be turned off.", { kind: "error" }); e.target.disabled = false; }
          } else {
            draw(await turnOn(ui));
          }
          ui.c.saveSettings({ pushOffered: true });
        },
      }, on ? "Stop notifications on this device" : "Get notifications on this device")));
  };
  push.subscribed().then(draw, () => draw(false));
  return box;
}

/**
 * offerPush decides, once per unlock, whether to show the one-time offer:
 * only where notifications can be had, are not on, and the person has not
 * answered the offer (or used the setting) before.
 */
export async function offerPush(ui) {
  const decided = (shown) => { document.documentElement.dataset.pushOffer = shown ? "shown" : "no"; };
  const why = push.availability(ui.c.config);
  if (why === "ios-home-screen" && !ui.c.settings.homeScreenOffered) {
    // An iPhone tab cannot have notifications; say once how to get them.
    ui.pushOffer = "home-screen";
    ui.renderSidebar();
    document.documentElement.dataset.pushOffer = "home-screen";
    return;
  }
  if (ui.c.settings.pushOffered || why !== "ok") return decided(false);
  try { if (await push.subscribed()) return decided(false); } catch { return decided(false); }
  if (!ui.c) return; // locked meanwhile
  ui.pushOffer = true;
  ui.renderSidebar();
  decided(true);
}

/**
 * pushOfferBanner is the offer, shown at the top of the sidebar until
 * answered; on an iPhone tab, the one-time note on how to get notifications
 * there instead.
 */
export function pushOfferBanner(ui) {
  if (!ui.pushOffer) return null;
  if (ui.pushOffer === "home-screen") {
    const done = () => {
      ui.pushOffer = false;
      ui.c.saveSettings({ homeScreenOffered: true });
      ui.renderSidebar();
    };
    return h("div.banner.push-offer.home-screen", { role: "region", "aria-label": "Notifications" },
      h("span", push.AVAILABILITY_TEXT["ios-home-screen"]),
      h("div.banner-actions", h("button.secondary", { type: "button", onclick: done }, "Got it")));
  }
  const answer = (yes) => async () => {
    ui.pushOffer = false;
    ui.c.saveSettings({ pushOffered: true });
    ui.renderSidebar();
    if (yes) await turnOn(ui);
  };
  return h("div.banner.push-offer", { role: "region", "aria-label": "Notifications" },
    h("span", "Get a notification when a secure message arrives while Curbside is closed? It never shows who wrote or what."),
    h("div.banner-actions",
      h("button.secondary", { type: "button", onclick: answer(true) }, "Allow notifications"),
      h("button.link", { type: "button", onclick: answer(false) }, "Not now")));
}
