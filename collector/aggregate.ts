// Aggregates calls under one canonical key and hands them to the store in batches. Events arrive
// per request or per connection (never per packet); the map is drained whenever it holds
// `flushAt` keys, and at the end, so memory stays bounded however long the input is.
import type { CallKey, CallRow } from './model.js';

const HOUR_MS = 3_600_000;

export function bucketOf(tsMs: number): number {
  return Math.floor(tsMs / HOUR_MS) * HOUR_MS;
}

function keyString(k: CallKey): string {
  // \u0001 cannot occur in any field: the inspectors replace control characters.
  return [k.bucketMs, k.source, k.node, k.srcIp, k.dstIp, k.serviceIp, k.dstPort, k.transport,
    k.protocol, k.method, k.path, k.host, k.sni, k.alpn, k.security, k.securityReason,
    k.direction].join('\u0001');
}

export interface CallEvent {
  tsMs: number;
  count: number;
  connections: number;
  bytes: number;
  credentials: boolean;
  /** HTTP status code of a response, 0 when none. */
  status: number;
  /** Last time of a connection's activity; defaults to tsMs. */
  lastMs?: number;
}

export type FlushFn = (rows: CallRow[]) => void;

export class Aggregator {
  private rows = new Map<string, CallRow>();
  /** Rows handed to the store so far (upserts, so a key flushed twice counts twice). */
  flushedRows = 0;

  constructor(private readonly flush: FlushFn, private readonly flushAt = 50_000) {}

  /** Adds an event under `key` (whose bucketMs is recomputed from the event time); returns the key string. */
  add(key: CallKey, e: CallEvent): string {
    key.bucketMs = bucketOf(e.tsMs);
    const ks = keyString(key);
    this.addByKey(ks, key, e);
    return ks;
  }

  /** Adds to a row that already exists or was just flushed (the caller kept its key). */
  addByKey(ks: string, key: CallKey, e: CallEvent): void {
    let row = this.rows.get(ks);
    const last = e.lastMs ?? e.tsMs;
    if (row === undefined) {
      row = {
        ...key, count: 0, connections: 0, bytes: 0, firstSeenMs: Math.floor(e.tsMs),
        lastSeenMs: Math.ceil(last), credentialsInPlaintext: 0,
        status2xx: 0, status3xx: 0, status4xx: 0, status5xx: 0,
      };
      this.rows.set(ks, row);
    } else {
      if (e.tsMs < row.firstSeenMs) row.firstSeenMs = Math.floor(e.tsMs);
      if (last > row.lastSeenMs) row.lastSeenMs = Math.ceil(last);
    }
    row.count += e.count;
    row.connections += e.connections;
    row.bytes += e.bytes;
    if (e.credentials) row.credentialsInPlaintext = 1;
    if (e.status >= 200 && e.status < 600) {
      if (e.status < 300) row.status2xx++;
      else if (e.status < 400) row.status3xx++;
      else if (e.status < 500) row.status4xx++;
      else row.status5xx++;
    }
    if (this.rows.size >= this.flushAt) this.drain();
  }

  drain(): void {
    if (this.rows.size === 0) return;
    const batch = [...this.rows.values()];
    this.rows = new Map();
    this.flush(batch);
    this.flushedRows += batch.length;
  }

  get pending(): number {
    return this.rows.size;
  }
}
