// The unlocked app: conversation list, conversation, composer, settings and
// the dialogs (new conversation, message details, forward, safety number).
//
// Rendering is plain DOM. The list and the open conversation re-render when
// the client reports a change; the composer is never re-rendered, so what a
// nurse is typing survives a message arriving.
import { FLAG_ACK, FLAG_URGENT, fmtBytes, parseConv } from "../client.js";
import { qrcode } from "../../vendor/qrcode-generator@2.0.4/dist/qrcode.mjs";
import { mfaSettings } from "./mfa.js";
import { avatarClass, clearToasts, dialog, fill, fmtFull, fmtTime, h, icon, initials, toast } from "./dom.js";
import { checkNewPin } from "./auth.js";
import { play, SOUNDS } from "./sounds.js";

const PRESENCE = { available: "Available", away: "Away", dnd: "Do not disturb", offline: "Offline" };

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
  }

  mount() {
    this.sidebar = h("aside.sidebar", { "aria-label": "Conversations" });
    this.pane = h("main.pane", { id: "main" });
    this.shell = h("div.shell", h("a.skip", { href: "#main" }, "Skip to conversation"), this.sidebar, this.pane);
    fill(this.root, this.shell);
    this.c.addEventListener("change", this.onChange);
    this.c.addEventListener("notify", this.onNotify);
    window.addEventListener("hashchange", this.onHash);
    this.onVisible = () => { if (document.visibilityState === "visible" && this.convId) this.c.markRead(this.convId); };
    document.addEventListener("visibilitychange", this.onVisible);
    this.route();
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
    for (const k of ["c", "sidebar", "pane", "shell", "listBox", "msgBox", "msgList", "resizeObs", "composer", "convHead", "keyBanner", "netBanner", "drafts", "pendingFiles"]) this[k] = null;
  }

  // ---------------------------------------------------------------- routing

  route() {
    const hash = decodeURIComponent(location.hash.slice(1));
    this.convId = null;
    this.view = "list";
    if (hash.startsWith("/c/")) { this.convId = hash.slice(3); this.view = "conv"; }
    else if (hash === "/settings") this.view = "settings";
    this.shell.classList.toggle("has-pane", this.view !== "list");
    this.renderSidebar();
    this.renderPane(true);
  }

  go(hash) { location.hash = hash; }

  changed(d) {
    // Coalesce bursts (a reconnect delivers many frames) into one render per frame.
    if (d.what === "msg" || d.what === "expired") this.dirtyConv = true;
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      if (!this.c) return; // locked meanwhile
      this.renderSidebar();
      if (this.view === "conv") this.renderConvBody();
      else if (this.view === "settings" && d.what !== "msg") this.renderPane();
      this.updateTitle();
    });
  }

  updateTitle() {
    let n = 0;
    for (const x of this.c.conversations()) n += x.unread;
    document.title = n ? `(${n}) Curbside` : "Curbside";
  }

  // ------------------------------------------------------------- sidebar

  renderSidebar() {
    const c = this.c;
    const me = c.users.get(c.me.id) || c.me;
    const presence = h("select.presence-select", { "aria-label": "Your status", onchange: (e) => c.setPresence(e.target.value) },
      ["available", "away", "dnd"].map((s) => h("option", { value: s, selected: c.settings.presence === s }, PRESENCE[s])));
    const head = h("header.bar",
      h("div.me", h("span.avatar." + avatarClass(me.id), { "aria-hidden": "true" }, initials(me.display || me.username),
        h("span.dot." + (c.settings.presence || "available"))),
      h("div.me-text", h("strong", me.display || me.username), presence)),
      h("button.icon-btn", { type: "button", "aria-label": "New message", title: "New message", onclick: () => this.newConversation() }, icon("plus")),
      h("button.icon-btn", { type: "button", "aria-label": "Settings", title: "Settings", onclick: () => this.go("/settings") }, icon("settings")),
      h("button.icon-btn", { type: "button", "aria-label": "Lock Curbside", title: "Lock", onclick: () => this.actions.onLock() }, icon("lock")));

    const banners = [];
    if (!c.online) {
      banners.push(h("div.banner.offline", { role: "status" }, icon("wifioff"),
        c.relay.state === "connecting" ? " Connecting… Messages you write are kept and sent when the connection returns." : " Offline. Messages you write are kept and sent when the connection returns."));
    }
    const own = c.pins.get(c.me.id);
    if (own?.warning?.added?.length) {
      banners.push(h("div.banner.warn", { role: "alert" }, icon("alert"),
        h("span", ` A new device was added to your account (${fmtTime(own.warning.at)}). If that was not you, tell your administrator now.`),
        h("button.link", { type: "button", onclick: () => c.dismissKeyWarning(c.me.id) }, "It was me")));
    }

    const search = h("input.search-input", { type: "search", placeholder: "Search messages", "aria-label": "Search messages", autocomplete: "off", value: this.query,
      oninput: (e) => { this.query = e.target.value; this.renderList(); } });
    this.listBox = h("nav.convlist", { "aria-label": "Conversation list" });
    const hadFocus = this.sidebar.contains(document.activeElement) && document.activeElement.classList.contains("search-input");
    fill(this.sidebar, head, banners, h("div.search", icon("search"), search), this.listBox);
    if (hadFocus) { search.focus(); search.setSelectionRange(search.value.length, search.value.length); }
    this.renderList();
  }

  renderList() {
    const c = this.c;
    if (this.query.trim()) {
      const hits = c.search(this.query);
      fill(this.listBox, h("h2.list-head", `${hits.length} ${hits.length === 1 ? "message" : "messages"} found`),
        hits.length ? h("ul.list", hits.map((m) => {
          const conv = c.convs.get(m.conv);
          return h("li", h("button.conv-item", { type: "button", onclick: () => { this.highlight = m.id; this.go("/c/" + m.conv); } },
            h("span.conv-text", h("span.conv-title", conv ? c.title(conv) : ""), h("span.conv-last", snippet(m.text || m.attachments?.[0]?.name || "", this.query))),
            h("span.conv-time", fmtTime(m.sent || m.created))));
        })) : h("p.empty", "No messages on this device match. Messages older than your practice's retention period are deleted."));
      return;
    }
    const items = c.conversations();
    if (!items.length) {
      fill(this.listBox, h("div.empty-state", icon("users"), h("h2", "No conversations yet"),
        h("p", "Start one by choosing someone from your practice's directory."),
        h("button.primary", { type: "button", onclick: () => this.newConversation() }, "New message")));
      return;
    }
    fill(this.listBox, h("ul.list", items.map(({ conv, last, t, unread }) => {
      const peer = c.peerOf(conv);
      const pin = peer ? c.pins.get(peer) : null;
      const urgent = [...c.msgs.values()].some((m) => m.conv === conv.id && !m.out && !m.read && (m.flags & FLAG_URGENT) && !m.recalled);
      const kind = conv.kind === "group" ? "users" : conv.kind === "broadcast" ? "megaphone" : null;
      const title = c.title(conv);
      const label = `${title}${unread ? `, ${unread} unread` : ""}${urgent ? ", urgent" : ""}`;
      return h("li", h("button.conv-item" + (conv.id === this.convId ? ".active" : "") + (unread ? ".unread" : ""),
        { type: "button", "aria-label": label, "aria-current": conv.id === this.convId ? "true" : null,
          onclick: () => { if (conv.id === this.convId) this.composer?.querySelector("textarea")?.focus(); else this.go("/c/" + conv.id); } },
        h("span.avatar." + avatarClass(peer || conv.id.length), { "aria-hidden": "true" }, kind ? icon(kind) : initials(title),
          peer ? h("span.dot." + (c.presence.get(peer) || "offline")) : null),
        h("span.conv-text",
          h("span.conv-title", title, pin?.warning ? h("span.tag.warn", "Keys changed") : null),
          h("span.conv-last", last ? preview(c, last) : conv.kind === "group" ? `${conv.members.length} members` : "")),
        h("span.conv-side", h("span.conv-time", t ? fmtTime(t) : ""),
          urgent ? h("span.badge.urgent", "Urgent") : unread ? h("span.badge", { "aria-hidden": "true" }, String(unread)) : null)));
    })));
  }

  // ------------------------------------------------------------------- pane

  renderPane(fresh = false) {
    if (this.view === "settings") { this.renderSettings(); return; }
    if (this.view !== "conv" || !this.c.convs.get(this.convId)) {
      fill(this.pane, h("div.empty-state.pane-empty", icon("shield"), h("h2", "Choose a conversation"),
        h("p", "Your messages are end-to-end encrypted: only the people in a conversation can read them.")));
      return;
    }
    const conv = this.c.convs.get(this.convId);
    const c = this.c;
    this.convHead = h("header.bar.conv-head");
    this.keyBanner = h("div.keybanner");
    this.msgBox = h("div.messages", { role: "log", "aria-label": `Messages with ${c.title(conv)}`, tabindex: "0" });
    // Stay at the newest message while it is in view, also as images
    // decrypt and grow the list; let the reader scroll back undisturbed.
    this.stick = true;
    this.msgList = h("div.msg-list");
    this.msgBox.append(this.msgList);
    this.msgBox.addEventListener("scroll", () => { this.stick = this.msgBox.scrollHeight - this.msgBox.scrollTop - this.msgBox.clientHeight < 80; });
    this.resizeObs?.disconnect();
    this.resizeObs = new ResizeObserver(() => { if (this.stick && this.msgBox) this.msgBox.scrollTop = this.msgBox.scrollHeight; });
    this.resizeObs.observe(this.msgList);
    this.resizeObs.observe(this.msgBox); // a banner appearing above shrinks the view
    this.netBanner = h("div.netbanner");
    this.composer = this.buildComposer(conv);
    fill(this.pane, h("section.conversation", { "aria-label": c.title(conv) },
      this.convHead, this.netBanner, this.keyBanner, h("div.print-head", h("h1", c.title(conv)),
        h("p", `Printed ${fmtFull(Date.now())} by ${c.me.display || c.me.username} from Curbside. Messages are end-to-end encrypted; this copy is not.`)),
      this.msgBox, this.composer));
    this.renderConvBody(true);
    if (fresh) {
      // Fetch members' keys afresh when a conversation is opened, so a
      // changed device set is reported before the next message, not after.
      c.recipientsOf(conv).then((users) => Promise.all([...users, c.me.id].map((u) => c.lookup(u, true).catch(() => {}))))
        .then(() => this.renderConvBody()).catch(() => {});
      if (window.matchMedia("(min-width: 800px)").matches) this.composer.querySelector("textarea").focus();
      else this.convHead.querySelector("h1").focus();
    }
  }

  renderConvHead() {
    const c = this.c;
    const conv = c.convs.get(this.convId);
    const peer = c.peerOf(conv);
    const sub = peer ? PRESENCE[c.presence.get(peer) || "offline"] :
      conv.kind === "group" ? `Group · ${conv.members.length} members` :
        parseConv(conv.id).owner === c.me.id ? "Broadcast · each person replies only to you" : "Broadcast · your replies go only to the sender";
    fill(this.convHead,
      h("button.icon-btn.back", { type: "button", "aria-label": "Back to conversations", onclick: () => this.go("/") }, icon("back")),
      h("div.conv-id", h("h1", { tabindex: "-1" }, c.title(conv)), h("p.sub", sub)),
      peer ? h("button.icon-btn", { type: "button", "aria-label": "Safety number", title: "Verify safety number", onclick: () => this.safetyDialog(peer) }, icon("shield")) : null,
      h("button.icon-btn", { type: "button", "aria-label": "Print or save as PDF", title: "Print or save as PDF", onclick: () => window.print() }, icon("print")));
  }

  renderKeyBanner(conv) {
    const c = this.c;
    const users = audience(c, conv);
    const warned = users.map((u) => c.pins.get(u)).filter((p) => p?.warning);
    fill(this.keyBanner, warned.map((p) => h("div.banner.warn", { role: "alert" }, icon("alert"),
      h("span", ` ${c.userName(p.user)}'s security keys changed (${fmtTime(p.warning.at)})${p.warning.added.length ? ": a new device was added" : ": a device was removed"}. If you did not expect this, check the safety number with them before sending anything sensitive.`),
      h("span.banner-actions",
        h("button.link", { type: "button", onclick: () => this.safetyDialog(p.user) }, "Check safety number"),
        h("button.link", { type: "button", onclick: () => c.dismissKeyWarning(p.user) }, "Dismiss")))));
  }

  renderConvBody(initial = false) {
    const c = this.c;
    if (!c) return;
    const conv = c.convs.get(this.convId);
    if (!conv || !this.msgBox) return;
    this.renderConvHead();
    this.renderKeyBanner(conv);
    const atBottom = initial || this.stick;
    fill(this.netBanner, c.online ? null : h("div.banner.offline", { role: "status" }, icon("wifioff"),
      h("span", c.relay.state === "connecting" ? " Connecting… What you write is kept and sent when the connection returns." : " Offline. What you write is kept and sent when the connection returns.")));
    const msgs = c.messagesOf(conv.id).filter((m) => !m.hidden);
    const nodes = [];
    let day = "";
    for (const m of msgs) {
      const d = new Date(m.sent || m.created).toDateString();
      if (d !== day) { day = d; nodes.push(h("div.day", { role: "separator" }, new Date(m.sent || m.created).toLocaleDateString([], { weekday: "long", month: "long", day: "numeric" }))); }
      nodes.push(this.renderMessage(conv, m));
    }
    if (!msgs.length) nodes.push(h("div.empty-state.small", h("p", "No messages yet. Say hello — or use a quick message below."),
      h("p.hint", `Messages disappear from every device after ${fmtDuration(c.policy.retention_ms)}.`)));
    fill(this.msgList, nodes);
    if (this.highlight) {
      const el = this.msgBox.querySelector(`[data-id="${CSS.escape(this.highlight)}"]`);
      if (el) { el.classList.add("highlight"); el.scrollIntoView({ block: "center" }); }
      this.highlight = null;
    } else if (atBottom) this.msgBox.scrollTop = this.msgBox.scrollHeight;
    if (document.visibilityState === "visible") c.markRead(conv.id);
  }

  renderMessage(conv, m) {
    const c = this.c;
    const cls = ["msg", m.out ? "out" : "in"];
    if (m.flags & FLAG_URGENT) cls.push("urgent");
    if (m.recalled) cls.push("recalled");
    const showSender = !m.out && conv.kind !== "direct";
    if (m.recalled) {
      return h("div." + cls.join("."), { dataset: { id: m.id } },
        h("p.text.muted", m.out ? "You recalled this message." : "This message was recalled by the sender."),
        h("p.meta", fmtTime(m.sent || m.created)));
    }
    const body = [];
    if (showSender) body.push(h("p.sender", c.userName(m.from.user)));
    if (m.flags & FLAG_URGENT) body.push(h("p.flag.urgent", icon("bell"), " Urgent"));
    if (m.forwarded) body.push(h("p.forwarded", icon("forward"), ` Forwarded from ${c.userName(m.forwarded.from)}`));
    if (m.autoReply) body.push(h("p.forwarded", "Automatic reply"));
    if (m.text) body.push(h("p.text", m.text));
    for (const a of m.attachments || []) body.push(this.renderAttachment(a));
    // Acknowledgement.
    if (m.flags & FLAG_ACK) {
      if (!m.out) {
        body.push(m.acked ? h("p.ack.done", icon("check"), ` You acknowledged this ${fmtTime(m.acked)}`)
          : h("div.ack", h("span", "The sender asked you to acknowledge this message."),
            h("button.primary.small", { type: "button", onclick: () => c.acknowledge(m.id) }, "Acknowledge")));
      } else {
        const rs = Object.values(m.receipts || {});
        const n = rs.filter((r) => r.acknowledged).length;
        const total = recipientCount(c, conv);
        body.push(h("p.ack" + (n ? ".done" : ""), icon(n ? "check" : "clock"),
          total === 1 ? (n ? ` Acknowledged ${fmtTime(rs.find((r) => r.acknowledged).acknowledged)}` : " Acknowledgement requested")
            : ` Acknowledged by ${n} of ${total}`));
      }
    }
    const status = m.out ? outStatus(c, conv, m) : null;
    body.push(h("p.meta",
      h("time", { datetime: new Date(m.sent || m.created).toISOString() }, fmtTime(m.sent || m.created)),
      status ? h("span.status." + status.cls, { "aria-label": status.label }, icon(status.icon), " ", status.text) : null));
    if (m.status === "failed") {
      body.push(h("div.failed", { role: "alert" }, h("span", m.error || "Not sent."),
        h("button.link", { type: "button", onclick: () => c.retry(m.id) }, "Try again"),
        h("button.link", { type: "button", onclick: () => c.discard(m.id) }, "Delete")));
    }
    return h("div." + cls.join("."), { dataset: { id: m.id } },
      h("div.bubble", body),
      h("button.icon-btn.small.msg-more", { type: "button", "aria-label": "Message options", onclick: () => this.messageMenu(m) }, icon("more")));
  }

  renderAttachment(a) {
    const c = this.c;
    const isImage = /^image\//.test(a.mime || "");
    const box = h("div.attachment");
    const show = async () => {
      fill(box, h("span.file-name", icon("file"), ` ${a.name || "file"} · Decrypting…`));
      try {
        const url = await c.attachmentURL(a);
        if (isImage) fill(box, h("img.preview", { src: url, alt: a.name || "Image" }), h("a.link", { href: url, download: a.name || "image" }, "Save"));
        else if (/^audio\//.test(a.mime)) fill(box, h("audio", { controls: true, src: url, "aria-label": a.name }), h("a.link", { href: url, download: a.name || "audio" }, "Save"));
        else if (/^video\//.test(a.mime)) fill(box, h("video.preview", { controls: true, src: url, "aria-label": a.name }), h("a.link", { href: url, download: a.name || "video" }, "Save"));
        else fill(box, h("span.file-name", icon("file"), ` ${a.name || "file"} · ${fmtBytes(a.size || 0)}`),
          h("span.file-actions", h("a.link", { href: url, target: "_blank", rel: "noopener" }, "Open"), h("a.link", { href: url, download: a.name || "file" }, "Save")));
      } catch (e) {
        fill(box, h("span.file-name", icon("file"), ` ${a.name || "file"}`), h("span.form-error", " " + (e.message || "Could not open the attachment.")),
          h("button.link", { type: "button", onclick: show }, "Try again"));
      }
    };
    const cached = c.urls.get(a.blob);
    if (cached && isImage) {
      // Already decrypted: render at full size at once, so a re-render
      // does not shrink and regrow the list under the reader.
      fill(box, h("img.preview", { src: cached, alt: a.name || "Image" }), h("a.link", { href: cached, download: a.name || "image" }, "Save"));
    } else if (isImage && (a.size || 0) <= 15 << 20) {
      // Images preview by themselves once decrypted (a cached URL is instant).
      show();
    } else {
      fill(box, h("span.file-name", icon("file"), ` ${a.name || "file"} · ${fmtBytes(a.size || 0)}`),
        h("button.secondary.small", { type: "button", onclick: show }, "Open"));
    }
    return box;
  }

  // --------------------------------------------------------------- composer

  buildComposer(conv) {
    const c = this.c;
    const p = parseConv(conv.id);
    // autocomplete=off also keeps Chromium from saving the field's text in
    // its session-restore files when the page navigates (a hash change).
    const ta = h("textarea", { rows: 1, placeholder: "Write a message", "aria-label": "Message", maxlength: 20000, autocomplete: "off", value: this.drafts.get(conv.id) || "" });
    const ackBox = h("input", { type: "checkbox", id: "opt-ack" });
    const urgentBox = h("input", { type: "checkbox", id: "opt-urgent" });
    const fileInput = h("input.visually-hidden", { type: "file", multiple: true, tabindex: "-1", "aria-hidden": "true",
      accept: (c.policy.attachment_types || []).join(",") });
    const files = h("div.files", { "aria-live": "polite" });
    const err = h("p.form-error", { role: "alert" });
    this.pendingFiles = [];
    const grow = () => { ta.style.height = "auto"; ta.style.height = Math.min(ta.scrollHeight, 180) + "px"; };
    ta.addEventListener("input", () => { this.drafts.set(conv.id, ta.value); grow(); });
    ta.addEventListener("keydown", (e) => {
      // Enter sends on a desktop keyboard; Shift+Enter is a new line.
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && window.matchMedia("(pointer: fine)").matches) { e.preventDefault(); form.requestSubmit(); }
    });
    const renderFiles = () => fill(files, this.pendingFiles.map((f) => h("div.file-chip" + (f.error ? ".error" : ""),
      h("span", f.file.name, " · ", fmtBytes(f.file.size)),
      f.error ? h("span.form-error", f.error) : f.att ? h("span.ok", icon("check"), " Ready")
        : h("progress", { max: 100, value: Math.round((f.progress || 0) * 100), "aria-label": `Encrypting and uploading ${f.file.name}` }),
      h("button.icon-btn.small", { type: "button", "aria-label": `Remove ${f.file.name}`, onclick: () => { this.pendingFiles = this.pendingFiles.filter((x) => x !== f); renderFiles(); } }, icon("close")))));
    fileInput.addEventListener("change", () => {
      err.textContent = "";
      for (const file of fileInput.files) {
        const f = { file, progress: 0 };
        this.pendingFiles.push(f);
        f.error = c.checkFile(file);
        if (!f.error && !c.online) f.error = "Attachments need a connection. Try again when you are online.";
        if (!f.error) {
          f.promise = c.uploadFile(file, (x) => { f.progress = x; const pr = files.querySelector(`progress[aria-label="Encrypting and uploading ${CSS.escape(file.name)}"]`); if (pr) pr.value = Math.round(x * 100); })
            .then((att) => { f.att = att; renderFiles(); }, (e) => { f.error = e.message; renderFiles(); });
        }
      }
      fileInput.value = "";
      renderFiles();
    });
    const form = h("form.composer", { "aria-label": "Write a message" },
      files, err,
      h("div.compose-row",
        h("button.icon-btn", { type: "button", "aria-label": "Attach a file", title: "Attach a file", onclick: () => fileInput.click() }, icon("attach")),
        h("button.icon-btn.quick-btn", { type: "button", "aria-label": "Quick messages", title: "Quick messages", onclick: () => this.quickDialog(ta) }, "Aa"),
        ta,
        h("button.icon-btn.send", { type: "submit", "aria-label": "Send" }, icon("send"))),
      h("div.compose-opts",
        h("label.opt", { for: "opt-ack" }, ackBox, " Ask to acknowledge"),
        h("label.opt", { for: "opt-urgent" }, urgentBox, " Urgent"),
        p.kind === "broadcast" && p.owner !== c.me.id ? h("span.hint", "Your reply goes only to the sender.") : null),
      fileInput);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      err.textContent = "";
      const text = ta.value.trim();
      const bad = this.pendingFiles.find((f) => f.error);
      if (bad) { err.textContent = `Remove "${bad.file.name}" first: ${bad.error}`; return; }
      if (this.pendingFiles.some((f) => !f.att)) {
        err.textContent = "Waiting for the attachment to finish uploading…";
        await Promise.all(this.pendingFiles.map((f) => f.promise));
        err.textContent = "";
        if (this.pendingFiles.some((f) => f.error)) { renderFiles(); return; }
      }
      if (!text && !this.pendingFiles.length) { ta.focus(); return; }
      const flags = (ackBox.checked ? FLAG_ACK : 0) | (urgentBox.checked ? FLAG_URGENT : 0);
      const attachments = this.pendingFiles.map((f) => f.att);
      ta.value = ""; grow(); this.drafts.delete(conv.id);
      ackBox.checked = false; urgentBox.checked = false;
      this.pendingFiles = []; renderFiles();
      try {
        await c.send(conv.id, { text, attachments, flags });
      } catch (ex) { err.textContent = ex.message; }
      ta.focus();
    });
    return form;
  }

  quickDialog(ta) {
    const c = this.c;
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

  // --------------------------------------------------------------- dialogs

  messageMenu(m) {
    const c = this.c;
    const items = [];
    const close = () => d.close();
    items.push(h("button.menu-item", { type: "button", onclick: () => { close(); this.detailsDialog(m.id); } }, icon("clock"), " Details"));
    if (!m.recalled && m.status !== "failed" && m.status !== "pending") {
      items.push(h("button.menu-item", { type: "button", onclick: () => { close(); this.forwardDialog(m.id); } }, icon("forward"), " Forward"));
    }
    if (!m.out && (m.flags & FLAG_ACK) && !m.acked && !m.recalled) {
      items.push(h("button.menu-item", { type: "button", onclick: () => { close(); c.acknowledge(m.id); } }, icon("check"), " Acknowledge"));
    }
    if (m.out && !m.recalled && m.status === "sent") {
      items.push(h("button.menu-item.danger", { type: "button", onclick: async () => {
        close();
        if (!confirmDialogSync()) return;
        try { await c.recall(m.id); toast("Message recalled from every device."); } catch (e) { toast(`Could not recall: ${e.message}`, { kind: "error" }); }
      } }, icon("close"), " Recall from everyone"));
    }
    if (m.out && (m.status === "pending" || m.status === "failed")) {
      items.push(h("button.menu-item.danger", { type: "button", onclick: () => { close(); c.discard(m.id); } }, icon("close"), " Delete unsent message"));
    }
    const d = dialog("Message", h("div.menu", items));
    function confirmDialogSync() { return window.confirm("Recall this message? It will be removed from every recipient's device."); }
  }

  async detailsDialog(id) {
    const c = this.c;
    const m = c.msgs.get(id);
    if (!m) return;
    const conv = c.convs.get(m.conv);
    const rows = [
      ["Message ID", h("code", m.id)],
      ["From", c.userName(m.from?.user)],
      ["Created", fmtFull(m.created)],
      ["Sent (server)", m.sent ? fmtFull(m.sent) : m.status === "pending" ? "Waiting for connection" : "Not yet"],
    ];
    if (m.flags & FLAG_ACK) rows.push(["Acknowledgement", "Requested"]);
    if (m.flags & FLAG_URGENT) rows.push(["Priority", "Urgent"]);
    if (!m.out) { rows.push(["Read by you", m.read ? fmtFull(m.read) : "—"]); if (m.flags & FLAG_ACK) rows.push(["Acknowledged by you", m.acked ? fmtFull(m.acked) : "—"]); }
    if (m.recalled) rows.push(["Recalled", fmtFull(m.recalled)]);
    const table = h("table.recipients", h("caption", "Recipients"),
      h("thead", h("tr", h("th", { scope: "col" }, "Person"), h("th", { scope: "col" }, "Delivered"), h("th", { scope: "col" }, "Read"), h("th", { scope: "col" }, "Acknowledged"))),
      h("tbody"));
    const fillRecipients = (recips) => fill(table.tBodies[0], recips.map((r) => h("tr", { dataset: { user: r.user } },
      h("th", { scope: "row" }, c.userName(r.user)), h("td.delivered", fmtFull(r.delivered)), h("td.read", fmtFull(r.read)), h("td.acknowledged", fmtFull(r.acknowledged)))));
    const local = () => {
      const users = conv ? audience(c, conv) : [];
      return users.map((u) => ({ user: u, ...(m.receipts?.[u] || {}) }));
    };
    const body = h("div.details", h("dl", rows.map(([k, v]) => [h("dt", k), h("dd", v)])), m.out ? table : null,
      m.out ? h("p.hint.details-source", "") : null);
    dialog("Message details", body, { wide: true });
    if (m.out) {
      fillRecipients(local());
      if (m.status === "sent" && c.online) {
        try {
          const d = await c.details(id);
          for (const r of d.recipients || []) {
            // The server's record wins; keep what we learned from receipts too.
            const mine = m.receipts?.[r.user] || {};
            r.delivered = r.delivered || mine.delivered; r.read = r.read || mine.read; r.acknowledged = r.acknowledged || mine.acknowledged;
          }
          fillRecipients(d.recipients || []);
          body.querySelector(".details-source").textContent = "Times from the server's record.";
        } catch (e) {
          body.querySelector(".details-source").textContent = "Times from receipts this device has received.";
        }
      } else body.querySelector(".details-source").textContent = "Times from receipts this device has received.";
    }
  }

  forwardDialog(id) {
    const c = this.c;
    const m = c.msgs.get(id);
    const pickConv = async (convId) => {
      d.close();
      await c.send(convId, { text: m.text, attachments: m.attachments || [], forwarded: { from: m.from.user, id: m.id, sent: m.sent || m.created } });
      toast(`Forwarded to ${c.title(c.convs.get(convId))}.`);
      this.go("/c/" + convId);
    };
    const people = h("ul.pick-list");
    const input = h("input", { type: "search", placeholder: "Search people", "aria-label": "Search people", autocomplete: "off" });
    const convs = h("ul.pick-list", c.conversations().filter((x) => x.conv.id !== m.conv).slice(0, 12).map(({ conv }) =>
      h("li", h("button.pick-item", { type: "button", onclick: () => pickConv(conv.id) }, c.title(conv)))));
    input.addEventListener("input", debounce(async () => {
      const q = input.value.trim();
      if (!q) { fill(people); return; }
      try {
        const users = await c.searchDirectory(q);
        fill(people, users.map((u) => h("li", h("button.pick-item", { type: "button", onclick: async () => pickConv((await c.startDirect(u.id)).id) },
          u.display || u.username, h("span.muted", ` @${u.username}`)))));
      } catch (e) { fill(people, h("li.form-error", e.message)); }
    }, 250));
    const d = dialog("Forward to…", [h("p.hint", "Forwarding sends a new encrypted message to other Curbside users only."),
      h("label.visually-hidden", "Search people"), input, people, h("h3", "Recent conversations"), convs]);
    input.focus();
  }

  newConversation() {
    const c = this.c;
    const picked = new Map();
    const results = h("ul.pick-list", { "aria-label": "People" });
    const chips = h("div.chips", { "aria-live": "polite" });
    const input = h("input", { type: "search", placeholder: "Name or username", "aria-label": "Find people", autocomplete: "off" });
    const go = h("button.primary", { type: "button", disabled: true }, "Start");
    const renderChips = () => {
      fill(chips, [...picked.values()].map((u) => h("span.chip", u.display || u.username,
        h("button.icon-btn.small", { type: "button", "aria-label": `Remove ${u.display || u.username}`, onclick: () => { picked.delete(u.id); renderChips(); } }, icon("close")))));
      go.disabled = picked.size === 0;
      go.textContent = picked.size > 1 ? `Start broadcast to ${picked.size} people` : "Start conversation";
    };
    const search = async () => {
      const q = input.value.trim();
      try {
        const users = await c.searchDirectory(q);
        fill(results, users.length ? users.map((u) => h("li", h("button.pick-item", { type: "button", "aria-pressed": picked.has(u.id) ? "true" : "false",
          onclick: (e) => { if (picked.has(u.id)) picked.delete(u.id); else picked.set(u.id, u); e.currentTarget.setAttribute("aria-pressed", picked.has(u.id) ? "true" : "false"); renderChips(); } },
          h("span.avatar.small." + avatarClass(u.id), { "aria-hidden": "true" }, initials(u.display || u.username)),
          h("span", u.display || u.username, h("span.muted", ` @${u.username} · ${roleName(u.role)}`)),
          h("span.tick", icon("check"))))) : h("li.muted", "Nobody matches."));
      } catch (e) { fill(results, h("li.form-error", e.message)); }
    };
    input.addEventListener("input", debounce(search, 200));
    const groups = [...c.convs.values()].filter((x) => x.kind === "group");
    go.addEventListener("click", async () => {
      const ids = [...picked.keys()];
      const conv = ids.length === 1 ? await c.startDirect(ids[0]) : await c.startBroadcast(ids);
      d.close();
      this.go("/c/" + conv.id);
    });
    const d = dialog("New message", [
      h("p.hint", "Pick one person for a conversation, or several for a broadcast (each replies only to you)."),
      input, chips, results,
      groups.length ? [h("h3", "Your groups"), h("ul.pick-list", groups.map((g) => h("li", h("button.pick-item", { type: "button", onclick: () => { d.close(); this.go("/c/" + g.id); } }, icon("users"), " ", g.name))))] : null,
    ], { actions: [go] });
    input.focus();
    search();
  }

  async safetyDialog(uid) {
    const c = this.c;
    const body = h("div.safety", h("p", "Loading…"));
    const d = dialog(`Safety number with ${c.userName(uid)}`, body);
    try {
      const num = await c.safety(uid);
      const pin = c.pins.get(uid);
      const [lo, hi] = c.me.id < uid ? [c.me.id, uid] : [uid, c.me.id];
      const qr = qrcode(0, "M");
      qr.addData(`curbside:safety:v1:${lo}:${hi}:${num.replace(/ /g, "")}`);
      qr.make();
      const verified = h("p.verified" + (pin?.verified ? ".yes" : ""), { role: "status" }, pin?.verified ? "✓ You have verified this safety number." : "Not verified yet.");
      fill(body,
        h("p", `Compare this number with ${c.userName(uid)}, in person or on a call you trust. If it matches on both screens, nobody — not even the server — can read your messages in between.`),
        h("div.safety-number", { "aria-label": `Safety number ${num}` }, num.split(" ").map((g) => h("span", g))),
        h("img.qr", { src: qr.createDataURL(6, 8), alt: "QR code of the safety number", width: 240, height: 240 }),
        verified,
        h("div.row",
          h("button.primary", { type: "button", onclick: async () => { await c.markVerified(uid, !pin?.verified); d.close(); this.safetyDialog(uid); } },
            pin?.verified ? "Clear verification" : "Mark as verified")),
        h("p.hint", "The number changes when either of you adds or removes a device."));
    } catch (e) {
      fill(body, h("p.form-error", e.message));
    }
  }

  // --------------------------------------------------------------- settings

  renderSettings() {
    const c = this.c;
    const s = c.settings;
    const sec = (title, ...kids) => h("section.settings-section", { "aria-labelledby": "s-" + title.replace(/\W/g, "") }, h("h2", { id: "s-" + title.replace(/\W/g, "") }, title), kids);
    const autoReply = h("textarea", { id: "auto-reply", rows: 2, autocomplete: "off", value: s.autoReply || "", placeholder: "e.g. In theatre until 3 pm. For urgent matters call the ward." });
    autoReply.addEventListener("change", () => c.saveSettings({ autoReply: autoReply.value.trim() }));
    const soundSel = h("select", { id: "sound", onchange: (e) => { c.saveSettings({ sound: e.target.value }); play(e.target.value); } },
      Object.entries(SOUNDS).filter(([k]) => k !== "urgent").map(([k, v]) => h("option", { value: k, selected: s.sound === k }, v.label)));
    const newQuick = h("input", { id: "new-quick", maxlength: 200, autocomplete: "off", placeholder: "e.g. Please call me on extension 2214" });
    const devices = h("ul.devices", h("li.muted", "Loading…"));
    // One element for the app's life: settings re-render on every change,
    // and an enrollment under way (a QR code on screen) must survive that.
    if (!this.signInSecurity) { this.signInSecurity = h("div.sign-in-security"); mfaSettings(this.signInSecurity); }
    const signInSecurity = this.signInSecurity;
    // The key fingerprint is what the admin console shows for each device,
    // so an administrator and the owner can tell which device is which.
    c.myDevices().then((ds) => fill(devices, ds.map((d) => h("li", { "data-device": d.id }, icon(d.me ? "check" : "shield"), ` Device ${d.id}`, d.me ? h("strong", " (this browser)") : null, d.active ? "" : h("span.muted", " (inactive)"),
      h("span.fingerprint", { title: "Key fingerprint" }, d.fingerprint)))),
      () => fill(devices, h("li.muted", "Connect to see your devices.")));
    fill(this.pane, h("section.settings", { "aria-label": "Settings" },
      h("header.bar", h("button.icon-btn.back", { type: "button", "aria-label": "Back to conversations", onclick: () => this.go("/") }, icon("back")),
        h("div.conv-id", h("h1", { tabindex: "-1" }, "Settings"))),
      h("div.settings-body",
        sec("Status",
          h("fieldset.radio-group", h("legend.visually-hidden", "Your status"),
            ["available", "away", "dnd"].map((st) => h("label.radio", h("input", { type: "radio", name: "presence", value: st, checked: s.presence === st, onchange: () => c.setPresence(st) }), " ", PRESENCE[st]))),
          h("p.hint", "Do not disturb silences sounds (urgent messages still sound)."),
          h("label", { for: "auto-reply" }, "Automatic reply while on Do not disturb (optional)"), autoReply),
        sec("Sounds and notifications",
          h("label", { for: "sound" }, "Message sound"), h("div.row", soundSel, h("button.secondary", { type: "button", onclick: () => play(soundSel.value) }, "Play")),
          "Notification" in window ? h("div.row", h("button.secondary", { type: "button", onclick: async () => { const r = await Notification.requestPermission(); toast(r === "granted" ? "Notifications are on. They never show message text." : "Notifications stay off."); } },
            "Notify me when Curbside is in the background")) : null,
          h("p.hint", "Notifications say only that a message arrived, never what it says.")),
        sec("Quick messages",
          h("ul.quick-manage", (s.quick || []).map((t, i) => h("li", h("span", t), h("button.link", { type: "button", onclick: () => c.saveSettings({ quick: s.quick.filter((_, j) => j !== i) }) }, "Remove")))),
          h("form.row", { onsubmit: (e) => { e.preventDefault(); const t = newQuick.value.trim(); if (t) c.saveSettings({ quick: [...(s.quick || []), t] }); } },
            h("label.visually-hidden", { for: "new-quick" }, "New quick message"), newQuick, h("button.secondary", { type: "submit" }, "Add")),
          (c.config.quick_messages || []).length ? [h("h3", "From your practice"), h("ul.quick-manage", c.config.quick_messages.map((t) => h("li", t)))] : null),
        sec("Security",
          h("p", `Curbside locks after ${fmtDuration(c.policy.inactivity_lock_ms)} without use. Messages disappear from every device after ${fmtDuration(c.policy.retention_ms)}.`),
          h("div.row", h("button.secondary", { type: "button", onclick: () => this.actions.onLock() }, icon("lock"), " Lock now"),
            h("button.secondary", { type: "button", onclick: () => this.changePinDialog() }, "Change PIN")),
          h("h3", "Your devices"), devices,
          h("p.hint", "Each browser or app you sign in on is a device with its own keys. The people you talk to are warned when a device is added.")),
        sec("Sign-in security",
          h("p.hint", "A second step when you sign in with your password: a code from an authenticator app, or a passkey."),
          signInSecurity),
        sec("Account",
          h("p", `Signed in as ${c.me.display || c.me.username} (@${c.me.username}).`),
          h("div.row",
            h("button.secondary", { type: "button", onclick: () => this.actions.onSignOut() }, "Sign out"),
            h("button.danger", { type: "button", onclick: () => { if (window.confirm("Erase this device? Its message history on this browser will be deleted for good.")) this.actions.onErase(); } }, "Sign out and erase this device")),
          h("p.hint", "Signing out keeps this device's encrypted history; signing in again restores it. Erasing deletes it.")))));
  }

  changePinDialog() {
    const field = (label, name) => {
      const id = "cp-" + name;
      return [h("label", { for: id }, label), h("input", { id, name, type: "password", inputmode: "numeric", autocomplete: "off", pattern: "[0-9]*" })];
    };
    const err = h("p.form-error", { role: "alert" });
    const form = h("form.auth-form", { novalidate: true }, field("Current PIN", "old"), field("New PIN", "new"), field("Repeat the new PIN", "new2"), err,
      h("button.primary", { type: "submit" }, "Change PIN"));
    const d = dialog("Change PIN", form);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const v = (n) => form.elements[n].value;
      const bad = checkNewPin(v("new"), v("new2"));
      if (bad) { err.textContent = bad; return; }
      const btn = form.querySelector("button[type=submit]");
      btn.disabled = true; btn.textContent = "Changing…";
      try {
        await this.actions.onChangePin(v("old"), v("new"));
        d.close();
        toast("Your PIN has been changed.");
      } catch (ex) {
        err.textContent = ex.offline ? "Changing the PIN needs a connection." : ex.message;
        btn.disabled = false; btn.textContent = "Change PIN";
      }
    });
    form.elements.old.focus();
  }

  // ------------------------------------------------------------ notifications

  notified(d) {
    const c = this.c;
    if (d.kind === "message") {
      // Closures that outlive this call (a toast's button and timer) must
      // not hold the message itself: after a lock nothing may keep its text.
      const convId = d.msg.conv, from = d.msg.from.user;
      const urgent = d.msg.flags & FLAG_URGENT;
      const inView = this.convId === convId && document.visibilityState === "visible";
      if (c.settings.presence !== "dnd" || urgent) play(urgent ? "urgent" : c.settings.sound);
      if (document.visibilityState === "visible") {
        if (!inView) {
          toast(`${urgent ? "Urgent message" : "New message"} from ${c.userName(from)}`, { kind: urgent ? "urgent" : "info", action: { label: "Open", run: () => this.go("/c/" + convId) } });
        }
      } else if ("Notification" in window && Notification.permission === "granted") {
        // The system notification carries no message text and no name: a
        // locked phone's screen is not a place for PHI.
        navigator.serviceWorker?.getRegistration().then((reg) => reg?.showNotification("Curbside", { body: urgent ? "Urgent message" : "New message", tag: "curbside", renotify: !!urgent }));
      }
    } else if (d.kind === "keychange") {
      const uid = d.user;
      if (!d.warning.own) toast(`${c.userName(uid)}'s security keys changed. Check the safety number if you did not expect it.`, { kind: "warn", timeout: 10000, action: { label: "Check", run: () => this.safetyDialog(uid) } });
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
    toast(`Urgent message from ${c.userName(from)} is still unread`, { kind: "urgent", action: { label: "Open", run: () => this.go("/c/" + convId) } });
  }
}

// ------------------------------------------------------------------ helpers

/** audience returns the users a message of mine in conv goes to (besides my devices). */
function audience(c, conv) {
  const p = parseConv(conv.id);
  if (p.kind === "direct") return [c.peerOf(conv)];
  if (p.kind === "broadcast" && p.owner !== c.me.id) return [p.owner];
  return conv.members.filter((u) => u !== c.me.id);
}

function recipientCount(c, conv) {
  return Math.max(1, audience(c, conv).length);
}

function outStatus(c, conv, m) {
  if (m.status === "pending") return { cls: "pending", icon: "clock", text: c.online ? "Sending…" : "Waiting for connection", label: "Not sent yet, queued" };
  if (m.status === "sending") return { cls: "pending", icon: "clock", text: "Sending…", label: "Sending" };
  if (m.status === "failed") return { cls: "failed", icon: "alert", text: "Not sent", label: "Not sent" };
  const rs = Object.values(m.receipts || {});
  const total = recipientCount(c, conv);
  const read = rs.filter((r) => r.read);
  const delivered = rs.filter((r) => r.delivered);
  const when = (xs, k) => fmtTime(Math.max(...xs.map((r) => r[k])));
  if (total === 1) {
    if (read.length) return { cls: "read", icon: "checks", text: `Read ${when(read, "read")}`, label: `Read ${when(read, "read")}` };
    if (delivered.length) return { cls: "delivered", icon: "checks", text: `Delivered ${when(delivered, "delivered")}`, label: "Delivered" };
    return { cls: "sent", icon: "check", text: "Sent", label: "Sent" };
  }
  if (read.length) return { cls: "read", icon: "checks", text: `Read by ${read.length} of ${total}`, label: `Read by ${read.length} of ${total}` };
  if (delivered.length) return { cls: "delivered", icon: "checks", text: `Delivered to ${delivered.length} of ${total}`, label: `Delivered to ${delivered.length} of ${total}` };
  return { cls: "sent", icon: "check", text: "Sent", label: "Sent" };
}

function preview(c, m) {
  if (m.recalled) return "Message recalled";
  const who = m.out ? "You: " : "";
  if (m.text) return who + m.text.slice(0, 80);
  if (m.attachments?.length) return `${who}Attachment: ${m.attachments[0].name || "file"}`;
  return who + "Message";
}

function snippet(text, q) {
  const i = text.toLowerCase().indexOf(q.trim().toLowerCase());
  if (i < 0) return text.slice(0, 80);
  const start = Math.max(0, i - 30);
  return (start ? "…" : "") + text.slice(start, i + q.length + 50);
}

function roleName(r) { return { admin: "Administrator", staff: "Staff", external: "External provider", patient: "Patient" }[r] || r; }

export function fmtDuration(ms) {
  const m = Math.round(ms / 60000);
  if (ms < 60000) return `${Math.round(ms / 1000)} seconds`;
  if (m < 60) return `${m} minute${m === 1 ? "" : "s"}`;
  const hh = Math.round(m / 60);
  if (hh < 48) return `${hh} hour${hh === 1 ? "" : "s"}`;
  const d = Math.round(hh / 24);
  return `${d} day${d === 1 ? "" : "s"}`;
}

function debounce(f, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => f(...a), ms); };
}

