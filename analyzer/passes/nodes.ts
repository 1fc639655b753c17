// Nodes of the graph, made once per identity: an attributed endpoint (collector/identity) becomes
// a GraphNode with the id scheme of docs/graph.md. Endpoints are shared frozen objects per pod,
// Service and node, so the key is cached per endpoint object rather than rebuilt per call.
// Nodes are held by key: the public id, except `svc:NS/NAME` for Services, because a Service and
// a workload usually share `NS/NAME` and must stay apart until the level pass decides.
import type { Endpoint, WorkloadRef } from '../../collector/identity/attribute.js';
import type { GraphNode } from '../model.js';

export class NodeTable {
  readonly byKey = new Map<string, GraphNode>();
  /** Addresses seen per node key, in the window. */
  readonly addresses = new Map<string, Set<string>>();
  private readonly idOf = new WeakMap<Endpoint, string>();
  /** Workload details by `NS/NAME`, for Service backends resolved without a pod address. */
  private readonly workloadInfo = new Map<string, GraphNode>();

  constructor(workloads: Iterable<{ namespace: string; name: string; workloadKind: string; serviceAccount: string; spiffe: string; labels: Record<string, string> }>) {
    for (const w of workloads) {
      const id = `${w.namespace}/${w.name}`;
      if (!this.workloadInfo.has(id)) {
        this.workloadInfo.set(id, workloadNode(id, w.namespace, w.name, w.workloadKind, w.serviceAccount, w.spiffe, w.labels));
      }
    }
  }

  /** The node key of `e` (seen at address `ip`), creating the node on first sight. */
  intern(e: Endpoint, ip: string): string {
    const cached = this.idOf.get(e);
    if (cached !== undefined) {
      this.address(cached, ip);
      return cached;
    }
    const node = toNode(e, ip);
    const key = nodeKey(node);
    if (!this.byKey.has(key)) this.byKey.set(key, node);
    // Unnamed externals and unattributed answers are shared by many addresses: no caching.
    if (e.kind === 'workload' || e.kind === 'service' || e.kind === 'node' || (e.kind === 'external' && e.name !== null)) this.idOf.set(e, key);
    this.address(key, ip);
    return key;
  }

  /** The node of a Service backend known only by reference (the client dialled a ClusterIP we never saw DNAT'ed). */
  internWorkload(w: WorkloadRef): string {
    const id = `${w.namespace}/${w.name}`;
    if (!this.byKey.has(id)) this.byKey.set(id, this.workloadInfo.get(id) ?? workloadNode(id, w.namespace, w.name, w.workloadKind, null, null, {}));
    return id;
  }

  address(key: string, ip: string): void {
    let s = this.addresses.get(key);
    if (s === undefined) this.addresses.set(key, (s = new Set()));
    s.add(ip);
  }
}

export const nodeKey = (n: GraphNode): string => (n.kind === 'service' ? `svc:${n.id}` : n.id);

/** The public id of a node key. */
export const publicId = (key: string): string => (key.startsWith('svc:') ? key.slice(4) : key);

function workloadNode(id: string, namespace: string, name: string, kind: string, sa: string | null, spiffe: string | null, labels: Record<string, string>): GraphNode {
  return { id, kind: 'workload', namespace, name, workload_kind: kind, service_account: sa, spiffe, labels, addresses: [], reason: null };
}

const bare = { workload_kind: null, service_account: null, spiffe: null, labels: {}, addresses: [], reason: null };

export function toNode(e: Endpoint, ip: string): GraphNode {
  switch (e.kind) {
    case 'workload':
      return workloadNode(`${e.namespace}/${e.name}`, e.namespace, e.name, e.workloadKind, e.serviceAccount, e.spiffe, { ...e.labels });
    case 'service': return { ...bare, labels: {}, addresses: [], id: `${e.namespace}/${e.name}`, kind: 'service', namespace: e.namespace, name: e.name };
    case 'node': return { ...bare, labels: {}, addresses: [], id: `node:${e.name}`, kind: 'node', namespace: null, name: e.name };
    case 'external': return { ...bare, labels: {}, addresses: [], id: `external:${e.name ?? ip}`, kind: 'external', namespace: null, name: e.name ?? ip };
    case 'unattributed': return { ...bare, labels: {}, addresses: [], id: `unattributed:${ip}`, kind: 'unattributed', namespace: null, name: ip, reason: e.reason };
  }
}
