// @ts-check
// Muting a conversation, on this device: a muted conversation makes no
// sound and shows no banner for a new message, except one that mentions
// this person or is urgent. It is a setting of this device's vault, so
// the server never learns which conversations someone muted. A closed app
// woken by Web Push still shows its one content-free notification: the
// service worker cannot read the vault to know the conversation is muted.
import { FLAG_URGENT } from "../constants.js";
import { h, icon, toast } from "./dom.js";

/**
 * isMuted says whether the conversation is muted on this device.
 * @param {any} c the client
 * @param {string} convId
 */
export function isMuted(c, convId) {
  return !!c.settings.muted?.[convId];
}

/**
 * alerts says whether an incoming message may make a sound or a banner:
 * always when urgent or when it mentions this person, otherwise unless
 * its conversation is muted.
 * @param {any} c the client
 * @param {import("../types.js").Message} m
 */
export function alerts(c, m) {
  return !!(m.flags & FLAG_URGENT) || mentionsMe(c, m) || !isMuted(c, m.conv);
}

/** mentionsMe says whether a message mentions this person (an "at" mention). */
export function mentionsMe(c, m) {
  return !m.out && !!m.mentions?.includes(c.me.id);
}

/**
 * setMuted mutes or unmutes a conversation on this device.
 * @param {any} c the client
 * @param {string} convId
 * @param {boolean} on
 */
export async function setMuted(c, convId, on) {
  const muted = { ...(c.settings.muted || {}) };
  if (on) muted[convId] = true;
  else delete muted[convId];
  await c.saveSettings({ muted });
}

/** muteButton is the conversation header's Mute / Unmute toggle. */
export function muteButton(ui, conv) {
  const on = isMuted(ui.c, conv.id);
  return h("button.icon-btn.mute-btn", { type: "button", "aria-pressed": on ? "true" : "false", "aria-label": on ? "Unmute this conversation" : "Mute this conversation",
    title: on ? "Muted on this device: only mentions and urgent messages alert you" : "Mute on this device",
    onclick: async () => {
      await setMuted(ui.c, conv.id, !on);
      toast(on ? "Unmuted: new messages here alert you again." : "Muted on this device. Mentions and urgent messages still alert you.");
    } }, icon(on ? "belloff" : "bell"));
}
