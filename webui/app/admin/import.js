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

/** notImported tells whether the server left a good row out because other rows were bad (all-or-nothing mode). */
const notImported = (r) => /^not imported/i.test(r.error || "");

/**
 * Upload is the import form's parts: the file and text the CSV comes from,
 * the mode, the form's error line and buttons, and the box for the result.
 * @typedef {object} Upload
 * @property {any} file the file chooser
 * @property {any} text the CSV text, pasted or read from the file
 * @property {any} modeAll the all-or-nothing choice
 * @property {any} modeValid the good-rows-only choice
 * @property {any} err the form's error line
 * @property {any} run the Import button
 * @property {any} check the Check only button
 * @property {any} result the box the result is shown in
 */

/** importPage shows the upload form beside the file's format, and below them the result of a check or an import. */
export async function importPage(view) {
  const up = uploadParts();
  const form = uploadForm(up);
  fill(view,
    pageHead("Import users", "Add many people at once from a spreadsheet saved as CSV. Each new person gets an invitation link to set a password."),
    h("div.grid2",
      card("Upload", form),
      formatCard(up.text)),
    up.result);
}

// ------------------------------------------------------------ the upload

/**
 * uploadParts builds the inputs, buttons and result box of the import form.
 * @returns {Upload}
 */
function uploadParts() {
  return {
    file: h("input", { type: "file", accept: ".csv,text/csv", id: "csv-file" }),
    text: h("textarea.mono", { id: "csv-text", rows: 8, spellcheck: "false", placeholder: HEADER }),
    modeAll: h("input", { type: "radio", name: "mode", value: "all", checked: true, id: "mode-all" }),
    modeValid: h("input", { type: "radio", name: "mode", value: "valid", id: "mode-valid" }),
    err: errorLine(),
    run: h("button.primary", { type: "submit" }, "Import"),
    check: h("button.secondary", { type: "button" }, "Check only"),
    result: h("div.import-result", { "aria-live": "polite" }),
  };
}

/**
 * uploadForm lays out the import form and wires it: a chosen file fills the
 * text, Import imports and Check only checks without importing.
 * @param {Upload} up
 */
function uploadForm(up) {
  up.file.addEventListener("change", () => readFile(up));
  const form = h("form.stack", { novalidate: true },
    h("div.field", h("label", { for: "csv-file" }, "CSV file"), up.file, h("p.hint", "Or paste the rows below.")),
    h("div.field", h("label", { for: "csv-text" }, "CSV text"), up.text),
    h("fieldset.radio-group", h("legend", "If some rows are bad"),
      h("label.radio", { for: "mode-all" }, up.modeAll, h("span", "Import nothing if any row is bad"), h("span.hint", " — fix the file and run it again")),
      h("label.radio", { for: "mode-valid" }, up.modeValid, h("span", "Import the good rows"), h("span.hint", " — and list the bad ones to fix"))),
    up.err, h("div.row", up.run, up.check));
  form.addEventListener("submit", (e) => { e.preventDefault(); submit(up, false, up.run); });
  up.check.addEventListener("click", () => submit(up, true, up.check));
  return form;
}

/**
 * readFile puts the chosen file's text in the text box, unless the file is
 * over the server's limit.
 * @param {Upload} up
 */
async function readFile(up) {
  const f = up.file.files[0];
  if (!f) return;
  if (f.size > MAX_BYTES) { up.err.textContent = `That file is ${(f.size / 1048576).toFixed(1)} MB; the limit is 1 MB (about 10,000 rows). Split it.`; return; }
  up.text.value = await f.text();
  up.err.textContent = "";
}

/**
 * submit sends the CSV to the server in the chosen mode, as a check only
 * when dry, with btn busy meanwhile, and shows the result.
 * @param {Upload} up
 * @param {boolean} dry
 * @param {any} btn
 */
async function submit(up, dry, btn) {
  up.err.textContent = "";
  const csv = up.text.value;
  if (!csv.trim()) { up.err.textContent = "Choose a CSV file or paste the rows first."; return; }
  if (new Blob([csv]).size > MAX_BYTES) { up.err.textContent = "The CSV is over 1 MB. Split it into smaller files."; return; }
  const mode = up.modeValid.checked ? "valid" : "all";
  await busy(btn, dry ? "Checking…" : "Importing…", async () => {
    const res = await admin.importCSV(mode, csv, dry);
    showResult(up.result, res);
  }, up.err);
}

/** formatCard explains the file's columns and offers a sample to paste into text or to download. */
function formatCard(text) {
  return card("The file's format",
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
    h("button.secondary.small", { type: "button", onclick: () => download("curbside-users-sample.csv", SAMPLE) }, "Download the sample"));
}

// ------------------------------------------------------------ the result

/** showResult fills the result box with the summary, the invitation links and every row's result, and focuses the summary. */
function showResult(result, res) {
  const rows = res.rows || [];
  // In all-or-nothing mode the server marks the good rows "not imported"
  // too; the count of bad rows is its failed.
  const failed = res.failed ?? rows.filter((r) => !r.ok).length;
  const summary = summaryText(res, rows, failed);
  const links = rows.filter((r) => r.ok && r.invitation_url);
  fill(result, card("Result",
    h("p.summary", { class: failed && res.imported === 0 ? "notice bad" : failed ? "notice warn" : "notice ok", role: "status", tabindex: "-1" }, summary),
    links.length ? linkButtons(links) : null,
    rowsTable(res, rows)));
  result.querySelector(".summary").focus();
}

/** summaryText says in a sentence what the check or import did, of how many rows, and what to do next. */
function summaryText(res, rows, failed) {
  const s = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  if (!rows.length) return "The file has no data rows: nothing was imported.";
  if (res.dry_run) return failed ? `Checked only, nothing imported: ${s(failed, "row has a problem", "rows have problems")} (of ${rows.length}).` : `Checked only, nothing imported: all ${rows.length} rows are good.`;
  if (res.imported === 0 && failed && res.mode === "all") return `Nothing was imported: ${failed} of ${s(rows.length, "row", "rows")} ${failed === 1 ? "has a problem" : "have problems"}. Fix ${failed === 1 ? "it" : "them"} and import again, or choose "Import the good rows".`;
  if (res.imported === 0) return `Nothing was imported: every row has a problem.`;
  if (failed) return `Only the good rows were imported: ${s(res.imported, "user", "users")} added; ${s(failed, "row", "rows")} skipped (see below).`;
  return `All ${res.imported} user${res.imported === 1 ? " was" : "s were"} imported.`;
}

/** linkButtons copy or download the invitation links of the people imported. */
function linkButtons(links) {
  const linksCSV = "username,invitation_url\n" + links.map((r) => `${csvCell(r.username)},${csvCell(r.invitation_url)}`).join("\n") + "\n";
  return h("div.row",
    h("button.secondary.small", { type: "button", onclick: () => copyText(links.map((r) => `${r.username}\t${r.invitation_url}`).join("\n"), "Links") }, "Copy all links"),
    h("button.secondary.small", { type: "button", onclick: () => download("curbside-invitations.csv", linksCSV) }, "Download links (CSV)"));
}

/** rowsTable lists every row by line number with its result and its problem or invitation link. */
function rowsTable(res, rows) {
  return table([
    { label: "Line", cell: (r) => String(r.line) },
    { label: "Username", cell: (r) => r.username || "—" },
    { label: "Result", cell: (r) => (r.ok ? (r.invitation_url ? badge("Imported", "ok") : badge(res.dry_run ? "Good" : "OK", "ok")) : notImported(r) ? badge("Not imported", "") : badge("Error", "bad")) },
    { label: "Problem or invitation link", cls: "wrap", cell: (r) => (r.ok ? (r.invitation_url ? h("code", r.invitation_url) : "") : notImported(r) ? h("span.muted", "Good row, not imported because other rows have errors.") : h("span.row-error", r.error || "invalid")) },
  ], rows, { caption: "Rows", empty: "The file had no data rows." });
}
