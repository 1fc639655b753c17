// Who an address was at a given time. Built once from the store (every inventory snapshot and the
// DNS names the collector saw), then answers (ip, tsMs) → Endpoint with one map lookup and a scan
// of that address's few intervals: no allocation per lookup, so 100k lookups cost milliseconds.
// docs/identity.md explains the interval rules.
import type { Db } from '../store/db.js';
import { readDnsNames, readInventory, type DnsNameRow, type InventoryDump, type Labels, type OwnerResolution, type ServicePort } from '../store/inventory.js';
import { workloadLabels } from '../inventory/resolve.js';
import { inCidr, isPrivate, parseCidr, parseIp, type Cidr } from './ip.js';

export const UNATTRIBUTED_REASONS = ['no-inventory', 'unknown-address', 'address-not-owned-at-that-time', 'ambiguous'] as const;
export type UnattributedReason = (typeof UNATTRIBUTED_REASONS)[number];

export interface WorkloadRef {
  namespace: string;
  name: string;
  workloadKind: string;
}

export interface WorkloadEndpoint extends WorkloadRef {
  kind: 'workload';
  serviceAccount: string;
  /** spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT, Istio's workload identity. */
  spiffe: string;
  /** The pod's labels without the per-pod ones (pod-template-hash, ...): what a selector would use. */
  labels: Labels;
  node: string;
  pod: string;
  /** How the workload was found; 'pod-template-hash' and 'name-convention' are inferences. */
  resolution: OwnerResolution;
}

export interface ServiceEndpoint {
  kind: 'service';
  namespace: string;
  name: string;
  ports: ServicePort[];
  /** Workloads behind the service (EndpointSlices, else selector match), sorted. */
  backends: WorkloadRef[];
}

export interface NodeEndpoint { kind: 'node'; name: string }
export interface ExternalEndpoint { kind: 'external'; name: string | null }
export interface UnattributedEndpoint { kind: 'unattributed'; reason: UnattributedReason }

export type Endpoint = WorkloadEndpoint | ServiceEndpoint | NodeEndpoint | ExternalEndpoint | UnattributedEndpoint;

export interface AttributionOptions {
  /** SPIFFE trust domain; Istio's default is cluster.local. */
  trustDomain?: string;
}

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

interface Interval {
  start: number;
  end: number;
  /** Identity for ambiguity checks: two intervals of one owner never conflict. */
  owner: string;
  endpoint: WorkloadEndpoint | ServiceEndpoint | NodeEndpoint;
  /** Latest snapshot time at which the owner was seen holding the address. */
  lastSeen: number;
  /** The owner finished (Succeeded/Failed pod): its end is evidence, not a guess. */
  isTerminal: boolean;
  /** Snapshots that listed this owner with this address. */
  snapshots: Set<number>;
}

const NOT_OWNED: UnattributedEndpoint = Object.freeze({ kind: 'unattributed', reason: 'address-not-owned-at-that-time' });
const AMBIGUOUS: UnattributedEndpoint = Object.freeze({ kind: 'unattributed', reason: 'ambiguous' });
const NO_INVENTORY: UnattributedEndpoint = Object.freeze({ kind: 'unattributed', reason: 'no-inventory' });
const UNKNOWN: UnattributedEndpoint = Object.freeze({ kind: 'unattributed', reason: 'unknown-address' });
const EXTERNAL_UNNAMED: ExternalEndpoint = Object.freeze({ kind: 'external', name: null });

/** A summary row for `trustmap inventory list`. */
export interface WorkloadSummary extends WorkloadRef {
  serviceAccount: string;
  spiffe: string;
  labels: Labels;
  resolution: OwnerResolution;
  pods: Array<{ name: string; node: string; addresses: string[]; from: number | null; until: number | null; phase: string }>;
}

export interface ServiceSummary {
  namespace: string;
  name: string;
  addresses: string[];
  ports: ServicePort[];
  backends: WorkloadRef[];
}

export class AttributionIndex {
  private readonly byIp = new Map<string, Interval[]>();
  private readonly dns = new Map<string, Array<{ first: number; last: number; endpoint: ExternalEndpoint }>>();
  private readonly podCidrs: Cidr[] = [];
  private readonly fallback = new Map<string, UnattributedEndpoint | ExternalEndpoint>();
  readonly snapshotCount: number;
  readonly trustDomain: string;
  private readonly workloadList: WorkloadSummary[] = [];
  private readonly serviceList: ServiceSummary[] = [];

  static fromDb(db: Db, opts: AttributionOptions = {}): AttributionIndex {
    return new AttributionIndex(readInventory(db), readDnsNames(db), opts);
  }

  constructor(dump: InventoryDump, dnsNames: DnsNameRow[], opts: AttributionOptions = {}) {
    this.trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    this.snapshotCount = dump.snapshots.length;
    const snapTime = new Map(dump.snapshots.map((s) => [s.id, s.takenAtMs]));
    // Later snapshots that list a kind end the life of objects of that kind they no longer list.
    const listing = (kind: string) => dump.snapshots.filter((s) => s.kinds.includes(kind)).map((s) => s.takenAtMs).sort((a, b) => a - b);
    const absentAfter = (times: number[], lastSeen: number) => times.find((t) => t > lastSeen) ?? Infinity;

    this.buildPods(dump, snapTime, listing('Pod'), absentAfter);
    this.buildServices(dump, snapTime, listing('Service'), absentAfter);
    this.buildNodes(dump, snapTime, listing('Node'), absentAfter);
    for (const list of this.byIp.values()) settle(list);

    for (const n of dump.nodes) for (const c of n.podCidrs) { const p = parseCidr(c); if (p) this.podCidrs.push(p); }
    for (const d of dnsNames) {
      // In-cluster names (svc.cluster.local) point at services and pods, never at the outside.
      if (/\.cluster\.local$|\.svc$/.test(d.name)) continue;
      let l = this.dns.get(d.ip);
      if (!l) this.dns.set(d.ip, (l = []));
      l.push({ first: d.firstSeenMs, last: d.lastSeenMs, endpoint: Object.freeze({ kind: 'external', name: d.name }) });
    }
    for (const l of this.dns.values()) l.sort((a, b) => b.last - a.last || a.endpoint.name!.localeCompare(b.endpoint.name!));
  }

  private add(ip: string, iv: Interval): void {
    let l = this.byIp.get(ip);
    if (!l) this.byIp.set(ip, (l = []));
    const same = l.find((x) => x.owner === iv.owner && x.start === iv.start);
    if (same) {
      same.end = Math.min(same.end, iv.end);
      same.lastSeen = Math.max(same.lastSeen, iv.lastSeen);
      for (const s of iv.snapshots) same.snapshots.add(s);
    } else {
      l.push(iv);
    }
  }

  private buildPods(dump: InventoryDump, snapTime: Map<number, number>, podListings: number[], absentAfter: (t: number[], last: number) => number): void {
    // One pod across snapshots: the uid when present, else namespace/name/creation.
    const groups = new Map<string, InventoryDump['pods']>();
    for (const p of dump.pods) {
      const k = p.uid !== '' ? p.uid : `${p.namespace}/${p.name}/${p.createdMs ?? ''}`;
      let g = groups.get(k);
      if (!g) groups.set(k, (g = []));
      g.push(p);
    }
    const workloads = new Map<string, WorkloadSummary>();
    for (const rows of groups.values()) {
      rows.sort((a, b) => (snapTime.get(a.snapshotId) ?? 0) - (snapTime.get(b.snapshotId) ?? 0));
      const latest = rows[rows.length - 1];
      const seenTimes = rows.map((r) => snapTime.get(r.snapshotId) ?? 0);
      const lastSeen = Math.max(...seenTimes);
      const firstSeen = Math.min(...seenTimes);
      const start = latest.createdMs ?? firstSeen;
      const isTerminal = latest.phase === 'Succeeded' || latest.phase === 'Failed';
      let own = Infinity;
      for (const r of rows) for (const a of r.addresses) if (a.validUntilMs !== null) own = Math.min(own, a.validUntilMs);
      const end = Math.min(own, absentAfter(podListings, lastSeen));
      const labels = workloadLabels(latest.labels);
      const spiffe = spiffeId(this.trustDomain, latest.namespace, latest.serviceAccount);
      const wkey = `${latest.namespace}/${latest.workloadKind}/${latest.workloadName}`;
      const endpoint: WorkloadEndpoint | NodeEndpoint = latest.hostNetwork
        // A host-network pod answers on its node's address: traffic from it is the node's.
        ? Object.freeze({ kind: 'node', name: latest.node })
        : Object.freeze({
          kind: 'workload', namespace: latest.namespace, name: latest.workloadName, workloadKind: latest.workloadKind,
          serviceAccount: latest.serviceAccount, spiffe, labels: Object.freeze(labels), node: latest.node, pod: latest.name,
          resolution: latest.resolution,
        });
      const ips = new Set<string>();
      for (const r of rows) for (const a of r.addresses) ips.add(a.ip);
      for (const ip of ips) {
        const snaps = new Set(rows.filter((r) => r.addresses.some((a) => a.ip === ip)).map((r) => r.snapshotId));
        this.add(ip, {
          start, end, owner: endpoint.kind === 'node' ? `node/${endpoint.name}` : `pod/${latest.namespace}/${latest.name}/${start}`,
          endpoint, lastSeen, isTerminal, snapshots: snaps,
        });
      }
      let w = workloads.get(wkey);
      if (!w) {
        w = {
          namespace: latest.namespace, name: latest.workloadName, workloadKind: latest.workloadKind,
          serviceAccount: latest.serviceAccount, spiffe, labels, resolution: latest.resolution, pods: [],
        };
        workloads.set(wkey, w);
      }
      w.pods.push({ name: latest.name, node: latest.node, addresses: [...ips].sort(), from: start, until: end === Infinity ? null : end, phase: latest.phase });
    }
    for (const w of workloads.values()) w.pods.sort((a, b) => a.name.localeCompare(b.name) || (a.from ?? 0) - (b.from ?? 0));
    this.workloadList.push(...[...workloads.values()].sort((a, b) =>
      a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name) || a.workloadKind.localeCompare(b.workloadKind)));
  }

  private buildServices(dump: InventoryDump, snapTime: Map<number, number>, listings: number[], absentAfter: (t: number[], last: number) => number): void {
    // Backends: EndpointSlice targets first (what kube-proxy really uses), else the selector.
    const podWorkload = new Map<string, WorkloadRef>();
    for (const p of dump.pods) if (!p.hostNetwork) podWorkload.set(`${p.namespace}/${p.name}`, { namespace: p.namespace, name: p.workloadName, workloadKind: p.workloadKind });
    const sliceBackends = new Map<string, Map<string, WorkloadRef>>();
    for (const e of dump.endpoints) {
      if (e.targetKind !== 'Pod' || e.service === '') continue;
      const w = podWorkload.get(`${e.namespace}/${e.targetName}`);
      if (!w) continue;
      const k = `${e.namespace}/${e.service}`;
      let m = sliceBackends.get(k);
      if (!m) sliceBackends.set(k, (m = new Map()));
      m.set(`${w.namespace}/${w.workloadKind}/${w.name}`, w);
    }
    const groups = new Map<string, InventoryDump['services']>();
    for (const s of dump.services) {
      const k = `${s.namespace}/${s.name}/${s.createdMs ?? ''}`;
      let g = groups.get(k);
      if (!g) groups.set(k, (g = []));
      g.push(s);
    }
    for (const rows of groups.values()) {
      rows.sort((a, b) => (snapTime.get(a.snapshotId) ?? 0) - (snapTime.get(b.snapshotId) ?? 0));
      const latest = rows[rows.length - 1];
      const seen = rows.map((r) => snapTime.get(r.snapshotId) ?? 0);
      const lastSeen = Math.max(...seen);
      const start = latest.createdMs ?? Math.min(...seen);
      const end = absentAfter(listings, lastSeen);
      const backends = new Map(sliceBackends.get(`${latest.namespace}/${latest.name}`) ?? []);
      if (backends.size === 0 && latest.selector !== null) {
        const sel = Object.entries(latest.selector);
        for (const p of dump.pods) {
          if (p.namespace !== latest.namespace || p.hostNetwork || p.phase === 'Succeeded' || p.phase === 'Failed') continue;
          if (sel.every(([k, v]) => p.labels[k] === v)) backends.set(`${p.namespace}/${p.workloadKind}/${p.workloadName}`, { namespace: p.namespace, name: p.workloadName, workloadKind: p.workloadKind });
        }
      }
      const sorted = [...backends.values()].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name) || a.workloadKind.localeCompare(b.workloadKind));
      const endpoint: ServiceEndpoint = Object.freeze({ kind: 'service', namespace: latest.namespace, name: latest.name, ports: latest.ports, backends: sorted });
      const ips = new Set<string>();
      for (const r of rows) for (const a of r.addresses) ips.add(a.ip);
      for (const ip of ips) {
        this.add(ip, { start, end, owner: `svc/${latest.namespace}/${latest.name}`, endpoint, lastSeen, isTerminal: false, snapshots: new Set(rows.map((r) => r.snapshotId)) });
      }
      this.serviceList.push({ namespace: latest.namespace, name: latest.name, addresses: [...ips].sort(), ports: latest.ports, backends: sorted });
    }
    this.serviceList.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  }

  private buildNodes(dump: InventoryDump, snapTime: Map<number, number>, listings: number[], absentAfter: (t: number[], last: number) => number): void {
    const groups = new Map<string, InventoryDump['nodes']>();
    for (const n of dump.nodes) {
      let g = groups.get(n.name);
      if (!g) groups.set(n.name, (g = []));
      g.push(n);
    }
    for (const rows of groups.values()) {
      const seen = rows.map((r) => snapTime.get(r.snapshotId) ?? 0);
      const lastSeen = Math.max(...seen);
      const latest = rows[seen.indexOf(lastSeen)];
      // Nodes outlive every capture we are likely to see; before its creation the address is not its.
      const start = latest.createdMs ?? -Infinity;
      const endpoint: NodeEndpoint = Object.freeze({ kind: 'node', name: latest.name });
      const ips = new Set<string>();
      for (const r of rows) for (const a of r.addresses) ips.add(a.ip);
      for (const ip of ips) {
        this.add(ip, { start, end: absentAfter(listings, lastSeen), owner: `node/${latest.name}`, endpoint, lastSeen, isTerminal: false, snapshots: new Set(rows.map((r) => r.snapshotId)) });
      }
    }
  }

  /** Who `ip` was at `tsMs` (epoch milliseconds). */
  attribute(ip: string, tsMs: number): Endpoint {
    const list = this.byIp.get(ip);
    if (list !== undefined) {
      let found: Interval | null = null;
      // Sorted by start; the list is short (the owners an address ever had).
      for (let i = 0; i < list.length; i++) {
        const iv = list[i];
        if (iv.start > tsMs) break;
        if (tsMs < iv.end) {
          if (found !== null && found.owner !== iv.owner) return AMBIGUOUS;
          found = iv;
        }
      }
      return found !== null ? found.endpoint : NOT_OWNED;
    }
    return this.unknown(ip, tsMs);
  }

  /** The Service whose ClusterIP (or external/LB IP) `ip` was at `tsMs`, or null. */
  serviceAt(ip: string, tsMs: number): ServiceEndpoint | null {
    const e = this.attribute(ip, tsMs);
    return e.kind === 'service' ? e : null;
  }

  private unknown(ip: string, tsMs: number): Endpoint {
    const named = this.dns.get(ip);
    if (named !== undefined) {
      // The name answered closest to the call: one whose seen interval covers it, else the last before it.
      for (const d of named) if (d.first <= tsMs && tsMs <= d.last) return d.endpoint;
      for (const d of named) if (d.last <= tsMs) return d.endpoint;
      return named[named.length - 1].endpoint;
    }
    let f = this.fallback.get(ip);
    if (f === undefined) {
      f = this.classify(ip);
      this.fallback.set(ip, f);
    }
    return f;
  }

  private classify(ip: string): UnattributedEndpoint | ExternalEndpoint {
    if (this.snapshotCount === 0) return NO_INVENTORY;
    const p = parseIp(ip);
    if (p === null) return UNKNOWN;
    if (this.podCidrs.some((c) => inCidr(p, c))) return UNKNOWN;
    // Without pod CIDRs, a private address is more likely an unlisted pod than the internet.
    return isPrivate(ip) ? UNKNOWN : EXTERNAL_UNNAMED;
  }

  workloads(): readonly WorkloadSummary[] {
    return this.workloadList;
  }

  services(): readonly ServiceSummary[] {
    return this.serviceList;
  }
}

/**
 * Resolves overlapping claims on one address. Kubernetes never gives one IP to two running pods;
 * overlaps come from what snapshots cannot see (exact IP hand-over times):
 * - a finished pod held the address until it finished; a pod still holding it later got it after;
 * - of two running pods, the earlier one released it when the later was created, or when it was
 *   last seen holding it if that is later;
 * - two owners listed with the same address in the same snapshot stay overlapping: `ambiguous`.
 */
function settle(list: Interval[]): void {
  list.sort((a, b) => a.start - b.start || a.end - b.end);
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      const a = list[i];
      const b = list[j];
      if (a.owner === b.owner || a.end <= b.start || b.end <= a.start) continue;
      // A finished pod keeps status.podIP though the CNI released it, so only two live claims in
      // one listing are a real conflict.
      if (!a.isTerminal && !b.isTerminal && [...a.snapshots].some((s) => b.snapshots.has(s))) continue;
      if (a.isTerminal !== b.isTerminal) {
        const t = a.isTerminal ? a : b;
        const n = a.isTerminal ? b : a;
        if (n.start <= t.start && n.lastSeen <= t.start) n.end = Math.min(n.end, t.start);
        else n.start = Math.max(n.start, t.end);
      } else if (a.isTerminal) {
        const [first, second] = a.end <= b.end ? [a, b] : [b, a];
        second.start = Math.max(second.start, first.end);
      } else {
        const boundary = Math.max(b.start, a.lastSeen);
        a.end = Math.min(a.end, boundary);
        b.start = Math.max(b.start, boundary);
      }
    }
  }
  // Drop claims that were squeezed to nothing and restore the order lookups rely on.
  for (let i = list.length - 1; i >= 0; i--) if (list[i].end <= list[i].start) list.splice(i, 1);
  list.sort((a, b) => a.start - b.start || a.end - b.end);
}

/** Builds the index from the store once; call attribute() on it per lookup. */
export function buildAttributionIndex(db: Db, opts: AttributionOptions = {}): AttributionIndex {
  return AttributionIndex.fromDb(db, opts);
}

/** Convenience for one-off lookups; build the index yourself when attributing many calls. */
export function attribute(index: AttributionIndex, ip: string, tsMs: number): Endpoint {
  return index.attribute(ip, tsMs);
}

/** The Service behind a service address (ClusterIP) at `tsMs`, or null. */
export function serviceForAddress(index: AttributionIndex, ip: string, tsMs: number): ServiceEndpoint | null {
  return index.serviceAt(ip, tsMs);
}
