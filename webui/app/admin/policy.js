// @ts-check
// Policy: every setting the server knows (GET /admin/policy lists them
// with their defaults and help), each with an input that fits its kind:
// a switch, a number, a duration with a unit, or a list one item a line.
import { admin } from "./api.js";
import { busy, card, errorLine, failure, fill, h, loading, pageHead, toast } from "./ui.js";

const LABELS = {
  password_min_length: "Minimum password length",
  password_classes: "Character kinds a password needs",
  lockout_threshold: "Failed sign-ins before tries must wait",
  lockout_cooldown: "Longest wait between tries",
  session_idle: "Sign-in ends after idle time",
  session_max: "Longest sign-in",
  inactivity_lock: "Lock / sign out after inactivity",
  pin_required: "Require a PIN on each device",
  pin_max_attempts: "Wrong PINs before a device is erased",
  retention: "Keep messages for",
  attachment_max_bytes: "Largest attachment (bytes)",
  attachment_types: "Allowed attachment types",
  offline_grace: "Offline unlock grace",
  quick_messages: "Quick replies",
  practice_name: "Practice name",
  mfa_required: "Second factor required for",
  admin_networks: "Networks the console may be used from",
  audit_retention: "Keep the audit log for",
  invitation_ttl: "Invitation links expire after",
  attachment_quota_bytes: "Attachment storage per person (bytes)",
  attachment_quota_count: "Attachments stored per person",
  attachment_rate_bytes: "Attachment uploads per person per minute (bytes)",
  blob_grace: "Delete attachments never sent after",
  queue_max_per_device: "Undelivered messages per device",
  sessions_max_per_user: "Sign-ins open per person",
  devices_max_per_user: "Devices per person",
  patient_urgent: "Patients may mark messages Urgent",
  patient_ack: "Patients may ask for acknowledgement",
  email_nudge_after: "Email someone with a message waiting after",
  alert_disk_free_bytes: "Alert when free disk space is below (bytes)",
  push_interval: "Wake an offline device at most once per",
  push_urgent_dnd: "Urgent messages wake devices on Do not disturb",
  key_rotation: "New encryption key on each device every",
};

/** @type {[string, string[]][]} */
const GROUPS = [
  ["Sign-in and passwords", ["password_min_length", "password_classes", "lockout_threshold", "lockout_cooldown", "mfa_required", "session_idle", "session_max"]],
  ["Devices", ["inactivity_lock", "pin_required", "pin_max_attempts", "offline_grace", "devices_max_per_user", "sessions_max_per_user", "key_rotation"]],
  ["Messages and attachments", ["practice_name", "retention", "attachment_max_bytes", "attachment_types", "blob_grace", "quick_messages"]],
  ["Notifications", ["push_interval", "push_urgent_dnd"]],
  ["Limits per person", ["attachment_quota_bytes", "attachment_quota_count", "attachment_rate_bytes", "queue_max_per_device"]],
  ["Patients", ["patient_urgent", "patient_ack"]],
  ["Console and records", ["admin_networks", "audit_retention", "invitation_ttl"]],
  ["Email", ["email_nudge_after", "alert_disk_free_bytes"]],
];

const UNIT = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
/** @type {[string, string, number][]} */
const UNITS = [["s", "seconds", 1000], ["m", "minutes", 60000], ["h", "hours", 3600000], ["d", "days", 86400000]];

/** parseGoDuration reads Go's time.Duration text ("168h0m0s", "1h30m") as milliseconds; NaN if it is not one. */
export function parseGoDuration(s) {
  const t = String(s).trim();
  if (t === "0" || t === "0s") return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let ms = 0, m, pos = 0;
  while ((m = re.exec(t))) { ms += parseFloat(m[1]) * UNIT[m[2]]; pos = re.lastIndex; }
  return pos === t.length && pos > 0 ? ms : NaN;
}

/** kindOf guesses a field's input kind from its default value. */
function kindOf(f) {
  if (f.kind === "roles" || f.kind === "cidrs") return "list";
  if (f.kind) return f.kind;
  const d = String(f.default ?? f.value);
  if (d === "true" || d === "false") return "bool";
  if (d.startsWith("[")) return "list";
  if (/^-?\d+$/.test(d)) return "int";
  if (!Number.isNaN(parseGoDuration(d))) return "duration";
  return "text";
}

/** durationInput is a number with a unit (seconds to days) for a Go duration; its read gives the duration back as Go text, or null. */
function durationInput(id, value, label) {
  const ms = parseGoDuration(value);
  // The largest unit that shows the value as a whole number.
  let [u, n] = ["s", Math.round(ms / 1000)];
  for (const [k, , size] of UNITS) if (ms >= size && ms % size === 0) [u, n] = [k, ms / size];
  const num = h("input", { type: "number", id, min: 0, step: "any", value: String(n), inputmode: "decimal" });
  const unit = h("select", { "aria-label": `${label}: unit` }, UNITS.map(([k, l]) => h("option", { value: k, selected: k === u }, l)));
  const el = h("div.duration", num, unit);
  el.read = () => {
    const v = Number(num.value);
    if (num.value === "" || !Number.isFinite(v) || v < 0) return null;
    const size = UNITS.find(([k]) => k === unit.value)[2];
    const total = Math.round(v * size / 1000); // whole seconds
    return total % 3600 === 0 ? `${total / 3600}h` : total % 60 === 0 ? `${total / 60}m` : `${total}s`;
  };
  el.focusable = num;
  return el;
}

const INTRO = "Rules for everyone at the practice. Changes apply at once, to new sign-ins and devices as they reconnect.";

/** policyPage loads the policy and shows it as a form; a failure shows with a retry. */
export async function policyPage(view, ctx) {
  fill(view, pageHead("Policy", INTRO), loading());
  let res;
  try { res = await admin.policy(); } catch (e) { fill(view, pageHead("Policy"), failure(e, () => policyPage(view, ctx))); return; }
  render(view, res, null, ctx);
}

/**
 * PolicyForm is what the parts of the policy form share: the page, each
 * setting's input and row by key, and the form's error line and Save button.
 * @typedef {object} PolicyForm
 * @property {any} view the page the form is drawn in
 * @property {any} ctx the console's context (policyChanged is told of a new inactivity lock)
 * @property {Map<string, {read: () => string | null, input: any, original: string, kind: string}>} inputs each setting's input, how to read it, its value as loaded and its kind
 * @property {Map<string, any>} rows each setting's row, with setError
 * @property {any} err the form's error line
 * @property {any} save the Save policy button
 */

/**
 * render draws the policy form, a card per section, with notice (if any)
 * beside the Save button: the bar it sits in stays at the bottom of the
 * screen, where the person who pressed Save is looking.
 */
function render(view, res, notice, ctx) {
  const fields = res.fields || Object.entries(res.values || {}).map(([key, value]) => ({ key, value, default: value, help: "" }));
  /** @type {PolicyForm} */
  const pf = { view, ctx, inputs: new Map(), rows: new Map(), err: errorLine(), save: h("button.primary", { type: "submit" }, "Save policy") };
  const form = h("form.policy-form", { novalidate: true },
    sectionsOf(fields).filter(([, fs]) => fs.length).map(([title, fs]) => card(title, fs.map((f) => fieldRow(pf, f)))),
    h("div.sticky-actions", notice ? h("p.notice.ok.saved", { role: "status" }, notice) : null, pf.err, pf.save));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    await submitPolicy(pf);
  });
  fill(view, pageHead("Policy", INTRO), form);
}

/**
 * sectionsOf sorts the fields into the sections of GROUPS, in their order,
 * with the fields no section names under Other.
 * @returns {[string, any[]][]}
 */
function sectionsOf(fields) {
  const known = new Set(GROUPS.flatMap(([, keys]) => keys));
  const byKey = new Map(fields.map((f) => [f.key, f]));
  /** @type {[string, any[]][]} */
  const sections = GROUPS.map(([title, keys]) => [title, keys.filter((k) => byKey.has(k)).map((k) => byKey.get(k))]);
  const other = fields.filter((f) => !known.has(f.key));
  if (other.length) sections.push(["Other", other]);
  return sections;
}

// ------------------------------------------------------------ one setting

/**
 * fieldRow is one setting's row: its label, its input, its help with the
 * default, and its own error line; it records both in pf.
 * @param {PolicyForm} pf
 */
function fieldRow(pf, f) {
  const id = "pol-" + f.key;
  const label = LABELS[f.key] || f.key.replace(/_/g, " ");
  const kind = kindOf(f);
  const { input, read } = fieldInput(f, id, label, kind);
  const err = h("p.field-error", { id: id + "-err", role: "alert" });
  const help = h("p.hint", { id: id + "-help" }, f.help || "", f.help ? " " : "", `Default: ${showDefault(f.default, kind)}.`, kind === "list" ? " One per line." : "");
  // What the current value means, said by the server (offline_grace: what
  // a copied browser profile then yields to an offline PIN search).
  const note = f.note ? h(`p.notice.${f.value === "0s" ? "ok" : "warn"}.policy-note`, { id: id + "-note" }, f.note) : null;
  (input.focusable || input).setAttribute("aria-describedby", `${id}-help ${note ? id + "-note " : ""}${id}-err`);
  pf.inputs.set(f.key, { read, input, original: f.value, kind });
  const row = kind === "bool"
    ? h("div.field.policy-field", { "data-key": f.key }, h("label.check", { for: id }, input, h("span", label)), help, note, err)
    : h("div.field.policy-field", { "data-key": f.key }, h("label", { for: id }, label), input, help, note, err);
  row.setError = (m) => { err.textContent = m || ""; (input.focusable || input).toggleAttribute("aria-invalid", !!m); };
  pf.rows.set(f.key, row);
  return row;
}

/**
 * fieldInput is the input that fits a setting's kind (a switch, a whole
 * number, a duration with its unit, a list one item a line, or text) and
 * how to read its value back as the server's text; null is unreadable.
 * @returns {{input: any, read: () => string | null}}
 */
function fieldInput(f, id, label, kind) {
  if (kind === "bool") {
    const input = h("input", { type: "checkbox", id, checked: f.value === "true" });
    return { input, read: () => String(input.checked) };
  }
  if (kind === "int") {
    const input = h("input", { type: "number", id, value: f.value, step: 1, inputmode: "numeric" });
    return { input, read: () => input.value.trim() };
  }
  if (kind === "duration") {
    const input = durationInput(id, f.value, label);
    return { input, read: () => input.read() };
  }
  if (kind === "list") {
    let items = [];
    try { items = JSON.parse(f.value); } catch { /* shown empty */ }
    const input = h("textarea", { id, rows: Math.min(6, Math.max(2, items.length + 1)), spellcheck: "false" }, items.join("\n"));
    return { input, read: () => JSON.stringify(input.value.split("\n").map((s) => s.trim()).filter(Boolean)) };
  }
  const input = h("input", { id, value: f.value });
  return { input, read: () => input.value };
}

/** focusInput focuses a setting's input (a duration's number). */
function focusInput(x) {
  (x.input.focusable || x.input).focus();
}

// ------------------------------------------------------------ saving

/**
 * submitPolicy checks every setting and saves the ones that changed; the
 * first setting that cannot be read is focused instead.
 * @param {PolicyForm} pf
 */
async function submitPolicy(pf) {
  for (const r of pf.rows.values()) r.setError("");
  const { values, bad } = changedValues(pf);
  if (bad) { focusInput(pf.inputs.get(bad)); return; }
  if (!Object.keys(values).length) { toast("Nothing changed."); return; }
  await busy(pf.save, "Saving…", () => saveValues(pf, values), pf.err);
}

/**
 * changedValues reads every setting: the ones that differ from the policy
 * as loaded, by key, and the key of the first one that cannot be read
 * (each such row says why).
 * @param {PolicyForm} pf
 * @returns {{values: Record<string, string>, bad: string | null}}
 */
function changedValues(pf) {
  /** @type {Record<string, string>} */
  const values = {};
  let bad = null;
  for (const [key, x] of pf.inputs) {
    const v = x.read();
    if (v === null || (x.kind === "int" && !/^-?\d+$/.test(v))) { pf.rows.get(key).setError(x.kind === "int" ? "Enter a whole number." : "Enter a number of seconds, minutes, hours or days."); bad = bad || key; continue; }
    if (!same(v, x.original, x.kind)) values[key] = v;
  }
  return { values, bad };
}

/**
 * saveValues saves the changed settings and draws the policy the server
 * answers with, naming what was saved; a refusal about one setting lands
 * on its row, any other is thrown to the form's error line.
 * @param {PolicyForm} pf
 * @param {Record<string, string>} values
 */
async function saveValues(pf, values) {
  try {
    const r = await admin.savePolicy(values);
    const y = window.scrollY;
    render(pf.view, r, `Saved: ${Object.keys(values).map((k) => LABELS[k] || k).join(", ")}.`, pf.ctx);
    window.scrollTo(0, y); // the page stays where the person was
    if ("inactivity_lock" in values) pf.ctx?.policyChanged?.();
  } catch (ex) {
    const key = ex.field || Object.keys(values).find((k) => ex.message.includes(k)) || (Object.keys(values).length === 1 ? Object.keys(values)[0] : null);
    if (key && pf.rows.has(key)) {
      pf.rows.get(key).setError(ex.message.replace(/^policy \w+=("[^"]*"|\S+): /, ""));
      focusInput(pf.inputs.get(key));
      pf.err.textContent = "Not saved: fix the field marked below.";
    } else throw ex;
  }
}

/** showDefault says a setting's default in words: on or off, a list with commas, a duration in its largest whole unit. */
function showDefault(v, kind) {
  if (kind === "bool") return v === "true" ? "on" : "off";
  if (kind === "list") { try { const a = JSON.parse(v); return a.length ? a.join(", ") : "none"; } catch { return v; } }
  if (kind === "duration") {
    const ms = parseGoDuration(v);
    for (const [, l, size] of UNITS.slice().reverse()) if (ms >= size && ms % size === 0) return `${ms / size} ${ms / size === 1 ? l.slice(0, -1) : l}`;
    return v;
  }
  return v === "" ? "none" : v;
}

/** same tells whether a value read from the form is the policy's value as loaded, compared as its kind. */
function same(v, orig, kind) {
  if (kind === "duration") return parseGoDuration(v) === parseGoDuration(orig);
  if (kind === "list") { try { return JSON.stringify(JSON.parse(orig)) === v; } catch { return false; } }
  return String(v) === String(orig);
}
