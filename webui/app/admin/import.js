// @ts-check
// Import: many users from a CSV file in one step, either all or nothing
// (mode=all) or only the good rows (mode=valid), with each row's result
// by line number and the invitation links of the people imported.
import { admin } from "./api.js";
import { busy, card, copyText, download, errorLine, fill, h, pageHead, table, badge } from "./ui.js";

const HEADER = "username,display,role,email,groups,admin_level";
const SAMPLE = `${HEADER}
aruiz,Dr. Ana Ruiz,staff,ana.ruiz@example.org,Clinicians;Cardiology,
bkim,Ben Kim,staff,,Front desk,
cmoreau,Claire Moreau,admin,claire@example.org,,admin
`;
const MAX_BYTES = 1 << 20; // the server's limit too

/**
 * csvCell quotes a value for a CSV file when it needs quoting. A value a
 * spreadsheet would run as a formula (=, +, -, an at sign, tab, CR first) gets a
 * leading apostrophe, so it opens as text (CSV injection).
 */
export function csvCell(v) {
  let s = String(v ?? "");
  const formula = /^[=+\-@\t\r]/.test(s);
  if (formula) s = "'" + s;
  return formula || /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const notImported = (r) => /^not imported/i.test(r.error || "");

export async function importPage(view) {
  const file = h("input", { type: "file", accept: ".csv,text/csv", id: "csv-file" });
  const text = h("textarea.mono", { id: "csv-text", rows: 8, spellcheck: "false", placeholder: HEADER });
  const modeAll = h("input", { type: "radio", name: "mode", value: "all", checked: true, id: "mode-all" });
  const modeValid = h("input", { type: "radio", name: "mode", value: "valid", id: "mode-valid" });
  const err = errorLine();
  const run = h("button.primary", { type: "submit" }, "Import");
  const check = h("button.secondary", { type: "button" }, "Check only");
  const result = h("div.import-result", { "aria-live": "polite" });

  file.addEventListener("change", async () => {
    const f = file.files[0];
    if (!f) return;
    if (f.size > MAX_BYTES) { err.textContent = `That file is ${(f.size / 1048576).toFixed(1)} MB; the limit is 1 MB (about 10,000 rows). Split it.`; return; }
    text.value = await f.text();
    err.textContent = "";
  });

  const form = h("form.stack", { novalidate: true },
    h("div.field", h("label", { for: "csv-file" }, "CSV file"), file, h("p.hint", "Or paste the rows below.")),
    h("div.field", h("label", { for: "csv-text" }, "CSV text"), text),
    h("fieldset.radio-group", h("legend", "If some rows are bad"),
      h("label.radio", { for: "mode-all" }, modeAll, h("span", "Import nothing if any row is bad"), h("span.hint", " — fix the file and run it again")),
      h("label.radio", { for: "mode-valid" }, modeValid, h("span", "Import the good rows"), h("span.hint", " — and list the bad ones to fix"))),
    err, h("div.row", run, check));

  const submit = async (dry, btn) => {
    err.textContent = "";
    const csv = text.value;
    if (!csv.trim()) { err.textContent = "Choose a CSV file or paste the rows first."; return; }
    if (new Blob([csv]).size > MAX_BYTES) { err.textContent = "The CSV is over 1 MB. Split it into smaller files."; return; }
    const mode = modeValid.checked ? "valid" : "all";
    await busy(btn, dry ? "Checking…" : "Importing…", async () => {
      const res = await admin.importCSV(mode, csv, dry);
      showResult(res);
    }, err);
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); submit(false, run); });
  check.addEventListener("click", () => submit(true, check));

  function showResult(res) {
    const rows = res.rows || [];
    // In all-or-nothing mode the server marks the good rows "not imported"
    // too; the count of bad rows is its failed.
    const failed = res.failed ?? rows.filter((r) => !r.ok).length;
    const s = (n, one, many) => `${n} ${n === 1 ? one : many}`;
    let summary;
    if (!rows.length) summary = "The file has no data rows: nothing was imported.";
    else if (res.dry_run) summary = failed ? `Checked only, nothing imported: ${s(failed, "row has a problem", "rows have problems")} (of ${rows.length}).` : `Checked only, nothing imported: all ${rows.length} rows are good.`;
    else if (res.imported === 0 && failed && res.mode === "all") summary = `Nothing was imported: ${failed} of ${s(rows.length, "row", "rows")} ${failed === 1 ? "has a problem" : "have problems"}. Fix ${failed === 1 ? "it" : "them"} and import again, or choose "Import the good rows".`;
    else if (res.imported === 0) summary = `Nothing was imported: every row has a problem.`;
    else if (failed) summary = `Only the good rows were imported: ${s(res.imported, "user", "users")} added; ${s(failed, "row", "rows")} skipped (see below).`;
    else summary = `All ${res.imported} user${res.imported === 1 ? " was" : "s were"} imported.`;
    const bad = failed;
    const links = rows.filter((r) => r.ok && r.invitation_url);
    const linksCSV = "username,invitation_url\n" + links.map((r) => `${csvCell(r.username)},${csvCell(r.invitation_url)}`).join("\n") + "\n";
    fill(result, card("Result",
      h("p.summary", { class: bad && res.imported === 0 ? "notice bad" : bad ? "notice warn" : "notice ok", role: "status", tabindex: "-1" }, summary),
      links.length ? h("div.row",
        h("button.secondary.small", { type: "button", onclick: () => copyText(links.map((r) => `${r.username}\t${r.invitation_url}`).join("\n"), "Links") }, "Copy all links"),
        h("button.secondary.small", { type: "button", onclick: () => download("curbside-invitations.csv", linksCSV) }, "Download links (CSV)")) : null,
      table([
        { label: "Line", cell: (r) => String(r.line) },
        { label: "Username", cell: (r) => r.username || "—" },
        { label: "Result", cell: (r) => (r.ok ? (r.invitation_url ? badge("Imported", "ok") : badge(res.dry_run ? "Good" : "OK", "ok")) : notImported(r) ? badge("Not imported", "") : badge("Error", "bad")) },
        { label: "Problem or invitation link", cls: "wrap", cell: (r) => (r.ok ? (r.invitation_url ? h("code", r.invitation_url) : "") : notImported(r) ? h("span.muted", "Good row, not imported because other rows have errors.") : h("span.row-error", r.error || "invalid")) },
      ], rows, { caption: "Rows", empty: "The file had no data rows." })));
    result.querySelector(".summary").focus();
  }

  fill(view,
    pageHead("Import users", "Add many people at once from a spreadsheet saved as CSV. Each new person gets an invitation link to set a password."),
    h("div.grid2",
      card("Upload", form),
      card("The file's format",
        h("p", "The first line must be this header (the last column is optional):"),
        h("pre.mono", HEADER),
        h("ul",
          h("li", h("strong", "role"), ": staff, admin, external or patient."),
          h("li", h("strong", "groups"), ": names of existing groups, separated by ';'."),
          h("li", h("strong", "admin_level"), ": empty, helpdesk, admin or owner (owner-only for admin and owner)."),
          h("li", "Up to 1 MB. Line numbers in the result count the header as line 1.")),
        h("h3", "Sample"),
        h("pre.mono", SAMPLE),
        h("button.secondary.small", { type: "button", onclick: () => { text.value = SAMPLE; text.focus(); } }, "Paste the sample"),
        " ",
        h("button.secondary.small", { type: "button", onclick: () => download("curbside-users-sample.csv", SAMPLE) }, "Download the sample"))),
    result);
}
