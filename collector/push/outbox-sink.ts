// Where a pushing collector's rows go: into outbox batches (collector/store/outbox.ts) inside the
// ingest's own transaction, so a batch exists exactly when the capture state it belongs to was
// committed. One batch per aggregator drain (cut at ROWS_PER_BATCH rows) plus one per checkpoint
// carrying the capture's tallies; DNS names, certificates and Hubble verdicts ride along. When the
// spool is full the new batch is refused and counted: the batches already queued are older,
// already promised, and sent in order (docs/deploy/README.md).
// The capture's tallies always go, with the counts of calls and verdicts dropped: they are how the
// server learns that its map is missing calls, or the DROPPED verdicts that keep refused calls out
// of its policies (decision 009). Past the bound a checkpoint goes without DNS names, certificates
// and verdicts and replaces the previous such checkpoint, so a long outage adds one small batch per
// capture, not one per flush.
import type { AggRow } from '../aggregate.js';
import { log } from '../log.js';
import type { IngestStats } from '../model.js';
import type { Db } from '../store/db.js';
import type { CertificateSighting } from '../store/certificates.js';
import type { DnsAnswer } from '../store/inventory.js';
import { OutboxWriter, recordSpoolDrops, removeBatch } from '../store/outbox.js';
import type { VerdictRow } from '../store/telemetry.js';
import {
  CERTIFICATES_PER_BATCH, DNS_NAMES_PER_BATCH, ROWS_PER_BATCH, VERDICTS_PER_BATCH, wireCallKeyOf, wireCertificateOf,
  type IngestBatch, type WireCall, type WireCapture, type WireCertificate, type WireDnsName, type WireVerdict,
} from './wire.js';

/** What the worker thread needs to push: plain data, so it crosses into the ingest worker. */
export interface PushSpoolOptions {
  node: string;
  collector: string;
  /** Also write calls to the local store (collect --local). */
  isLocal: boolean;
  spoolMaxBytes: number;
}

export interface SpoolDrops {
  batches: number;
  rows: number;
  /** DNS names, certificate sightings and verdict counts left out: with dropped batches, and with checkpoints past the spool bound. */
  dnsNames: number;
  certificates: number;
  verdicts: number;
}

function wireCall(r: AggRow): WireCall {
  return {
    ...wireCallKeyOf(r.key),
    count: r.count, connections: r.connections, bytes: r.bytes,
    firstSeenMs: Number.isFinite(r.firstSeenMs) ? r.firstSeenMs : null, lastSeenMs: Number.isFinite(r.lastSeenMs) ? r.lastSeenMs : null,
    credentialsInPlaintext: r.credentialsInPlaintext === 1 ? 1 : 0,
    status2xx: r.status2xx, status3xx: r.status3xx, status4xx: r.status4xx, status5xx: r.status5xx,
  };
}

export class OutboxSink {
  private readonly outbox: OutboxWriter;
  private dns: WireDnsName[] = [];
  private certs: WireCertificate[] = [];
  private verdictRows: WireVerdict[] = [];
  readonly dropped: SpoolDrops = { batches: 0, rows: 0, dnsNames: 0, certificates: 0, verdicts: 0 };
  /** The last checkpoint written past the spool bound, replaced by the next one. */
  private overflowSeq: number | null = null;

  constructor(private readonly db: Db, private readonly opts: PushSpoolOptions, private readonly now: () => Date = () => new Date()) {
    this.outbox = new OutboxWriter(db);
  }

  /** Rows drained by the aggregator; the caller holds the transaction. */
  calls(rows: readonly AggRow[]): void {
    for (let i = 0; i < rows.length; i += ROWS_PER_BATCH) {
      this.emit(rows.slice(i, i + ROWS_PER_BATCH).map(wireCall), null);
    }
    this.emitSide();
  }

  /** DNS answers ride with the next batch (the aggregator's or the checkpoint's). */
  dnsNames(rows: readonly DnsAnswer[]): void {
    for (const r of rows) this.dns.push({ ip: r.ip, name: r.name, tsMs: Math.floor(r.tsMs) });
  }

  /** The capture's state as it is about to be committed: always a batch, so the server has it. */
  checkpoint(capture: WireCapture): void {
    this.emitSide();
    this.emit([], capture);
    // After the emit: a checkpoint past the bound leaves its verdicts out and counts them itself.
    recordSpoolDrops(this.db, capture.id, { calls: this.dropped.rows, verdicts: this.dropped.verdicts });
  }

  /** A checkpoint's capture with the drop counts as they stand. */
  private withDrops(capture: WireCapture | null): WireCapture | null {
    return capture === null ? null : { ...capture, spoolDroppedCalls: this.dropped.rows, spoolDroppedVerdicts: this.dropped.verdicts };
  }

  /** Certificate sightings ride with the next batch too (the certificate inventory). */
  certificates(rows: readonly CertificateSighting[]): void {
    for (const r of rows) this.certs.push(wireCertificateOf(r));
  }

  /**
   * Hubble verdict counts ride with the next batch too. The ingest hands them over in its
   * transaction before the calls they count are drained (HubbleSink.finish, then the aggregator's
   * drain; follow mode: tick, then drain), so they leave in the same commit as those calls,
   * mostly in the same batch.
   */
  verdicts(rows: readonly VerdictRow[]): void {
    for (const r of rows) this.verdictRows.push({ ...wireCallKeyOf(r.key), verdict: r.verdict, count: r.count });
  }

  /** DNS names, certificates and verdicts beyond one batch's share go out in batches of their own. */
  private emitSide(): void {
    while (this.dns.length > DNS_NAMES_PER_BATCH || this.certs.length > CERTIFICATES_PER_BATCH || this.verdictRows.length > VERDICTS_PER_BATCH) {
      this.emit([], null);
    }
  }

  private emit(calls: WireCall[], capture: WireCapture | null): void {
    const dns = this.dns.splice(0, DNS_NAMES_PER_BATCH);
    const certificates = this.certs.splice(0, CERTIFICATES_PER_BATCH);
    const verdicts = this.verdictRows.splice(0, VERDICTS_PER_BATCH);
    const seq = this.outbox.peekSeq();
    const batch: IngestBatch = {
      node: this.opts.node, collector: this.opts.collector, batch_id: `${this.opts.collector}-${seq}`,
      calls, dns_names: dns, ...(certificates.length > 0 ? { certificates } : {}), ...(verdicts.length > 0 ? { verdicts } : {}),
      capture: this.withDrops(capture),
    };
    let body = JSON.stringify(batch);
    const spooled = this.outbox.spooledBytes();
    if (spooled + Buffer.byteLength(body) > this.opts.spoolMaxBytes) {
      this.dropped.dnsNames += dns.length;
      this.dropped.certificates += certificates.length;
      // Verdicts too: this checkpoint may be replaced by the next one, which would lose them anyway.
      this.dropped.verdicts += verdicts.length;
      const counts = () => ({ spooledBytes: spooled, spoolMaxBytes: this.opts.spoolMaxBytes, calls: calls.length, verdicts: verdicts.length, droppedBatches: this.dropped.batches, droppedCalls: this.dropped.rows, droppedDnsNames: this.dropped.dnsNames, droppedCertificates: this.dropped.certificates, droppedVerdicts: this.dropped.verdicts });
      if (capture !== null) {
        // The calls these verdicts count may have gone out already: this checkpoint's own count
        // includes them, or a file's last checkpoint would never tell the server.
        body = JSON.stringify({ ...batch, dns_names: [], certificates: undefined, verdicts: undefined, capture: this.withDrops(capture) } satisfies IngestBatch);
        if (this.overflowSeq !== null) removeBatch(this.db, this.overflowSeq);
        this.overflowSeq = seq;
        this.outbox.add(seq, batch.batch_id, 0, body, this.now().toISOString());
        if (verdicts.length > 0) {
          log.warn(counts(), 'push spool full: Hubble verdicts are left out of the capture\'s checkpoint; the central policies may allow calls Cilium refuses (raise --spool-max or restore the server)');
        }
        return;
      }
      this.dropped.batches++;
      this.dropped.rows += calls.length;
      log.warn(counts(), 'push spool full: the central server has been unreachable too long; this batch is dropped and the central map will miss it (raise --spool-max or restore the server)');
      return;
    }
    this.outbox.add(seq, batch.batch_id, calls.length, body, this.now().toISOString());
  }
}

export interface CaptureCheckpoint {
  id: number;
  source: WireCapture['source'];
  name: string;
  startedAt: string;
  stats: IngestStats;
  dropped: number | null;
  /** Absent while the capture runs. */
  end?: { status: 'complete' } | { status: 'failed'; error: string };
  nowIso: string;
}

/** A file name or error message, fit for the wire's bounded, control-free text. */
function printableText(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.slice(0, 1024).replace(/[\u0000-\u001f\u007f-\u009f]/g, '\uFFFD');
}

/** The capture record as the server keeps it for a pushed capture. */
export function wireCaptureOf(c: CaptureCheckpoint): WireCapture {
  const s = c.stats;
  return {
    id: c.id, source: c.source, name: printableText(c.name),
    status: c.end?.status ?? 'running', startedAt: c.startedAt, finishedAt: c.end ? c.nowIso : null,
    bytesRead: s.bytesRead, packets: s.packets, malformed: s.malformed, skipped: s.skipped, connections: s.connections,
    evictedEarly: s.evictedEarly, callsWritten: s.callsWritten,
    firstTsMs: s.firstTsMs === null ? null : Math.floor(s.firstTsMs), lastTsMs: s.lastTsMs === null ? null : Math.ceil(s.lastTsMs),
    dropped: c.dropped, error: c.end?.status === 'failed' ? printableText(c.end.error) : null,
  };
}
