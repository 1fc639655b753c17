// expected-calls.json: the calls a run made, from the servers' ledgers (what completed) joined with
// definitions.ts (who is who, which address the client dialled, what ALPN it offered).
//
// Two views of the same run:
//  - `calls`: what a packet capture can show. A call inside TLS is one `protocol: "tls"` row per
//    connection (sni, alpn, method/path null); plaintext HTTP and gRPC are one row per method and
//    path template (count = requests); DNS one row per client (count = queries); raw TCP one row
//    (count = connections).
//  - `application_calls`: what the applications did, including the HTTP inside TLS.
import type { CallDef, PodDef } from './definitions.js';
import {
  ADMIN_PORT, APP_CALLS, NODE_IP, NODE_NAME, PODS, SCRAPE_CALL_ID, PROBE_CALL_ID, DNS_CALL_ID, podsOf,
  serviceByKey,
} from './definitions.js';
import type { LedgerEntry } from './ledger.js';

export interface Endpoint {
  kind: 'pod' | 'node' | 'external';
  namespace: string | null;
  workload: string | null;
  pod: string | null;
  ip: string;
}

export interface ExpectedCall {
  source: Endpoint;
  destination: Endpoint & { service_ip: string | null; service_port: number | null };
  call_id: string;
  port: number;
  transport: 'tcp' | 'udp';
  protocol: 'http' | 'http2' | 'grpc' | 'tls' | 'dns' | 'tcp';
  method: string | null;
  path: string | null;
  host: string | null;
  security: 'plaintext' | 'tls' | 'mtls';
  sni: string | null;
  alpn: string[] | null;
  tls_version: string | null;
  /** An Authorization header travelled with these requests. */
  credentials: boolean;
  /** DNS rows: each query name with its A answer (null: NXDOMAIN or not an A query). */
  dns_queries: Array<{ name: string; qtype: number; answer: string | null; count: number }> | null;
  count: number;
}

export interface ExpectedCalls {
  format: 'trustmap-testbed-expected-calls/1';
  node: { name: string; ip: string };
  capture: { started_at: string; seconds: number } | null;
  notes: string[];
  calls: ExpectedCall[];
  application_calls: ExpectedCall[];
}

const endpointOf = (ip: string): Endpoint => {
  if (ip === NODE_IP) return { kind: 'node', namespace: null, workload: null, pod: NODE_NAME, ip };
  const p = PODS.find((x) => x.ip === ip);
  if (!p) throw new Error(`ground truth: unknown address ${ip}`);
  if (!p.isInCluster) return { kind: 'external', namespace: null, workload: p.workload, pod: null, ip };
  return { kind: 'pod', namespace: p.namespace, workload: p.workload, pod: p.name, ip };
};

const podAt = (ip: string): PodDef | undefined => PODS.find((p) => p.ip === ip);

/** The call definition behind a ledger entry, and the address the client dialled. */
const callFor = (e: LedgerEntry): { id: string; def: CallDef | null; serviceIp: string | null; servicePort: number | null } => {
  if (e.kind === 'dns-query') {
    const svc = serviceByKey('kube-system/kube-dns');
    return { id: DNS_CALL_ID, def: null, serviceIp: svc.clusterIP, servicePort: 53 };
  }
  if (e.port === ADMIN_PORT) {
    return { id: e.srcIp === NODE_IP ? PROBE_CALL_ID : SCRAPE_CALL_ID, def: null, serviceIp: null, servicePort: null };
  }
  const src = podAt(e.srcIp);
  const dst = podAt(e.dstIp);
  const def = APP_CALLS.find((c) => c.port === e.port && src && dst &&
    podsOf(c.from).includes(src) && podsOf(c.to).includes(dst));
  if (!def) throw new Error(`ground truth: no call defined for ${e.srcIp} -> ${e.dstIp}:${e.port}`);
  if (def.via.kind === 'pod-ip') return { id: def.id, def, serviceIp: null, servicePort: null };
  const svc = serviceByKey(def.via.service);
  const port = svc.ports.find((p) => p.targetPort === e.port)?.port ?? null;
  return { id: def.id, def, serviceIp: def.via.useDns ? svc.clusterIP : svc.loadBalancerIP ?? svc.clusterIP, servicePort: port };
};

const toCall = (e: LedgerEntry, view: 'wire' | 'app'): ExpectedCall => {
  const c = callFor(e);
  const isTls = e.kind === 'tls-connection';
  return {
    source: endpointOf(e.srcIp),
    destination: { ...endpointOf(e.dstIp), service_ip: c.serviceIp, service_port: c.servicePort },
    call_id: c.id,
    port: e.port,
    transport: e.transport,
    protocol: e.protocol,
    method: e.method,
    path: e.kind === 'dns-query' ? null : e.path,
    host: e.kind === 'dns-query' ? null : e.host,
    security: e.security,
    sni: isTls || (view === 'app' && e.security !== 'plaintext') ? c.def?.tls?.sni ?? null : null,
    alpn: isTls || (view === 'app' && e.security !== 'plaintext') ? c.def?.tls?.alpn ?? null : null,
    tls_version: isTls ? e.tlsVersion : view === 'app' && e.security !== 'plaintext' ? c.def?.tls?.version ?? null : null,
    credentials: e.hasCredentials,
    dns_queries: e.kind === 'dns-query' ? [{ name: e.path ?? '', qtype: e.qtype ?? 0, answer: e.answer, count: e.count }] : null,
    count: e.count,
  };
};

const rowKey = (c: ExpectedCall): string =>
  JSON.stringify([c.source.ip, c.destination.ip, c.destination.service_ip, c.port, c.transport, c.protocol, c.method,
    c.path, c.security, c.host, c.sni]);

/** Sums rows with the same key (DNS queries of one client merge into one row). */
const merge = (rows: ExpectedCall[]): ExpectedCall[] => {
  const byKey = new Map<string, ExpectedCall>();
  for (const r of rows) {
    const found = byKey.get(rowKey(r));
    if (!found) { byKey.set(rowKey(r), { ...r, dns_queries: r.dns_queries ? [...r.dns_queries] : null }); continue; }
    found.count += r.count;
    found.credentials ||= r.credentials;
    if (found.dns_queries && r.dns_queries) found.dns_queries.push(...r.dns_queries);
  }
  return [...byKey.values()].map((r) => ({
    ...r, dns_queries: r.dns_queries?.sort((a, b) => a.name.localeCompare(b.name) || a.qtype - b.qtype) ?? null,
  }));
};

const ipNum = (ip: string): number => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);

export const sortCalls = (rows: ExpectedCall[]): ExpectedCall[] =>
  rows.sort((a, b) => ipNum(a.source.ip) - ipNum(b.source.ip) || ipNum(a.destination.ip) - ipNum(b.destination.ip) ||
    a.port - b.port || a.protocol.localeCompare(b.protocol) || (a.method ?? '').localeCompare(b.method ?? '') ||
    (a.path ?? '').localeCompare(b.path ?? ''));

export const NOTES = [
  'calls: what a packet capture can show. Requests inside TLS (security tls or mtls) appear as one protocol "tls" row per connection (count = TLS handshakes completed), with sni and the ALPN list the client offered; method and path are null.',
  'calls: plaintext HTTP/1.1 and gRPC (h2c) rows are per method and path template (numeric segments as {id}, query dropped); count = requests whose response was fully written.',
  'calls: dns rows are per client and server; count = queries answered; dns_queries lists the names. tcp rows (redis RESP) count connections.',
  'application_calls: what the applications did, including the HTTP inside TLS (protocol http, method and path set, security tls/mtls).',
  'destination.ip is the pod (after DNAT); destination.service_ip is the address the client dialled when it was a Service ClusterIP or LoadBalancer IP (null when the client dialled the pod IP); port is the pod port (targetPort), destination.service_port the Service port.',
  `sources: kind "node" is the kubelet on the node address ${NODE_IP}; kind "external" are hosts outside the cluster (namespace null).`,
  'Only completed requests/handshakes/queries are counted, from the servers\' own ledgers during the traffic window.',
];

export const buildExpected = (ledger: LedgerEntry[], capture: ExpectedCalls['capture']): ExpectedCalls => {
  const wire = ledger.filter((e) => e.kind !== 'request' || e.security === 'plaintext').map((e) => toCall(e, 'wire'));
  const app = ledger.filter((e) => e.kind !== 'tls-connection').map((e) => toCall(e, 'app'));
  return {
    format: 'trustmap-testbed-expected-calls/1',
    node: { name: NODE_NAME, ip: NODE_IP },
    capture,
    notes: NOTES,
    calls: sortCalls(merge(wire)),
    application_calls: sortCalls(merge(app)),
  };
};

