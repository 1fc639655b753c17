// Typed reads and writes of aggregated calls. Writes are prepared upserts keyed by the hash of
// the aggregation key, run inside the ingest's transaction (captures.ts); nothing here runs per
// packet.
import type { Db } from './db.js';
import { keyHash, keyHashAfter } from './key-hash.js';
import type { AggRow } from '../aggregate.js';
import type { CallSource, Direction, Protocol, Security, Transport } from '../model.js';

const COLUMNS = `key_hi, key_lo, bucket_ms, source, node, src_ip, dst_ip, service_ip, dst_port, transport,
  protocol, method, path, host, sni, alpn, security, security_reason, direction,
  count, connections, bytes, first_seen_ms, last_seen_ms,
  credentials_in_plaintext, status_2xx, status_3xx, status_4xx, status_5xx`;

/** Upserts aggregated rows into calls; counters add up, times widen. */
export class CallWriter {
  private readonly upsert;

  constructor(db: Db) {
    this.upsert = db.prepare(
      `INSERT INTO calls (${COLUMNS}) VALUES (${COLUMNS.split(',').map(() => '?').join(', ')})
       ON CONFLICT (key_hi, key_lo) DO UPDATE SET
         count = count + excluded.count,
         connections = connections + excluded.connections,
         bytes = bytes + excluded.bytes,
         first_seen_ms = min(first_seen_ms, excluded.first_seen_ms),
         last_seen_ms = max(last_seen_ms, excluded.last_seen_ms),
         credentials_in_plaintext = max(credentials_in_plaintext, excluded.credentials_in_plaintext),
         status_2xx = status_2xx + excluded.status_2xx,
         status_3xx = status_3xx + excluded.status_3xx,
         status_4xx = status_4xx + excluded.status_4xx,
         status_5xx = status_5xx + excluded.status_5xx`,
    );
  }

  /** Writes rows; the caller holds the transaction. Returns the number of rows upserted. */
  write(rows: readonly AggRow[]): number {
    const up = this.upsert;
    for (const r of rows) {
      const k = r.key;
      const [hi, lo] = r.edgeRows !== null ? keyHashAfter(r.edgeRows.hashPrefix, r.rest) : keyHash(r.keyString);
      // Positional parameters: binding 29 named ones from an object costs several times more.
      up.run(hi, lo, k.bucketMs, k.source, k.node, k.srcIp, k.dstIp, k.serviceIp, k.dstPort, k.transport,
        k.protocol, k.method, k.path, k.host, k.sni, k.alpn, k.security, k.securityReason, k.direction,
        r.count, r.connections, r.bytes, r.firstSeenMs, r.lastSeenMs,
        r.credentialsInPlaintext, r.status2xx, r.status3xx, r.status4xx, r.status5xx);
    }
    return rows.length;
  }
}

/** A call as the CLI and the API show it: '' becomes null, times are ISO-8601 UTC. */
export interface CallView {
  source: CallSource;
  node: string | null;
  src_ip: string;
  dst_ip: string;
  service_ip: string | null;
  dst_port: number;
  transport: Transport;
  protocol: Protocol;
  method: string | null;
  path: string | null;
  host: string | null;
  sni: string | null;
  alpn: string | null;
  security: Security;
  security_reason: string | null;
  direction: Direction;
  credentials_in_plaintext: boolean;
  count: number;
  connections: number;
  bytes: number;
  status: { '2xx': number; '3xx': number; '4xx': number; '5xx': number };
  first_seen: string;
  last_seen: string;
}

export interface CallQuery {
  sinceMs?: number;
  untilMs?: number;
  limit?: number;
}

interface CallDbRow {
  source: CallSource; node: string; src_ip: string; dst_ip: string; service_ip: string;
  dst_port: number; transport: Transport; protocol: Protocol; method: string; path: string;
  host: string; sni: string; alpn: string; security: Security; security_reason: string;
  direction: Direction; credentials_in_plaintext: number; count: number; connections: number;
  bytes: number; s2: number; s3: number; s4: number; s5: number; first: number; last: number;
}

const nullIfEmpty = (s: string): string | null => (s === '' ? null : s);

const GROUP = `source, node, src_ip, dst_ip, service_ip, dst_port, transport, protocol, method, path,
  host, sni, alpn, security, security_reason, direction`;

/**
 * Calls summed over time buckets (the bucket is an aggregation detail, not something a user asks
 * for), in a stable order, one at a time: a store of a million rows is never held in memory.
 */
export function* iterateCalls(db: Db, q: CallQuery = {}): Generator<CallView> {
  const where: string[] = [];
  const args: Record<string, number> = {};
  if (q.sinceMs !== undefined) { where.push('last_seen_ms >= @since'); args.since = q.sinceMs; }
  if (q.untilMs !== undefined) { where.push('first_seen_ms < @until'); args.until = q.untilMs; }
  if (q.limit !== undefined) args.limit = q.limit;
  const rows = db
    .prepare(
      `SELECT ${GROUP},
              max(credentials_in_plaintext) AS credentials_in_plaintext,
              sum(count) AS count, sum(connections) AS connections, sum(bytes) AS bytes,
              sum(status_2xx) AS s2, sum(status_3xx) AS s3, sum(status_4xx) AS s4, sum(status_5xx) AS s5,
              min(first_seen_ms) AS first, max(last_seen_ms) AS last
       FROM calls ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       GROUP BY ${GROUP}
       ORDER BY src_ip, dst_ip, dst_port, transport, protocol, method, path, host, sni, alpn,
                security, source, node, service_ip, security_reason, direction
       ${q.limit !== undefined ? 'LIMIT @limit' : ''}`,
    )
    .iterate(args) as IterableIterator<CallDbRow>;
  for (const r of rows) yield toView(r);
}

export function listCalls(db: Db, q: CallQuery = {}): CallView[] {
  return [...iterateCalls(db, q)];
}

function toView(r: CallDbRow): CallView {
  return {
    source: r.source,
    node: nullIfEmpty(r.node),
    src_ip: r.src_ip,
    dst_ip: r.dst_ip,
    service_ip: nullIfEmpty(r.service_ip),
    dst_port: r.dst_port,
    transport: r.transport,
    protocol: r.protocol,
    method: nullIfEmpty(r.method),
    path: nullIfEmpty(r.path),
    host: nullIfEmpty(r.host),
    sni: nullIfEmpty(r.sni),
    alpn: nullIfEmpty(r.alpn),
    security: r.security,
    security_reason: nullIfEmpty(r.security_reason),
    direction: r.direction,
    credentials_in_plaintext: r.credentials_in_plaintext === 1,
    count: r.count,
    connections: r.connections,
    bytes: r.bytes,
    status: { '2xx': r.s2, '3xx': r.s3, '4xx': r.s4, '5xx': r.s5 },
    first_seen: new Date(r.first).toISOString(),
    last_seen: new Date(r.last).toISOString(),
  };
}
