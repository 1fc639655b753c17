// Typed reads and writes of Kubernetes inventory snapshots and DNS names. A snapshot is written
// in one transaction: a file is either loaded whole or not at all.
import type { Db } from './db.js';

export const SNAPSHOT_TIME_SOURCES = ['flag', 'newest-timestamp', 'now'] as const;
export type SnapshotTimeSource = (typeof SNAPSHOT_TIME_SOURCES)[number];

/** How a pod's workload was found. */
export const OWNER_RESOLUTIONS = ['owner-references', 'pod-template-hash', 'name-convention', 'static-pod', 'bare-pod'] as const;
export type OwnerResolution = (typeof OWNER_RESOLUTIONS)[number];

export type Labels = Record<string, string>;

export interface SnapshotMeta {
  name: string;
  sha256: string;
  takenAtMs: number;
  timeSource: SnapshotTimeSource;
  objects: number;
  skipped: number;
  /** Kinds listed in the snapshot (Pod, Service, ...). */
  kinds: string[];
  loadedAt: string;
}

export interface SnapshotRecord extends SnapshotMeta {
  id: number;
}

export interface NamespaceRow { name: string; labels: Labels }

export interface WorkloadRow {
  namespace: string;
  kind: string;
  name: string;
  uid: string;
  ownerKind: string;
  ownerName: string;
  serviceAccount: string;
  labels: Labels;
  createdMs: number | null;
}

export interface PodAddress {
  ip: string;
  /** When the pod began to hold the address (its creation); null when unknown. */
  validFromMs: number | null;
  /** When it stopped (finished or deleted); null when it still held it at snapshot time. */
  validUntilMs: number | null;
}

export interface PodRow {
  namespace: string;
  name: string;
  uid: string;
  workloadKind: string;
  workloadName: string;
  resolution: OwnerResolution;
  serviceAccount: string;
  node: string;
  labels: Labels;
  phase: string;
  hostNetwork: boolean;
  createdMs: number | null;
  deletedMs: number | null;
  finishedMs: number | null;
  addresses: PodAddress[];
}

export interface ServicePort { name: string; port: number; protocol: string; targetPort: number | string | null }

export const SERVICE_ADDRESS_KINDS = ['cluster-ip', 'external-ip', 'load-balancer'] as const;
export type ServiceAddressKind = (typeof SERVICE_ADDRESS_KINDS)[number];

export interface ServiceRow {
  namespace: string;
  name: string;
  type: string;
  ports: ServicePort[];
  selector: Labels | null;
  createdMs: number | null;
  addresses: Array<{ ip: string; kind: ServiceAddressKind }>;
}

export interface EndpointRow {
  namespace: string;
  slice: string;
  service: string;
  ip: string;
  targetKind: string;
  targetName: string;
  ready: boolean;
  ports: Array<{ name: string; port: number; protocol: string }>;
}

export interface NodeRow {
  name: string;
  podCidrs: string[];
  labels: Labels;
  createdMs: number | null;
  addresses: Array<{ ip: string; type: string }>;
}

export interface SnapshotData {
  namespaces: NamespaceRow[];
  workloads: WorkloadRow[];
  pods: PodRow[];
  services: ServiceRow[];
  endpoints: EndpointRow[];
  nodes: NodeRow[];
}

/** Writes one snapshot and everything in it in one transaction; returns the snapshot id. */
export function writeSnapshot(db: Db, meta: SnapshotMeta, data: SnapshotData): number {
  return db.transaction(() => {
    const id = Number(db.prepare(
      `INSERT INTO inventory_snapshots (name, sha256, taken_at_ms, time_source, objects, skipped, kinds, loaded_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(meta.name, meta.sha256, Math.round(meta.takenAtMs), meta.timeSource, meta.objects, meta.skipped,
      [...meta.kinds].sort().join(','), meta.loadedAt).lastInsertRowid);
    // OR REPLACE: kubectl never lists an object twice, but concatenated files can; the last wins.
    const ns = db.prepare('INSERT OR REPLACE INTO inventory_namespaces (snapshot_id, name, labels) VALUES (?, ?, ?)');
    for (const n of data.namespaces) ns.run(id, n.name, JSON.stringify(n.labels));
    const wl = db.prepare(
      `INSERT OR REPLACE INTO inventory_workloads (snapshot_id, namespace, kind, name, uid, owner_kind, owner_name,
         service_account, labels, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const w of data.workloads) {
      wl.run(id, w.namespace, w.kind, w.name, w.uid, w.ownerKind, w.ownerName, w.serviceAccount, JSON.stringify(w.labels), w.createdMs);
    }
    const pod = db.prepare(
      `INSERT OR REPLACE INTO inventory_pods (snapshot_id, namespace, name, uid, workload_kind, workload_name, resolution,
         service_account, node, labels, phase, host_network, created_ms, deleted_ms, finished_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const addr = db.prepare(
      `INSERT OR REPLACE INTO inventory_pod_addresses (snapshot_id, ip, namespace, pod, valid_from_ms, valid_until_ms)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    for (const p of data.pods) {
      pod.run(id, p.namespace, p.name, p.uid, p.workloadKind, p.workloadName, p.resolution, p.serviceAccount, p.node,
        JSON.stringify(p.labels), p.phase, p.hostNetwork ? 1 : 0, p.createdMs, p.deletedMs, p.finishedMs);
      for (const a of p.addresses) addr.run(id, a.ip, p.namespace, p.name, a.validFromMs, a.validUntilMs);
    }
    const svc = db.prepare(
      `INSERT OR REPLACE INTO inventory_services (snapshot_id, namespace, name, type, ports, selector, created_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    const svcAddr = db.prepare(
      'INSERT OR REPLACE INTO inventory_service_addresses (snapshot_id, ip, namespace, name, kind) VALUES (?, ?, ?, ?, ?)',
    );
    for (const s of data.services) {
      svc.run(id, s.namespace, s.name, s.type, JSON.stringify(s.ports), s.selector === null ? null : JSON.stringify(s.selector), s.createdMs);
      for (const a of s.addresses) svcAddr.run(id, a.ip, s.namespace, s.name, a.kind);
    }
    const ep = db.prepare(
      `INSERT OR REPLACE INTO inventory_endpoints (snapshot_id, namespace, slice, service, ip, target_kind, target_name, ready, ports)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const e of data.endpoints) {
      ep.run(id, e.namespace, e.slice, e.service, e.ip, e.targetKind, e.targetName, e.ready ? 1 : 0, JSON.stringify(e.ports));
    }
    const node = db.prepare('INSERT OR REPLACE INTO inventory_nodes (snapshot_id, name, pod_cidrs, labels, created_ms) VALUES (?, ?, ?, ?, ?)');
    const nodeAddr = db.prepare('INSERT OR REPLACE INTO inventory_node_addresses (snapshot_id, ip, name, type) VALUES (?, ?, ?, ?)');
    for (const n of data.nodes) {
      node.run(id, n.name, JSON.stringify(n.podCidrs), JSON.stringify(n.labels), n.createdMs);
      for (const a of n.addresses) nodeAddr.run(id, a.ip, n.name, a.type);
    }
    return id;
  }).immediate();
}

interface SnapshotDbRow {
  id: number; name: string; sha256: string; taken_at_ms: number; time_source: SnapshotTimeSource;
  objects: number; skipped: number; kinds: string; loaded_at: string;
}

function toSnapshot(r: SnapshotDbRow): SnapshotRecord {
  return {
    id: r.id, name: r.name, sha256: r.sha256, takenAtMs: r.taken_at_ms, timeSource: r.time_source,
    objects: r.objects, skipped: r.skipped, kinds: r.kinds === '' ? [] : r.kinds.split(','), loadedAt: r.loaded_at,
  };
}

export function listSnapshots(db: Db): SnapshotRecord[] {
  return (db.prepare('SELECT * FROM inventory_snapshots ORDER BY taken_at_ms, id').all() as SnapshotDbRow[]).map(toSnapshot);
}

export function findSnapshotBySha(db: Db, sha256: string): SnapshotRecord | undefined {
  const r = db.prepare('SELECT * FROM inventory_snapshots WHERE sha256 = ? ORDER BY id LIMIT 1').get(sha256) as SnapshotDbRow | undefined;
  return r && toSnapshot(r);
}

const parseLabels = (s: string): Labels => JSON.parse(s) as Labels;

/** Every snapshot's rows, for building the attribution index once. */
export interface InventoryDump {
  snapshots: SnapshotRecord[];
  namespaces: Array<NamespaceRow & { snapshotId: number }>;
  workloads: Array<WorkloadRow & { snapshotId: number }>;
  pods: Array<PodRow & { snapshotId: number }>;
  services: Array<ServiceRow & { snapshotId: number }>;
  endpoints: Array<EndpointRow & { snapshotId: number }>;
  nodes: Array<NodeRow & { snapshotId: number }>;
}

export function readInventory(db: Db): InventoryDump {
  const snapshots = listSnapshots(db);
  const namespaces = (db.prepare('SELECT snapshot_id, name, labels FROM inventory_namespaces').all() as Array<{ snapshot_id: number; name: string; labels: string }>)
    .map((r) => ({ snapshotId: r.snapshot_id, name: r.name, labels: parseLabels(r.labels) }));
  const workloads = (db.prepare('SELECT * FROM inventory_workloads').all() as Array<{
    snapshot_id: number; namespace: string; kind: string; name: string; uid: string; owner_kind: string;
    owner_name: string; service_account: string; labels: string; created_ms: number | null;
  }>).map((r) => ({
    snapshotId: r.snapshot_id, namespace: r.namespace, kind: r.kind, name: r.name, uid: r.uid, ownerKind: r.owner_kind,
    ownerName: r.owner_name, serviceAccount: r.service_account, labels: parseLabels(r.labels), createdMs: r.created_ms,
  }));
  const addrRows = db.prepare('SELECT * FROM inventory_pod_addresses').all() as Array<{
    snapshot_id: number; ip: string; namespace: string; pod: string; valid_from_ms: number | null; valid_until_ms: number | null;
  }>;
  const addrs = new Map<string, PodAddress[]>();
  for (const a of addrRows) {
    const k = `${a.snapshot_id}/${a.namespace}/${a.pod}`;
    let l = addrs.get(k);
    if (!l) addrs.set(k, (l = []));
    l.push({ ip: a.ip, validFromMs: a.valid_from_ms, validUntilMs: a.valid_until_ms });
  }
  const pods = (db.prepare('SELECT * FROM inventory_pods ORDER BY snapshot_id, namespace, name').all() as Array<{
    snapshot_id: number; namespace: string; name: string; uid: string; workload_kind: string; workload_name: string;
    resolution: OwnerResolution; service_account: string; node: string; labels: string; phase: string;
    host_network: number; created_ms: number | null; deleted_ms: number | null; finished_ms: number | null;
  }>).map((r) => ({
    snapshotId: r.snapshot_id, namespace: r.namespace, name: r.name, uid: r.uid, workloadKind: r.workload_kind,
    workloadName: r.workload_name, resolution: r.resolution, serviceAccount: r.service_account, node: r.node,
    labels: parseLabels(r.labels), phase: r.phase, hostNetwork: r.host_network === 1, createdMs: r.created_ms,
    deletedMs: r.deleted_ms, finishedMs: r.finished_ms, addresses: addrs.get(`${r.snapshot_id}/${r.namespace}/${r.name}`) ?? [],
  }));
  const svcAddrRows = db.prepare('SELECT * FROM inventory_service_addresses').all() as Array<{
    snapshot_id: number; ip: string; namespace: string; name: string; kind: ServiceAddressKind;
  }>;
  const svcAddrs = new Map<string, Array<{ ip: string; kind: ServiceAddressKind }>>();
  for (const a of svcAddrRows) {
    const k = `${a.snapshot_id}/${a.namespace}/${a.name}`;
    let l = svcAddrs.get(k);
    if (!l) svcAddrs.set(k, (l = []));
    l.push({ ip: a.ip, kind: a.kind });
  }
  const services = (db.prepare('SELECT * FROM inventory_services ORDER BY snapshot_id, namespace, name').all() as Array<{
    snapshot_id: number; namespace: string; name: string; type: string; ports: string; selector: string | null; created_ms: number | null;
  }>).map((r) => ({
    snapshotId: r.snapshot_id, namespace: r.namespace, name: r.name, type: r.type,
    ports: JSON.parse(r.ports) as ServicePort[], selector: r.selector === null ? null : parseLabels(r.selector),
    createdMs: r.created_ms, addresses: svcAddrs.get(`${r.snapshot_id}/${r.namespace}/${r.name}`) ?? [],
  }));
  const endpoints = (db.prepare('SELECT * FROM inventory_endpoints').all() as Array<{
    snapshot_id: number; namespace: string; slice: string; service: string; ip: string; target_kind: string;
    target_name: string; ready: number; ports: string;
  }>).map((r) => ({
    snapshotId: r.snapshot_id, namespace: r.namespace, slice: r.slice, service: r.service, ip: r.ip,
    targetKind: r.target_kind, targetName: r.target_name, ready: r.ready === 1,
    ports: JSON.parse(r.ports) as EndpointRow['ports'],
  }));
  const nodeAddrRows = db.prepare('SELECT * FROM inventory_node_addresses').all() as Array<{ snapshot_id: number; ip: string; name: string; type: string }>;
  const nodeAddrs = new Map<string, Array<{ ip: string; type: string }>>();
  for (const a of nodeAddrRows) {
    const k = `${a.snapshot_id}/${a.name}`;
    let l = nodeAddrs.get(k);
    if (!l) nodeAddrs.set(k, (l = []));
    l.push({ ip: a.ip, type: a.type });
  }
  const nodes = (db.prepare('SELECT * FROM inventory_nodes ORDER BY snapshot_id, name').all() as Array<{
    snapshot_id: number; name: string; pod_cidrs: string; labels: string; created_ms: number | null;
  }>).map((r) => ({
    snapshotId: r.snapshot_id, name: r.name, podCidrs: JSON.parse(r.pod_cidrs) as string[], labels: parseLabels(r.labels),
    createdMs: r.created_ms, addresses: nodeAddrs.get(`${r.snapshot_id}/${r.name}`) ?? [],
  }));
  return { snapshots, namespaces, workloads, pods, services, endpoints, nodes };
}

export interface DnsAnswer {
  ip: string;
  name: string;
  tsMs: number;
}

/**
 * Records DNS answers (A/AAAA records the collector saw): one upsert per (ip, name) that widens
 * its first/last-seen interval. Call it once per batch; it runs in one transaction.
 */
export function recordDnsAnswers(db: Db, rows: Iterable<DnsAnswer>): number {
  const up = db.prepare(
    `INSERT INTO dns_names (ip, name, first_seen_ms, last_seen_ms) VALUES (@ip, @name, @ts, @ts)
     ON CONFLICT (ip, name) DO UPDATE SET first_seen_ms = min(first_seen_ms, excluded.first_seen_ms),
       last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)`,
  );
  return db.transaction(() => {
    let n = 0;
    for (const r of rows) {
      // DNS names are case-insensitive and often end with the root dot; store one spelling.
      const name = r.name.toLowerCase().replace(/\.$/, '');
      if (name === '' || r.ip === '') continue;
      up.run({ ip: r.ip, name, ts: Math.floor(r.tsMs) });
      n++;
    }
    return n;
  })() as number;
}

export interface DnsNameRow { ip: string; name: string; firstSeenMs: number; lastSeenMs: number }

export function readDnsNames(db: Db): DnsNameRow[] {
  return (db.prepare('SELECT ip, name, first_seen_ms, last_seen_ms FROM dns_names ORDER BY ip, last_seen_ms DESC, name').all() as Array<{
    ip: string; name: string; first_seen_ms: number; last_seen_ms: number;
  }>).map((r) => ({ ip: r.ip, name: r.name, firstSeenMs: r.first_seen_ms, lastSeenMs: r.last_seen_ms }));
}
