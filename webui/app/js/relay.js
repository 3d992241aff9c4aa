// @ts-check
// The relay WebSocket (PROTOCOL.md section 4): one connection per unlocked
// device, reconnecting with backoff, with request/answer matching by ref.
// The session cookie authenticates the upgrade; the subprotocol names the
// protocol version.
import { sentence } from "./api.js";
import { CLOSE_REPLACED, CLOSE_REVOKED, CLOSE_SESSION_ENDED, CLOSE_UPDATE_REQUIRED, CODE_UPDATE_REQUIRED, SUBPROTOCOL } from "./constants.js";
import { StrictJSONError, strictParse } from "./strictjson.js";

const REQUEST_TIMEOUT = 20000;
const BACKOFF = [500, 1000, 2000, 5000, 10000, 20000, 30000];

/** @typedef {import("./types.js").ServerFrame} ServerFrame */
/** @typedef {import("./types.js").ClientFrame} ClientFrame */
/** @typedef {import("./types.js").HelloFrame} HelloFrame */

export class Relay extends EventTarget {
  /** @param {(f: ServerFrame) => void} onFrame */
  constructor(onFrame) {
    super();
    this.onFrame = onFrame; // every queued or ephemeral server frame
    this.ws = null;
    this.state = "offline"; // offline | connecting | online
    this.pending = new Map(); // ref → {resolve, reject, timer}
    this.attempt = 0;
    this.stopped = true;
    this.timer = null;
    this.hello = null;
    this.updateText = ""; // the server's words when it refuses this version of the app
    this.onOnline = () => { if (!this.stopped && this.state === "offline") { this.attempt = 0; this.connectNow(); } };
    // When the browser says the network is gone, the socket is as good as
    // dead, but TCP may take minutes to notice: drop it now, so what the
    // user writes is queued at once rather than lost in a dead socket.
    this.onOffline = () => { if (this.ws) { const ws = this.ws; this.ws = null; try { ws.close(); } catch { /* closed */ } this.failPending(new Error("offline")); this.setState("offline"); this.retry(); } };
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
  }

  setState(s, detail) {
    if (this.state === s) return;
    this.state = s;
    this.dispatchEvent(new CustomEvent("state", { detail: { state: s, ...detail } }));
  }

  start() {
    this.stopped = false;
    this.connectNow();
  }

  /** stop closes the connection for good (lock, sign-out). */
  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    clearTimeout(this.timer);
    if (this.ws) { try { this.ws.close(1000, "bye"); } catch { /* already closed */ } }
    this.ws = null;
    this.failPending(new Error("the connection was closed"));
    this.setState("offline");
  }

  connectNow() {
    clearTimeout(this.timer);
    if (this.stopped || (this.ws && this.ws.readyState <= 1)) return;
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/relay`;
    let ws;
    try { ws = new WebSocket(url, SUBPROTOCOL); } catch { this.retry(); return; }
    this.ws = ws;
    this.setState("connecting");
    let opened = false;
    ws.onopen = () => { opened = true; };
    ws.onmessage = (ev) => {
      /** @type {ServerFrame} */
      let f;
      // Strict: a frame with a key twice, or beside a case variant of
      // itself, could read differently here than in the Go client, and
      // the server never sends one (strictjson.js).
      try { f = strictParse(ev.data); } catch (e) {
        if (e instanceof StrictJSONError) console.warn("relay frame refused:", e.message);
        return;
      }
      // A server of a newer protocol refuses this copy of the app before
      // any hello: its words are kept for the screen that says so.
      if (f.type === "error" && f.code === CODE_UPDATE_REQUIRED) { this.updateText = sentence(f.message); return; }
      if (f.type === "hello") {
        this.attempt = 0;
        this.hello = f;
        this.setState("online", { hello: f });
      }
      if ((f.type === "accepted" || f.type === "ok" || f.type === "error" || f.type === "details") && this.resolve(f)) return;
      this.onFrame(f);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.failPending(new Error("the connection dropped"));
      this.setState("offline", { code: ev.code, opened });
      // CLOSE_REVOKED: this device was revoked or wiped, or its user
      // disabled; CLOSE_REPLACED: the same device connected elsewhere
      // (another tab); CLOSE_SESSION_ENDED: an administrator ended this
      // device's session (sign in again); CLOSE_UPDATE_REQUIRED: this app
      // is older than the server (reload). None is retried blindly.
      this.dispatchEvent(new CustomEvent("closed", { detail: { code: ev.code, opened, updateText: this.updateText } }));
      if (ev.code === CLOSE_REVOKED || ev.code === CLOSE_REPLACED || ev.code === CLOSE_SESSION_ENDED || ev.code === CLOSE_UPDATE_REQUIRED) return;
      this.retry();
    };
  }

  retry() {
    if (this.stopped) return;
    const d = BACKOFF[Math.min(this.attempt++, BACKOFF.length - 1)];
    this.timer = setTimeout(() => this.connectNow(), d * (0.75 + Math.random() / 2));
  }

/**
 * @param {ClientFrame | string} frame a frame, or one already encoded
 * @returns {boolean} whether it went out
 */
  send(frame) {
    if (!this.ws || this.ws.readyState !== 1 || this.state !== "online") return false;
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
    return true;
  }

  /**
   * request sends a frame whose answer is matched by ref (accepted for a
   * send, ok for an ack, receipt, recall or presence, details) and resolves
   * with the answer; an error frame rejects with {code, message, devices}.
 * @param {(ClientFrame & {ref?: string}) | string} frame
 * @param {string} [ref]
 * @returns {Promise<ServerFrame>}
 */
  request(frame, ref = typeof frame === "string" ? undefined : frame.ref) {
    return new Promise((resolve, reject) => {
      if (this.pending.has(ref)) { reject(new Error(`${ref} is already in flight`)); return; }
      if (!this.send(typeof frame === "string" ? frame : { ...frame, ref })) { reject(Object.assign(new Error("offline"), { code: "offline" })); return; }
      const timer = setTimeout(() => { this.pending.delete(ref); reject(Object.assign(new Error("the server did not answer"), { code: "timeout" })); }, REQUEST_TIMEOUT);
      this.pending.set(ref, { resolve, reject, timer });
    });
  }

/**
 * @param {ServerFrame} f
 * @returns {boolean} whether f answered a request
 */
  resolve(f) {
    const ref = f.type === "accepted" ? f.id : /** @type {{ref?: string}} */ (f).ref;
    const p = ref && this.pending.get(ref);
    if (!p) return false;
    this.pending.delete(ref);
    clearTimeout(p.timer);
    if (f.type === "error") p.reject(Object.assign(new Error(sentence(f.message)), { code: f.code, devices: f.devices }));
    else p.resolve(f);
    return true;
  }

  failPending(err) {
    for (const [, p] of this.pending) { clearTimeout(p.timer); p.reject(Object.assign(err, { code: "offline" })); }
    this.pending.clear();
  }
}
