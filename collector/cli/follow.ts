// `collect envoy|hubble --follow -`: a log stream that does not end (`kubectl logs -f`,
// `hubble observe -f -o json`), committed every --flush-interval like a live capture
// (ingest.ts ingestLive): one transaction per interval holds the rows aggregated since the last
// one, the verdicts, and the capture record's tallies; a killed collector loses at most the
// interval in flight. SIGINT, SIGTERM or the end of the stream: a final flush, then done.
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Aggregator } from '../aggregate.js';
import type { IngestStats } from '../model.js';
import { OutboxSink, wireCaptureOf, type PushSpoolOptions } from '../push/outbox-sink.js';
import type { TelemetryStats } from '../sources/envoy/calls.js';
import { CallWriter } from '../store/calls.js';
import { beginCapture, IngestTransaction, updateLiveCapture } from '../store/captures.js';
import type { Db } from '../store/db.js';
import { log } from '../log.js';
import type { Io } from './command.js';
import { openDb } from './commands.js';
import type { Push } from './push-flags.js';
import { EXIT_FAILURE, EXIT_OK } from './support.js';
import type { LineSource } from './telemetry.js';

export interface FollowOptions {
  node: string;
  flushIntervalMs: number;
  push?: PushSpoolOptions;
  /** Resolves when the collector is asked to stop (a signal). */
  stop: Promise<void>;
  onFlush?: (stats: TelemetryStats, flushes: number) => void;
  now?: () => Date;
}

export interface FollowOutcome {
  captureId: number;
  stats: TelemetryStats;
  callsWritten: number;
  flushes: number;
  /** Why reading ended. */
  endedBy: 'eof' | 'signal';
}

export async function followTelemetry(db: Db, stream: Readable, source: LineSource, opts: FollowOptions): Promise<FollowOutcome> {
  const now = opts.now ?? (() => new Date());
  const startedAt = now().toISOString();
  const name = `${source.name} --follow`;
  const captureId = beginCapture(db, { source: source.name, name, node: opts.node, fingerprint: null, sizeBytes: 0, nowIso: startedAt });
  const tx = new IngestTransaction(db);
  const writer = new CallWriter(db);
  const push = opts.push ? new OutboxSink(db, opts.push) : null;
  const isLocal = push === null || opts.push!.isLocal;
  // A batch that fills up mid-interval goes into the interval's transaction, opened then.
  const agg = new Aggregator((rows) => {
    tx.ensure();
    if (isLocal) writer.write(rows);
    push?.calls(rows);
  });
  const sink = source.createSink({ agg, db, captureId, node: opts.node, beforeWrite: () => tx.ensure(), push, isLocal });
  let bytes = 0;
  stream.on('data', (b: Buffer | string) => { bytes += b.length; });
  let flushes = 0;
  // The tallies as last committed: what the record may claim if the interval in flight is lost.
  let committed: IngestStats | null = null;
  const statsOf = (): IngestStats => {
    const s = sink.stats;
    return {
      bytesRead: bytes, packets: s.lines, malformed: s.malformed, skipped: s.skipped, connections: s.connections,
      evictedEarly: 0, callsWritten: agg.flushedRows, firstTsMs: s.firstTsMs, lastTsMs: s.lastTsMs,
    };
  };
  const flush = (end?: { status: 'complete' }) => {
    tx.ensure();
    if (end === undefined) sink.tick?.(Date.now());
    agg.drain();
    const stats = statsOf();
    const nowIso = now().toISOString();
    updateLiveCapture(db, captureId, { stats, dropped: null, end, nowIso });
    push?.checkpoint(wireCaptureOf({ id: captureId, source: source.name, name, startedAt, stats, dropped: null, end, nowIso }));
    tx.commit();
    committed = stats;
    flushes++;
    opts.onFlush?.({ ...sink.stats }, flushes);
  };

  // Lines are handled synchronously, so the timer's flush always falls between two lines.
  sink.tick?.(Date.now());
  const timer = setInterval(flush, opts.flushIntervalMs);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let endedBy: FollowOutcome['endedBy'] = 'eof';
  void opts.stop.then(() => {
    endedBy = 'signal';
    lines.close();
  });
  try {
    for await (const line of lines) sink.line(line);
    sink.finish();
    flush({ status: 'complete' });
  } catch (err) {
    // Earlier intervals stay committed: only the one in flight is lost, as with a crash.
    tx.rollback();
    updateLiveCapture(db, captureId, {
      stats: committed ?? statsOf(), dropped: null, nowIso: now().toISOString(),
      end: { status: 'failed', error: `unexpected failure: ${(err as Error).message}; calls up to the last flush are recorded` },
    });
    throw err;
  } finally {
    clearInterval(timer);
    stream.destroy();
  }
  return { captureId, stats: { ...sink.stats }, callsWritten: agg.flushedRows, flushes, endedBy };
}

export interface FollowCommandFlags {
  db: string;
  node: string;
  json: boolean;
  'flush-interval': number;
}

/** The --follow branch of `collect envoy|hubble`: standard input until EOF or a signal. */
export async function runFollow(source: LineSource, flags: FollowCommandFlags, push: Push | null, io: Io): Promise<number> {
  let onSignal: () => void = () => {};
  const stop = new Promise<void>((resolve) => { onSignal = resolve; });
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const db = openDb(flags.db);
  let o: FollowOutcome;
  try {
    o = await followTelemetry(db, io.stdin, source, {
      node: flags.node, flushIntervalMs: flags['flush-interval'], push: push?.spool, stop,
      onFlush: (s, n) => log.debug({ flushes: n, lines: s.lines, calls: s.calls, malformed: s.malformed }, 'flushed'),
    });
  } catch (err) {
    await push?.finish();
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    db.close();
  }
  const left = push ? await push.finish() : null;
  const s = o.stats;
  const summary = {
    capture: o.captureId, ended_by: o.endedBy, lines: s.lines, calls: s.calls, deduplicated: s.deduplicated,
    malformed: s.malformed, skipped: s.skipped, calls_written: o.callsWritten, flushes: o.flushes,
  };
  if (flags.json) io.stdout.write(JSON.stringify(summary) + '\n');
  else {
    io.stdout.write(
      `capture ${summary.capture} complete (${summary.ended_by === 'eof' ? 'end of input' : 'stopped'})  lines ${summary.lines}`
      + `  calls ${summary.calls}  deduplicated ${summary.deduplicated}  malformed ${summary.malformed}`
      + `  skipped ${summary.skipped}  rows written ${summary.calls_written}  flushes ${summary.flushes}\n`,
    );
  }
  if (left !== null) {
    io.stderr.write(`error: ${left}\n`);
    return EXIT_FAILURE;
  }
  return EXIT_OK;
}
