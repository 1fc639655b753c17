// Typed reads the analyzer needs beyond `calls`: call rows per hour bucket (the merge rule of
// docs/identity.md picks one source per edge and bucket, so buckets must not be summed away
// here) and the top-level controllers an inventory lists (a CronJob that never ran has no pod,
// yet readiness must name it).
import type { Db } from './db.js';
import type { CallRow } from '../model.js';

/** One stored call row, one hour bucket, with what the analyzer reads of it. Text fields keep the store's '' for "not applicable". */
export type BucketCallRow = Pick<CallRow,
  'bucketMs' | 'source' | 'srcIp' | 'dstIp' | 'serviceIp' | 'dstPort' | 'transport' | 'protocol' | 'method' | 'path' | 'host'
  | 'sni' | 'security' | 'securityReason' | 'count' | 'connections' | 'bytes' | 'firstSeenMs' | 'lastSeenMs'
  | 'credentialsInPlaintext'> & {
  /** Of `count`, the calls Hubble saw DROPPED (call_verdicts): they did not get through. */
  dropped: number;
};

export interface WindowQuery {
  sinceMs?: number;
  untilMs?: number;
}

/**
 * Call rows overlapping [since, until), one per stored row (a row is already one key in one
 * hour bucket). Rows come in storage order; the analyzer sorts what it prints.
 * Read as arrays and shaped here: better-sqlite3 builds a named-column row object about twice as
 * slowly (100,000 rows of the analyzer benchmark's store: 490 ms against 285 ms with this object).
 */
export function* iterateBucketCalls(db: Db, q: WindowQuery = {}): Generator<BucketCallRow> {
  const where: string[] = [];
  const args: Record<string, number> = {};
  if (q.sinceMs !== undefined) { where.push('c.last_seen_ms >= @since'); args.since = q.sinceMs; }
  if (q.untilMs !== undefined) { where.push('c.first_seen_ms < @until'); args.until = q.untilMs; }
  // The DROPPED counts only where Hubble reported any: the join costs ~10% of reading the rows.
  const hasDrops = db.prepare(`SELECT 1 FROM call_verdicts WHERE verdict = 'DROPPED' LIMIT 1`).get() !== undefined;
  const rows = db.prepare(
    `SELECT c.bucket_ms, c.source, c.src_ip, c.dst_ip, c.service_ip, c.dst_port, c.transport, c.protocol, c.method, c.path, c.host, c.sni,
            c.security, c.security_reason, c.count, c.connections, c.bytes, c.first_seen_ms, c.last_seen_ms, c.credentials_in_plaintext,
            ${hasDrops ? 'coalesce(d.dropped, 0)' : '0'}
     FROM calls c
     ${hasDrops ? `LEFT JOIN (SELECT key_hi, key_lo, sum(count) AS dropped FROM call_verdicts WHERE verdict = 'DROPPED' GROUP BY key_hi, key_lo) d
       ON d.key_hi = c.key_hi AND d.key_lo = c.key_lo` : ''}
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`,
  ).raw(true).iterate(args) as IterableIterator<RawBucketCallRow>;
  // The text columns repeat a few thousand values over all the rows (the benchmark store: 100,000
  // rows), and the analyzer holds every row until its graph is built: one string per value, not
  // one per row and column.
  const seen = new Map<string, string>();
  const one = <S extends string>(s: S): S => {
    const had = seen.get(s);
    if (had !== undefined) return had as S;
    seen.set(s, s);
    return s;
  };
  for (const r of rows) {
    yield {
      bucketMs: r[0], source: one(r[1]), srcIp: one(r[2]), dstIp: one(r[3]), serviceIp: one(r[4]), dstPort: r[5], transport: one(r[6]),
      protocol: one(r[7]), method: one(r[8]), path: one(r[9]), host: one(r[10]), sni: one(r[11]), security: one(r[12]),
      securityReason: one(r[13]), count: r[14], connections: r[15], bytes: r[16], firstSeenMs: r[17], lastSeenMs: r[18],
      credentialsInPlaintext: r[19], dropped: Math.min(r[20], r[14]),
    };
  }
}

/** The SELECT above, column by column. */
type RawBucketCallRow = [
  BucketCallRow['bucketMs'], BucketCallRow['source'], BucketCallRow['srcIp'], BucketCallRow['dstIp'], BucketCallRow['serviceIp'],
  BucketCallRow['dstPort'], BucketCallRow['transport'], BucketCallRow['protocol'], BucketCallRow['method'], BucketCallRow['path'],
  BucketCallRow['host'], BucketCallRow['sni'], BucketCallRow['security'], BucketCallRow['securityReason'], BucketCallRow['count'],
  BucketCallRow['connections'], BucketCallRow['bytes'], BucketCallRow['firstSeenMs'], BucketCallRow['lastSeenMs'],
  BucketCallRow['credentialsInPlaintext'], number,
];

export interface ControllerRef {
  namespace: string;
  kind: string;
  name: string;
}

/**
 * Workload controllers no other controller owns (Deployments, StatefulSets, DaemonSets,
 * CronJobs, ownerless Jobs), across all snapshots, sorted. ReplicaSets and Jobs owned by a
 * Deployment or CronJob are not workloads of their own.
 */
export function listTopControllers(db: Db): ControllerRef[] {
  return db.prepare(
    `SELECT DISTINCT namespace, kind, name FROM inventory_workloads
     WHERE owner_kind = '' AND kind IN ('Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Job')
     ORDER BY namespace, name, kind`,
  ).all() as ControllerRef[];
}
