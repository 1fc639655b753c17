// Aggregates calls under one canonical key and hands them to the store in batches. Events arrive
// per request or per connection (never per packet). The key string is the connection's fixed part
// (the edge: endpoints, port, direction) and the per-call rest (bucket, protocol, method, path,
// ...): rows are found in two steps, edge then rest, so a request hashes only its short rest and
// a caller that knows its edge (the tracker, per connection) skips the first step. The CallKey
// object and the full key string are only built when a key is new. The rows are drained whenever
// they number `flushAt`, and at the end, so memory stays bounded.
import type { CallKey } from './model.js';
import { keyHashPrefix, type KeyHashPrefix } from './store/key-hash.js';

const HOUR_MS = 3_600_000;

export function bucketOf(tsMs: number): number {
  return Math.floor(tsMs / HOUR_MS) * HOUR_MS;
}

/** The separator of key parts: the inspectors replace control characters, so it cannot occur. */
export const SEP = '\u0001';

/** The canonical key string of a CallKey: what the store's key hash is computed from. */
export function keyString(k: CallKey): string {
  return edgePart(k) + SEP + restPart(k);
}

/** The part of a key that is fixed for a connection. */
export function edgePart(k: Pick<CallKey, 'source' | 'node' | 'srcIp' | 'dstIp' | 'serviceIp' | 'dstPort' | 'transport' | 'direction'>): string {
  return k.source + SEP + k.node + SEP + k.srcIp + SEP + k.dstIp + SEP + k.serviceIp + SEP + k.dstPort + SEP + k.transport + SEP + k.direction;
}

/** The part of a key that varies per call: keyString(k) is edgePart(k) + SEP + restPart(k). */
export function restPart(k: Omit<CallKey, 'source' | 'node' | 'srcIp' | 'dstIp' | 'serviceIp' | 'dstPort' | 'transport' | 'direction'>): string {
  return restKey(k.bucketMs, k.protocol, k.method, k.path, k.host, k.sni, k.alpn, k.security, k.securityReason);
}

const REST_PARTS: Array<string | number> = [0, '', '', '', '', '', '', '', ''];

/**
 * restPart() from its fields, as built once per request: joining a reused array allocates the
 * flat result only, where `a + SEP + b + ...` leaves a cons string per `+` to flatten when the
 * map hashes it (2 M lookups of such keys: 233 young-generation collections against 582, and
 * 0.76-0.88 s against 1.05-1.07 s).
 */
export function restKey(bucketMs: number, protocol: string, method: string, path: string, host: string, sni: string,
  alpn: string, security: string, securityReason: string): string {
  const a = REST_PARTS;
  a[0] = bucketMs; a[1] = protocol; a[2] = method; a[3] = path; a[4] = host; a[5] = sni; a[6] = alpn; a[7] = security;
  a[8] = securityReason;
  return a.join(SEP);
}

/** The rows of one edge in the aggregator's current batch. */
export class EdgeRows {
  readonly rows = new Map<string, AggRow>();
  /** The key hash's state after `edge + SEP`: a row's hash then reads only its rest. */
  readonly hashPrefix: KeyHashPrefix;
  constructor(readonly edge: string, readonly batch: number) {
    this.hashPrefix = keyHashPrefix(edge + SEP);
  }
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
  /** Where the Aggregator keeps the row (null for rows built elsewhere): found again after a drain. */
  edgeRows: EdgeRows | null = null;
  rest = '';
  /** `ks` null: the Aggregator's row, whose key string is its edge + SEP + rest, built on demand
   *  (the store hashes it from the parts; a string per row held until the drain is memory). */
  constructor(readonly key: CallKey, private readonly ks: string | null) {}

  get keyString(): string {
    return this.ks ?? this.edgeRows!.edge + SEP + this.rest;
  }

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
  private edges = new Map<string, EdgeRows>();
  /** The current batch's rows in creation order (the order they are written in). */
  private rows: AggRow[] = [];
  /** Counts drains: EdgeRows and rows of an earlier batch are no longer live. */
  batch = 0;
  /** Rows handed to the store so far (upserts: a key flushed twice counts twice). */
  flushedRows = 0;

  constructor(private readonly flush: FlushFn, private readonly flushAt = 50_000) {}

  /** The rows of `edge` (an edgePart() string) in the current batch. */
  edgeRows(edge: string): EdgeRows {
    let e = this.edges.get(edge);
    if (e === undefined) {
      e = new EdgeRows(edge, this.batch);
      this.edges.set(edge, e);
    }
    return e;
  }

  /** The live row for `rest` under `e`, or undefined; use create() when there is none. */
  find(e: EdgeRows, rest: string): AggRow | undefined {
    return e.batch === this.batch ? e.rows.get(rest) : this.edges.get(e.edge)?.rows.get(rest);
  }

  /** A new row for `rest` under `e` (find() returned undefined); `key` must be its CallKey. */
  create(e: EdgeRows, rest: string, key: CallKey): AggRow {
    if (this.rows.length >= this.flushAt) this.drain();
    const live = e.batch === this.batch ? e : this.edgeRows(e.edge);
    const r = new AggRow(key, null);
    r.edgeRows = live;
    r.rest = rest;
    live.rows.set(rest, r);
    this.rows.push(r);
    return r;
  }

  /** The live row of a row this aggregator made: itself, or its successor after a drain. */
  live(r: AggRow): AggRow {
    const e = r.edgeRows!;
    if (e.batch === this.batch) return r;
    return this.find(e, r.rest) ?? this.create(e, r.rest, r.key);
  }

  /** Adds an event under `key` (its bucketMs is set from the event time). */
  add(key: CallKey, e: CallEvent): AggRow {
    key.bucketMs = bucketOf(e.tsMs);
    const edge = this.edgeRows(edgePart(key));
    const rest = restPart(key);
    const r = this.find(edge, rest) ?? this.create(edge, rest, key);
    r.count += e.count;
    r.connections += e.connections;
    r.bytes += e.bytes;
    if (e.credentials) r.credentialsInPlaintext = 1;
    r.status(e.status);
    r.seen(e.tsMs, e.lastMs ?? e.tsMs);
    return r;
  }

  drain(): void {
    if (this.rows.length === 0) return;
    const batch = this.rows;
    // Callers may still hold EdgeRows of this batch (a connection's first row): emptied, they
    // keep nothing of it alive.
    for (const e of this.edges.values()) e.rows.clear();
    this.rows = [];
    this.edges = new Map();
    this.batch++;
    this.flush(batch);
    this.flushedRows += batch.length;
  }

  get pending(): number {
    return this.rows.length;
  }
}
