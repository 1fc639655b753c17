// Verdict counts per call (Hubble), keyed by the call's key hash so they join calls on
// (key_hi, key_lo). Written inside the ingest's transaction (captures.ts IngestTransaction), so
// an interrupted ingest counts no verdict, exactly like its calls.
import type { CallKey } from '../model.js';
import type { Db } from './db.js';
import { keyHash } from './key-hash.js';

/** What a verdict name may be: Hubble's enum names (flow.proto Verdict), including ones newer than trustmap. */
export const VERDICT_NAME = /^[A-Z_]{1,32}$/;

export interface VerdictRow {
  /** The aggregation key string of the call (AggRow.keyString). */
  keyString: string;
  /** The call's key, of which keyString is keyString(key): what a pushing collector sends. */
  key: CallKey;
  verdict: string;
  count: number;
}

export class VerdictWriter {
  private readonly up;

  constructor(db: Db) {
    this.up = db.prepare(
      `INSERT INTO call_verdicts (key_hi, key_lo, verdict, count) VALUES (?, ?, ?, ?)
       ON CONFLICT (key_hi, key_lo, verdict) DO UPDATE SET count = count + excluded.count`,
    );
  }

  /** Writes rows; the caller holds the transaction. */
  write(rows: ReadonlyArray<Omit<VerdictRow, 'key'>>): void {
    for (const r of rows) {
      const [hi, lo] = keyHash(r.keyString);
      this.up.run(hi, lo, r.verdict, r.count);
    }
  }
}

export interface VerdictView {
  source: string;
  src_ip: string;
  dst_ip: string;
  dst_port: number;
  protocol: string;
  method: string | null;
  path: string | null;
  verdict: string;
  count: number;
}

/** Verdict counts per call, summed over time buckets, in a stable order. */
export function listVerdicts(db: Db): VerdictView[] {
  return (db.prepare(
    `SELECT c.source, c.src_ip, c.dst_ip, c.dst_port, c.protocol, c.method, c.path, v.verdict, sum(v.count) AS count
     FROM call_verdicts v JOIN calls c ON c.key_hi = v.key_hi AND c.key_lo = v.key_lo
     GROUP BY c.source, c.src_ip, c.dst_ip, c.dst_port, c.protocol, c.method, c.path, v.verdict
     ORDER BY c.src_ip, c.dst_ip, c.dst_port, c.protocol, c.method, c.path, v.verdict`,
  ).all() as Array<Omit<VerdictView, 'method' | 'path'> & { method: string; path: string }>)
    .map((r) => ({ ...r, method: r.method === '' ? null : r.method, path: r.path === '' ? null : r.path }));
}
