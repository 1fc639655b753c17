// The record of each ingested input: identity (sha256 and a cheap fingerprint), tallies, status.
import type { Db } from './db.js';
import { discardStaged, mergeStaged } from './calls.js';
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
}

interface CaptureDbRow {
  id: number; source: CallSource; name: string; node: string; sha256: string | null;
  fingerprint: string | null; size_bytes: number; packets: number; malformed: number;
  connections: number; calls_written: number; status: CaptureStatus; started_at: string;
  finished_at: string | null;
}

function toRecord(r: CaptureDbRow): CaptureRecord {
  return {
    id: r.id, source: r.source, name: r.name, node: r.node, sha256: r.sha256,
    fingerprint: r.fingerprint, sizeBytes: r.size_bytes, packets: r.packets,
    malformed: r.malformed, connections: r.connections, callsWritten: r.calls_written,
    status: r.status, startedAt: r.started_at, finishedAt: r.finished_at,
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
 * Starts a capture. Ingests of the same input that were interrupted earlier (status still
 * 'running' with the same fingerprint) are marked failed and their staged rows dropped, so the
 * rerun starts from a clean slate and nothing is counted twice.
 */
export function beginCapture(db: Db, c: BeginCapture): number {
  return db.transaction(() => {
    if (c.fingerprint !== null) {
      const stale = db
        .prepare(`SELECT id FROM captures WHERE fingerprint = ? AND status = 'running'`)
        .all(c.fingerprint) as Array<{ id: number }>;
      for (const { id } of stale) abandon(db, id, 'interrupted; superseded by a rerun', c.nowIso);
    }
    const info = db
      .prepare(
        `INSERT INTO captures (source, name, node, fingerprint, size_bytes, status, started_at)
         VALUES (?, ?, ?, ?, ?, 'running', ?)`,
      )
      .run(c.source, c.name, c.node, c.fingerprint, c.sizeBytes, c.nowIso);
    return Number(info.lastInsertRowid);
  }).immediate();
}

function abandon(db: Db, id: number, error: string, nowIso: string): void {
  discardStaged(db, id);
  db.prepare(`UPDATE captures SET status = 'failed', error = ?, finished_at = ? WHERE id = ?`).run(error, nowIso, id);
}

/** Marks an ingest failed and drops what it staged: nothing of a failed input is counted. */
export function failCapture(db: Db, id: number, error: string, nowIso: string): void {
  db.transaction(() => abandon(db, id, error, nowIso)).immediate();
}

export interface CompleteCapture {
  sha256: string;
  stats: IngestStats;
  nowIso: string;
}

/** Moves the staged calls into calls and marks the capture complete, atomically. */
export function completeCapture(db: Db, id: number, c: CompleteCapture): number {
  return db.transaction(() => {
    const merged = mergeStaged(db, id);
    const s = c.stats;
    db.prepare(
      `UPDATE captures SET status = 'complete', sha256 = ?, size_bytes = ?, packets = ?,
         malformed = ?, skipped = ?, connections = ?, evicted_early = ?, calls_written = ?,
         first_ts_ms = ?, last_ts_ms = ?, finished_at = ? WHERE id = ?`,
    ).run(
      c.sha256, s.bytesRead, s.packets, s.malformed, s.skipped, s.connections, s.evictedEarly,
      merged, s.firstTsMs === null ? null : Math.floor(s.firstTsMs),
      s.lastTsMs === null ? null : Math.ceil(s.lastTsMs), c.nowIso, id,
    );
    return merged;
  }).immediate();
}
