// Recorded calls → request attributes. The same passes as the graph (identity at the call's own
// time, Services, source merge: analyzer/passes/), then one SimCall per distinct call shape and
// address pair: policies match on addresses (ipBlock, source.ip), so two replicas calling are
// two rows. Peers carry what policies select on: namespace and its labels, pod labels, service
// account, node, and the container ports the inventory names.
import { AttributionIndex, type Endpoint, type ServiceEndpoint } from '../../collector/identity/attribute.js';
import { iterateBucketCalls } from '../../collector/store/analysis.js';
import type { Db } from '../../collector/store/db.js';
import { readInventory } from '../../collector/store/inventory.js';
import type { GraphNode } from '../model.js';
import { attributeCalls } from '../passes/identity.js';
import { mergeSources } from '../passes/merge.js';
import { NodeTable } from '../passes/nodes.js';
import { resolveServices } from '../passes/services.js';
import type { NamedPort, Peer, SimCall } from './model.js';

const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export interface CallQuery {
  sinceMs?: number;
  untilMs?: number;
  /** Keep calls with an end in one of these namespaces. */
  namespaces?: string[];
  trustDomain?: string;
}

/** What the inventory says beyond attribution: namespace labels and named container ports. */
interface Extras {
  namespaceLabels: Map<string, Record<string, string>>;
  /** NS/WORKLOAD → named ports known for its pods. */
  namedPorts: Map<string, NamedPort[]>;
  /** NS/SERVICE/PORT-NAME → the pod port its EndpointSlices list. */
  slicePorts: Map<string, number>;
}

/**
 * Named container ports are not stored, but a Service whose targetPort is a name says which
 * number that name is on its backends: the EndpointSlice lists the resolved port under the
 * Service port's name.
 */
function inventoryExtras(db: Db): Extras {
  const dump = readInventory(db);
  const latest = new Map<string, { snap: number; labels: Record<string, string> }>();
  for (const n of dump.namespaces) {
    const had = latest.get(n.name);
    if (had === undefined || n.snapshotId > had.snap) latest.set(n.name, { snap: n.snapshotId, labels: n.labels });
  }
  const podWorkload = new Map(dump.pods.map((p) => [`${p.namespace}/${p.name}`, `${p.namespace}/${p.workloadName}`]));
  const named = new Map<string, Map<string, NamedPort>>();
  const slicePorts = new Map<string, number>();
  for (const e of dump.endpoints) for (const p of e.ports) slicePorts.set(`${e.namespace}/${e.service}/${p.name}`, p.port);
  for (const s of dump.services) {
    for (const sp of s.ports) {
      if (typeof sp.targetPort !== 'string') continue;
      for (const e of dump.endpoints) {
        if (e.namespace !== s.namespace || e.service !== s.name || e.targetKind !== 'Pod') continue;
        const ep = e.ports.find((p) => p.name === sp.name);
        const w = podWorkload.get(`${e.namespace}/${e.targetName}`);
        if (ep === undefined || w === undefined) continue;
        let m = named.get(w);
        if (m === undefined) named.set(w, (m = new Map()));
        const protocol = ep.protocol === 'UDP' || ep.protocol === 'SCTP' ? ep.protocol : 'TCP';
        m.set(`${sp.targetPort}/${protocol}`, { name: sp.targetPort, port: ep.port, protocol });
      }
    }
  }
  return {
    // The API server sets kubernetes.io/metadata.name (the name, immutable) on every namespace
    // since Kubernetes 1.22, and the proposals select namespaces by it (docs/policies.md): a
    // listing from an older cluster, or one edited by hand, lacks it and denied every such peer.
    namespaceLabels: new Map([...latest].map(([k, v]) => [k, { ...v.labels, [NAMESPACE_NAME_LABEL]: k }])),
    namedPorts: new Map([...named].map(([k, m]) => [k, [...m.values()]])),
    slicePorts,
  };
}

function peer(node: GraphNode, endpoint: Endpoint | null, ip: string | null, x: Extras): Peer {
  const ns = node.namespace;
  return {
    id: node.id,
    kind: node.kind,
    namespace: ns,
    labels: node.labels,
    namespaceLabels: ns !== null ? x.namespaceLabels.get(ns) ?? null : null,
    serviceAccount: node.service_account,
    node: endpoint?.kind === 'workload' ? endpoint.node : endpoint?.kind === 'node' ? endpoint.name : null,
    ip,
    namedPorts: node.kind === 'workload' ? x.namedPorts.get(node.id) ?? [] : [],
    isNamedPortsComplete: false,
  };
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The pod port behind a Service port. A call seen only to a ClusterIP carries the Service's port,
 * but policies apply after the DNAT, to the pod's port: the Service's targetPort (a number, or a
 * container port name the EndpointSlice resolves). Unknown: the Service port stays.
 */
function podPort(svc: ServiceEndpoint, port: number, transport: 'tcp' | 'udp', x: Extras): number {
  const sp = svc.ports.find((p) => p.port === port && p.protocol.toLowerCase() === transport);
  if (sp === undefined || sp.targetPort === null) return port;
  if (typeof sp.targetPort === 'number') return sp.targetPort;
  return x.slicePorts.get(`${svc.namespace}/${svc.name}/${sp.name}`) ?? port;
}

export function simulationCalls(db: Db, q: CallQuery): SimCall[] {
  const index = AttributionIndex.fromDb(db, { trustDomain: q.trustDomain });
  const extras = inventoryExtras(db);
  const nodes = new NodeTable(index.workloads());
  const attributed = attributeCalls(iterateBucketCalls(db, q), index, nodes);
  resolveServices(attributed, index, nodes);
  const merged = mergeSources(attributed);
  const wanted = q.namespaces !== undefined && q.namespaces.length > 0 ? new Set(q.namespaces) : null;

  const out = new Map<string, { call: SimCall; firstMs: number; lastMs: number }>();
  for (const c of merged) {
    const r = c.row;
    const t = r.firstSeenMs;
    const src = nodes.byKey.get(c.source)!;
    const dst = nodes.byKey.get(c.target)!;
    if (wanted !== null && !(src.namespace !== null && wanted.has(src.namespace)) && !(dst.namespace !== null && wanted.has(dst.namespace))) continue;
    const srcEnd = index.attribute(r.srcIp, t);
    const dstEnd = index.attribute(r.dstIp, t);
    // When the destination address is a Service's, the pod behind it (and its address) was not seen.
    const dstIsPod = dstEnd.kind !== 'service';
    const port = dstEnd.kind === 'service' && dst.kind === 'workload' ? podPort(dstEnd, r.dstPort, r.transport, extras) : r.dstPort;
    const key = [c.source, r.srcIp, c.target, dstIsPod ? r.dstIp : '', port, r.transport, r.protocol, r.method, r.path, r.host, r.sni, r.security, c.isViaService ? 1 : 0].join('\u0000');
    let acc = out.get(key);
    if (acc === undefined) {
      acc = {
        call: {
          source: peer(src, srcEnd, r.srcIp, extras),
          destination: peer(dst, dstIsPod ? dstEnd : null, dstIsPod ? r.dstIp : null, extras),
          port, transport: r.transport, protocol: r.protocol,
          method: r.method || null, path: r.path || null, host: r.host || null, sni: r.sni || null,
          security: r.security, via_service: c.isViaService, count: 0, first_seen: '', last_seen: '',
        },
        firstMs: Infinity, lastMs: -Infinity,
      };
      out.set(key, acc);
    }
    acc.call.count += r.count;
    // Hubble verdicts: how many of these the cluster's current policy refused (docs/graph.md).
    if (r.dropped > 0) acc.call.dropped = (acc.call.dropped ?? 0) + r.dropped;
    acc.firstMs = Math.min(acc.firstMs, r.firstSeenMs);
    acc.lastMs = Math.max(acc.lastMs, r.lastSeenMs);
  }
  return [...out.values()].map((a) => ({ ...a.call, first_seen: iso(a.firstMs), last_seen: iso(a.lastMs) })).sort(compareCalls);
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function compareCalls(a: SimCall, b: SimCall): number {
  return cmp(a.source.id, b.source.id) || cmp(a.destination.id, b.destination.id) || a.port - b.port || cmp(a.transport, b.transport)
    || cmp(a.method ?? '', b.method ?? '') || cmp(a.path ?? '', b.path ?? '') || cmp(a.security, b.security)
    || cmp(a.source.ip ?? '', b.source.ip ?? '') || cmp(a.destination.ip ?? '', b.destination.ip ?? '');
}
