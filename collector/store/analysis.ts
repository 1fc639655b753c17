// Typed reads the analyzer needs beyond `calls`: call rows per hour bucket (the merge rule of
// docs/identity.md picks one source per edge and bucket, so buckets must not be summed away
// here) and the top-level controllers an inventory lists (a CronJob that never ran has no pod,
// yet readiness must name it).
import type { Db } from './db.js';
import type { CallRow } from '../model.js';

/** One stored call row, one hour bucket. Text fields keep the store's '' for "not applicable". */
export type BucketCallRow = Pick<CallRow,
  'bucketMs' | 'source' | 'srcIp' | 'dstIp' | 'serviceIp' | 'dstPort' | 'transport' | 'protocol' | 'method' | 'path' | 'host'
  | 'sni' | 'security' | 'securityReason' | 'direction' | 'count' | 'connections' | 'bytes' | 'firstSeenMs' | 'lastSeenMs'
  | 'credentialsInPlaintext'>;

export interface WindowQuery {
  sinceMs?: number;
  untilMs?: number;
}

/**
 * Call rows overlapping [since, until), one per stored row (a row is already one key in one
 * hour bucket). Rows come in storage order; the analyzer sorts what it prints.
 */
export function* iterateBucketCalls(db: Db, q: WindowQuery = {}): Generator<BucketCallRow> {
  const where: string[] = [];
  const args: Record<string, number> = {};
  if (q.sinceMs !== undefined) { where.push('last_seen_ms >= @since'); args.since = q.sinceMs; }
  if (q.untilMs !== undefined) { where.push('first_seen_ms < @until'); args.until = q.untilMs; }
  yield* db.prepare(
    `SELECT bucket_ms AS bucketMs, source, src_ip AS srcIp, dst_ip AS dstIp, service_ip AS serviceIp,
            dst_port AS dstPort, transport, protocol, method, path, host, sni, security,
            security_reason AS securityReason, direction, count, connections, bytes,
            first_seen_ms AS firstSeenMs, last_seen_ms AS lastSeenMs,
            credentials_in_plaintext AS credentialsInPlaintext
     FROM calls ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`,
  ).iterate(args) as IterableIterator<BucketCallRow>;
}

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
