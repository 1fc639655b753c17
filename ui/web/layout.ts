// Where every node goes: computed once per graph, deterministic (same graph → same picture; no
// randomness, no simulation). Nodes are grouped into one box per namespace (and one each for
// nodes, external and unattributed addresses). Inside a box, nodes stand in columns by their rank
// in the call graph (callers left of callees; cycles broken at back edges in id order), so
// traffic mostly flows left to right; boxes are ordered by their smallest rank and shelf-packed.
import type { Graph, GraphNode } from '../../analyzer/model.js';

export interface NodePlace {
  id: string;
  x: number;
  y: number;
  cluster: string;
}

export interface ClusterBox {
  key: string;
  label: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Layout {
  nodes: Map<string, NodePlace>;
  clusters: ClusterBox[];
  width: number;
  height: number;
}

export const CELL_W = 150;
export const CELL_H = 64;
const PAD = 24;
const HEADER = 26;
const GAP = 48;

export function clusterOf(n: GraphNode): { key: string; label: string } {
  if (n.namespace !== null && n.kind !== 'namespace') return { key: `ns:${n.namespace}`, label: n.namespace };
  switch (n.kind) {
    case 'node': return { key: 'k:node', label: 'cluster nodes' };
    case 'external': return { key: 'k:external', label: 'outside the cluster' };
    case 'unattributed': return { key: 'k:unattributed', label: 'unattributed addresses' };
    case 'namespace': return { key: 'k:namespace', label: 'namespaces' };
    default: return { key: 'k:other', label: 'other' };
  }
}

/** Longest-path rank from the callers with no callers, on the graph minus its DFS back edges. */
export function ranks(g: Graph): Map<string, number> {
  const ids = g.nodes.map((n) => n.id).sort();
  const out = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of g.edges) if (e.source !== e.target) out.get(e.source)?.push(e.target);
  for (const l of out.values()) l.sort();
  // Iterative DFS: post-order gives a reverse topological order of the DAG without back edges.
  const state = new Map<string, 1 | 2>();
  const order: string[] = [];
  const back = new Set<string>();
  const indeg = new Map<string, number>(ids.map((id) => [id, 0]));
  for (const e of g.edges) if (e.source !== e.target) indeg.set(e.target, (indeg.get(e.target) ?? 0) + 1);
  const roots = [...ids.filter((id) => indeg.get(id) === 0), ...ids];
  for (const root of roots) {
    if (state.has(root)) continue;
    const stack: Array<{ id: string; i: number }> = [{ id: root, i: 0 }];
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const next = out.get(top.id)![top.i++];
      if (next === undefined) { state.set(top.id, 2); order.push(top.id); stack.pop(); continue; }
      const s = state.get(next);
      if (s === 1) back.add(`${top.id}\u0000${next}`);
      else if (s === undefined) { state.set(next, 1); stack.push({ id: next, i: 0 }); }
    }
  }
  const rank = new Map<string, number>(ids.map((id) => [id, 0]));
  for (let i = order.length - 1; i >= 0; i--) {
    const id = order[i];
    const r = rank.get(id)!;
    for (const t of out.get(id)!) {
      if (back.has(`${id}\u0000${t}`)) continue;
      if (rank.get(t)! < r + 1) rank.set(t, r + 1);
    }
  }
  return rank;
}

export function computeLayout(g: Graph): Layout {
  const rank = ranks(g);
  const groups = new Map<string, { label: string; nodes: GraphNode[] }>();
  for (const n of g.nodes) {
    const c = clusterOf(n);
    let grp = groups.get(c.key);
    if (!grp) groups.set(c.key, (grp = { label: c.label, nodes: [] }));
    grp.nodes.push(n);
  }
  interface Placed { key: string; label: string; width: number; height: number; minRank: number; cells: Array<{ id: string; col: number; row: number }>; rows: number }
  const boxes: Placed[] = [];
  for (const [key, grp] of groups) {
    const byRank = new Map<number, GraphNode[]>();
    for (const n of grp.nodes) {
      const r = rank.get(n.id) ?? 0;
      let l = byRank.get(r);
      if (!l) byRank.set(r, (l = []));
      l.push(n);
    }
    const maxRows = Math.max(4, Math.ceil(Math.sqrt(grp.nodes.length) * 1.4));
    const columns: GraphNode[][] = [];
    for (const r of [...byRank.keys()].sort((a, b) => a - b)) {
      const l = byRank.get(r)!.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
      for (let i = 0; i < l.length; i += maxRows) columns.push(l.slice(i, i + maxRows));
    }
    const rows = Math.max(...columns.map((c) => c.length));
    const cells = columns.flatMap((col, ci) => col.map((n, ri) => ({ id: n.id, col: ci, row: ri + (rows - col.length) / 2 })));
    boxes.push({
      key, label: grp.label, cells, rows,
      width: columns.length * CELL_W + 2 * PAD - (CELL_W - 100),
      height: rows * CELL_H + 2 * PAD + HEADER - (CELL_H - 40),
      minRank: Math.min(...grp.nodes.map((n) => rank.get(n.id) ?? 0)),
    });
  }
  boxes.sort((a, b) => a.minRank - b.minRank || a.key.localeCompare(b.key));
  const area = boxes.reduce((s, b) => s + (b.width + GAP) * (b.height + GAP), 0);
  const rowWidth = Math.max(Math.sqrt(area * 1.8), ...boxes.map((b) => b.width));
  const nodes = new Map<string, NodePlace>();
  const clusters: ClusterBox[] = [];
  let x = 0, y = 0, shelf = 0, width = 0;
  for (const b of boxes) {
    if (x > 0 && x + b.width > rowWidth) { x = 0; y += shelf + GAP; shelf = 0; }
    clusters.push({ key: b.key, label: b.label, x, y, width: b.width, height: b.height });
    for (const c of b.cells) {
      nodes.set(c.id, { id: c.id, cluster: b.key, x: x + PAD + 50 + c.col * CELL_W, y: y + PAD + HEADER + 20 + c.row * CELL_H });
    }
    x += b.width + GAP;
    width = Math.max(width, x - GAP);
    shelf = Math.max(shelf, b.height);
  }
  return { nodes, clusters, width, height: y + shelf };
}
