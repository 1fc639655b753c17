// Pass 4, level aggregation: the same calls seen as workload → workload, workload → Service, or
// namespace → namespace. Only the ends change; calls keep their details, so every level sums to
// the same counts.
//   workload:  ends as attributed.
//   service:   the target becomes the Service the client dialled; a call to a pod IP stays on
//              the workload.
//   namespace: namespaced ends become their namespace; node:, external: and unattributed: stay.
// Ids are NS/NAME for workloads and Services alike, so a workload and a Service of the same name
// are one node wherever both appear (kind service, the workload's fields kept).
import type { GraphNode, Level } from '../model.js';
import { publicId, type NodeTable } from './nodes.js';
import type { AttributedCall } from './types.js';

export interface LevelEnds {
  /** Public ids at the level. */
  source: string;
  target: string;
}

export function levelEnds(calls: AttributedCall[], level: Level, nodes: NodeTable): LevelEnds[] {
  if (level === 'workload') return calls.map((c) => ({ source: publicId(c.source), target: publicId(c.target) }));
  if (level === 'service') return calls.map((c) => ({ source: publicId(c.source), target: publicId(c.service ?? c.target) }));
  const nsOf = (key: string): string => {
    const n = nodes.byKey.get(key);
    return n !== undefined && n.namespace !== null ? n.namespace : publicId(key);
  };
  return calls.map((c) => ({ source: nsOf(c.source), target: nsOf(c.target) }));
}

/** The node a level id stands for, from the workload-level nodes folded into it. */
export function levelNode(id: string, level: Level, members: GraphNode[]): GraphNode {
  if (level === 'namespace' && members.some((m) => m.namespace !== null)) {
    return { id, kind: 'namespace', namespace: id, name: id, workload_kind: null, service_account: null, spiffe: null, labels: {}, addresses: [], reason: null };
  }
  const svc = members.find((m) => m.kind === 'service');
  const wl = members.find((m) => m.kind === 'workload');
  if (svc !== undefined && wl !== undefined) return { ...wl, kind: 'service', labels: { ...wl.labels }, addresses: [] };
  const n = svc ?? wl ?? members[0];
  return { ...n, labels: { ...n.labels }, addresses: [] };
}
