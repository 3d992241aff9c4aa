// @ts-check
// The sidebar: who I am and my status, connection and key banners, the
// search box, and the conversation list (or the search hits).
import { avatarClass, fill, fmtTime, h, icon, initials } from "./dom.js";
import { FLAG_URGENT, PRESENCE_AVAILABLE, PRESENCE_SETTABLE, ROLE_PATIENT } from "../constants.js";
import { PRESENCE, presenceOf } from "./common.js";
import { newConversation } from "./dialogs.js";
import { pushOfferBanner } from "./notifications.js";
import { isMuted } from "./mute.js";

export function renderSidebar(ui) {
  const c = ui.c;
  const me = c.users.get(c.me.id) || c.me;
  const presence = h("select.presence-select", { "aria-label": "Your status", onchange: (e) => c.setPresence(e.target.value) },
    PRESENCE_SETTABLE.map((s) => h("option", { value: s, selected: c.settings.presence === s }, PRESENCE[s])));
  const head = h("header.bar",
    h("div.me", h("span.avatar." + avatarClass(me.id), { "aria-hidden": "true" }, initials(me.display || me.username),
      h("span.dot." + (c.settings.presence || PRESENCE_AVAILABLE))),
    h("div.me-text", h("strong", { dir: "auto" }, me.display || me.username), presence)),
    h("button.icon-btn", { type: "button", "aria-label": "New message", title: "New message", onclick: () => newConversation(ui) }, icon("plus")),
    h("button.icon-btn", { type: "button", "aria-label": "Settings", title: "Settings", onclick: () => ui.go("/settings") }, icon("settings")),
    h("button.icon-btn", { type: "button", "aria-label": "Lock Curbside", title: "Lock", onclick: () => ui.actions.onLock() }, icon("lock")));

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

  banners.push(pushOfferBanner(ui));
  const hn = c.historyNote;
  if (hn && !hn.dismissed) {
    banners.push(h("div.banner.history-notice", { role: "status" }, icon("clock"),
      h("span", historyText(hn)),
      h("button.link", { type: "button", onclick: () => c.dismissHistoryNote() }, "Got it")));
  }

  const search = h("input.search-input", { type: "search", placeholder: "Search messages", "aria-label": "Search messages", autocomplete: "off", value: ui.query,
    oninput: (e) => { ui.query = e.target.value; renderList(ui); } });
  ui.listBox = h("nav.convlist", { "aria-label": "Conversation list" });
  const hadFocus = ui.sidebar.contains(document.activeElement) && document.activeElement.classList.contains("search-input");
  fill(ui.sidebar, head, banners, h("div.search", icon("search"), search), ui.listBox);
  if (hadFocus) { search.focus(); search.setSelectionRange(search.value.length, search.value.length); }
  renderList(ui);
}

/**
 * historyText is the one-time notice of a browser that is not the user's
 * first device, or was wiped: nothing from before is copied to it, and
 * what it had itself was erased. With byAdmin (an administrator approved
 * it: no other device was left) no device of the user kept a copy.
 * @param {{wiped: boolean, byAdmin?: boolean}} hn
 */
export function historyText(hn) {
  const erased = hn.wiped ? " This browser's earlier messages were erased when it was wiped." : "";
  const before = hn.wiped ? "Messages from before are not copied to it" : "Messages from before this browser was set up are not copied to it";
  return `${erased} ${before}${hn.byAdmin ? ", so it starts with none." : `: they stay on ${hn.wiped ? "your other devices" : "the devices"} that received them.`}`;
}

export function renderList(ui) {
  const c = ui.c;
  if (ui.query.trim()) {
    const hits = c.search(ui.query);
    fill(ui.listBox, h("h2.list-head", `${hits.length} ${hits.length === 1 ? "message" : "messages"} found`),
      hits.length ? h("ul.list", hits.map((m) => {
        const conv = c.convs.get(m.conv);
        return h("li", h("button.conv-item", { type: "button", onclick: () => { ui.highlight = m.id; ui.go("/c/" + m.conv); } },
          h("span.conv-text", h("span.conv-title", { dir: "auto" }, conv ? c.title(conv) : ""), h("span.conv-last", { dir: "auto" }, snippet(m.text || m.attachments?.[0]?.name || "", ui.query))),
          h("span.conv-time", fmtTime(m.sent || m.created))));
      })) : h("p.empty", "No messages on this device match. Messages older than your practice's retention period are deleted."));
    return;
  }
  const items = c.conversations();
  if (!items.length) {
    fill(ui.listBox, h("div.empty-state", icon("users"), h("h2", "No conversations yet"),
      // A patient reaches only their care team, not the practice's directory.
      h("p", c.me.role === ROLE_PATIENT ? "Start one by choosing someone from your care team." : "Start one by choosing someone from your practice's directory."),
      // History is not copied between devices (history transfer is not
      // built): a browser set up now starts empty, and says so; a wiped
      // one says its own earlier messages were erased.
      h("p.hint.history-note", c.historyNote?.wiped
        ? "This browser's earlier messages were erased when it was wiped, and Curbside does not copy history to a new device."
        : "Messages received before this browser was set up stay on the devices that received them: Curbside does not copy history to a new device."),
      h("button.primary", { type: "button", onclick: () => newConversation(ui) }, "New message")));
    return;
  }
  fill(ui.listBox, h("ul.list", items.map(({ conv, last, t, unread }) => {
    const peer = c.peerOf(conv);
    const pin = peer ? c.pins.get(peer) : null;
    const urgent = [...c.msgs.values()].some((m) => m.conv === conv.id && !m.out && !m.read && (m.flags & FLAG_URGENT) && !m.recalled);
    const kind = conv.kind === "group" ? "users" : conv.kind === "broadcast" ? "megaphone" : null;
    const title = c.title(conv);
    const label = `${title}${unread ? `, ${unread} unread` : ""}${urgent ? ", urgent" : ""}`;
    return h("li", h("button.conv-item" + (conv.id === ui.convId ? ".active" : "") + (unread ? ".unread" : ""),
      { type: "button", "aria-label": label, "aria-current": conv.id === ui.convId ? "true" : null,
        onclick: () => { if (conv.id === ui.convId) ui.composer?.querySelector("textarea")?.focus(); else ui.go("/c/" + conv.id); } },
      h("span.avatar." + avatarClass(peer || conv.id.length), { "aria-hidden": "true" }, kind ? icon(kind) : initials(title),
        peer ? h("span.dot." + presenceOf(c, peer).cls, { title: presenceOf(c, peer).text }) : null),
      h("span.conv-text",
        h("span.conv-title", { dir: "auto" }, title, pin?.warning ? h("span.tag.warn", "Keys changed") : null,
          isMuted(c, conv.id) ? h("span.muted-mark", { title: "Muted on this device" }, icon("belloff", "Muted")) : null),
        h("span.conv-last", { dir: "auto" }, last ? preview(c, last) : conv.kind === "group" ? `${conv.members.length} members` : "")),
      h("span.conv-side", h("span.conv-time", t ? fmtTime(t) : ""),
        urgent ? h("span.badge.urgent", "Urgent") : unread ? h("span.badge", { "aria-hidden": "true" }, String(unread)) : null)));
  })));
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
