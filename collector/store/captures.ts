// The record of each ingested input: identity (sha256 and a cheap fingerprint), tallies, status.
import type { Db } from './db.js';
import { currentOwner, INTERRUPTED, isOwnerGone } from '../capture-owner.js';
import type { CallSource, CaptureStatus, IngestStats } from '../model.js';

export interface CaptureRecord {
  id: number;
  source: CallSource;
  name: string;
  node: string;
  sha256: string | null;
  fingerprint: string | null;
  sizeBytes: number;
  packets: number;
  malformed: number;
  connections: number;
  callsWritten: number;
  status: CaptureStatus;
  startedAt: string;
  finishedAt: string | null;
  /** Packets the kernel (or tcpdump) dropped during a live capture; null for files. */
  dropped: number | null;
  /** Why a capture failed. */
  error: string | null;
  /** Calls a pushing collector dropped because its spool was full; null when not pushed. */
  spoolDroppedCalls: number | null;
  /** Hubble verdict counts a pushing collector dropped because its spool was full; null when not pushed or unknown (an older collector). */
  spoolDroppedVerdicts: number | null;
}

interface CaptureDbRow {
  id: number; source: CallSource; name: string; node: string; sha256: string | null;
  fingerprint: string | null; size_bytes: number; packets: number; malformed: number;
  connections: number; calls_written: number; status: CaptureStatus; started_at: string;
  finished_at: string | null; dropped: number | null; error: string | null; owner: string | null;
  spool_dropped_calls: number | null; spool_dropped_verdicts: number | null;
}

function toRecord(r: CaptureDbRow): CaptureRecord {
  // Still 'running' in the store, but its collector is gone: say so now; the next capture to
  // begin on this store writes it down (beginCapture).
  const isInterrupted = r.status === 'running' && isOwnerGone(r.owner);
  return {
    id: r.id, source: r.source, name: r.name, node: r.node, sha256: r.sha256,
    fingerprint: r.fingerprint, sizeBytes: r.size_bytes, packets: r.packets,
    malformed: r.malformed, connections: r.connections, callsWritten: r.calls_written,
    status: isInterrupted ? 'failed' : r.status, startedAt: r.started_at, finishedAt: r.finished_at, dropped: r.dropped ?? null,
    error: isInterrupted ? INTERRUPTED : r.error, spoolDroppedCalls: r.spool_dropped_calls ?? null,
    spoolDroppedVerdicts: r.spool_dropped_verdicts ?? null,
  };
}

export function findCompleteBySha(db: Db, sha256: string): CaptureRecord | undefined {
  const r = db
    .prepare(`SELECT * FROM captures WHERE sha256 = ? AND status = 'complete' ORDER BY id LIMIT 1`)
    .get(sha256) as CaptureDbRow | undefined;
  return r && toRecord(r);
}

export function findCompleteByFingerprint(db: Db, fingerprint: string): CaptureRecord[] {
  return (
    db
      .prepare(`SELECT * FROM captures WHERE fingerprint = ? AND status = 'complete' ORDER BY id`)
      .all(fingerprint) as CaptureDbRow[]
  ).map(toRecord);
}

export function listCaptures(db: Db): CaptureRecord[] {
  return (db.prepare('SELECT * FROM captures ORDER BY id').all() as CaptureDbRow[]).map(toRecord);
}

export interface BeginCapture {
  source: CallSource;
  name: string;
  node: string;
  fingerprint: string | null;
  sizeBytes: number;
  nowIso: string;
}

/**
 * Starts a capture: records it as 'running' with this process as its owner (committed at once,
 * so an interrupted ingest leaves a trace). Earlier captures left 'running' are marked failed
 * when their collector is certainly gone (capture-owner.ts), and so are interrupted ingests of
 * the same input (same fingerprint): their calls were never committed.
 */
export function beginCapture(db: Db, c: BeginCapture): number {
  return db.transaction(() => {
    if (c.fingerprint !== null) {
      db.prepare(`UPDATE captures SET status = 'failed', error = 'interrupted; superseded by a rerun', finished_at = ?
                  WHERE fingerprint = ? AND status = 'running'`).run(c.nowIso, c.fingerprint);
    }
    const orphaned = db.prepare(`SELECT id, owner FROM captures WHERE status = 'running' AND owner IS NOT NULL`).all() as Array<{ id: number; owner: string }>;
    for (const o of orphaned) if (isOwnerGone(o.owner)) failCapture(db, o.id, INTERRUPTED, c.nowIso);
    const info = db
      .prepare(
        `INSERT INTO captures (source, name, node, fingerprint, size_bytes, status, started_at, owner)
         VALUES (?, ?, ?, ?, ?, 'running', ?, ?)`,
      )
      .run(c.source, c.name, c.node, c.fingerprint, c.sizeBytes, c.nowIso, currentOwner());
    return Number(info.lastInsertRowid);
  }).immediate();
}

/**
 * The write transaction an ingest runs in, from its first batch of calls to the capture record
 * marked complete. A process killed in between leaves nothing of the input counted: SQLite rolls
 * the open transaction back (docs/schema.md).
 */
export class IngestTransaction {
  private open = false;
  constructor(private readonly db: Db) {}

  begin(): void {
    this.db.exec('BEGIN IMMEDIATE');
    this.open = true;
  }

  /** Begins unless already open: a live capture opens it at its first write of an interval. */
  ensure(): void {
    if (!this.open) this.begin();
  }

  commit(): void {
    if (!this.open) return;
    this.db.exec('COMMIT');
    this.open = false;
  }

  rollback(): void {
    if (!this.open) return;
    this.open = false;
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }
}

/** Marks an ingest failed (after its transaction was rolled back): nothing of it is counted. */
export function failCapture(db: Db, id: number, error: string, nowIso: string): void {
  db.prepare(`UPDATE captures SET status = 'failed', error = ?, finished_at = ? WHERE id = ?`).run(error, nowIso, id);
}

export interface CompleteCapture {
  sha256: string;
  stats: IngestStats;
  nowIso: string;
}

/** Marks the capture complete with its tallies; run inside the ingest's transaction. */
export function completeCapture(db: Db, id: number, c: CompleteCapture): void {
  const s = c.stats;
  db.prepare(
    `UPDATE captures SET status = 'complete', sha256 = ?, size_bytes = ?, packets = ?,
       malformed = ?, skipped = ?, connections = ?, evicted_early = ?, calls_written = ?,
       first_ts_ms = ?, last_ts_ms = ?, finished_at = ? WHERE id = ?`,
  ).run(
    c.sha256, s.bytesRead, s.packets, s.malformed, s.skipped, s.connections, s.evictedEarly,
    s.callsWritten, s.firstTsMs === null ? null : Math.floor(s.firstTsMs),
    s.lastTsMs === null ? null : Math.ceil(s.lastTsMs), c.nowIso, id,
  );
}

export interface LiveTallies {
  stats: IngestStats;
  /** Packets dropped so far (kernel plus interface), cumulative; null while unknown. */
  dropped: number | null;
  /** Set on the final flush: 'complete', or 'failed' with the reason. */
  end?: { status: 'complete' } | { status: 'failed'; error: string };
  nowIso: string;
}

/**
 * A live capture's flush: its tallies so far, written in the same transaction as the calls of
 * the interval, so the record never claims more (or less) than the calls table holds. It has no
 * sha256: a stream that never ends has no identity to deduplicate by, and hashing days of
 * traffic would cost CPU for nothing.
 */
export function updateLiveCapture(db: Db, id: number, t: LiveTallies): void {
  const s = t.stats;
  db.prepare(
    `UPDATE captures SET size_bytes = ?, packets = ?, malformed = ?, skipped = ?, connections = ?,
       evicted_early = ?, calls_written = ?, first_ts_ms = ?, last_ts_ms = ?, dropped = ?,
       status = ?, error = ?, finished_at = ? WHERE id = ?`,
  ).run(
    s.bytesRead, s.packets, s.malformed, s.skipped, s.connections, s.evictedEarly, s.callsWritten,
    s.firstTsMs === null ? null : Math.floor(s.firstTsMs), s.lastTsMs === null ? null : Math.ceil(s.lastTsMs),
    t.dropped, t.end?.status ?? 'running', t.end?.status === 'failed' ? t.end.error : null,
    t.end ? t.nowIso : null, id,
  );
}
