// The server's side of pushing: a batch from a collector applied in one transaction together
// with the record of its id, so a crash mid-apply leaves neither and a replayed id changes
// nothing (verdict counts are added up, so a second apply would double them). Calls and verdicts
// take the node the batch's token speaks for, never one the batch names per row.
import { AggRow, keyString } from '../aggregate.js';
import { callKeyOf, certificateSightingOf, type IngestBatch, type IngestReply, type WireCapture } from '../push/wire.js';
import { CallWriter } from './calls.js';
import { recordCertificates } from './certificates.js';
import type { Db } from './db.js';
import { recordDnsAnswers } from './inventory.js';
import { VerdictWriter } from './telemetry.js';

export class BatchApplier {
  private readonly writer: CallWriter;
  private readonly verdicts: VerdictWriter;
  private readonly seen;
  private readonly record;
  private readonly capture;

  constructor(private readonly db: Db) {
    this.writer = new CallWriter(db);
    this.verdicts = new VerdictWriter(db);
    this.seen = db.prepare('SELECT 1 FROM ingest_batches WHERE batch_id = ?').pluck();
    this.record = db.prepare('INSERT INTO ingest_batches (batch_id, node, rows, received_at) VALUES (?, ?, ?, ?)');
    // A pushed capture is one row per (node, collector, capture id): each batch carries its
    // tallies so far, and the newest batch (batches arrive in order) overwrites them.
    this.capture = db.prepare(
      `INSERT INTO captures (source, name, node, size_bytes, packets, malformed, skipped, connections,
         evicted_early, calls_written, first_ts_ms, last_ts_ms, status, error, started_at, finished_at, dropped, spool_dropped_calls, spool_dropped_verdicts, origin)
       VALUES (@source, @name, @node, @bytesRead, @packets, @malformed, @skipped, @connections,
         @evictedEarly, @callsWritten, @firstTsMs, @lastTsMs, @status, @error, @startedAt, @finishedAt, @dropped, @spoolDroppedCalls, @spoolDroppedVerdicts, @origin)
       ON CONFLICT (origin) WHERE origin IS NOT NULL DO UPDATE SET
         size_bytes = excluded.size_bytes, packets = excluded.packets, malformed = excluded.malformed,
         skipped = excluded.skipped, connections = excluded.connections, evicted_early = excluded.evicted_early,
         calls_written = excluded.calls_written, first_ts_ms = excluded.first_ts_ms, last_ts_ms = excluded.last_ts_ms,
         status = excluded.status, error = excluded.error, finished_at = excluded.finished_at, dropped = excluded.dropped,
         spool_dropped_calls = excluded.spool_dropped_calls, spool_dropped_verdicts = excluded.spool_dropped_verdicts`,
    );
  }

  /** Applies `b` for `node` (already authenticated) unless its id was applied before. */
  apply(node: string, b: IngestBatch, nowIso: string): IngestReply {
    return this.db.transaction((): IngestReply => {
      if (this.seen.get(b.batch_id) !== undefined) return { duplicate: true, calls: 0, dns_names: 0, certificates: 0, verdicts: 0 };
      const rows = b.calls.map((c) => {
        const key = callKeyOf(node, c);
        const r = new AggRow(key, keyString(key));
        r.count = c.count;
        r.connections = c.connections;
        r.bytes = c.bytes;
        // As the collector's own upsert would: no time yet is ±Infinity, which min/max widen later.
        r.firstSeenMs = c.firstSeenMs ?? Number.POSITIVE_INFINITY;
        r.lastSeenMs = c.lastSeenMs ?? Number.NEGATIVE_INFINITY;
        r.credentialsInPlaintext = c.credentialsInPlaintext;
        r.status2xx = c.status2xx;
        r.status3xx = c.status3xx;
        r.status4xx = c.status4xx;
        r.status5xx = c.status5xx;
        return r;
      });
      this.writer.write(rows);
      const names = b.dns_names.length > 0 ? recordDnsAnswers(this.db, b.dns_names) : 0;
      const certificates = b.certificates !== undefined && b.certificates.length > 0
        ? recordCertificates(this.db, b.certificates.map(certificateSightingOf))
        : 0;
      // Under the key hash of the server's own call row (the token's node), as the collector filed them.
      const verdicts = (b.verdicts ?? []).map((v) => ({ keyString: keyString(callKeyOf(node, v)), verdict: v.verdict, count: v.count }));
      this.verdicts.write(verdicts);
      if (b.capture !== null) this.capture.run(captureParams(node, b.collector, b.capture));
      this.record.run(b.batch_id, node, rows.length, nowIso);
      return { duplicate: false, calls: rows.length, dns_names: names, certificates, verdicts: verdicts.length };
    }).immediate();
  }
}

function captureParams(node: string, collector: string, c: WireCapture) {
  return {
    source: c.source, name: c.name, node, bytesRead: c.bytesRead, packets: c.packets, malformed: c.malformed,
    skipped: c.skipped, connections: c.connections, evictedEarly: c.evictedEarly, callsWritten: c.callsWritten,
    firstTsMs: c.firstTsMs, lastTsMs: c.lastTsMs, status: c.status, error: c.error, startedAt: c.startedAt,
    finishedAt: c.finishedAt, dropped: c.dropped, spoolDroppedCalls: c.spoolDroppedCalls ?? null,
    // Unknown (NULL), not zero, from a collector older than the verdict count.
    spoolDroppedVerdicts: c.spoolDroppedVerdicts ?? null, origin: `${node}/${collector}/${c.id}`,
  };
}

