// @ts-check
// The console's HTTP calls (PROTOCOL.md, "Admin console API"). Like the
// app, the console authenticates with the HttpOnly session cookie only.
import { ApiError } from "../js/api.js";

export { ApiError };

/**
 * req calls the API. json is sent as a JSON body; body/type send raw text
 * (the CSV import). as: "json" (default) or "text" for the reply.
 * @param {string} method
 * @param {string} path
 * @param {{json?: any, body?: string, type?: string, as?: "json" | "text"}} [opts]
 * @returns {Promise<any>}
 */
export async function req(method, path, { json, body, type, as = "json" } = {}) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  else if (body !== undefined) headers["Content-Type"] = type || "text/plain";
  let res;
  try {
    res = await fetch(path, { method, credentials: "same-origin", headers, body, cache: "no-store" });
  } catch {
    throw new ApiError(0, "offline", "Cannot reach the Curbside server. Check your connection.");
  }
  if (res.status === 204) return null;
  if (res.ok && as === "text") return res.text();
  let data = null;
  try { data = await res.json(); } catch { /* an empty or non-JSON body */ }
  if (res.status === 401 && path.startsWith("/api/v1/admin/")) {
    // The server session ended (idle, sign-out elsewhere, a reset): the
    // console goes back to its sign-in rather than showing errors.
    window.dispatchEvent(new CustomEvent("curbside:signed-out"));
  }
  if (!res.ok) {
    const err = data && data.error;
    const e = new ApiError(res.status, (err && err.code) || "http_" + res.status, (err && err.message) || res.statusText || "The request failed.");
    if (err && err.field) e.field = err.field;
    throw e;
  }
  return data;
}

/** qs builds a query string from the non-empty values of o. */
export function qs(o) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
  const s = p.toString();
  return s ? "?" + s : "";
}

const A = "/api/v1/admin";

/** admin is the console API, one function per endpoint. */
export const admin = {
  login: (username, password) => req("POST", "/api/v1/login", { json: { username, password, web: true } }),
  logout: () => req("POST", "/api/v1/logout"),
  me: () => req("GET", "/api/v1/me"),
  config: () => req("GET", "/api/v1/config"),

  users: (q) => req("GET", `${A}/users${qs(q)}`),
  user: (id) => req("GET", `${A}/users/${id}`),
  createUser: (u) => req("POST", `${A}/users`, { json: u }),
  updateUser: (id, patch) => req("PATCH", `${A}/users/${id}`, { json: patch }),
  setState: (id, state) => req("POST", `${A}/users/${id}/state`, { json: { state } }),
  offboard: (id) => req("POST", `${A}/users/${id}/offboard`),
  resetPassword: (id) => req("POST", `${A}/users/${id}/password`),
  unlock: (id) => req("POST", `${A}/users/${id}/unlock`),
  resetMFA: (id) => req("POST", `${A}/users/${id}/mfa/reset`),
  userDevices: (id) => req("GET", `${A}/users/${id}/devices`),
  assignments: (id) => req("GET", `${A}/users/${id}/assignments`),
  assign: (id, kind, name) => req("POST", `${A}/users/${id}/assignments`, { json: { kind, name } }),
  unassign: (id, kind, target) => req("DELETE", `${A}/users/${id}/assignments/${kind}/${target}`),

  groups: () => req("GET", `${A}/groups`),
  group: (id) => req("GET", `${A}/groups/${id}`),
  createGroup: (g) => req("POST", `${A}/groups`, { json: g }),
  updateGroup: (id, g) => req("PATCH", `${A}/groups/${id}`, { json: g }),
  deleteGroup: (id) => req("DELETE", `${A}/groups/${id}`),
  groupMembers: (id, add, remove) => req("POST", `${A}/groups/${id}/members`, { json: { add, remove } }),

  importCSV: (mode, csv, dry = false) => req("POST", `${A}/import${qs({ mode, dry_run: dry ? 1 : "" })}`, { body: csv, type: "text/csv" }),

  invitations: () => req("GET", `${A}/invitations`),
  createInvitation: (inv) => req("POST", `${A}/invitations`, { json: inv }),
  revokeInvitation: (id) => req("DELETE", `${A}/invitations/${id}`),
  emailInvitation: (id, token) => req("POST", `${A}/invitations/${id}/email`, { json: { token } }),

  email: () => req("GET", `${A}/email`),
  emailReady: () => req("GET", `${A}/email/ready`),
  saveEmail: (settings) => req("PUT", `${A}/email`, { json: settings }),
  testEmail: (to) => req("POST", `${A}/email/test`, { json: { to } }),
  backup: () => req("GET", `${A}/backup`),

  policy: () => req("GET", `${A}/policy`),
  savePolicy: (values) => req("PUT", `${A}/policy`, { json: { values } }),

  devices: () => req("GET", `${A}/devices`),
  lockDevice: (id) => req("POST", `${A}/devices/${id}/lock`),
  wipeDevice: (id) => req("POST", `${A}/devices/${id}/wipe`),
  recoveryRequests: (user) => req("GET", `${A}/users/${user}/device-requests`),
  answerRecovery: (user, id) => req("POST", `${A}/users/${user}/device-requests/${id}/answer`),
  approveRecovery: (user, id, code, stepUp) => req("POST", `${A}/users/${user}/device-requests/${id}/approve`, { json: { code, step_up: stepUp } }),
  denyRecovery: (user, id) => req("DELETE", `${A}/users/${user}/device-requests/${id}`),

  audit: (q) => req("GET", `${A}/audit${qs(q)}`),
  auditExport: (q) => req("GET", `${A}/audit/export${qs(q)}`, { as: "text" }),
  auditVerify: () => req("GET", `${A}/audit/verify`),

  activity: (from, to) => req("GET", `${A}/reports/activity${qs({ from, to })}`),

  invitation: (token) => req("POST", "/api/v1/invitations/show", { json: { token } }),
  accept: (body) => req("POST", "/api/v1/invitations/accept", { json: body }),
};
