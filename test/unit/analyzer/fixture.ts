// Small real stores for the analyzer's tests and benchmark: calls written through the collector's
// own write path (CallWriter inside an IngestTransaction) and inventories through writeSnapshot,
// so the analyzer reads exactly what an ingest would have left.
import { AggRow } from '../../../collector/aggregate.js';
import type { CallKey } from '../../../collector/model.js';
import { CallWriter } from '../../../collector/store/calls.js';
import { IngestTransaction } from '../../../collector/store/captures.js';
import { VerdictWriter, type VerdictRow } from '../../../collector/store/telemetry.js';
import type { Db } from '../../../collector/store/db.js';
import { writeSnapshot, type PodRow, type ServiceRow, type SnapshotData, type WorkloadRow } from '../../../collector/store/inventory.js';

export const HOUR = 36e5;

export interface CallSpec extends Partial<CallKey> {
  srcIp: string;
  dstIp: string;
  dstPort: number;
  atMs: number;
  count?: number;
  credentials?: boolean;
  /** Of count, the calls Hubble saw DROPPED (a call_verdicts row, as the Hubble ingest writes). */
  dropped?: number;
}

/** Writes calls in one transaction; each lands in the hour bucket of its atMs. */
export function writeCalls(db: Db, specs: Iterable<CallSpec>): number {
  const rows: AggRow[] = [];
  const verdicts: VerdictRow[] = [];
  for (const s of specs) {
    const key: CallKey = {
      bucketMs: Math.floor(s.atMs / HOUR) * HOUR, source: s.source ?? 'pcap', node: s.node ?? '', srcIp: s.srcIp, dstIp: s.dstIp,
      serviceIp: s.serviceIp ?? '', dstPort: s.dstPort, transport: s.transport ?? 'tcp', protocol: s.protocol ?? 'http',
      method: s.method ?? '', path: s.path ?? '', host: s.host ?? '', sni: s.sni ?? '', alpn: s.alpn ?? '', security: s.security ?? 'plaintext',
      securityReason: s.securityReason ?? '', direction: s.direction ?? 'observed',
    };
    const r = new AggRow(key, JSON.stringify(key));
    r.count = s.count ?? 1;
    r.connections = 1;
    r.bytes = 100 * r.count;
    r.seen(s.atMs, s.atMs + 10);
    r.credentialsInPlaintext = s.credentials ? 1 : 0;
    rows.push(r);
    if (s.dropped !== undefined) verdicts.push({ keyString: r.keyString, key, verdict: 'DROPPED', count: s.dropped });
  }
  const tx = new IngestTransaction(db);
  tx.begin();
  try {
    new CallWriter(db).write(rows);
    new VerdictWriter(db).write(verdicts);
    tx.commit();
  } catch (err) {
    tx.rollback();
    throw err;
  }
  return rows.length;
}

export function pod(namespace: string, workload: string, ip: string, o: Partial<PodRow> = {}): PodRow {
  const name = o.name ?? `${workload}-${ip.replace(/\W/g, '')}`;
  return {
    namespace, name, uid: o.uid ?? `${namespace}-${name}`, workloadKind: 'Deployment', workloadName: workload, resolution: 'owner-references',
    serviceAccount: workload, node: 'node-1', labels: { app: workload }, phase: 'Running', hostNetwork: false,
    createdMs: 0, deletedMs: null, finishedMs: null, addresses: [{ ip, validFromMs: o.createdMs ?? 0, validUntilMs: null }], ...o,
  };
}

export function service(namespace: string, name: string, clusterIp: string, selector: Record<string, string> = { app: name }): ServiceRow {
  return { namespace, name, type: 'ClusterIP', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }], selector, createdMs: 0,
    addresses: [{ ip: clusterIp, kind: 'cluster-ip' }] };
}

export function controller(namespace: string, kind: string, name: string): WorkloadRow {
  return { namespace, kind, name, uid: `${namespace}-${kind}-${name}`, ownerKind: '', ownerName: '', serviceAccount: name, labels: {}, createdMs: 0 };
}

export function snapshot(db: Db, takenAtMs: number, data: Partial<SnapshotData>): number {
  const full: SnapshotData = { namespaces: [], workloads: [], pods: [], services: [], endpoints: [], nodes: [], ...data };
  return writeSnapshot(db, {
    name: `snapshot-${takenAtMs}`, sha256: `${takenAtMs}-${Math.random()}`, takenAtMs, timeSource: 'flag',
    objects: full.pods.length + full.services.length, skipped: 0, kinds: ['Pod', 'Service', 'Node', 'Namespace'], loadedAt: new Date(0).toISOString(),
  }, full);
}
