// @ts-check
// The unlocked app's shell: the sidebar and the pane, routing by the URL's
// hash, re-rendering on the client's changes, and alerts for new and
// urgent messages. What is drawn lives in its own module: the conversation
// list (convlist.js), the open conversation (conversation.js) with its
// composer (composer.js), the settings (settings.js) and the dialogs
// (dialogs.js).
//
// Rendering is plain DOM. The list and the open conversation re-render when
// the client reports a change; the composer is never re-rendered, so what a
// nurse is typing survives a message arriving.
import { FLAG_URGENT, PRESENCE_DND } from "../constants.js";
import { clearToasts, dismissToasts, fill, h, toast } from "./dom.js";
import { renderSidebar } from "./convlist.js";
import { renderConvBody, renderConversation } from "./conversation.js";
import { safetyDialog } from "./dialogs.js";
import { approvalDialog } from "./approve.js";
import { offerPush } from "./notifications.js";
import { renderSettings } from "./settings.js";
import { play } from "./sounds.js";
import { alerts, mentionsMe } from "./mute.js";
import { renderTyping } from "./typingline.js";

export function mountApp(root, client, actions) {
  const ui = new AppUI(root, client, actions);
  ui.mount();
  return ui;
}

class AppUI {
  constructor(root, client, actions) {
    this.root = root;
    this.c = client;
    this.actions = actions;
    this.query = "";
    this.drafts = new Map(); // conv → unsent text, kept while unlocked
    this.pendingFiles = []; // {file, att?, progress, error}
    this.onChange = (e) => this.changed(e.detail);
    this.onNotify = (e) => this.notified(e.detail);
    this.onHash = () => this.route();
    this.urgentTimer = setInterval(() => this.urgentAlert(), 20000);
    this.renderQueued = false;
    /** @type {HTMLElement | null} the open conversation's messages; null when none is drawn */
    this.msgBox = null;
    /** @type {ResizeObserver | null} keeps the open conversation scrolled to its newest message */
    this.resizeObs = null;
    /** @type {Set<string> | null} messages that arrived below the reader scrolled back, not yet marked read (unread.js) */
    this.unseen = null;
  }

  mount() {
    this.sidebar = h("aside.sidebar", { "aria-label": "Conversations" });
    this.pane = h("main.pane", { id: "main" });
    this.shell = h("div.shell", h("a.skip", { href: "#main" }, "Skip to conversation"), this.sidebar, this.pane);
    fill(this.root, this.shell);
    this.c.addEventListener("change", this.onChange);
    this.c.addEventListener("notify", this.onNotify);
    window.addEventListener("hashchange", this.onHash);
    this.onVisible = () => { if (document.visibilityState === "visible" && this.convId) this.c.markRead(this.convId, this.unseen); };
    document.addEventListener("visibilitychange", this.onVisible);
    this.route();
    // A device that asked to join while this one was away is shown now.
    approvalDialog(this);
    this.pushOffer = false;
    this.pushOfferTried = false;
    this.tryPushOffer();
  }

  unmount() {
    clearInterval(this.urgentTimer);
    this.c.removeEventListener("change", this.onChange);
    this.c.removeEventListener("notify", this.onNotify);
    window.removeEventListener("hashchange", this.onHash);
    document.removeEventListener("visibilitychange", this.onVisible);
    document.querySelectorAll("dialog").forEach((d) => d.remove());
    clearToasts();
    document.title = "Curbside";
    fill(this.root);
    // Drop every reference to decrypted state, in case a stray closure
    // (a timer, a listener the browser still holds) keeps this object alive.
    this.resizeObs?.disconnect();
    for (const k of ["c", "sidebar", "pane", "shell", "listBox", "msgBox", "msgList", "resizeObs", "composer", "convHead", "keyBanner", "netBanner", "reachBanner", "drafts", "pendingFiles"]) this[k] = null;
  }

  // ---------------------------------------------------------------- routing

  route() {
    const hash = decodeURIComponent(location.hash.slice(1));
    this.convId = null;
    this.view = "list";
    if (hash.startsWith("/c/")) { this.convId = hash.slice(3); this.view = "conv"; }
    else if (hash === "/settings") this.view = "settings";
    this.c.openConvId = this.convId;
    if (this.convId) dismissToasts(this.convId); // its banner is answered
    this.shell.classList.toggle("has-pane", this.view !== "list");
    this.renderSidebar();
    this.renderPane(true);
  }

  go(hash) { location.hash = hash; }

  /** tryPushOffer considers the one-time notifications offer once the server's config is known. */
  tryPushOffer() {
    if (this.pushOfferTried || !this.c.config?.push) return;
    this.pushOfferTried = true;
    offerPush(this).catch(() => {});
  }

  changed(d) {
    // Someone typing redraws one line, not the conversation.
    if (d.what === "typing") { if (d.conv === this.convId) renderTyping(this); return; }
    // Coalesce bursts (a reconnect delivers many frames) into one render per frame.
    if (d.what === "msg" || d.what === "expired") this.dirtyConv = true;
    if (d.what === "config") this.tryPushOffer();
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      if (!this.c) return; // locked meanwhile
      this.renderSidebar();
      if (this.view === "conv") {
        if (this.msgBox) this.renderConvBody();
        else if (this.c.convs.get(this.convId)) this.renderPane(true);
      }
      else if (this.view === "settings" && d.what !== "msg") this.renderPane();
      this.updateTitle();
    });
  }

  updateTitle() {
    let n = 0;
    for (const x of this.c.conversations()) n += x.unread;
    document.title = n ? `(${n}) Curbside` : "Curbside";
  }

  // ------------------------------------------------------------ rendering

  renderSidebar() { renderSidebar(this); }

  renderPane(fresh = false) {
    if (this.view === "settings") renderSettings(this);
    else renderConversation(this, fresh);
  }

  renderConvBody() { renderConvBody(this); }

  // ------------------------------------------------------------ notifications

  notified(d) {
    const c = this.c;
    if (d.kind === "message") {
      // Closures that outlive this call (a toast's button and timer) must
      // not hold the message itself: after a lock nothing may keep its text.
      const convId = d.msg.conv, from = d.msg.from.user;
      const urgent = d.msg.flags & FLAG_URGENT;
      const inView = this.convId === convId && document.visibilityState === "visible";
      // A muted conversation stays quiet, but for a mention or an urgent message.
      if (!alerts(c, d.msg)) return;
      // Do not disturb holds back everything but urgent messages: no
      // sound, no banner, no system notification. The list still shows them.
      if (c.settings.presence === PRESENCE_DND && !urgent) return;
      const mention = mentionsMe(c, d.msg);
      play(urgent ? "urgent" : c.settings.sound);
      if (document.visibilityState === "visible") {
        if (!inView) {
          // One message banner at a time, the newest: a stack of them
          // would cover the conversation list, urgent rows and all.
          toast(`${urgent ? "Urgent message" : mention ? "You were mentioned" : "New message"} from ${c.userName(from)}`, { kind: urgent ? "urgent" : "info", key: "message", about: convId, action: { label: "Open", run: () => this.go("/c/" + convId) } });
        }
      } else if ("Notification" in window && Notification.permission === "granted") {
        // The system notification carries no message text and no name: a
        // locked phone's screen is not a place for PHI.
        navigator.serviceWorker?.getRegistration().then((reg) => reg?.showNotification("Curbside", { body: urgent ? "Urgent message" : "New message", tag: "curbside", renotify: !!urgent }));
      }
    } else if (d.kind === "keychange") {
      const uid = d.user;
      if (!d.warning.own) toast(`${c.userName(uid)}'s security keys changed. Check the safety number if you did not expect it.`, { kind: "warn", timeout: 10000, action: { label: "Check", run: () => safetyDialog(this, uid) } });
    } else if (d.kind === "device-request") {
      approvalDialog(this);
    } else if (d.kind === "error") {
      toast(d.text, { kind: "error", timeout: 10000 });
    }
  }

  urgentAlert() {
    const c = this.c;
    const unreadUrgent = [...c.msgs.values()].filter((m) => !m.out && (m.flags & FLAG_URGENT) && !m.read && !m.recalled);
    if (!unreadUrgent.length) return;
    play("urgent");
    const convId = unreadUrgent[0].conv, from = unreadUrgent[0].from.user;
    toast(`Urgent message from ${c.userName(from)} is still unread`, { kind: "urgent", key: "message", about: convId, action: { label: "Open", run: () => this.go("/c/" + convId) } });
  }
}
