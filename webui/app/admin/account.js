// @ts-check
// My account: who is signed in, and the second factor (authenticator app,
// recovery codes, passkeys) through the app's shared settings screens.
import { card, fill, h, labelOf, LEVELS, pageHead, ROLES } from "./ui.js";
import { loadMFA } from "./mfa.js";

export async function accountPage(view, ctx) {
  const u = ctx.me;
  const box = h("div.mfa-box");
  fill(view,
    pageHead("My account", "Your own sign-in and second factor."),
    h("div.grid2",
      card("You",
        h("dl.facts",
          h("dt", "Name"), h("dd", u.display || u.username),
          h("dt", "Username"), h("dd", u.username),
          h("dt", "Role"), h("dd", labelOf(ROLES, u.role)),
          h("dt", "Admin level"), h("dd", labelOf(LEVELS, ctx.level))),
        h("p.hint", "To change your password, ask another admin for a reset link (Users → your name → Reset password). An owner alone can set one on the server with curbside user passwd.")),
      card("Second factor and passkeys", box)));
  const m = await loadMFA(box);
  if (!m) return;
  m.mfaSettings(box);
}
