// @ts-check
// The second-factor screens are the app's own (js/ui/mfa.js, shared with
// the messaging app), loaded when needed so a page that never asks for a
// code does not load them.
import { fill, h } from "../js/ui/dom.js";

/** loadMFA returns the mfa UI module, or null after saying in box why it could not load. */
export async function loadMFA(box) {
  try {
    return await import("../js/ui/mfa.js");
  } catch (e) {
    fill(box, h("p.form-error", { role: "alert" }, "The second-factor screens could not be loaded. Reload the page; if this goes on, the server may be mid-upgrade."));
    return null;
  }
}
