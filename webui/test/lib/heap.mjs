// Searching a Chromium heap snapshot for a string, and explaining who keeps
// it alive when it is found (the failure message of the lock test).
export async function heapSnapshot(context, page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send("HeapProfiler.enable");
  await cdp.send("HeapProfiler.collectGarbage");
  let snap = "";
  cdp.on("HeapProfiler.addHeapSnapshotChunk", (e) => { snap += e.chunk; });
  await cdp.send("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
  await cdp.detach();
  return snap;
}

/** retainers returns the shortest strong path from a GC root to the string holding needle. */
export function retainers(snap, needle) {
  const h = JSON.parse(snap);
  const f = h.snapshot.meta.node_fields, nf = f.length, ef = h.snapshot.meta.edge_fields, en = ef.length;
  const types = h.snapshot.meta.node_types[0], etypes = h.snapshot.meta.edge_types[0];
  const N = h.nodes.length / nf, ec = f.indexOf("edge_count");
  const rev = new Map();
  let e = 0;
  for (let i = 0; i < N; i++) {
    for (let k = 0; k < h.nodes[i * nf + ec]; k++, e += en) {
      const to = h.edges[e + ef.indexOf("to_node")] / nf, t = etypes[h.edges[e + ef.indexOf("type")]], n = h.edges[e + ef.indexOf("name_or_index")];
      if (t === "weak") continue;
      if (!rev.has(to)) rev.set(to, []);
      rev.get(to).push([i, t, t === "element" || t === "hidden" ? n : h.strings[n]]);
    }
  }
  const name = (i) => `${types[h.nodes[i * nf]]}:${String(h.strings[h.nodes[i * nf + 1]]).slice(0, 70)}`;
  let hit = -1;
  for (let i = 0; i < N; i++) if (String(h.strings[h.nodes[i * nf + 1]]).includes(needle)) { hit = i; break; }
  if (hit < 0) return "not found";
  const prev = new Map([[hit, null]]);
  let q = [hit], root = -1;
  while (q.length && root < 0) {
    const nq = [];
    for (const cur of q) {
      for (const [p, t, n] of rev.get(cur) || []) {
        if (prev.has(p)) continue;
        prev.set(p, [cur, t, n]);
        if (/^synthetic:\((GC roots|Global handles|Document DOM trees)/.test(name(p))) { root = p; break; }
        nq.push(p);
      }
      if (root >= 0) break;
    }
    q = nq;
  }
  const path = [];
  for (let x = root; x >= 0 && x !== hit; x = prev.get(x)[0]) path.push(`${name(x)} --${prev.get(x)[1]}:${String(prev.get(x)[2]).slice(0, 40)}-->`);
  return path.join("\n") + "\n" + name(hit);
}
