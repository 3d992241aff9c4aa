// @ts-check
// Short names for a browser's User-Agent string: the app names its device
// with them when it registers, and the console shows them in place of the
// raw string, which it keeps for a device's details.

/**
 * browserOf returns the browser and the platform a User-Agent names, in
 * words ("Chrome", "Linux"); either is "" when it cannot be told.
 * @param {string} ua
 * @returns {{browser: string, os: string}}
 */
export function browserOf(ua) {
  ua = ua || "";
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrom(e|ium)\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : /Curbside|Go-http-client/.test(ua) ? "Curbside app" : "";
  const os = /iPhone|iPad/.test(ua) ? "iOS" : /Android/.test(ua) ? "Android" : /Mac OS X/.test(ua) ? "Mac" : /Windows/.test(ua) ? "Windows" : /CrOS/.test(ua) ? "ChromeOS" : /Linux/.test(ua) ? "Linux" : "";
  return { browser, os };
}

/**
 * agentName is a User-Agent as people say it: "Chrome on Linux"; "" for an
 * empty one, and "Other browser or app" for one it cannot tell.
 * @param {string} ua
 * @returns {string}
 */
export function agentName(ua) {
  if (!ua) return "";
  const { browser, os } = browserOf(ua);
  if (!browser && !os) return "Other browser or app";
  return `${browser || "Browser"}${os ? " on " + os : ""}`;
}
