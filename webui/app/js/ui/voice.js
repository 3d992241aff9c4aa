// @ts-check
// Voice notes: recorded in the browser with MediaRecorder, then encrypted
// and uploaded like any attachment (attachments.js), with a player on both
// sides. A recording stops by itself at VOICE_MAX_MS, or before it would
// pass the policy's attachment size. The button is offered only where the
// browser can record a type the policy allows.
import { mimeAllowed } from "../conv.js";
import { normalMime } from "../attachments.js";
import { fill, h, icon } from "./dom.js";

/** The longest voice note, in ms. */
export const VOICE_MAX_MS = 5 * 60e3;

/** The types tried, in order of preference. */
const CANDIDATES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", "audio/webm"];

/**
 * voiceType is the recording type to use: one the browser records and the
 * policy allows, or "" if there is none.
 * @param {string[]} allowed the policy's attachment_types
 */
export function voiceType(allowed) {
  if (typeof MediaRecorder === "undefined" || !navigator.mediaDevices?.getUserMedia) return "";
  return CANDIDATES.find((t) => MediaRecorder.isTypeSupported(t) && mimeAllowed(normalMime(t), allowed)) || "";
}

/** fmtClock is a duration as m:ss. */
export function fmtClock(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * voiceButton is the composer's microphone button, or null where voice
 * notes cannot be recorded. A finished recording goes to add(file,
 * extra) as a picked file would, with {voice, duration_ms}.
 * @param {any} ui
 * @param {HTMLElement} box where the recording's controls are shown
 * @param {HTMLElement} err where a problem is said
 * @param {(file: File, extra: {voice: boolean, duration_ms: number}) => void} add
 */
export function voiceButton(ui, box, err, add) {
  const type = voiceType(ui.c.policy.attachment_types);
  if (!type) return null;
  const btn = h("button.icon-btn.voice-btn", { type: "button", "aria-label": "Record a voice note", title: "Record a voice note",
    onclick: () => record(ui, type, box, err, add).catch((e) => { err.textContent = e.name === "NotAllowedError" ? "Curbside was not allowed to use the microphone." : `Could not record: ${e.message}`; fill(box); box.hidden = true; }) }, icon("mic"));
  return btn;
}

async function record(ui, type, box, err, add) {
  err.textContent = "";
  if (!ui.c.online) { err.textContent = "Voice notes need a connection. Try again when you are online."; return; }
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const rec = new MediaRecorder(stream, { mimeType: type, audioBitsPerSecond: 32000 });
  const chunks = [];
  let bytes = 0, keep = true;
  const limit = ui.c.policy.attachment_max_bytes;
  const t0 = Date.now();
  const clock = h("span.voice-clock", "0:00");
  const tick = setInterval(() => {
    clock.textContent = fmtClock(Date.now() - t0);
    if (Date.now() - t0 >= VOICE_MAX_MS) stop();
  }, 250);
  const stop = () => { if (rec.state !== "inactive") rec.stop(); };
  rec.ondataavailable = (e) => {
    chunks.push(e.data);
    bytes += e.data.size;
    // Stop a little before the limit: the last chunk is still to come.
    if (bytes > limit * 0.9) stop();
  };
  rec.onstop = () => {
    clearInterval(tick);
    for (const t of stream.getTracks()) t.stop();
    fill(box);
    box.hidden = true;
    if (!keep || !chunks.length) return;
    const mime = normalMime(type);
    const ext = mime === "audio/ogg" ? "ogg" : mime === "audio/mp4" ? "m4a" : "webm";
    const stamp = new Date().toTimeString().slice(0, 5).replace(":", "");
    add(new File(chunks, `Voice note ${stamp}.${ext}`, { type: mime }), { voice: true, duration_ms: Math.min(VOICE_MAX_MS, Date.now() - t0) });
  };
  fill(box, h("span.rec-dot", { "aria-hidden": "true" }), h("span", "Recording "), clock,
    h("span.hint", ` (up to ${fmtClock(VOICE_MAX_MS)})`),
    h("button.secondary.small", { type: "button", onclick: () => { keep = false; stop(); } }, "Cancel"),
    h("button.primary.small", { type: "button", onclick: stop }, "Stop"));
  box.hidden = false;
  rec.start(1000);
}
