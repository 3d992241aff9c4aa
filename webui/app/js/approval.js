// @ts-check
// Device approval (PROTOCOL.md 3.1), both sides. The new device commits to
// a nonce when it asks to join; an existing device answers with a nonce of
// its own; the new device reveals its nonce; both show the same six digits
// (protocol.ApprovalCode), and the person types the new device's code into
// the existing one, which then signs the list that adds the new device.
import { api, ApiError } from "./api.js";
import { b64, Canon, randomBytes, unb64 } from "./bytes.js";
import { sha256, signDeviceList } from "./crypto.js";

/** approvalCommit is protocol.ApprovalCommit: SHA-256("curbside/approval-commit/v1" || str(nonce)). */
export async function approvalCommit(nonce) {
  return sha256(new Canon().label("curbside/approval-commit/v1").bytes(nonce).done());
}

/**
 * approvalCode is protocol.ApprovalCode: SHA-256 over "curbside/approval-code/v1" ||
 * u64 user || u64 device || str(enc) || str(sign) || str(new nonce) ||
 * str(approver nonce); its first four bytes, big-endian, mod 10^6, as six digits.
 * @param {number} user
 * @param {{id: number, enc: Uint8Array, sign: Uint8Array}} dev
 * @param {Uint8Array} newNonce
 * @param {Uint8Array} approverNonce
 */
export async function approvalCode(user, dev, newNonce, approverNonce) {
  const h = await sha256(new Canon().label("curbside/approval-code/v1").u64(user).u64(dev.id).bytes(dev.enc).bytes(dev.sign).bytes(newNonce).bytes(approverNonce).done());
  return String(new DataView(h.buffer).getUint32(0) % 1000000).padStart(6, "0");
}

/** Denied is thrown when the request was denied on another device, or has gone. */
export class Denied extends Error {}

const POLL_MS = 2000;

/**
 * waitForApproval follows this device's request until it is approved:
 * once an existing device has answered, it reveals nonce and reports the
 * code to show with onCode. It resolves, with the id of the device that
 * answered (0: an administrator), once the session is bound to the device,
 * and throws Denied if the request is gone.
 * @param {number} user
 * @param {{id: number, enc: Uint8Array, sign: Uint8Array}} dev
 * @param {Uint8Array} nonce
 * @param {(code: string) => void} onCode
 * @returns {Promise<number>}
 */
export async function waitForApproval(user, dev, nonce, onCode) {
  let shown = "", approver = 0;
  for (;;) {
    let r;
    try {
      r = await api.myRequest();
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) throw new Denied("This device was not approved: the request was denied, on your other device or by your administrator, or it ended. Sign in again to ask once more.");
      if (!(e instanceof ApiError && e.offline)) throw e;
      r = null; // offline for a moment: ask again
    }
    if (r?.state === "active") {
      if (r.device !== dev.id) throw new Error("The server approved another device than this one.");
      return approver;
    }
    const an = r?.request?.approver_nonce;
    if (an && !shown) {
      approver = r?.request?.approver || 0;
      await api.revealRequest(b64(nonce));
      shown = await approvalCode(user, dev, nonce, unb64(an));
      onCode(shown);
    }
    await new Promise((res) => setTimeout(res, POLL_MS));
  }
}

/**
 * Approver is an existing device's side: it answers requests, remembering
 * in the vault its nonce and what it saw before answering, and approves
 * the one whose code the person enters.
 */
export class Approver {
  /** @param {{vault: any, keys: any, dir: any, user: number}} o */
  constructor({ vault, keys, dir, user }) {
    this.vault = vault; this.keys = keys; this.dir = dir; this.user = user;
  }

  /** pending lists the devices waiting, answering those that no device has answered yet. */
  async pending() {
    const { requests } = await api.deviceRequests();
    const out = [];
    for (const r of requests || []) {
      let mine = await this.vault.get("settings", `approval:${r.id}`);
      if (!mine && !r.approver) {
        mine = { id: r.id, nonce: b64(randomBytes(32)), commit: r.commit, enc: r.enc, sign: r.sign };
        await this.vault.put("settings", `approval:${r.id}`, mine);
        await api.answerRequest(r.id, mine.nonce);
        r.approver = this.keys.id;
      }
      out.push({ ...r, mine: !!mine && r.approver === this.keys.id });
    }
    return out;
  }

  /**
   * approve checks code against the request id and, if it is the code the
   * new device shows, signs and sends the list that adds it. It returns
   * "" on success, or why nothing was approved.
   */
  async approve(id, code) {
    code = String(code).replace(/\D/g, "");
    const mine = await this.vault.get("settings", `approval:${id}`);
    if (!mine) return "Another of your devices is approving this one.";
    const r = (await api.deviceRequests()).requests.find((x) => x.id === id);
    if (!r) return "This device is no longer waiting: it was approved, denied or withdrawn.";
    if (!r.reveal) return "The new device has not shown its code yet. Keep it open until it does.";
    const reveal = unb64(r.reveal);
    const commit = await approvalCommit(reveal);
    const dev = { id, enc: unb64(mine.enc), sign: unb64(mine.sign) };
    if (b64(commit) !== mine.commit || (await approvalCode(this.user, dev, reveal, unb64(mine.nonce))) !== code) {
      return "That is not the code the new device shows. Nothing was approved; check the code and try again.";
    }
    const me = await this.dir.lookup(this.user, true);
    /** @type {any} */
    const next = { user: this.user, version: me.list.version + 1, devices: me.recips.map((x) => me.list.devices.find((d) => d.id === x.device)) };
    next.devices.push({ id, enc: mine.enc, sign: mine.sign });
    await signDeviceList(next, this.keys);
    await api.approveRequest(id, next);
    await this.vault.del("settings", `approval:${id}`);
    const pin = this.dir.pins.get(this.user);
    // This device signed the list itself: nothing to warn of, even if a
    // devices frame made it fetch the list before this line.
    await this.dir.savePin({ ...(pin || { user: this.user, verified: true }), list: next, since: Date.now(), warning: undefined });
    this.dir.peers.delete(this.user);
    return "";
  }

  /** deny deletes the request id. */
  async deny(id) {
    await api.denyRequest(id);
    await this.vault.del("settings", `approval:${id}`);
  }
}
