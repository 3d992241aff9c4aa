// @ts-check
// The composer of the open conversation: the text, attachments (encrypted
// and uploaded as they are picked), acknowledgement and urgency options,
// and the quick messages. It is built once per opened conversation and
// never re-rendered, so a draft survives a message arriving.
import { fmtBytes, parseConv } from "../conv.js";
import { FLAG_ACK_REQUESTED, FLAG_URGENT, MAX_ATTACHMENTS, ROLE_PATIENT } from "../constants.js";
import { dialog, fill, h, icon } from "./dom.js";
import { INLINE_IMAGES } from "../attachments.js";
import { mentionPicker, mentionsIn } from "./mentions.js";
import { replyBar, takeReply } from "./reply.js";
import { fmtClock, voiceButton } from "./voice.js";

/**
 * MAX_TEXT is the longest text one message carries, in characters (UTF-16
 * code units, as the browser counts a field's length). It is enforced in
 * words, never by cutting: the field takes whatever is typed or pasted, a
 * counter shows from COUNT_FROM of the limit, and past it Send is disabled
 * and says why.
 */
export const MAX_TEXT = 20000;
const COUNT_FROM = 0.9;

export function buildComposer(ui, conv) {
  const c = ui.c;
  const p = parseConv(conv.id);
  // autocomplete=off also keeps Chromium from saving the field's text in
  // its session-restore files when the page navigates (a hash change).
  const ta = h("textarea", { rows: 1, placeholder: "Write a message", "aria-label": "Message", "aria-describedby": `count-${conv.id}`, autocomplete: "off", value: ui.drafts.get(conv.id) || "" });
  const ackBox = h("input", { type: "checkbox", id: "opt-ack" });
  const urgentBox = h("input", { type: "checkbox", id: "opt-urgent" });
  // A patient is offered only what the practice's policy lets patients send
  // (the server refuses the rest).
  const patient = c.me.role === ROLE_PATIENT;
  const mayAck = !patient || !!c.policy.patient_ack;
  const mayUrgent = !patient || !!c.policy.patient_urgent;
  const err = h("p.form-error", { role: "alert" });
  const picker = attachmentPicker(ui, err);
  const grow = () => { ta.style.height = "auto"; ta.style.height = Math.min(ta.scrollHeight, 180) + "px"; };
  const count = h("p.char-count", { id: `count-${conv.id}`, "aria-live": "polite", hidden: true });
  const send = h("button.icon-btn.send", { type: "submit", "aria-label": "Send" }, icon("send"));
  const recount = () => {
    const n = ta.value.length;
    const over = n > MAX_TEXT;
    count.hidden = n < MAX_TEXT * COUNT_FROM;
    count.className = "char-count" + (over ? " over" : n >= MAX_TEXT * COUNT_FROM ? " near" : "");
    count.textContent = over ? tooLong(n) : `${n.toLocaleString()} of ${MAX_TEXT.toLocaleString()} characters`;
    send.disabled = over;
    send.title = over ? "Too long to send: shorten the text" : "";
  };
  ta.addEventListener("input", () => { ui.drafts.set(conv.id, ta.value); grow(); recount(); if (ta.value.trim()) c.typing.typed(conv.id); });
  const mentions = mentionPicker(ui, conv, ta);
  const voiceBox = h("div.voice-rec", { hidden: true, role: "status" });
  ta.addEventListener("keydown", (e) => {
    // Enter sends on a desktop keyboard; Shift+Enter is a new line.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && window.matchMedia("(pointer: fine)").matches) { e.preventDefault(); form.requestSubmit(); }
  });
  const form = h("form.composer", { "aria-label": "Write a message" },
    replyBar(ui), picker.files, err, mentions, voiceBox,
    h("div.compose-row",
      h("button.icon-btn", { type: "button", "aria-label": "Attach a file", title: "Attach a file", onclick: () => picker.fileInput.click() }, icon("attach")),
      picker.cameraInput ? h("button.icon-btn", { type: "button", "aria-label": "Camera", title: "Take a photo", onclick: () => picker.cameraInput.click() }, icon("camera")) : null,
      voiceButton(ui, voiceBox, err, picker.add),
      h("button.icon-btn.quick-btn", { type: "button", "aria-label": "Quick messages", title: "Quick messages", onclick: () => quickDialog(ui, ta) }, "Aa"),
      ta,
      send),
    count,
    h("div.compose-opts",
      mayAck ? h("label.opt", { for: "opt-ack" }, ackBox, " Ask to acknowledge") : null,
      mayUrgent ? h("label.opt", { for: "opt-urgent" }, urgentBox, " Urgent") : null,
      p.kind === "broadcast" && p.owner !== c.me.id ? h("span.hint", "Your reply goes only to the sender.") : null),
    picker.fileInput, picker.cameraInput);
  recount(); // a kept draft may already be long
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    const text = ta.value.trim();
    // Never sent cut short: the whole text stays in the field to shorten.
    if (text.length > MAX_TEXT) { err.textContent = "Not sent: the text is too long (see below)."; ta.focus(); return; }
    if (!(await picker.ready())) return;
    if (!text && !ui.pendingFiles.length) { ta.focus(); return; }
    if (ui.pendingFiles.length > MAX_ATTACHMENTS) { err.textContent = `A message can carry at most ${MAX_ATTACHMENTS} attachments: remove ${ui.pendingFiles.length - MAX_ATTACHMENTS} and send them in another message.`; return; }
    const flags = (ackBox.checked ? FLAG_ACK_REQUESTED : 0) | (urgentBox.checked ? FLAG_URGENT : 0);
    const attachments = ui.pendingFiles.map((f) => f.att);
    const { replyTo, quote } = takeReply(ui);
    const mentioned = mentionsIn(ui, conv, text);
    ta.value = ""; grow(); recount(); ui.drafts.delete(conv.id);
    ackBox.checked = false; urgentBox.checked = false;
    picker.clear();
    // What one sends is shown: a reader scrolled back goes to the newest.
    ui.stick = true;
    try {
      await c.send(conv.id, { text, attachments, flags, replyTo, quote, mentions: mentioned });
    } catch (ex) { err.textContent = ex.message; }
    // Back to the composer, unless the person has moved on meanwhile (to
    // the search box, say): their typing must not land in this message.
    const at = document.activeElement;
    if (!at || at === document.body || form.contains(at)) ta.focus();
  });
  return form;
}

/**
 * tooLong words a text past the limit: how long, by how much, what to do.
 * @param {number} n its length
 */
function tooLong(n) {
  return `Too long to send: ${n.toLocaleString()} characters, ${(n - MAX_TEXT).toLocaleString()} over the limit of ${MAX_TEXT.toLocaleString()}. Shorten it, or send it as several messages or as an attached file.`;
}

/**
 * attachmentPicker is the composer's hidden file input and its list of
 * chips: each picked file is checked against the policy, then encrypted
 * and uploaded at once, with its progress shown. The files are kept in
 * ui.pendingFiles until the message is sent.
 */
function attachmentPicker(ui, err) {
  const c = ui.c;
  const fileInput = h("input.visually-hidden", { type: "file", multiple: true, tabindex: "-1", "aria-hidden": "true",
    accept: (c.policy.attachment_types || []).join(",") });
  // On a phone or tablet, the camera is a choice of its own: the same
  // picker, straight to a photo.
  const touch = window.matchMedia("(pointer: coarse)").matches || navigator.maxTouchPoints > 0;
  const cameraInput = touch ? h("input.visually-hidden", { type: "file", accept: "image/*", capture: "environment", tabindex: "-1", "aria-hidden": "true" }) : null;
  const files = h("div.files", { "aria-live": "polite" });
  ui.pendingFiles = [];
  // What is picked is shown before it is sent: an image as itself, a
  // voice note in a player, both from the file on this device (object
  // URLs revoked as the chip goes).
  const drop = (f) => { if (f.preview) URL.revokeObjectURL(f.preview); };
  const previewOf = (f) => f.extra?.voice ? h("audio.chip-audio", { controls: true, src: f.preview, "aria-label": `Listen to ${f.file.name}` })
    : h("img.chip-preview", { src: f.preview, alt: `Preview of ${f.file.name}` });
  const renderFiles = () => fill(files, ui.pendingFiles.map((f) => h("div.file-chip" + (f.error ? ".error" : "") + (f.preview ? ".with-preview" : ""),
    f.preview ? previewOf(f) : null,
    h("span", f.extra?.voice ? `Voice note · ${fmtClock(f.extra.duration_ms)}` : f.file.name, " · ", fmtBytes(f.file.size)),
    f.error ? h("span.form-error", f.error) : f.att ? h("span.ok", icon("check"), " Ready")
      : h("progress", { max: 100, value: Math.round((f.progress || 0) * 100), "aria-label": `Encrypting and uploading ${f.file.name}` }),
    h("button.icon-btn.small", { type: "button", "aria-label": `Remove ${f.file.name}`, onclick: () => { drop(f); ui.pendingFiles = ui.pendingFiles.filter((x) => x !== f); renderFiles(); } }, icon("close")))));
  /** add takes one picked (or recorded) file: checked, then encrypted and uploaded at once. */
  const add = (file, extra = null) => {
    err.textContent = "";
    const f = { file, progress: 0, extra };
    ui.pendingFiles.push(f);
    f.error = c.checkFile(file);
    if (!f.error && !c.online) f.error = "Attachments need a connection. Try again when you are online.";
    if (!f.error && (extra?.voice || INLINE_IMAGES.includes(file.type))) f.preview = URL.createObjectURL(file);
    if (!f.error) {
      f.promise = c.uploadFile(file, (x) => { f.progress = x; const pr = files.querySelector(`progress[aria-label="Encrypting and uploading ${CSS.escape(file.name)}"]`); if (pr) pr.value = Math.round(x * 100); })
        .then((att) => { f.att = extra ? { ...att, ...extra } : att; renderFiles(); }, (e) => { f.error = e.message; renderFiles(); });
    }
    renderFiles();
  };
  for (const input of [fileInput, cameraInput].filter(Boolean)) {
    input.addEventListener("change", () => {
      for (const file of input.files) add(file);
      input.value = "";
    });
  }
  /** ready waits for the uploads under way; false (with the reason shown) if a file cannot be sent. */
  const ready = async () => {
    const bad = ui.pendingFiles.find((f) => f.error);
    if (bad) { err.textContent = `Remove "${bad.file.name}" first: ${bad.error}`; return false; }
    if (ui.pendingFiles.some((f) => !f.att)) {
      err.textContent = "Waiting for the attachment to finish uploading…";
      await Promise.all(ui.pendingFiles.map((f) => f.promise));
      err.textContent = "";
      if (ui.pendingFiles.some((f) => f.error)) { renderFiles(); return false; }
    }
    return true;
  };
  const clear = () => { ui.pendingFiles.forEach(drop); ui.pendingFiles = []; renderFiles(); };
  return { fileInput, cameraInput, files, ready, clear, add };
}

export function quickDialog(ui, ta) {
  const c = ui.c;
  const org = c.config.quick_messages || [];
  const mine = c.settings.quick || [];
  const pick = (t) => { ta.value = ta.value ? `${ta.value} ${t}` : t; ta.dispatchEvent(new Event("input")); d.close(); ta.focus(); };
  const list = (items) => h("ul.quick-list", items.map((t) => h("li", h("button.quick-item", { type: "button", onclick: () => pick(t) }, t))));
  const d = dialog("Quick messages", [
    mine.length ? [h("h3", "Yours"), list(mine)] : null,
    org.length ? [h("h3", "Your practice's"), list(org)] : null,
    !mine.length && !org.length ? h("p", "No quick messages yet.") : null,
    h("p.hint", "Add your own in Settings."),
  ]);
}
