// Narrowing a graph the analyzer built to what the user asked to see (protocol, security, hiding
// infrastructure traffic) and cutting one node's neighbourhood out of it. Presentation only: an
// edge keeps the calls that match, and its totals are re-summed from those calls.
import { edgeWithCalls } from '../../analyzer/edge-calls.js';
import type { EdgeCall, Graph, GraphEdge, GraphNode } from '../../analyzer/model.js';
import type { Protocol, Security } from '../../collector/model.js';
import type { PeerCalls } from './types.js';

export interface ViewFilter {
  protocols?: Protocol[];
  securities?: Security[];
  hideInfra: boolean;
}

// Ports of the Istio agent (merged Prometheus metrics and health on 15020, Envoy stats on 15090,
// readiness on 15021): what kubelet and Prometheus reach on every meshed pod.
const INFRA_PORTS = new Set([15020, 15021, 15090]);
const INFRA_PATHS = /^\/(metrics|stats\/prometheus|federate|healthz?|readyz|livez)(\/|$)/;

/** Kubelet probes (from a node), metrics scrapes and DNS: traffic every pod has, not the app's. */
export function isInfraCall(c: EdgeCall, source: GraphNode | undefined): boolean {
  if (source?.kind === 'node') return true;
  if (c.protocol === 'dns' || c.port === 53) return true;
  if (INFRA_PORTS.has(c.port)) return true;
  return c.path !== null && INFRA_PATHS.test(c.path);
}

export function isFiltering(f: ViewFilter): boolean {
  return f.hideInfra || (f.protocols?.length ?? 0) > 0 || (f.securities?.length ?? 0) > 0;
}

/**
 * The graph with only the matching calls. Without a filter it is returned as is; with one, nodes
 * left without edges are dropped unless they are workloads in `keepNamespaces` (a namespace filter
 * still shows its quiet workloads).
 */
export function applyFilter(g: Graph, f: ViewFilter, keepNamespaces: string[] = []): Graph {
  if (!isFiltering(f)) return g;
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const protocols = f.protocols?.length ? new Set(f.protocols) : null;
  const securities = f.securities?.length ? new Set(f.securities) : null;
  const edges: GraphEdge[] = [];
  for (const e of g.edges) {
    const src = byId.get(e.source);
    const calls = e.calls.filter((c) =>
      (protocols === null || protocols.has(c.protocol))
      && (securities === null || securities.has(c.security))
      && !(f.hideInfra && isInfraCall(c, src)));
    if (calls.length === 0) continue;
    edges.push(calls.length === e.calls.length ? e : edgeWithCalls(e, calls));
  }
  const used = new Set(edges.flatMap((e) => [e.source, e.target]));
  const keep = new Set(keepNamespaces);
  const nodes = g.nodes.filter((n) => used.has(n.id) || (n.namespace !== null && keep.has(n.namespace) && n.kind === 'workload'));
  return { ...g, nodes, edges };
}

export interface Neighbourhood {
  node: GraphNode;
  callers: PeerCalls[];
  callees: PeerCalls[];
}

/** One node with the edges into and out of it, busiest first; null when the graph lacks it. */
export function neighbourhood(g: Graph, id: string): Neighbourhood | null {
  const node = g.nodes.find((n) => n.id === id);
  if (!node) return null;
  const kind = new Map(g.nodes.map((n) => [n.id, n.kind]));
  const peer = (e: GraphEdge, other: string): PeerCalls => ({
    peer: other, peer_kind: kind.get(other) ?? null, count: e.count,
    dropped: e.calls.reduce((n, c) => n + (c.dropped ?? 0), 0), security: e.security_counts,
    calls: [...e.calls].sort((a, b) => b.count - a.count || a.port - b.port || (a.path ?? '').localeCompare(b.path ?? '')),
  });
  const order = (a: PeerCalls, b: PeerCalls) => b.count - a.count || a.peer.localeCompare(b.peer);
  return {
    node,
    callers: g.edges.filter((e) => e.target === id).map((e) => peer(e, e.source)).sort(order),
    callees: g.edges.filter((e) => e.source === id).map((e) => peer(e, e.target)).sort(order),
  };
}
