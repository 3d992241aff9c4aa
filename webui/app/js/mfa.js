// @ts-check
// The second sign-in step and its enrollment (PROTOCOL.md, "Second
// factor"): TOTP codes, single-use recovery codes and passkeys. WebAuthn
// takes ArrayBuffers where the server's JSON has base64url strings; the
// conversion both ways is here, so the screens deal only in plain objects.
import { ApiError, call } from "./api.js";
import { CODE_PASSKEY_FAILED } from "./constants.js";

/** b64url encodes bytes (ArrayBuffer or view) as unpadded base64url. */
export function b64url(buf) {
  const b = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** unb64url decodes base64url (padded or not) to an ArrayBuffer. */
export function unb64url(s) {
  const t = String(s).replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(t + "===".slice((t.length + 3) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

const descriptors = (list) => (list || []).map((d) => ({ ...d, id: unb64url(d.id) }));

/** creationOptions turns the server's registration options into what navigator.credentials.create takes. */
export function creationOptions(opts) {
  const pk = opts.publicKey;
  return {
    publicKey: {
      ...pk,
      challenge: unb64url(pk.challenge),
      user: { ...pk.user, id: unb64url(pk.user.id) },
      excludeCredentials: descriptors(pk.excludeCredentials),
    },
  };
}

/** requestOptions turns the server's sign-in options into what navigator.credentials.get takes. */
export function requestOptions(opts) {
  const pk = opts.publicKey;
  return { publicKey: { ...pk, challenge: unb64url(pk.challenge), allowCredentials: descriptors(pk.allowCredentials) } };
}

/** credentialJSON turns a PublicKeyCredential into the JSON the server parses. */
export function credentialJSON(cred) {
  const r = cred.response;
  const response = { clientDataJSON: b64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = b64url(r.attestationObject);
    if (r.getTransports) response.transports = r.getTransports();
  } else {
    response.authenticatorData = b64url(r.authenticatorData);
    response.signature = b64url(r.signature);
    if (r.userHandle) response.userHandle = b64url(r.userHandle);
  }
  return {
    id: cred.id, rawId: b64url(cred.rawId), type: cred.type, response,
    authenticatorAttachment: cred.authenticatorAttachment || undefined,
    clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
  };
}

/**
 * passkeysSupported reports whether passkeys can work here: the browser has
 * WebAuthn, and the page was opened by a name (a passkey is bound to a
 * domain; an IP address cannot hold one).
 */
export function passkeysSupported() {
  if (typeof window === "undefined" || !window.PublicKeyCredential || !navigator.credentials) return false;
  const host = location.hostname;
  return !(/^[0-9.]+$/.test(host) || host.includes(":") || host.startsWith("["));
}

// A cancelled or timed-out browser prompt is a NotAllowedError: say so in
// words rather than the browser's.
async function ceremony(fn) {
  if (!passkeysSupported()) throw new ApiError(400, "passkey_unsupported", "This browser cannot use passkeys.");
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ApiError) throw e;
    if (e && e.name === "NotAllowedError") throw new ApiError(400, "passkey_cancelled", "The passkey prompt was closed or timed out. Try again.");
    if (e && e.name === "InvalidStateError") throw new ApiError(409, "passkey_exists", "This authenticator already holds a passkey for your account.");
    if (e && e.name === "SecurityError") throw new ApiError(400, "passkey_origin", "Passkeys need this page to be opened by its name (not an IP address) over HTTPS or on localhost.");
    throw new ApiError(400, CODE_PASSKEY_FAILED, (e && e.message) || "The passkey could not be used.");
  }
}

/**
 * loginMfa completes a sign-in that answered {mfa} with a TOTP code or a
 * recovery code. With web (the default) the session token stays in the
 * HttpOnly cookie. Resolves the login result {user, expires_at, mfa}.
 */
export function loginMfa(token, code, web = true) {
  return call("POST", "/api/v1/login/mfa", { token, code: String(code).trim(), web });
}

/** passkeyLogin completes a sign-in that answered {mfa} with a passkey. */
export async function passkeyLogin(token, web = true) {
  const { options } = await call("POST", "/api/v1/login/passkey/begin", { token });
  const cred = await ceremony(() => navigator.credentials.get(requestOptions(options)));
  return call("POST", "/api/v1/login/passkey/finish", { token, credential: credentialJSON(cred), web });
}

/** mfaStatus is the signed-in user's factors: {totp, passkeys:[...], recovery_left, required, enrollment_required, session}. */
export const mfaStatus = () => call("GET", "/api/v1/me/mfa");

/** beginTotp makes a new, unconfirmed TOTP secret: {secret, uri}. */
export const beginTotp = () => call("POST", "/api/v1/me/mfa/totp");

/** confirmTotp turns the new secret on with a code from it: {recovery_codes}. */
export const confirmTotp = (code) => call("POST", "/api/v1/me/mfa/totp/confirm", { code: String(code).trim() });

/** removeTotp turns the authenticator app off; it needs a current code. */
export const removeTotp = (code) => call("DELETE", "/api/v1/me/mfa/totp", { code: String(code).trim() });

/** newRecoveryCodes replaces every recovery code; it needs a current code: {recovery_codes}. */
export const newRecoveryCodes = (code) => call("POST", "/api/v1/me/mfa/recovery", { code: String(code).trim() });

/** addPasskey registers a passkey on this device: {passkey, recovery_codes?}. */
export async function addPasskey(name) {
  const { options } = await call("POST", "/api/v1/me/passkeys/begin");
  const cred = await ceremony(() => navigator.credentials.create(creationOptions(options)));
  return call("POST", "/api/v1/me/passkeys/finish", { name, credential: credentialJSON(cred) });
}

/** listPasskeys resolves [{id, name, created_at, last_used}]. */
export async function listPasskeys() {
  return (await call("GET", "/api/v1/me/passkeys")).passkeys;
}

/** removePasskey deletes one of the user's passkeys by id. */
export const removePasskey = (id) => call("DELETE", `/api/v1/me/passkeys/${encodeURIComponent(id)}`);
