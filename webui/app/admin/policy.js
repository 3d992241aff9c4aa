// @ts-check
// Policy: every setting the server knows (GET /admin/policy lists them
// with their defaults and help), each with an input that fits its kind:
// a switch, a number, a duration with a unit, or a list one item a line.
import { admin } from "./api.js";
import { busy, card, errorLine, failure, fill, h, loading, pageHead, toast } from "./ui.js";

const LABELS = {
  password_min_length: "Minimum password length",
  password_classes: "Character kinds a password needs",
  lockout_threshold: "Failed sign-ins before a lockout",
  lockout_cooldown: "Lockout length",
  session_idle: "Sign-in ends after idle time",
  session_max: "Longest sign-in",
  inactivity_lock: "Lock / sign out after inactivity",
  pin_required: "Require a PIN on each device",
  retention: "Keep messages for",
  attachment_max_bytes: "Largest attachment (bytes)",
  attachment_types: "Allowed attachment types",
  offline_grace: "Offline unlock grace",
  quick_messages: "Quick replies",
  mfa_required: "Second factor required for",
  admin_networks: "Networks the console may be used from",
  audit_retention: "Keep the audit log for",
  invitation_ttl: "Invitation links expire after",
  patient_urgent: "Patients may mark messages Urgent",
  patient_ack: "Patients may ask for acknowledgement",
};

/** @type {[string, string[]][]} */
const GROUPS = [
  ["Sign-in and passwords", ["password_min_length", "password_classes", "lockout_threshold", "lockout_cooldown", "mfa_required", "session_idle", "session_max"]],
  ["Devices", ["inactivity_lock", "pin_required", "offline_grace"]],
  ["Messages and attachments", ["retention", "attachment_max_bytes", "attachment_types", "quick_messages"]],
  ["Patients", ["patient_urgent", "patient_ack"]],
  ["Console and records", ["admin_networks", "audit_retention", "invitation_ttl"]],
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

export async function policyPage(view, ctx) {
  fill(view, pageHead("Policy", "Rules for everyone at the practice. Changes apply at once, to new sign-ins and devices as they reconnect."), loading());
  let res;
  try { res = await admin.policy(); } catch (e) { fill(view, pageHead("Policy"), failure(e, () => policyPage(view, ctx))); return; }
  render(view, res, null, ctx);
}

function render(view, res, notice, ctx) {
  const fields = res.fields || Object.entries(res.values || {}).map(([key, value]) => ({ key, value, default: value, help: "" }));
  const inputs = new Map();
  const rows = new Map();

  const fieldRow = (f) => {
    const id = "pol-" + f.key;
    const label = LABELS[f.key] || f.key.replace(/_/g, " ");
    const kind = kindOf(f);
    let input, read;
    if (kind === "bool") {
      input = h("input", { type: "checkbox", id, checked: f.value === "true" });
      read = () => String(input.checked);
    } else if (kind === "int") {
      input = h("input", { type: "number", id, value: f.value, step: 1, inputmode: "numeric" });
      read = () => input.value.trim();
    } else if (kind === "duration") {
      input = durationInput(id, f.value, label);
      read = () => input.read();
    } else if (kind === "list") {
      let items = [];
      try { items = JSON.parse(f.value); } catch { /* shown empty */ }
      input = h("textarea", { id, rows: Math.min(6, Math.max(2, items.length + 1)), spellcheck: "false" }, items.join("\n"));
      read = () => JSON.stringify(input.value.split("\n").map((s) => s.trim()).filter(Boolean));
    } else {
      input = h("input", { id, value: f.value });
      read = () => input.value;
    }
    const err = h("p.field-error", { id: id + "-err", role: "alert" });
    const help = h("p.hint", { id: id + "-help" }, f.help || "", f.help ? " " : "", `Default: ${showDefault(f.default, kind)}.`, kind === "list" ? " One per line." : "");
    (input.focusable || input).setAttribute("aria-describedby", `${id}-help ${id}-err`);
    inputs.set(f.key, { read, input, original: f.value, kind });
    const row = kind === "bool"
      ? h("div.field.policy-field", { "data-key": f.key }, h("label.check", { for: id }, input, h("span", label)), help, err)
      : h("div.field.policy-field", { "data-key": f.key }, h("label", { for: id }, label), input, help, err);
    row.setError = (m) => { err.textContent = m || ""; (input.focusable || input).toggleAttribute("aria-invalid", !!m); };
    rows.set(f.key, row);
    return row;
  };

  const known = new Set(GROUPS.flatMap(([, keys]) => keys));
  const byKey = new Map(fields.map((f) => [f.key, f]));
  /** @type {[string, any[]][]} */
  const sections = GROUPS.map(([title, keys]) => [title, keys.filter((k) => byKey.has(k)).map((k) => byKey.get(k))]);
  const other = fields.filter((f) => !known.has(f.key));
  if (other.length) sections.push(["Other", other]);

  const err = errorLine();
  const save = h("button.primary", { type: "submit" }, "Save policy");
  const form = h("form.policy-form", { novalidate: true },
    notice ? h("p.notice.ok", { role: "status" }, notice) : null,
    sections.filter(([, fs]) => fs.length).map(([title, fs]) => card(title, fs.map(fieldRow))),
    h("div.sticky-actions", err, save));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const r of rows.values()) r.setError("");
    const values = {};
    let bad = null;
    for (const [key, x] of inputs) {
      const v = x.read();
      if (v === null || (x.kind === "int" && !/^-?\d+$/.test(v))) { rows.get(key).setError(x.kind === "int" ? "Enter a whole number." : "Enter a number of seconds, minutes, hours or days."); bad = bad || key; continue; }
      if (!same(v, x.original, x.kind)) values[key] = v;
    }
    if (bad) { (inputs.get(bad).input.focusable || inputs.get(bad).input).focus(); return; }
    if (!Object.keys(values).length) { toast("Nothing changed."); return; }
    await busy(save, "Saving…", async () => {
      try {
        const r = await admin.savePolicy(values);
        render(view, r, `Saved: ${Object.keys(values).map((k) => LABELS[k] || k).join(", ")}.`, ctx);
        if ("inactivity_lock" in values) ctx?.policyChanged?.();
        view.querySelector(".notice")?.scrollIntoView({ block: "nearest" });
      } catch (ex) {
        const key = ex.field || Object.keys(values).find((k) => ex.message.includes(k)) || (Object.keys(values).length === 1 ? Object.keys(values)[0] : null);
        if (key && rows.has(key)) {
          rows.get(key).setError(ex.message.replace(/^policy \w+=("[^"]*"|\S+): /, ""));
          const x = inputs.get(key);
          (x.input.focusable || x.input).focus();
          err.textContent = "Not saved: fix the field marked below.";
        } else throw ex;
      }
    }, err);
  });
  fill(view, pageHead("Policy", "Rules for everyone at the practice. Changes apply at once, to new sign-ins and devices as they reconnect."), form);
}

function showDefault(v, kind) {
  if (kind === "bool") return v === "true" ? "on" : "off";
  if (kind === "list") { try { const a = JSON.parse(v); return a.length ? a.join(", ") : "none"; } catch { return v; } }
  if (kind === "duration") {
    const ms = parseGoDuration(v);
    for (const [, l, size] of UNITS.slice().reverse()) if (ms >= size && ms % size === 0) return `${ms / size} ${ms / size === 1 ? l.slice(0, -1) : l}`;
    return v;
  }
  return v;
}

function same(v, orig, kind) {
  if (kind === "duration") return parseGoDuration(v) === parseGoDuration(orig);
  if (kind === "list") { try { return JSON.stringify(JSON.parse(orig)) === v; } catch { return false; } }
  return String(v) === String(orig);
}
