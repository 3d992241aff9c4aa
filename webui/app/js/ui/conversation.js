// @ts-check
// The open conversation: its header, the key-change and connection
// banners, and the messages with their attachments, flags and status. The
// composer below them is built once per opened conversation (composer.js)
// and never re-rendered, so a draft survives a message arriving.
import { fmtBytes, parseConv } from "../conv.js";
import { FLAG_ACK_REQUESTED, FLAG_URGENT } from "../constants.js";
import { fill, fmtFull, fmtTime, h, icon } from "./dom.js";
import { audience, fmtDuration, presenceOf, recipientCount } from "./common.js";
import { buildComposer } from "./composer.js";
import { messageMenu, safetyDialog } from "./dialogs.js";
import { attachmentKind, fileName, refusedNote } from "../attachments.js";
import { groupInfoDialog, heldReceipts, receiptSummary, renderReachNote } from "./reach.js";
import { printConversation, setPrintHead } from "./print.js";
import { richText } from "./richtext.js";
import { quoteBlock, replyButton } from "./reply.js";
import { searchBar, searchButton, searchState } from "./convsearch.js";
import { mentionsMe, muteButton } from "./mute.js";
import { jumpBar, jumpToUnread, markUnread, reachedBottom, unreadDivider, updateJump } from "./unread.js";
import { renderTyping, typingLine } from "./typingline.js";
import { fmtClock } from "./voice.js";
import { memberNote, memberText } from "../members.js";

export function renderConversation(ui, fresh = false) {
  if (ui.view !== "conv" || !ui.c.convs.get(ui.convId)) {
    // Nothing is drawn for a conversation not (yet) known: one opened from
    // a notification before its messages arrived is drawn when they do.
    ui.msgBox = null;
    ui.jumpBtn = null;
    ui.unseen = null;
    fill(ui.pane, h("div.empty-state.pane-empty", icon("shield"), h("h2", "Choose a conversation"),
      h("p", "Your messages are end-to-end encrypted: only the people in a conversation can read them.")));
    return;
  }
  const conv = ui.c.convs.get(ui.convId);
  const c = ui.c;
  ui.convHead = h("header.bar.conv-head");
  ui.keyBanner = h("div.keybanner");
  ui.msgBox = h("div.messages", { role: "log", "aria-label": `Messages with ${c.title(conv)}`, tabindex: "0" });
  // Stay at the newest message while it is in view, also as images
  // decrypt and grow the list; let the reader scroll back undisturbed.
  ui.stick = true;
  ui.msgList = h("div.msg-list");
  ui.msgBox.append(ui.msgList, jumpBar(ui));
  // Only the reader scrolling up lets go: a scroll event that lands after
  // an image grew the list (scrollTop unchanged, the end further away)
  // must not, or the view stops following new messages.
  let lastTop = 0;
  ui.msgBox.addEventListener("scroll", () => {
    const box = ui.msgBox;
    if (box.scrollHeight - box.scrollTop - box.clientHeight < 80) { ui.stick = true; reachedBottom(ui); } else if (box.scrollTop < lastTop) ui.stick = false;
    lastTop = box.scrollTop;
  });
  ui.resizeObs?.disconnect();
  ui.resizeObs = new ResizeObserver(() => { if (ui.stick && ui.msgBox) ui.msgBox.scrollTop = ui.msgBox.scrollHeight; });
  ui.resizeObs.observe(ui.msgList);
  ui.resizeObs.observe(ui.msgBox); // a banner appearing above shrinks the view
  ui.netBanner = h("div.netbanner");
  ui.reachBanner = h("div.reachbanner");
  ui.composer = buildComposer(ui, conv);
  const printHead = h("div.print-head");
  fill(ui.pane, h("section.conversation", { "aria-label": c.title(conv) },
    ui.convHead, ui.netBanner, ui.keyBanner, ui.reachBanner, searchBar(ui), printHead,
    ui.msgBox, typingLine(ui), ui.composer));
  setPrintHead(ui, printHead);
  markUnread(ui, conv.id);
  renderConvBody(ui, true);
  renderTyping(ui);
  if (fresh) {
    // Learn the peer's presence now, not at their next change.
    c.contact(c.peerOf(conv));
    // Fetch members' keys afresh when a conversation is opened, so a
    // changed device set is reported before the next message, not after.
    c.recipientsOf(conv).then((users) => Promise.all([...users, c.me.id].map((u) => c.lookup(u, true).catch(() => {}))))
      .then(() => renderConvBody(ui)).catch(() => {});
    if (window.matchMedia("(min-width: 800px)").matches) ui.composer.querySelector("textarea").focus();
    else ui.convHead.querySelector("h1").focus();
  }
}

export function renderConvHead(ui) {
  const c = ui.c;
  const conv = c.convs.get(ui.convId);
  const peer = c.peerOf(conv);
  const sub = peer ? presenceOf(c, peer).text :
    conv.kind === "group" ? `Group · ${conv.members.length} members` :
      parseConv(conv.id).owner === c.me.id ? "Broadcast · each person replies only to you" : "Broadcast · your replies go only to the sender";
  fill(ui.convHead,
    h("button.icon-btn.back", { type: "button", "aria-label": "Back to conversations", onclick: () => ui.go("/") }, icon("back")),
    h("div.conv-id", h("h1", { tabindex: "-1", dir: "auto" }, c.title(conv)), h("p.sub", sub)),
    peer ? h("button.icon-btn", { type: "button", "aria-label": "Safety number", title: "Verify safety number", onclick: () => safetyDialog(ui, peer) }, icon("shield")) : null,
    conv.kind === "group" ? h("button.icon-btn", { type: "button", "aria-label": "Group info", title: "Members and who can receive", onclick: () => groupInfoDialog(ui, conv) }, icon("users")) : null,
    searchButton(ui), muteButton(ui, conv),
    h("button.icon-btn", { type: "button", "aria-label": "Print or save as PDF", title: "Print or save as PDF", onclick: () => printConversation() }, icon("print")));
}

export function renderKeyBanner(ui, conv) {
  const c = ui.c;
  const users = audience(c, conv);
  const warned = users.map((u) => c.pins.get(u)).filter((p) => p?.warning);
  fill(ui.keyBanner, warned.map((p) => h("div.banner.warn", { role: "alert" }, icon("alert"),
    h("span", ` ${c.userName(p.user)}'s security keys changed (${fmtTime(p.warning.at)})${p.warning.reset && p.warning.byAdmin ? ": all their devices were replaced, and the new one was approved by the administrator" : p.warning.reset ? ": all their devices were replaced, and none of their earlier devices approved the new one" : p.warning.added.length ? ": a new device was added" : p.warning.rekeyed?.length ? ": a device has new keys" : ": a device was removed"}. If you did not expect this, check the safety number with them before sending anything sensitive.`),
    h("span.banner-actions",
      h("button.link", { type: "button", onclick: () => safetyDialog(ui, p.user) }, "Check safety number"),
      h("button.link", { type: "button", onclick: () => c.dismissKeyWarning(p.user) }, "Dismiss")))));
}

export function renderConvBody(ui, initial = false) {
  const c = ui.c;
  if (!c) return;
  const conv = c.convs.get(ui.convId);
  if (!conv || !ui.msgBox) return;
  renderConvHead(ui);
  renderKeyBanner(ui, conv);
  if (ui.reachBanner) renderReachNote(ui, conv, ui.reachBanner);
  const atBottom = initial || ui.stick;
  fill(ui.netBanner, c.online ? null : h("div.banner.offline", { role: "status" }, icon("wifioff"),
    h("span", c.relay.state === "connecting" ? " Connecting… What you write is kept and sent when the connection returns." : " Offline. What you write is kept and sent when the connection returns.")));
  const msgs = c.messagesOf(conv.id).filter((m) => !m.hidden);
  // Membership events take their place among the messages by time.
  /** @type {Array<{t: number, m?: any, e?: import("../types.js").MemberEvent}>} */
  const items = msgs.map((m) => ({ t: m.sent || m.created, m }));
  if (conv.kind === "group") {
    for (const e of c.members.of(conv.id)) items.push({ t: e.ts, e });
    items.sort((a, b) => a.t - b.t);
  }
  const nodes = [];
  let day = "";
  for (const { t, m, e } of items) {
    const d = new Date(t).toDateString();
    if (d !== day) { day = d; nodes.push(h("div.day", { role: "separator" }, new Date(t).toLocaleDateString([], { weekday: "long", month: "long", day: "numeric" }))); }
    if (e) { nodes.push(renderMemberLine(c, e)); continue; }
    const divider = unreadDivider(ui, m);
    if (divider) nodes.push(divider);
    nodes.push(renderMessage(ui, conv, m));
  }
  if (!items.length) nodes.push(h("div.empty-state.small", h("p", "No messages yet. Say hello — or use a quick message below."),
    h("p.hint", `Messages disappear from every device after ${fmtDuration(c.policy.retention_ms)}.`)));
  fill(ui.msgList, nodes);
  if (ui.highlight) {
    const el = ui.msgBox.querySelector(`[data-id="${CSS.escape(ui.highlight)}"]`);
    if (el) { el.classList.add("highlight"); el.scrollIntoView({ block: "center" }); }
    ui.highlight = null;
  } else if (initial && jumpToUnread(ui)) {
    // Opened where the unread messages begin.
  } else if (atBottom) ui.msgBox.scrollTop = ui.msgBox.scrollHeight;
  updateJump(ui, msgs, atBottom);
  if (document.visibilityState === "visible") c.markRead(conv.id, ui.unseen);
}

/**
 * renderMemberLine is a membership event as a centred line of the
 * conversation, with its time; one the server did not announce says so.
 * @param {any} c the client
 * @param {import("../types.js").MemberEvent} e
 */
export function renderMemberLine(c, e) {
  const note = memberNote(e);
  return h("div.sysline" + (e.announced ? "" : ".unannounced"), { role: "note", dataset: { member: e.kind, user: e.user, announced: String(e.announced) } },
    h("p", note ? icon("alert") : icon("users"), " ", h("span.sys-text", { dir: "auto" }, memberText(c, e)), " · ",
      h("time", { datetime: new Date(e.ts).toISOString() }, stamp(e.ts))),
    note ? h("p.sys-note", note) : null);
}

/**
 * stamp is a time as the screen shows it (the time of day) and, printed,
 * in full: a record names the day as well.
 * @param {number} ts
 */
function stamp(ts) {
  return [h("span.screen-only", fmtTime(ts)), h("span.print-only", fmtFull(ts))];
}

export function renderMessage(ui, conv, m) {
  const c = ui.c;
  const cls = ["msg", m.out ? "out" : "in"];
  if (m.flags & FLAG_URGENT) cls.push("urgent");
  if (m.recalled) cls.push("recalled");
  const showSender = !m.out && conv.kind !== "direct";
  const search = searchState(ui);
  if (search.ids.has(m.id)) cls.push("search-hit");
  if (search.current === m.id) cls.push("search-current");
  if (mentionsMe(c, m)) cls.push("mentions-me");
  if (m.recalled) {
    return h("div." + cls.join("."), { dataset: { id: m.id } },
      h("p.text.muted", m.out ? "You recalled this message." : "This message was recalled by the sender.",
        h("span.print-only.print-time", ` It was sent ${fmtFull(m.sent || m.created)}.`)),
      h("p.meta", fmtTime(m.sent || m.created)));
  }
  const body = [];
  // A printout names every message's sender and its full time; the screen
  // names the sender where the bubble's side does not already.
  const when = m.sent || m.created;
  body.push(h("p.sender" + (showSender ? "" : ".print-only"), { dir: "auto" }, m.out ? `${c.userName(c.me.id)} (you)` : c.userName(m.from.user),
    h("span.print-only.print-time", ` · ${fmtFull(when)}`)));
  if (m.flags & FLAG_URGENT) body.push(h("p.flag.urgent", icon("bell"), " Urgent"));
  if (m.forwarded) body.push(h("p.forwarded", icon("forward"), ` Forwarded from ${c.userName(m.forwarded.from)}`));
  if (m.autoReply) body.push(h("p.forwarded", "Automatic reply"));
  body.push(quoteBlock(ui, m));
  // dir="auto": Arabic or Hebrew text is laid out right to left, each
  // message and name by its own first strong letter.
  if (m.text) body.push(h("p.text", { dir: "auto" }, richText(m.text, { mentions: (m.mentions || []).map((u) => c.userName(u)), me: c.userName(c.me.id), query: search.q })));
  for (const a of m.attachments || []) body.push(renderAttachment(ui, a));
  // Acknowledgement.
  if (m.flags & FLAG_ACK_REQUESTED) {
    if (!m.out) {
      body.push(m.acked ? h("p.ack.done", icon("check"), " You acknowledged this ", stamp(m.acked))
        : h("div.ack", h("span", "The sender asked you to acknowledge this message."),
          h("button.primary.small", { type: "button", onclick: () => c.acknowledge(m.id) }, "Acknowledge")));
    } else {
      const rs = Object.values(m.receipts || {});
      const n = rs.filter((r) => r.acknowledged).length;
      const total = recipientCount(c, conv);
      body.push(h("p.ack" + (n ? ".done" : ""), icon(n ? "check" : "clock"),
        total === 1 ? (n ? [" Acknowledged ", stamp(rs.find((r) => r.acknowledged).acknowledged)] : " Acknowledgement requested")
          : ` Acknowledged by ${n} of ${total}`));
    }
  }
  const receipts = !m.out ? "" : m.status !== "sent" ? "Not sent yet." : receiptSummary(c, m, heldReceipts(c, conv, m), true) || "Sent.";
  if (receipts) body.push(h("p.print-only.print-receipts", receipts));
  if (!m.out && m.read) body.push(h("p.print-only.print-receipts", `Read by you ${fmtFull(m.read)}.`));
  const status = m.out ? outStatus(c, conv, m) : null;
  body.push(h("p.meta",
    h("time", { datetime: new Date(m.sent || m.created).toISOString() }, fmtTime(m.sent || m.created)),
    status ? h("span.status." + status.cls, { "aria-label": status.label }, icon(status.icon), " ", status.text) : null,
    // The time shown is the sender's, which is signed; the server's record
    // of when it took the message is far from it.
    m.timeNote ? h("span.time-note", { title: `The server recorded ${fmtFull(m.serverTs)}.` }, " The server's time for this message differs.") : null));
  if (m.status === "pending" && m.note) body.push(h("p.send-note", { role: "status" }, m.note));
  if (m.status === "failed") {
    body.push(h("div.failed", { role: "alert", dataset: { code: m.errorCode || "" } }, h("span", m.error || "Not sent."),
      h("button.link", { type: "button", onclick: () => c.retry(m.id) }, "Try again"),
      h("button.link", { type: "button", onclick: () => c.discard(m.id) }, "Delete")));
  }
  return h("div." + cls.join("."), { dataset: { id: m.id } },
    h("div.bubble", body),
    replyButton(ui, m),
    h("button.icon-btn.small.msg-more", { type: "button", "aria-label": "Message options", onclick: () => messageMenu(ui, m) }, icon("more")));
}

/**
 * renderAttachment shows one attachment by its kind (attachments.js): an
 * image (an SVG rasterised) or a player, each with a Save link; any other
 * file the policy allows as a download only; a type the policy refuses as
 * a note, neither decrypted nor offered. No attachment is ever opened as a
 * document of this origin: every link's URL is an application/octet-stream
 * Blob, which the browser saves and never renders.
 * @param {any} ui
 * @param {import("../types.js").Attachment} a
 * @returns {HTMLElement}
 */
export function renderAttachment(ui, a) {
  const c = ui.c;
  const kind = attachmentKind(a, c.policy.attachment_types);
  const name = fileName(a);
  const box = h("div.attachment", { dataset: { kind } });
  const voice = a.voice === true && kind === "audio";
  const label = voice ? h("span.file-name.voice-note", icon("mic"), ` Voice note${typeof a.duration_ms === "number" ? ` · ${fmtClock(a.duration_ms)}` : ""}`)
    : h("span.file-name", icon("file"), ` ${name} · ${fmtBytes(a.size || 0)}`);
  if (kind === "refused") {
    fill(box, label, h("p.note.attachment-refused", { role: "note" }, icon("alert"), " ", refusedNote(a)));
    return box;
  }
  const save = (url) => h("a.link", { href: url, download: name }, "Save");
  // A printout names every attachment, a picture or a player too.
  const printed = () => voice ? null : h("p.print-only.file-name", icon("file"), ` ${name} · ${fmtBytes(a.size || 0)}`);
  const render = ({ view, save: saveURL }, fresh) => {
    if (kind === "image" || kind === "svg") fill(box, printed(), h("img.preview", { src: view, alt: name }), save(saveURL));
    else if (kind === "audio") fill(box, voice ? label : printed(), h("audio", { controls: true, src: view, "aria-label": voice ? "Voice note" : name }), save(saveURL));
    else if (kind === "video") fill(box, printed(), h("video.preview", { controls: true, src: view, "aria-label": name }), save(saveURL));
    else {
      const link = save(saveURL);
      fill(box, label, h("span.file-actions", link), h("p.hint", "Files open outside Curbside, from your downloads."));
      if (fresh) link.click(); // the reader asked for it: save it at once
    }
  };
  const show = async () => {
    fill(box, h("span.file-name", icon("file"), ` ${name} · Decrypting…`));
    try {
      render(await c.openAttachment(a), true);
    } catch (e) {
      fill(box, h("span.file-name", icon("file"), ` ${name}`), h("span.form-error", " " + (e.message || "Could not open the attachment.")),
        h("button.link", { type: "button", onclick: show }, "Try again"));
    }
  };
  const cached = c.urls.get(a.blob);
  const isImage = kind === "image" || kind === "svg";
  if (cached && cached.kind === kind && isImage) {
    // Already decrypted: render at full size at once, so a re-render
    // does not shrink and regrow the list under the reader.
    render(cached, false);
  } else if (isImage && (a.size || 0) <= 15 << 20) {
    // Images preview by themselves once decrypted (a cached URL is instant).
    show();
  } else {
    fill(box, label, h("button.secondary.small", { type: "button", onclick: show }, kind === "file" ? "Download" : voice ? "Play" : "Open"));
  }
  return box;
}

function outStatus(c, conv, m) {
  if (m.status === "pending" && m.note) return { cls: "pending", icon: "clock", text: "Not sent yet: kept to send again", label: "Not sent yet, kept to send again" };
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
