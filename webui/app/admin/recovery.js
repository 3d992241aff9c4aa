// @ts-check
// Approving a new device for a person who has no device left (PROTOCOL.md
// 3.2): their lost phone was wiped, and the browser they set up now waits.
// The administrator first checks who is asking, starts the approval, and
// types the six digits the person reads from their new device together
// with their own authenticator code. Three wrong device codes end it.
import { admin } from "./api.js";
import { agentName } from "../js/agent.js";
import { busy, errorLine, field, fill, fmtDate, h, toast } from "./ui.js";
import { LEVEL_ADMIN } from "../js/constants.js";

const POLL_MS = 2000; // while a device is to show its code
const IDLE_POLL_MS = 10000; // otherwise, so a device that asks shows up

/**
 * @typedef {object} RecoveryRequest
 * @property {number} id
 * @property {string} name
 * @property {string} agent
 * @property {number} created_at
 * @property {string} fingerprint
 * @property {"new" | "waiting" | "code" | "other"} stage
 * @property {number} tries_left
 */

/**
 * recoveryBox lists the person's devices waiting for an administrator, each
 * with the step it is at; it calls done() once one is approved or denied,
 * so the device list can be read again. Nothing for helpdesk, who cannot
 * approve devices.
 * @param {{id: number, username: string, display: string}} u
 * @param {any} ctx
 * @param {(msg: string) => void} done
 */
export function recoveryBox(u, ctx, done) {
  if (!ctx.can(LEVEL_ADMIN)) return null;
  const box = h("div.recovery");
  const owner = u.display || u.username;
  /** @type {number | undefined} */
  let timer;
  // load draws the waiting devices again, keeping msg (what the last
  // action answered) in view; it looks again every few seconds while the
  // page is open, so a device that asks now shows without a reload.
  const load = async (msg = "") => {
    clearTimeout(timer);
    if (!box.isConnected && timer !== undefined) return; // the page was left
    /** @type {{requests: RecoveryRequest[]}} */
    let res;
    try { res = await admin.recoveryRequests(u.id); } catch (e) {
      // Forbidden: an administrator's own device, with someone else to approve it.
      fill(box, h("p.hint", e.message || String(e)));
      if (e.status !== 403) timer = window.setTimeout(load, IDLE_POLL_MS);
      return;
    }
    const reqs = res.requests || [];
    fill(box, ...reqs.map((r, i) => requestPanel(u, owner, r, load, done, i === 0 ? msg : "")));
    timer = window.setTimeout(load, reqs.some((r) => r.stage === "waiting") ? POLL_MS : IDLE_POLL_MS);
  };
  load();
  return box;
}

/**
 * requestPanel is one waiting device and the step it is at.
 * @param {{id: number}} u
 * @param {string} owner
 * @param {RecoveryRequest} r
 * @param {(msg?: string) => void} reload
 * @param {(msg: string) => void} done
 * @param {string} msg what the last action on it answered, kept in view
 */
function requestPanel(u, owner, r, reload, done, msg) {
  const err = errorLine();
  err.textContent = msg;
  const head = h("div.recovery-head",
    h("h3", `Waiting for approval: ${r.name}`),
    h("dl.recovery-facts",
      h("dt", "Asked"), h("dd", fmtDate(r.created_at)),
      h("dt", "Browser"), h("dd", { title: r.agent }, r.agent ? agentName(r.agent) : "—"),
      h("dt", "Key fingerprint"), h("dd", h("code", r.fingerprint))));
  const deny = h("button.secondary.small", { type: "button", "aria-label": `Deny ${r.name}` }, "Deny");
  deny.addEventListener("click", () => busy(deny, "Denying…", async () => {
    await admin.denyRecovery(u.id, r.id);
    toast(`${r.name} was not approved.`);
    done(`${r.name} was not approved. If ${owner} still needs a device, they sign in again on it.`);
  }, err));
  let step;
  switch (r.stage) {
    case "new": {
      const start = h("button.primary.small", { type: "button" }, "Start approval");
      start.addEventListener("click", () => busy(start, "Starting…", async () => { await admin.answerRecovery(u.id, r.id); reload(); }, err));
      step = [
        h("p", `${owner} has no other device signed in to Curbside, so an administrator must approve this one. Anyone who knows their password could have asked: first make sure it is really ${owner}, in person or on a call to a number you already have for them.`),
        h("p.hint.history-note", `Messages from before are not copied to the new device: it starts with none of ${owner}'s history.`),
        h("div.row", start, deny)];
      break;
    }
    case "waiting":
      step = [h("p", { role: "status" }, `Waiting for ${owner}'s device to show a code. It appears on their screen within a few seconds, while Curbside is open there.`), h("div.row", deny)];
      break;
    case "code": {
      const code = h("input", { name: "code", inputmode: "numeric", autocomplete: "off", maxlength: "7", pattern: "[0-9 ]*", required: true });
      const mine = h("input", { name: "step_up", autocomplete: "one-time-code", maxlength: "20", required: true });
      const ok = h("button.primary", { type: "submit" }, "Approve device");
      const form = h("form.stack", { novalidate: true },
        h("p", `Ask ${owner} to read you the six digits on their new device, and type them here. If they see no code, or a different one, do not approve.`),
        field("Code on their device", code),
        field("Your authenticator code", mine, "The code your authenticator app shows now, or one of your recovery codes: approving a device needs it every time."),
        h("p.hint", `${r.tries_left} ${r.tries_left === 1 ? "try" : "tries"} left with this request.`),
        h("div.row", ok, deny));
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        busy(ok, "Approving…", async () => {
          try {
            await admin.approveRecovery(u.id, r.id, code.value.replace(/\s+/g, ""), mine.value.trim());
          } catch (ex) {
            mine.value = "";
            // The third wrong code ends the request: say so on the page,
            // which no longer shows it.
            if (ex.status === 404 || (ex.code === "approval_code_wrong" && r.tries_left <= 1)) { done(ex.message); return; }
            if (ex.code === "approval_code_wrong") { reload(ex.message); return; }
            throw ex;
          }
          toast(`${r.name} is approved.`);
          done(`${r.name} is approved and set up. The people ${owner} messages are told that their devices changed and that an administrator approved the new one.`);
        }, err);
      });
      step = [form];
      break;
    }
    default:
      step = [h("p.hint", "Another administrator is approving this device."), h("div.row", deny)];
  }
  return h("section.recovery-request", { "aria-label": `Approve ${r.name}` }, head, ...step, err);
}
