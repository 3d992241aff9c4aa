// @ts-check
// The HTTP half of the protocol (PROTOCOL.md sections 2, 3, 8 and 9). The
// browser authenticates with the HttpOnly session cookie only: the token is
// never visible to script, so an injected script could not carry it away.

import { unb64 } from "./bytes.js";

/** @typedef {import("./types.js").MeAnswer} MeAnswer */
/** @typedef {import("./types.js").ConfigAnswer} ConfigAnswer */
/** @typedef {import("./types.js").KeysAnswer} KeysAnswer */
/** @typedef {import("./types.js").User} User */
/** @typedef {import("./types.js").Entry} Entry */
/** @typedef {import("./types.js").BlobAnswer} BlobAnswer */
/** @typedef {import("./types.js").DeviceList} DeviceList */
/** @typedef {import("./types.js").Group} Group */
/** @typedef {import("./types.js").DeviceProof} DeviceProof */

/**
 * sentence makes a server's words read as a sentence: a capital first
 * letter and a full stop ("no such device" → "No such device."). The
 * catalogue's words already are one and pass unchanged.
 * @param {string} text
 * @returns {string}
 */
export function sentence(text) {
  const t = String(text || "").trim();
  if (!t) return t;
  return t[0].toUpperCase() + t.slice(1) + (/[.!?…)]$/.test(t) ? "" : ".");
}

/** ApiError carries the server's stable error code (PROTOCOL.md section 6). */
export class ApiError extends Error {
  /**
   * @param {number} status the HTTP status, 0 when the server was not reached
   * @param {string} code a CODE_* of constants.js, or a client-side code (offline, http_NNN)
   * @param {string} [message]
   */
  constructor(status, code, message) {
    super(sentence(message || code));
    this.status = status;
    this.code = code;
    /** @type {string | undefined} the request field the error is about, if the server named one */
    this.field = undefined;
  }
  /** offline is true when the server could not be reached at all. */
  get offline() { return this.status === 0; }
}

/**
 * call sends one JSON request to the server and returns the decoded answer, or throws ApiError.
 * @param {string} method
 * @param {string} path
 * @param {any} [body]
 * @returns {Promise<any>}
 */
export async function call(method, path, body) {
  let res;
  try {
    res = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body !== undefined ? { "Content-Type": "application/json" } : {},
      body: body !== undefined ? JSON.stringify(body) : undefined,
      cache: "no-store",
    });
  } catch (e) {
    throw new ApiError(0, "offline", "Cannot reach the Curbside server. Check your connection.");
  }
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch { /* an empty or non-JSON body */ }
  if (!res.ok) {
    const err = data && data.error;
    throw new ApiError(res.status, (err && err.code) || "http_" + res.status, (err && err.message) || res.statusText);
  }
  return data;
}

/**
 * The app's API calls, each typed with its answer.
 * @type {{
 *   login(username: string, password: string, device?: DeviceProof): Promise<any>,
 *   loginChallenge(): Promise<{nonce: string, expires_at: number}>,
 *   logout(): Promise<any>,
 *   me(): Promise<MeAnswer>,
 *   config(): Promise<ConfigAnswer>,
 *   user(username: string): Promise<{user: Entry}>,
 *   directory(q: string): Promise<{users: Entry[]}>,
 *   keys(uid: number): Promise<KeysAnswer>,
 *   registerDevice(name: string, list: DeviceList, commit: string): Promise<{device: number, state: string, approval?: string}>,
 *   myRequest(): Promise<{state: string, device: number, request?: import("./types.js").DeviceRequest}>,
 *   revealRequest(nonce: string): Promise<any>,
 *   deviceRequests(): Promise<{requests: import("./types.js").DeviceRequest[]}>,
 *   answerRequest(id: number, nonce: string): Promise<any>,
 *   approveRequest(id: number, list: DeviceList): Promise<{device: number}>,
 *   denyRequest(id: number): Promise<any>,
 *   rotateKey(list: DeviceList): Promise<{device: number, list_version: number}>,
 *   devices(): Promise<{devices: {id: number, name: string, state: string, created_at: number, last_seen: number}[]}>,
 *   challenge(device: number): Promise<{nonce: string, expires_at: number}>,
 *   resume(device: number, sig: string): Promise<{device: number}>,
 *   share(device: number, proof: string): Promise<{share: string, verified: boolean, bound: boolean}>,
 *   setPin(proof: string, old?: string): Promise<any>,
 *   wipeCommand(device: number, sign: (nonce: Uint8Array) => Promise<string>): Promise<any>,
 *   setWipeKey(key: string): Promise<{device: number}>,
 *   pushStatus(): Promise<{subscribed: boolean}>,
 *   putPush(sub: PushSubscriptionJSON): Promise<{subscribed: boolean}>,
 *   deletePush(): Promise<{subscribed: boolean}>,
 *   groups(): Promise<{groups: Group[]}>,
 *   group(id: number): Promise<{group: Group}>,
 *   uploadBlob(bytes: Uint8Array, onProgress?: (fraction: number) => void): Promise<BlobAnswer>,
 *   downloadBlob(id: string): Promise<Uint8Array>,
 * }}
 */
export const api = {
  login: (username, password, device) => call("POST", "/api/v1/login", { username, password, web: true, ...(device ? { device } : {}) }),
  loginChallenge: () => call("POST", "/api/v1/login/challenge"),
  logout: () => call("POST", "/api/v1/logout"),
  me: () => call("GET", "/api/v1/me"),
  config: () => call("GET", "/api/v1/config"),
  user: (username) => call("GET", `/api/v1/users/${encodeURIComponent(username)}`),
  directory: (q) => call("GET", `/api/v1/directory?q=${encodeURIComponent(q)}`),
  keys: (uid) => call("GET", `/api/v1/keys/${uid}`),
  registerDevice: (name, list, commit) => call("POST", "/api/v1/devices", { name, list, commit }),
  // Device approval (PROTOCOL.md 3.1): the new device's side, then an existing device's.
  myRequest: () => call("GET", "/api/v1/devices/me/request"),
  revealRequest: (nonce) => call("POST", "/api/v1/devices/me/request/reveal", { nonce }),
  deviceRequests: () => call("GET", "/api/v1/devices/requests"),
  answerRequest: (id, nonce) => call("POST", `/api/v1/devices/requests/${id}/answer`, { nonce }),
  approveRequest: (id, list) => call("POST", `/api/v1/devices/requests/${id}/approve`, { list }),
  denyRequest: (id) => call("DELETE", `/api/v1/devices/requests/${id}`),
  /** rotateKey stores the list with this device's new encryption key (PROTOCOL.md 3.3). */
  rotateKey: (list) => call("PUT", "/api/v1/devices/me/keys", { list }),
  devices: () => call("GET", "/api/v1/devices"),
  challenge: (device) => call("POST", `/api/v1/devices/${device}/challenge`),
  resume: (device, sig) => call("POST", `/api/v1/devices/${device}/resume`, { sig }),
  /** share trades the PIN's proof (base64) for the device's key share (PROTOCOL.md 9, "The PIN proof"). */
  share: (device, proof) => call("POST", `/api/v1/devices/${device}/share`, { proof }),
  /** setPin gives the server the verifier of a new PIN: its proof, and the current PIN's if the server has one. */
  setPin: (proof, old) => call("PUT", "/api/v1/devices/me/pin", old ? { proof, old } : { proof }),
  /**
   * wipeCommand returns the signed wipe command for a device, or null if
   * there is none. The device proves it is asking: sign returns its
   * signature (base64) over protocol.WipeCheckBytes of the server's nonce.
   */
  /** setWipeKey registers this device's wipe-check public key (base64). */
  setWipeKey: (key) => call("PUT", "/api/v1/devices/me/wipe-key", { key }),
  wipeCommand: async (device, sign) => {
    const ch = await call("POST", `/api/v1/devices/${device}/wipe/challenge`, {});
    const sig = await sign(unb64(ch.nonce));
    return call("POST", `/api/v1/devices/${device}/wipe`, { nonce: ch.nonce, sig }).catch((e) => { if (e.status === 404) return null; throw e; });
  },
  /** pushStatus, putPush and deletePush read, set and delete this device's Web Push subscription. */
  pushStatus: () => call("GET", "/api/v1/devices/me/push"),
  putPush: (sub) => call("PUT", "/api/v1/devices/me/push", sub),
  deletePush: () => call("DELETE", "/api/v1/devices/me/push"),
  groups: () => call("GET", "/api/v1/groups"),
  group: (id) => call("GET", `/api/v1/groups/${id}`),

  /**
   * uploadBlob posts attachment ciphertext with XMLHttpRequest, the one
   * browser API that reports upload progress. Resolves {id, size}.
   */
  uploadBlob(bytes, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/v1/blobs");
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.withCredentials = true;
      xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total); };
      xhr.onerror = () => reject(new ApiError(0, "offline", "The upload failed: the connection dropped."));
      xhr.onload = () => {
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
        if (xhr.status === 201 && data) resolve(data);
        else reject(new ApiError(xhr.status, data?.error?.code || "http_" + xhr.status, data?.error?.message || "The upload failed."));
      };
      // A Blob body streams from the browser process; a typed array is
      // copied through the renderer first, which measured slower.
      xhr.send(new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (bytes)], { type: "application/octet-stream" }));
    });
  },

  async downloadBlob(id) {
    let res;
    try {
      res = await fetch(`/api/v1/blobs/${encodeURIComponent(id)}`, { credentials: "same-origin" });
    } catch {
      throw new ApiError(0, "offline", "Cannot download the attachment while offline.");
    }
    if (!res.ok) {
      let data = null;
      try { data = await res.json(); } catch { /* not JSON */ }
      throw new ApiError(res.status, data?.error?.code || "http_" + res.status, data?.error?.message || "The attachment could not be downloaded.");
    }
    return new Uint8Array(await res.arrayBuffer());
  },
};
