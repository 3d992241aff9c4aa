// @ts-check
// What the app does with a received attachment, decided from the type its
// sender declared: attachments are data, never a document of this origin.
//
// A blob: URL belongs to the page's origin, so a file opened as one (an SVG
// or HTML document in a tab) would run script with the reader's session. So:
//
//   - only a short list of inert types is ever rendered, and only inside
//     the app: raster images in <img>, audio and video in their players
//     (script never runs in any of them);
//   - SVG is an image with script in it: it is drawn into a canvas and shown
//     as a PNG, so the URL the page holds is inert even if opened in a tab;
//   - everything else the policy allows, PDF included (some viewers run its
//     script), is offered only as a download, made from a Blob of type
//     application/octet-stream, which a browser saves and never renders;
//   - a type the policy's attachment_types does not allow is not decrypted,
//     rendered or offered at all: the receiving app enforces the policy
//     itself, whatever the sending app did.
import { mimeAllowed } from "./conv.js";

/** @typedef {import("./types.js").Attachment} Attachment */

/**
 * How an attachment is shown: "image" (a raster image in <img>), "svg"
 * (rasterised, then as an image), "audio", "video", "file" (a download
 * only), or "refused" (not offered).
 * @typedef {"image" | "svg" | "audio" | "video" | "file" | "refused"} AttachmentKind
 */

/** The raster image types rendered in <img>: inert as a document too. */
export const INLINE_IMAGES = ["image/png", "image/jpeg", "image/gif", "image/webp"];
/** The media types played in <audio> and <video>. */
export const INLINE_AUDIO = ["audio/mpeg", "audio/mp4", "audio/aac", "audio/ogg", "audio/wav", "audio/webm", "audio/x-m4a"];
export const INLINE_VIDEO = ["video/mp4", "video/webm", "video/ogg", "video/quicktime"];
export const SVG = "image/svg+xml";

/** The type of every URL the app hands out for saving: a browser downloads it, never renders it. */
export const DOWNLOAD_TYPE = "application/octet-stream";

/** The largest SVG drawn, in CSS pixels on its longer side. */
const SVG_MAX_SIDE = 2048;

/**
 * normalMime reduces a declared type to its lowercase essence ("Image/SVG+XML;
 * charset=x" → "image/svg+xml"), or "" if it is not of the form type/subtype.
 * @param {unknown} mime
 * @returns {string}
 */
export function normalMime(mime) {
  if (typeof mime !== "string") return "";
  const m = mime.split(";")[0].trim().toLowerCase();
  return /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/.test(m) ? m : "";
}

/**
 * attachmentKind decides how an attachment is shown, from its declared type,
 * the policy's attachment_types and the app's own inert lists.
 * @param {Attachment} a
 * @param {string[]} allowed the policy's attachment_types
 * @returns {AttachmentKind}
 */
export function attachmentKind(a, allowed) {
  const mime = normalMime(a.mime) || DOWNLOAD_TYPE;
  if (!mimeAllowed(mime, allowed)) return "refused";
  if (INLINE_IMAGES.includes(mime)) return "image";
  if (mime === SVG) return "svg";
  if (INLINE_AUDIO.includes(mime)) return "audio";
  if (INLINE_VIDEO.includes(mime)) return "video";
  return "file";
}

/**
 * refusedNote is what the reader is told about an attachment the app will
 * not open.
 * @param {Attachment} a
 * @returns {string}
 */
export function refusedNote(a) {
  return `"${fileName(a)}" is a kind of file your organisation does not allow (${normalMime(a.mime) || "unknown type"}), so Curbside did not open it.`;
}

/**
 * fileName is the name to save an attachment under: the sender's, without
 * folders or control characters, never empty.
 * @param {Attachment} a
 * @returns {string}
 */
export function fileName(a) {
  const n = (typeof a.name === "string" ? a.name : "").replace(/[\u0000-\u001f\u007f]/g, "").split(/[\\/]/).pop().trim().slice(0, 200);
  return n && n !== "." && n !== ".." ? n : "file";
}

/**
 * wellFormed says whether a received attachment record has the fields the
 * app relies on, of the right types.
 * @param {any} a
 * @returns {boolean}
 */
export function wellFormed(a) {
  return !!a && typeof a === "object" && typeof a.blob === "string" && !!a.blob && typeof a.key === "string" &&
    (a.sha256 === undefined || typeof a.sha256 === "string") && (a.name === undefined || typeof a.name === "string") &&
    (a.mime === undefined || typeof a.mime === "string") && (a.size === undefined || (typeof a.size === "number" && a.size >= 0));
}

/**
 * ownBlobs lists the blobs a new message's attachments use, each once: the
 * uploads this app made for it, which its envelope names so the server
 * keeps them. A forwarded message's attachments are the original sender's
 * blobs, kept by the original message, so it names none.
 * @param {Attachment[]} attachments
 * @param {unknown} forwarded
 * @returns {string[]}
 */
export function ownBlobs(attachments, forwarded) {
  return forwarded ? [] : [...new Set(attachments.map((a) => a.blob))];
}

/**
 * viewBlob makes the Blob the app renders for an attachment of the given
 * kind from its decrypted bytes, or null when it is only downloaded. The
 * Blob's type is always one of the inert ones: an SVG becomes a PNG.
 * @param {Uint8Array} bytes
 * @param {AttachmentKind} kind
 * @param {string} mime the declared type
 * @returns {Promise<Blob | null>}
 */
export async function viewBlob(bytes, kind, mime) {
  const m = normalMime(mime);
  const b = /** @type {Uint8Array<ArrayBuffer>} */ (bytes);
  if (kind === "image" || kind === "audio" || kind === "video") return new Blob([b], { type: m });
  if (kind === "svg") return rasterise(new Blob([b], { type: SVG }));
  return null;
}

/**
 * rasterise draws an SVG as an image (where no script runs and nothing is
 * fetched) into a canvas and returns it as a PNG. The SVG's own object URL
 * lives only while it is drawn, so no tab can ever open it.
 * @param {Blob} svg
 * @returns {Promise<Blob>}
 */
async function rasterise(svg) {
  const url = URL.createObjectURL(svg);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    let w = img.naturalWidth || 300, hgt = img.naturalHeight || 150;
    const scale = Math.min(1, SVG_MAX_SIDE / Math.max(w, hgt));
    w = Math.max(1, Math.round(w * scale)); hgt = Math.max(1, Math.round(hgt * scale));
    const canvas = document.createElement("canvas");
    canvas.width = w; canvas.height = hgt;
    canvas.getContext("2d").drawImage(img, 0, 0, w, hgt);
    return await new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("The image could not be drawn."))), "image/png"));
  } finally {
    URL.revokeObjectURL(url);
  }
}
