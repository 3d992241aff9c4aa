// @ts-check
// Conversation ids and other small pure helpers of the messaging engine:
// d:<a>:<b> for a direct conversation (a < b), g:<group> for a server
// group, b:<owner>:<token> for a broadcast (PROTOCOL.md, conversations).

export function directConv(a, b) { return a < b ? `d:${a}:${b}` : `d:${b}:${a}`; }

export function parseConv(id) {
  const p = id.split(":");
  if (p[0] === "d") return { kind: "direct", a: +p[1], b: +p[2] };
  if (p[0] === "g") return { kind: "group", group: +p[1] };
  if (p[0] === "b") return { kind: "broadcast", owner: +p[1], token: p[2] };
  return { kind: "unknown" };
}

/** mimeAllowed matches a MIME type against the policy's patterns ("image/*"). */
export function mimeAllowed(mime, patterns) {
  return (patterns || []).some((p) => p === mime || (p.endsWith("*") && mime.startsWith(p.slice(0, -1))));
}

export function fmtBytes(n) {
  if (n < 1024) return `${n} bytes`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / (1 << 20)).toFixed(n < 10 << 20 ? 1 : 0)} MB`;
}
