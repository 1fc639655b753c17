// INTERIM, deleted when analyzer/graph.ts lands: a workload-level graph straight from the calls and
// the attribution index, so the UI can be built and tested against the real demo meanwhile.
import type { EdgeCall, Graph, GraphEdge, GraphNode, GraphQuery } from '../../analyzer/model.js';
import { AttributionIndex, type Endpoint } from '../../collector/identity/attribute.js';
import { listCalls } from '../../collector/store/calls.js';
import type { Db } from '../../collector/store/db.js';

function toNode(e: Endpoint, ip: string): GraphNode {
  const base = { workload_kind: null, service_account: null, spiffe: null, labels: {}, addresses: [ip], reason: null };
  switch (e.kind) {
    case 'workload':
      return { ...base, id: `${e.namespace}/${e.name}`, kind: 'workload', namespace: e.namespace, name: e.name,
        workload_kind: e.workloadKind, service_account: e.serviceAccount, spiffe: e.spiffe, labels: e.labels };
    case 'service': return { ...base, id: `${e.namespace}/${e.name}`, kind: 'service', namespace: e.namespace, name: e.name };
    case 'node': return { ...base, id: `node:${e.name}`, kind: 'node', namespace: null, name: e.name };
    case 'external': return { ...base, id: `external:${e.name ?? ip}`, kind: 'external', namespace: null, name: e.name ?? ip };
    default: return { ...base, id: `unattributed:${ip}`, kind: 'unattributed', namespace: null, name: ip, reason: e.reason };
  }
}

export function interimBuildGraph(db: Db, q: GraphQuery): Graph {
  const index = AttributionIndex.fromDb(db);
  const nodes = new Map<string, GraphNode>();
  const edges = new Map<string, GraphEdge>();
  let first: string | null = null, last: string | null = null;
  for (const c of listCalls(db, { sinceMs: q.sinceMs, untilMs: q.untilMs })) {
    const t = Date.parse(c.first_seen);
    const src = toNode(index.attribute(c.src_ip, t), c.src_ip);
    const dst = toNode(index.attribute(c.dst_ip, t), c.dst_ip);
    if (q.namespaces && !q.namespaces.includes(src.namespace ?? '') && !q.namespaces.includes(dst.namespace ?? '')) continue;
    for (const n of [src, dst]) {
      const had = nodes.get(n.id);
      if (!had) nodes.set(n.id, n);
      else if (!had.addresses.includes(n.addresses[0])) had.addresses.push(n.addresses[0]);
    }
    const key = `${src.id}>${dst.id}`;
    let e = edges.get(key);
    if (!e) {
      const zero = { mtls: 0, tls: 0, plaintext: 0, unknown: 0 };
      e = { source: src.id, target: dst.id, ports: [], protocols: [], methods: [], paths: [], security: { ...zero }, security_counts: { ...zero },
        count: 0, connections: 0, bytes: 0, first_seen: c.first_seen, last_seen: c.last_seen, credentials_in_plaintext: false, services: [], calls: [] };
      edges.set(key, e);
    }
    const call: EdgeCall = { port: c.dst_port, transport: c.transport, protocol: c.protocol, method: c.method, path: c.path, host: c.host,
      sni: c.sni, security: c.security, security_reason: c.security_reason, count: c.count, first_seen: c.first_seen, last_seen: c.last_seen,
      credentials_in_plaintext: c.credentials_in_plaintext, via_service: c.service_ip !== null, sources: [c.source] };
    e.calls.push(call);
    e.count += c.count; e.connections += c.connections; e.bytes += c.bytes;
    e.security_counts[c.security] += c.count;
    if (!e.ports.includes(c.dst_port)) e.ports.push(c.dst_port);
    if (!e.protocols.includes(c.protocol)) e.protocols.push(c.protocol);
    if (c.method && !e.methods.includes(c.method)) e.methods.push(c.method);
    if (c.path && !e.paths.includes(c.path)) e.paths.push(c.path);
    if (c.first_seen < e.first_seen) e.first_seen = c.first_seen;
    if (c.last_seen > e.last_seen) e.last_seen = c.last_seen;
    e.credentials_in_plaintext ||= c.credentials_in_plaintext;
    if (first === null || c.first_seen < first) first = c.first_seen;
    if (last === null || c.last_seen > last) last = c.last_seen;
  }
  for (const e of edges.values()) {
    const n = e.security_counts.mtls + e.security_counts.tls + e.security_counts.plaintext + e.security_counts.unknown;
    for (const k of ['mtls', 'tls', 'plaintext', 'unknown'] as const) e.security[k] = n > 0 ? e.security_counts[k] / n : 0;
  }
  const since = q.sinceMs !== undefined ? new Date(q.sinceMs).toISOString() : null;
  const until = q.untilMs !== undefined ? new Date(q.untilMs).toISOString() : null;
  return {
    level: q.level,
    window: { since, until, first_seen: first, last_seen: last },
    nodes: [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id)),
    edges: [...edges.values()].sort((a, b) => a.source.localeCompare(b.source) || a.target.localeCompare(b.target)),
  };
}
