// The collector's outbox for pushing (collect --push): batches written in the same transaction as
// the capture record they belong to, read in order by the sender, deleted only after the server
// answered 2xx. A batch's id is fixed when it is written, so a resend after a crash is a replay
// the server recognises.
import type { Db } from './db.js';

/** This store's random id (store_identity, migration 6): with a sequence number it names every batch. */
export function collectorIdOf(db: Db): string {
  return db.prepare('SELECT id FROM store_identity WHERE one = 1').pluck().get() as string;
}

export interface OutboxEntry {
  seq: number;
  batchId: string;
  rows: number;
  body: string;
}

export interface SpoolState {
  batches: number;
  rows: number;
  bytes: number;
  rejected: number;
}

/** Appends batches; the caller holds the ingest's transaction. */
export class OutboxWriter {
  private readonly nextSeq;
  private readonly spooled;
  private readonly insert;

  constructor(db: Db) {
    // AUTOINCREMENT keeps the highest seq ever used in sqlite_sequence: a seq is never reused,
    // even after its batch was sent and deleted, so a batch id is never reused either.
    this.nextSeq = db.prepare(`SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'push_outbox'), 0) + 1`).pluck();
    this.spooled = db.prepare('SELECT coalesce(sum(bytes), 0) FROM push_outbox WHERE rejected IS NULL').pluck();
    this.insert = db.prepare('INSERT INTO push_outbox (seq, batch_id, rows, bytes, body, created_at) VALUES (?, ?, ?, ?, ?, ?)');
  }

  /** The sequence number the next batch will get. */
  peekSeq(): number {
    return this.nextSeq.get() as number;
  }

  /** Bytes waiting to be sent. */
  spooledBytes(): number {
    return this.spooled.get() as number;
  }

  add(seq: number, batchId: string, rows: number, body: string, nowIso: string): void {
    this.insert.run(seq, batchId, rows, Buffer.byteLength(body), body, nowIso);
  }
}

/** Takes a batch out of the queue whether or not it was sent (one that only repeats newer tallies). */
export function removeBatch(db: Db, seq: number): void {
  db.prepare('DELETE FROM push_outbox WHERE seq = ?').run(seq);
}

/** What a pushing collector dropped from a full spool so far, in rows: calls, and Hubble verdict counts (one per call and verdict). */
export interface SpoolDropCounts {
  calls: number;
  verdicts: number;
}

/** The counts of rows a pushing collector dropped from capture `id` so far (its local record). */
export function recordSpoolDrops(db: Db, id: number, n: SpoolDropCounts): void {
  db.prepare('UPDATE captures SET spool_dropped_calls = ?, spool_dropped_verdicts = ? WHERE id = ?').run(n.calls, n.verdicts, id);
}

/** Batches after `afterSeq` still to send, oldest first. */
export function nextBatches(db: Db, afterSeq: number, limit: number): OutboxEntry[] {
  return db.prepare(
    'SELECT seq, batch_id AS batchId, rows, body FROM push_outbox WHERE seq > ? AND rejected IS NULL ORDER BY seq LIMIT ?',
  ).all(afterSeq, limit) as OutboxEntry[];
}

/** Removes batches the server accepted. */
export function removeSent(db: Db, seqs: readonly number[]): void {
  const del = db.prepare('DELETE FROM push_outbox WHERE seq = ?');
  db.transaction(() => { for (const s of seqs) del.run(s); }).immediate();
}

/** Keeps a batch the server refused as malformed out of the queue, with the reason, for a person to look at. */
export function markRejected(db: Db, seq: number, reason: string): void {
  db.prepare('UPDATE push_outbox SET rejected = ? WHERE seq = ?').run(reason, seq);
}

export function spoolState(db: Db): SpoolState {
  return db.prepare(
    `SELECT count(*) FILTER (WHERE rejected IS NULL) AS batches, coalesce(sum(rows) FILTER (WHERE rejected IS NULL), 0) AS rows,
            coalesce(sum(bytes) FILTER (WHERE rejected IS NULL), 0) AS bytes, count(*) FILTER (WHERE rejected IS NOT NULL) AS rejected
     FROM push_outbox`,
  ).get() as SpoolState;
}
