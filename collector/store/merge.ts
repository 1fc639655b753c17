// Folding whole stores into one (`trustmap merge`): for teams that collect offline on each node
// and combine later. Each source is checked first (a trustmap store, not newer than this build,
// intact), then folded in with one transaction through ATTACH: calls summed by call key, captures
// copied, inventory snapshots copied unless already there, DNS names, certificates and verdicts
// combined the way an ingest would have. The source's identity (store_identity, migration 6) and
// a signature of its contents go into `merges`, so merging the same store again is a no-op and a
// store that changed since it was merged is refused rather than counted twice. docs/live.md.
import { createHash } from 'node:crypto';
import { MIGRATIONS } from './migrations.js';
import { openStore, schemaVersion, StoreError, type Db } from './db.js';
import Database from 'better-sqlite3';

const LATEST = MIGRATIONS[MIGRATIONS.length - 1].version;

/** Tables whose rows belong to one inventory snapshot (snapshot_id → inventory_snapshots.id). */
const SNAPSHOT_TABLES = [
  'inventory_namespaces', 'inventory_workloads', 'inventory_pods', 'inventory_pod_addresses', 'inventory_services',
  'inventory_service_addresses', 'inventory_endpoints', 'inventory_nodes', 'inventory_node_addresses',
] as const;

export interface SourceInfo {
  file: string;
  identity: string;
  signature: string;
  /** Identities of the stores this one was itself merged from. */
  contains: string[];
  captures: number;
  callRows: number;
}

export type MergeResult =
  | { status: 'merged'; source: SourceInfo; capturesAdded: number; callRows: number; snapshotsAdded: number }
  | { status: 'already-merged'; source: SourceInfo; mergedAt: string };

/** The identity of a store: a random id written when it was created (migration 6). */
export function storeIdentity(db: Db): string {
  return (db.prepare('SELECT id FROM store_identity WHERE one = 1').get() as { id: string }).id;
}

/**
 * What a store holds, in one hash: its captures (and their tallies and status) and the totals of
 * its tables. Changes whenever anything is ingested into it; cheap (aggregates, no row scan of
 * calls beyond SQLite's own).
 */
function signatureOf(db: Db, schema = 'main'): string {
  const h = createHash('sha256');
  for (const r of db.prepare(`SELECT id, status, packets, calls_written, dropped, finished_at FROM ${schema}.captures ORDER BY id`).raw().iterate()) {
    h.update(JSON.stringify(r));
  }
  h.update(JSON.stringify(db.prepare(
    `SELECT (SELECT count(*) FROM ${schema}.calls), (SELECT coalesce(sum(count), 0) FROM ${schema}.calls),
            (SELECT coalesce(sum(bytes), 0) FROM ${schema}.calls), (SELECT count(*) FROM ${schema}.inventory_snapshots),
            (SELECT count(*) FROM ${schema}.dns_names), (SELECT coalesce(sum(count), 0) FROM ${schema}.certificate_sightings),
            (SELECT coalesce(sum(count), 0) FROM ${schema}.call_verdicts), (SELECT count(*) FROM ${schema}.merges)`,
  ).raw().get()));
  return h.digest('hex');
}

/**
 * Opens a source store and checks it: a SQLite file, a trustmap store (user_version ≥ 1), not
 * newer than this build, intact (quick_check). An older store is migrated in place first (that
 * is also when it gets its identity, for good). Throws StoreError with a one-line reason.
 */
export function inspectSource(file: string): SourceInfo {
  let version: number;
  try {
    const probe = new Database(file, { readonly: true, fileMustExist: true });
    try { version = schemaVersion(probe); } finally { probe.close(); }
  } catch (err) {
    throw new StoreError(`${file}: not a readable SQLite store (${(err as Error).message})`);
  }
  if (version === 0) throw new StoreError(`${file}: not a trustmap store`);
  if (version > LATEST) throw new StoreError(`${file}: schema version ${version} is newer than this trustmap (${LATEST}); upgrade trustmap`);
  // openStore migrates an older store (each migration its own transaction) or checks a current one.
  const db = version < LATEST ? openStore(file) : openStore(file, { readonly: true });
  try {
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new StoreError(`${file}: damaged store (${String(check)})`);
    return {
      file,
      identity: storeIdentity(db),
      signature: signatureOf(db),
      contains: (db.prepare('SELECT identity FROM merges ORDER BY identity').pluck().all() as string[]),
      captures: (db.prepare('SELECT count(*) FROM captures').pluck().get() as number),
      callRows: (db.prepare('SELECT count(*) FROM calls').pluck().get() as number),
    };
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError(`${file}: ${(err as Error).message}`);
  } finally {
    db.close();
  }
}

/**
 * What merging `src` into `target` would do: 'merge', 'already-merged' (same identity, same
 * signature), or a refusal with the reason (it changed since it was merged; it overlaps what the
 * target already holds; it is the target).
 */
export function planMerge(target: Db, src: SourceInfo): { action: 'merge' } | { action: 'already-merged'; mergedAt: string } | { action: 'refuse'; reason: string } {
  const own = storeIdentity(target);
  if (src.identity === own || src.contains.includes(own)) return { action: 'refuse', reason: `${src.file} already contains the target store` };
  const prev = target.prepare('SELECT signature, merged_at FROM merges WHERE identity = ?').get(src.identity) as { signature: string; merged_at: string } | undefined;
  if (prev !== undefined) {
    if (prev.signature === src.signature) return { action: 'already-merged', mergedAt: prev.merged_at };
    return { action: 'refuse', reason: `${src.file} changed since it was merged at ${prev.merged_at}; merging it again would count its earlier calls twice (merge it with the other stores into a new file instead)` };
  }
  const overlap = src.contains.find((id) => id === own || target.prepare('SELECT 1 FROM merges WHERE identity = ?').get(id) !== undefined);
  if (overlap !== undefined) return { action: 'refuse', reason: `${src.file} holds store ${overlap}, which the target already holds; merging would count it twice` };
  return { action: 'merge' };
}

function columns(db: Db, table: string): string[] {
  return (db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[]);
}

/** Folds one checked source into `target` in one transaction. */
export function mergeStore(target: Db, src: SourceInfo, nowIso: string): MergeResult {
  const plan = planMerge(target, src);
  if (plan.action === 'already-merged') return { status: 'already-merged', source: src, mergedAt: plan.mergedAt };
  if (plan.action === 'refuse') throw new StoreError(plan.reason);
  target.prepare('ATTACH DATABASE ? AS src').run(src.file);
  try {
    return target.transaction((): MergeResult => {
      // The source may have changed between the check and now (a collector still writing).
      if (signatureOf(target, 'src') !== src.signature) throw new StoreError(`${src.file} changed while being merged; stop its collector first`);
      // A capture's owner is a process on the source's machine: it never writes the target.
      const capCols = columns(target, 'captures').filter((c) => c !== 'id' && c !== 'owner');
      const clash = target.prepare('SELECT s.origin FROM src.captures s JOIN main.captures m ON m.origin = s.origin LIMIT 1').pluck().get() as string | undefined;
      if (clash !== undefined) throw new StoreError(`${src.file} and the target both hold pushed capture ${clash}; merging would count it twice`);
      const capturesAdded = target.prepare(`INSERT INTO main.captures (${capCols.join(', ')}) SELECT ${capCols.join(', ')} FROM src.captures ORDER BY id`).run().changes;

      // Calls: the same upsert as an ingest's (store/calls.ts): counters add, times widen.
      const callCols = columns(target, 'calls').filter((c) => c !== 'id');
      const callRows = target.prepare(
        `INSERT INTO main.calls (${callCols.join(', ')}) SELECT ${callCols.join(', ')} FROM src.calls WHERE true
         ON CONFLICT (key_hi, key_lo) DO UPDATE SET
           count = count + excluded.count, connections = connections + excluded.connections, bytes = bytes + excluded.bytes,
           first_seen_ms = min(first_seen_ms, excluded.first_seen_ms), last_seen_ms = max(last_seen_ms, excluded.last_seen_ms),
           credentials_in_plaintext = max(credentials_in_plaintext, excluded.credentials_in_plaintext),
           status_2xx = status_2xx + excluded.status_2xx, status_3xx = status_3xx + excluded.status_3xx,
           status_4xx = status_4xx + excluded.status_4xx, status_5xx = status_5xx + excluded.status_5xx`,
      ).run().changes;
      target.prepare(
        `INSERT INTO main.call_verdicts (key_hi, key_lo, verdict, count) SELECT key_hi, key_lo, verdict, count FROM src.call_verdicts WHERE true
         ON CONFLICT (key_hi, key_lo, verdict) DO UPDATE SET count = count + excluded.count`,
      ).run();
      target.prepare(
        `INSERT INTO main.dns_names (ip, name, first_seen_ms, last_seen_ms) SELECT ip, name, first_seen_ms, last_seen_ms FROM src.dns_names WHERE true
         ON CONFLICT (ip, name) DO UPDATE SET first_seen_ms = min(first_seen_ms, excluded.first_seen_ms), last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)`,
      ).run();
      target.prepare('INSERT INTO main.certificates SELECT * FROM src.certificates WHERE true ON CONFLICT (fingerprint) DO NOTHING').run();
      target.prepare(
        `INSERT INTO main.certificate_sightings (fingerprint, role, ip, count, first_seen_ms, last_seen_ms)
         SELECT fingerprint, role, ip, count, first_seen_ms, last_seen_ms FROM src.certificate_sightings WHERE true
         ON CONFLICT (fingerprint, role, ip) DO UPDATE SET count = count + excluded.count,
           first_seen_ms = min(first_seen_ms, excluded.first_seen_ms), last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)`,
      ).run();

      // Inventory: a snapshot is a fact as of its time; the same one (sha256 and time) is kept once.
      const snapCols = columns(target, 'inventory_snapshots').filter((c) => c !== 'id');
      const snapshots = target.prepare(
        `SELECT s.id FROM src.inventory_snapshots s
         WHERE NOT EXISTS (SELECT 1 FROM main.inventory_snapshots m WHERE m.sha256 = s.sha256 AND m.taken_at_ms = s.taken_at_ms) ORDER BY s.id`,
      ).pluck().all() as number[];
      const copySnapshot = target.prepare(`INSERT INTO main.inventory_snapshots (${snapCols.join(', ')}) SELECT ${snapCols.join(', ')} FROM src.inventory_snapshots WHERE id = ?`);
      const children = SNAPSHOT_TABLES.map((t) => {
        const cols = columns(target, t).filter((c) => c !== 'snapshot_id');
        return target.prepare(`INSERT INTO main.${t} (snapshot_id, ${cols.join(', ')}) SELECT ?, ${cols.join(', ')} FROM src.${t} WHERE snapshot_id = ?`);
      });
      for (const old of snapshots) {
        const id = Number(copySnapshot.run(old).lastInsertRowid);
        for (const c of children) c.run(id, old);
      }

      // What the source itself was merged from comes along, so a later merge sees the overlap.
      target.prepare('INSERT INTO main.merges (identity, name, captures, calls, merged_at, signature) SELECT identity, name, captures, calls, merged_at, signature FROM src.merges WHERE true ON CONFLICT (identity) DO NOTHING').run();
      target.prepare('INSERT INTO main.merges (identity, name, captures, calls, merged_at, signature) VALUES (?, ?, ?, ?, ?, ?)')
        .run(src.identity, src.file, src.captures, src.callRows, nowIso, src.signature);
      return { status: 'merged', source: src, capturesAdded, callRows, snapshotsAdded: snapshots.length };
    }).immediate();
  } finally {
    target.prepare('DETACH DATABASE src').run();
  }
}
