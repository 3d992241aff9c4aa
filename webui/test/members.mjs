// Group membership changes that everyone in the group sees, with users of
// their own (nia at desktop width, ola at phone width, both in the group
// "Ward 9"; pat and quinn, who never sign in, are added and removed by an
// administrator, mgadmin, through the console API; the MFA requirement is
// lifted for the file and put back by its last test): a change made in
// the console is a centred line in the group's conversation on both
// screens, in order with the messages and with its time, and is listed in
// the group info view; a server that adds a listener and keeps the
// announcement from a device (the frames between them edited here) is
// still seen by that device, which shows the new member as a warning line,
// and a change both announced and seen is one line, not two.
import path from "node:path";
import { openProfile } from "./lib/browser.mjs";
import { assert, consoleCaller, msgLocator, online, openConv, sendText, sh, signUp, unlock, waitFor } from "./lib/harness.mjs";

const PW = { nia: "nia long passphrase 91", ola: "ola long passphrase 92", pat: "pat long passphrase 93", quinn: "quinn long passphrase 94", mgadmin: "mgadmin long passphrase 95" };
const PIN = { nia: "731950", ola: "842061" };
const NIA = "Dr Nia Ruiz", OLA = "Nurse Ola Lee", PAT = "Pat Kim", QUINN = "Quinn Ray", ADMIN = "Mia Admin", GROUP = "Ward 9";

async function shot(ctx, page, name) {
  if (ctx.shots) await page.screenshot({ path: path.join(ctx.shots, `${name}.png`) });
}

/** admin calls a console route as mgadmin. */
function admin(ctx, method, route, body) {
  ctx.mgCall = ctx.mgCall || consoleCaller(ctx.srv, "mgadmin", PW.mgadmin);
  return ctx.mgCall(method, route, body);
}

async function userID(ctx, username) {
  const { users } = await admin(ctx, "GET", `/api/v1/admin/users?q=${username}`);
  return users.find((u) => u.username === username).id;
}

/** sysLines reads the membership lines of the open conversation, in order. */
function sysLines(page) {
  return page.locator(".conversation .sysline .sys-text").allTextContents();
}

/** closeMemberProfiles closes this file's browsers. */
export async function closeMemberProfiles(ctx) {
  for (const p of ["nia", "ola"]) if (ctx[p]) await ctx[p].close();
}

export function memberTests() {
  return [
    ["members setup: nia and ola sign in and share the group Ward 9", async (ctx) => {
      for (const [u, d, role] of [["nia", NIA, "staff"], ["ola", OLA, "staff"], ["pat", PAT, "staff"], ["quinn", QUINN, "staff"], ["mgadmin", ADMIN, "admin"]]) {
        await sh(ctx.bin, ["user", "add", "--data", ctx.srv.dataDir, "--username", u, "--display", d, "--role", role, "--password-stdin"], { input: PW[u] + "\n" });
      }
      const shown = await sh(ctx.bin, ["policy", "show", "--data", ctx.srv.dataDir]);
      ctx.mgMfa = /^mfa_required=(.*)$/m.exec(shown)[1];
      await sh(ctx.bin, ["policy", "set", "--data", ctx.srv.dataDir, "mfa_required="]);
      await sh(ctx.bin, ["group", "add", "--data", ctx.srv.dataDir, "--name", GROUP, "--add", "nia,ola"]);
      const { groups } = await admin(ctx, "GET", "/api/v1/admin/groups");
      ctx.ward = groups.find((g) => g.name === GROUP).id;
      ctx.nia = await openProfile("nia", { viewport: { width: 1280, height: 820 } });
      ctx.ola = await openProfile("ola");
      await signUp(ctx.nia.page, ctx.srv.url, "nia", PW.nia, PIN.nia);
      await signUp(ctx.ola.page, ctx.srv.url, "ola", PW.ola, PIN.ola);
      await online(ctx.nia.page); await online(ctx.ola.page);
      await openConv(ctx.nia.page, GROUP);
      await sendText(ctx.nia.page, "Ward 9 handover at 7");
      await openConv(ctx.ola.page, GROUP);
      await msgLocator(ctx.ola.page, "Ward 9 handover at 7").waitFor();
    }],

    ["members: a member added and removed in the console is a line in the group on every screen, in order, with its time", async (ctx) => {
      const n = ctx.nia.page, o = ctx.ola.page;
      const pat = await userID(ctx, "pat");
      await admin(ctx, "POST", `/api/v1/admin/groups/${ctx.ward}/members`, { add: [pat] });
      for (const p of [n, o]) {
        await p.locator(".sysline", { hasText: `${ADMIN} added ${PAT}` }).waitFor();
      }
      // After the message it followed, centred, with a time.
      for (const p of [n, o]) {
        const order = await p.locator(".msg-list > .msg, .msg-list > .sysline").evaluateAll((els) => els.map((e) => e.textContent));
        const hand = order.findIndex((t) => t.includes("Ward 9 handover at 7"));
        const added = order.findIndex((t) => t.includes(`${ADMIN} added ${PAT}`));
        assert.ok(hand >= 0 && added > hand, `the line comes after the message it followed: ${JSON.stringify(order)}`);
        const line = p.locator(".sysline", { hasText: `${ADMIN} added ${PAT}` });
        assert.equal(await line.getAttribute("data-announced"), "true");
        assert.match(await line.locator("time").getAttribute("datetime"), /^\d{4}-\d\d-\d\dT/);
        const centred = await line.evaluate((el) => {
          const r = el.getBoundingClientRect(), box = el.parentElement.getBoundingClientRect();
          return Math.abs((r.left - box.left) - (box.right - r.right)) <= 2;
        });
        assert.ok(centred, "the line is centred");
      }
      await sendText(o, "Welcome Pat, bed 3 is yours");
      await msgLocator(n, "Welcome Pat").waitFor();
      await admin(ctx, "POST", `/api/v1/admin/groups/${ctx.ward}/members`, { remove: [pat] });
      for (const p of [n, o]) await p.locator(".sysline", { hasText: `${ADMIN} removed ${PAT}` }).waitFor();
      assert.deepEqual(await sysLines(o), [`${ADMIN} added ${PAT}`, `${ADMIN} removed ${PAT}`]);
      await shot(ctx, o, "mb-01-member-lines-phone");
      await shot(ctx, n, "mb-01-member-lines-desktop");
      // The group info view lists the changes, newest first.
      await n.getByRole("button", { name: "Group info" }).click();
      const changes = n.locator("dialog .member-changes .member-change");
      await changes.first().waitFor();
      const texts = await changes.allTextContents();
      assert.match(texts[0], new RegExp(`^ ?${ADMIN} removed ${PAT} · `));
      assert.match(texts[1], new RegExp(`^ ?${ADMIN} added ${PAT} · `));
      await shot(ctx, n, "mb-02-group-info-desktop");
      await n.keyboard.press("Escape");
      await o.getByRole("button", { name: "Group info" }).click();
      await o.locator("dialog .member-changes .member-change").first().waitFor();
      await shot(ctx, o, "mb-02-group-info-phone");
      await o.keyboard.press("Escape");
    }],

    ["members: a listener added while the server keeps the announcement from a device is still shown there, once", async (ctx) => {
      const n = ctx.nia.page, o = ctx.ola.page;
      // Between ola's app and the server, every member frame is dropped:
      // the server, as far as her app can tell, says nothing.
      const dropped = [];
      await o.routeWebSocket(/\/api\/v1\/relay$/, (ws) => {
        const server = ws.connectToServer();
        ws.onMessage((m) => server.send(m));
        server.onMessage((m) => {
          if (typeof m === "string" && /^\{"type":"member"/.test(m)) { dropped.push(m); return; }
          ws.send(m);
        });
      });
      await o.reload();
      await unlock(o, PIN.ola);
      await online(o);
      const quinn = await userID(ctx, "quinn");
      await admin(ctx, "POST", `/api/v1/admin/groups/${ctx.ward}/members`, { add: [quinn] });
      await n.locator(".sysline", { hasText: `${ADMIN} added ${QUINN}` }).waitFor();
      await waitFor(() => dropped.some((m) => m.includes(`"user":${quinn}`)), "the announcement reached ola's connection and was dropped");
      // Ola opens the group: the member list she is given has Quinn.
      await openConv(o, GROUP);
      const warn = o.locator(".sysline.unannounced", { hasText: `${QUINN} now receives this group's messages` });
      await warn.waitFor();
      assert.match(await warn.textContent(), /the server did not announce this change/);
      assert.equal(await o.locator(".sysline", { hasText: `${ADMIN} added ${QUINN}` }).count(), 0, "ola was told nothing");
      await shot(ctx, o, "mb-03-unannounced-phone");
      // Nia, told and seeing the same list when she sends, shows one line.
      await sendText(n, "Quinn, the drug round starts at 8");
      await msgLocator(o, "the drug round starts at 8").waitFor();
      await openConv(n, GROUP);
      const quinnLines = await n.locator(".sysline", { hasText: QUINN }).allTextContents();
      assert.equal(quinnLines.length, 1, `one line for one change: ${JSON.stringify(quinnLines)}`);
      assert.equal(await n.locator(".sysline.unannounced").count(), 0);
      await shot(ctx, n, "mb-03-announced-desktop");
      await o.unrouteAll({ behavior: "ignoreErrors" });
    }],

    ["members teardown: the MFA requirement is back", async (ctx) => {
      await sh(ctx.bin, ["policy", "set", "--data", ctx.srv.dataDir, `mfa_required=${ctx.mgMfa ?? "owner,admin,helpdesk"}`]);
    }],
  ];
}
