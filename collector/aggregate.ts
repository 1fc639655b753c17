// Aggregates calls under one canonical key and hands them to the store in batches. Events arrive
// per request or per connection (never per packet). The key is a string built by the caller from
// parts it keeps per connection; the CallKey object behind it is only built when a key is new.
// The map is drained whenever it holds `flushAt` rows, and at the end, so memory stays bounded.
import type { CallKey } from './model.js';

const HOUR_MS = 3_600_000;

export function bucketOf(tsMs: number): number {
  return Math.floor(tsMs / HOUR_MS) * HOUR_MS;
}

/** The separator of key parts: the inspectors replace control characters, so it cannot occur. */
export const SEP = '\u0001';

/** The canonical key string of a CallKey (the tracker builds the same string from cached parts). */
export function keyString(k: CallKey): string {
  return edgePart(k) + SEP + k.bucketMs + SEP + k.protocol + SEP + k.method + SEP + k.path + SEP + k.host
    + SEP + k.sni + SEP + k.alpn + SEP + k.security + SEP + k.securityReason;
}

/** The part of a key that is fixed for a connection. */
export function edgePart(k: Pick<CallKey, 'source' | 'node' | 'srcIp' | 'dstIp' | 'serviceIp' | 'dstPort' | 'transport' | 'direction'>): string {
  return k.source + SEP + k.node + SEP + k.srcIp + SEP + k.dstIp + SEP + k.serviceIp + SEP + k.dstPort + SEP + k.transport + SEP + k.direction;
}

/** Counters of one key. A class, so every row has the same shape (fast property access). */
export class AggRow {
  count = 0;
  connections = 0;
  bytes = 0;
  firstSeenMs = Number.POSITIVE_INFINITY;
  lastSeenMs = Number.NEGATIVE_INFINITY;
  credentialsInPlaintext = 0;
  status2xx = 0;
  status3xx = 0;
  status4xx = 0;
  status5xx = 0;
  constructor(readonly key: CallKey, readonly keyString: string) {}

  /** Widens the time range to include [fromMs, toMs]. */
  seen(fromMs: number, toMs: number): void {
    if (fromMs < this.firstSeenMs) this.firstSeenMs = Math.floor(fromMs);
    if (toMs > this.lastSeenMs) this.lastSeenMs = Math.ceil(toMs);
  }

  status(code: number): void {
    if (code < 200 || code >= 600) return;
    if (code < 300) this.status2xx++;
    else if (code < 400) this.status3xx++;
    else if (code < 500) this.status4xx++;
    else this.status5xx++;
  }
}

/** One observation, for sources that report calls one by one (access logs, flow logs). */
export interface CallEvent {
  tsMs: number;
  count: number;
  connections: number;
  bytes: number;
  credentials: boolean;
  /** HTTP status code of the response, 0 when none. */
  status: number;
  /** End of the observation when it spans time; defaults to tsMs. */
  lastMs?: number;
}

export type FlushFn = (rows: AggRow[]) => void;

export class Aggregator {
  private rows = new Map<string, AggRow>();
  /** Rows handed to the store so far (upserts: a key flushed twice counts twice). */
  flushedRows = 0;

  constructor(private readonly flush: FlushFn, private readonly flushAt = 50_000) {}

  /** The row for `ks`, or undefined; use row() to create it. */
  get(ks: string): AggRow | undefined {
    return this.rows.get(ks);
  }

  /** The row for `ks`, created from `key` (whose key string must be `ks`) when new. */
  row(ks: string, key: CallKey): AggRow {
    let r = this.rows.get(ks);
    if (r === undefined) {
      if (this.rows.size >= this.flushAt) this.drain();
      r = new AggRow(key, ks);
      this.rows.set(ks, r);
    }
    return r;
  }

  /** Adds an event under `key` (its bucketMs is set from the event time). */
  add(key: CallKey, e: CallEvent): AggRow {
    key.bucketMs = bucketOf(e.tsMs);
    const r = this.row(keyString(key), key);
    r.count += e.count;
    r.connections += e.connections;
    r.bytes += e.bytes;
    if (e.credentials) r.credentialsInPlaintext = 1;
    r.status(e.status);
    r.seen(e.tsMs, e.lastMs ?? e.tsMs);
    return r;
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
