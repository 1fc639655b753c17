// Envoy access-log records → calls. Which proxy wrote a line decides whose addresses it holds;
// a request logged by both the client's sidecar (outbound) and the server's (inbound) is counted
// once, from the inbound line (docs/identity.md, "Envoy: one request, two lines").
import type { Aggregator } from '../../aggregate.js';
import { MAX_HOST, safeText } from '../../inspect/text.js';
import type { CallKey, Protocol, Security } from '../../model.js';
import { parseEnvoyLine, splitAddress, type EnvoyRecord } from './parse.js';

export const ENVOY_SIDES = ['inbound', 'outbound', 'waypoint', 'unknown'] as const;
export type EnvoySide = (typeof ENVOY_SIDES)[number];

export interface TelemetryStats {
  lines: number;
  /** Lines that are not access-log lines (or not ones we understand): counted and skipped. */
  malformed: number;
  /** Log lines that carry no call (no usable addresses). */
  skipped: number;
  /** Calls handed to the aggregator. */
  calls: number;
  /** Lines dropped because the other side's line of the same request was counted. */
  deduplicated: number;
  connections: number;
  firstTsMs: number | null;
  lastTsMs: number | null;
}

export function newStats(): TelemetryStats {
  return { lines: 0, malformed: 0, skipped: 0, calls: 0, deduplicated: 0, connections: 0, firstTsMs: null, lastTsMs: null };
}

export function sideOf(cluster: string): EnvoySide {
  if (cluster.startsWith('inbound|') || cluster.startsWith('InboundPassthroughCluster')) return 'inbound';
  if (cluster.startsWith('outbound|') || cluster === 'PassthroughCluster' || cluster === 'BlackHoleCluster') return 'outbound';
  // Ambient waypoints route to a service VIP and tunnel to the pod over HBONE.
  if (cluster.startsWith('inbound-vip|')) return 'waypoint';
  return 'unknown';
}

// Istio client sidecars connect to a server sidecar with SNI outbound_.PORT_.SUBSET_.HOST
// (pilot/pkg/networking/util BuildDNSSrvSubsetKey); only a meshed client presents it.
const ISTIO_SNI = /^outbound_\.\d+_\.[^_]*_\.\S+$/;

/** The security of the hop this line's proxy saw, and why we think so. */
export function securityOf(r: EnvoyRecord, side: EnvoySide): { security: Security; reason: string } {
  if (side === 'inbound') {
    if (r.downstreamPeerUriSan) return { security: 'mtls', reason: `inbound: client certificate ${r.downstreamPeerUriSan}` };
    if (r.downstreamTlsVersion) return { security: 'tls', reason: `inbound: ${r.downstreamTlsVersion} without a client certificate` };
    if (r.downstreamTlsVersion === '') return { security: 'plaintext', reason: 'inbound: no downstream TLS' };
    if (ISTIO_SNI.test(r.requestedServerName)) return { security: 'mtls', reason: 'inbound: requested_server_name is a sidecar\'s outbound_ SNI (Istio mTLS)' };
    if (r.requestedServerName !== '') return { security: 'tls', reason: `inbound: TLS with SNI ${r.requestedServerName}` };
    return { security: 'plaintext', reason: 'inbound: no requested_server_name on an inbound listener (PERMISSIVE accepts plaintext)' };
  }
  if (side === 'waypoint') {
    return { security: 'mtls', reason: 'waypoint: HBONE (envoy://connect_originate upstream)' };
  }
  const prefix = side === 'outbound' ? 'outbound' : 'unknown-side';
  if (r.upstreamPeerUriSan) return { security: 'mtls', reason: `${prefix}: server certificate ${r.upstreamPeerUriSan}` };
  if (r.upstreamTlsVersion) return { security: 'tls', reason: `${prefix}: upstream ${r.upstreamTlsVersion}` };
  if (r.upstreamTlsVersion === '') return { security: 'plaintext', reason: `${prefix}: no upstream TLS` };
  return { security: 'unknown', reason: `${prefix}: the log format has no upstream TLS fields` };
}

function protocolOf(r: EnvoyRecord): Protocol {
  if (r.protocol === '') return 'tcp';
  if (r.protocol.startsWith('HTTP/2') || r.protocol.startsWith('HTTP/3')) {
    // gRPC is HTTP/2 POST /package.Service/Method; the log has no content-type.
    return r.method === 'POST' && /^\/[\w.]+\/\w+$/.test(r.path) ? 'grpc' : 'http2';
  }
  return 'http';
}

interface Pending {
  side: 'inbound' | 'outbound';
  rec: EnvoyRecord;
  key: CallKey;
  /** Wall clock of the last tick before the line arrived (follow mode), 0 otherwise. */
  arrivedMs: number;
}

/**
 * Following a stream (collect envoy --follow), how long a line waits for the other side of its
 * request before it is counted alone (an unmeshed peer never logs one). Counted from arrival,
 * not from the log's timestamps: `kubectl logs -f` of several pods replays each pod's backlog at
 * its own pace, so log time says nothing about whether the partner can still come.
 */
export const PAIR_WAIT_MS = 30_000;

export interface EnvoySinkOptions {
  node: string;
  templatePath: (edge: string, target: string) => string;
  /** Lines held while waiting for the other side of their request; beyond this the oldest is counted alone. */
  maxPending?: number;
}

export class EnvoySink {
  readonly stats = newStats();
  private readonly pending = new Map<string, Pending[]>();
  private pendingCount = 0;
  private readonly maxPending: number;
  private clockMs = 0;

  constructor(private readonly agg: Aggregator, private readonly opts: EnvoySinkOptions) {
    this.maxPending = opts.maxPending ?? 100_000;
  }

  line(text: string): void {
    const s = this.stats;
    s.lines++;
    if (text.trim() === '') { s.lines--; return; }
    const r = parseEnvoyLine(text);
    if (r === null) { s.malformed++; return; }
    if (s.firstTsMs === null || r.tsMs < s.firstTsMs) s.firstTsMs = r.tsMs;
    if (s.lastTsMs === null || r.tsMs > s.lastTsMs) s.lastTsMs = r.tsMs;
    const side = sideOf(r.upstreamCluster);
    const client = splitAddress(r.downstreamRemote);
    // Inbound: the server is this pod (downstream local). Elsewhere: the upstream host chosen,
    // else the address the client dialled (no upstream when the request failed early).
    const server = side === 'inbound' ? splitAddress(r.downstreamLocal) : splitAddress(r.upstreamHost) ?? splitAddress(r.downstreamLocal);
    if (client === null || server === null) { s.skipped++; return; }
    const dialled = splitAddress(r.downstreamLocal);
    const { security, reason } = securityOf(r, side);
    const protocol = protocolOf(r);
    // Logged request text is hostile input like packet bytes (inspect/text.ts): no control
    // characters, and within the lengths a central server accepts (push/wire.ts), or it refuses
    // the whole batch. Paths get the same from the templater.
    const key: CallKey = {
      bucketMs: 0, source: 'envoy', node: this.opts.node, srcIp: client.ip, dstIp: server.ip,
      serviceIp: side !== 'inbound' && dialled !== null && dialled.ip !== server.ip ? dialled.ip : '',
      dstPort: server.port, transport: 'tcp', protocol,
      method: protocol === 'tcp' ? '' : safeText(r.method, 32),
      path: protocol === 'tcp' || r.path === '' ? '' : this.opts.templatePath(`${client.ip}>${server.ip}:${server.port}`, r.path),
      host: protocol === 'tcp' ? '' : safeText(r.authority, MAX_HOST), sni: safeText(r.requestedServerName, MAX_HOST), alpn: '',
      security, securityReason: reason, direction: 'observed',
    };
    if (side === 'inbound' || side === 'outbound') {
      // The connection between the two sidecars: the client sidecar's upstream local address is
      // the server sidecar's downstream remote address.
      const conn = side === 'inbound' ? `${r.downstreamRemote}>${r.downstreamLocal}` : `${r.upstreamLocal}>${r.upstreamHost}`;
      if (side === 'inbound' || r.upstreamLocal !== '') {
        this.pair(`${r.requestId}|${r.method}|${r.path}|${conn}`, { side, rec: r, key, arrivedMs: this.clockMs });
        return;
      }
    }
    this.emit(r, key);
  }

  private pair(k: string, p: Pending): void {
    const list = this.pending.get(k);
    const other = list?.findIndex((x) => x.side !== p.side) ?? -1;
    if (list !== undefined && other >= 0) {
      const [o] = list.splice(other, 1);
      if (list.length === 0) this.pending.delete(k);
      this.pendingCount--;
      this.stats.deduplicated++;
      const inbound = p.side === 'inbound' ? p : o;
      const outbound = p.side === 'inbound' ? o : p;
      // The inbound line is counted; the client's line adds the service address it dialled.
      inbound.key.serviceIp = outbound.key.serviceIp;
      this.emit(inbound.rec, inbound.key);
      return;
    }
    if (list) list.push(p);
    else this.pending.set(k, [p]);
    this.pendingCount++;
    if (this.pendingCount > this.maxPending) {
      const [firstKey, firstList] = this.pending.entries().next().value as [string, Pending[]];
      const oldest = firstList.shift() as Pending;
      if (firstList.length === 0) this.pending.delete(firstKey);
      this.pendingCount--;
      this.emit(oldest.rec, oldest.key);
    }
  }

  private emit(r: EnvoyRecord, key: CallKey): void {
    const isTcp = key.protocol === 'tcp';
    this.stats.calls++;
    if (isTcp) this.stats.connections++;
    this.agg.add(key, {
      tsMs: r.tsMs, count: 1, connections: isTcp ? 1 : 0, bytes: r.bytesReceived + r.bytesSent,
      credentials: false, status: isTcp ? 0 : r.responseCode,
    });
  }

  /**
   * Follow mode, at every flush: counts the lines that waited PAIR_WAIT_MS for their other side
   * in vain, so a days-long stream does not hold them until the end. File mode never ticks.
   */
  tick(nowMs: number): void {
    for (const [k, list] of this.pending) {
      let kept = 0;
      for (const p of list) {
        if (p.arrivedMs <= nowMs - PAIR_WAIT_MS) this.emit(p.rec, p.key);
        else list[kept++] = p;
      }
      this.pendingCount -= list.length - kept;
      list.length = kept;
      if (kept === 0) this.pending.delete(k);
    }
    this.clockMs = nowMs;
  }

  /** Counts the lines whose other side never appeared. */
  finish(): void {
    for (const list of this.pending.values()) for (const p of list) this.emit(p.rec, p.key);
    this.pending.clear();
    this.pendingCount = 0;
  }
}
