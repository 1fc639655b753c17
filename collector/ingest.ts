// The capture ingest, top to bottom: identify the input → skip it if already ingested → read
// records in large chunks → decode → track → aggregate → write batches → commit, all of an
// input in one transaction. A live capture (ingestLive) runs the same pipeline over a stream
// that never ends and commits once per flush interval instead.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Aggregator, type AggRow } from './aggregate.js';
import { decodeLink } from './decode/link.js';
import { DecodedPacket, OK, SKIP } from './decode/packet.js';
import { createInspector, inspectDatagram } from './inspect/inspector.js';
import type { IngestStats } from './model.js';
import { UnsupportedInputError } from './sources/pcap/errors.js';
import { detectReader, MAGIC_BYTES } from './sources/pcap/magic.js';
import type { MalformedReason, PacketSink, RecordReader } from './sources/pcap/sink.js';
import { CallWriter } from './store/calls.js';
import { recordCertificates } from './store/certificates.js';
import { recordDnsAnswers } from './store/inventory.js';
import { SideRecords, type SideRecordSink } from './side-records.js';
import { beginCapture, completeCapture, failCapture, findCompleteByFingerprint, findCompleteBySha, IngestTransaction, updateLiveCapture } from './store/captures.js';
import type { Db } from './store/db.js';
import { DEFAULT_TRACKER_OPTIONS, Tracker, type TrackerOptions } from './track/tracker.js';
import { pathTemplater } from './paths.js';
import { OutboxSink, wireCaptureOf, type PushSpoolOptions } from './push/outbox-sink.js';

// Reads are small and land in a small window, so the bytes are still in the CPU's cache when
// the decoder walks them: with 8 MiB reads into an 8 MiB window, `read` took 0.78 s of the 1 GiB
// benchmark's profile against 0.26 s (docs/benchmarks.md, 2026-11-23 16:50–17:30).
const CHUNK = 1024 * 1024;
const READ_SIZE = 256 * 1024;
/** Largest window we let a single record force: pcapng blocks are capped at 16 MiB. */
const MAX_WINDOW = 40 * 1024 * 1024;
const FINGERPRINT_SPAN = 64 * 1024;

export interface IngestOptions {
  node: string;
  force: boolean;
  maxFlows?: number;
  /** Distinct path templates kept per edge before the rest fold into a prefix with '/*'. */
  maxPathsPerEdge?: number;
  /** Aggregated rows held in memory before a batch is written (one transaction per batch). */
  batchRows?: number;
  /** Push to a central server (collect --push): batches go to the store's outbox, calls locally only when isLocal. */
  push?: PushSpoolOptions;
  /** Called at most every `progressEveryMs` with bytes read so far. */
  onProgress?: (p: Progress) => void;
  progressEveryMs?: number;
  now?: () => Date;
  /**
   * The sha256 of a regular file, computed by another thread from its own reads while this one
   * decodes (ingest-runner.ts): the ingest then does not hash a file's bytes itself. Inputs that
   * can be read only once (standard input) or are decompressed are still hashed as they are read.
   */
  hashBeside?: (input: string) => Promise<FileHash>;
}

export interface FileHash {
  sha256: string;
  bytes: number;
}

export interface Progress {
  bytesRead: number;
  totalBytes: number | null;
  packets: number;
  elapsedMs: number;
}

export type IngestOutcome =
  | { status: 'complete'; name: string; captureId: number; stats: IngestStats; sha256: string; format: string; elapsedMs: number }
  | { status: 'duplicate'; name: string; sha256: string; previousId: number }
  | { status: 'error'; name: string; message: string };

/** Tallies of one run plus the decode state, reused for every packet of the input. */
class Pipeline implements PacketSink {
  readonly stats: IngestStats = {
    bytesRead: 0, packets: 0, malformed: 0, skipped: 0, connections: 0, evictedEarly: 0,
    callsWritten: 0, firstTsMs: null, lastTsMs: null,
  };
  readonly malformedBy = new Map<string, number>();
  private readonly decoded = new DecodedPacket();
  private lastTs = 0;

  constructor(readonly tracker: Tracker) {}

  packet(linkType: number, tsMs: number, buf: Uint8Array, offset: number, capLen: number): void {
    const s = this.stats;
    s.packets++;
    // Simple Packet Blocks carry no time; they inherit the last one seen.
    if (tsMs !== tsMs) tsMs = this.lastTs;
    else {
      this.lastTs = tsMs;
      if (s.firstTsMs === null) s.firstTsMs = tsMs;
      if (s.lastTsMs === null || tsMs > s.lastTsMs) s.lastTsMs = tsMs;
    }
    const p = this.decoded;
    p.buf = buf;
    p.depth = 0;
    const v = decodeLink(p, linkType, buf, offset, offset + capLen);
    if (v === OK) this.tracker.packet(p, tsMs);
    else if (v === SKIP) s.skipped++;
    else this.malformed(p.reason);
  }

  malformed(reason: MalformedReason): void {
    this.stats.malformed++;
    this.malformedBy.set(reason, (this.malformedBy.get(reason) ?? 0) + 1);
  }
}

/** A sliding window over the input: bytes are appended at the end, records consumed from the front. */
export class Window {
  buf = Buffer.allocUnsafe(CHUNK);
  start = 0;
  end = 0;

  /** Makes room for at least `want` more bytes, compacting or growing. */
  reserve(want: number): void {
    if (this.buf.length - this.end >= want) return;
    if (this.start > 0) {
      this.buf.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
      if (this.buf.length - this.end >= want) return;
    }
    const size = Math.max(this.buf.length * 2, this.end + want);
    if (size > MAX_WINDOW) throw new UnsupportedInputError('a single capture record is larger than 40 MiB: the file is corrupt');
    const bigger = Buffer.allocUnsafe(size);
    this.buf.copy(bigger, 0, 0, this.end);
    this.buf = bigger;
  }
}

/** read() of a live source when no bytes came before its tick: time to look at the clock. */
export const TICK = -1;
const STATUS_EVERY_MS = 1000;

export interface Source {
  name: string;
  totalBytes: number | null;
  /** Fills `w` with the next bytes; returns 0 at end of input (live sources: or TICK). */
  read(w: Window): Promise<number> | number;
  close(): void;
}

function fileSource(path: string, name = path): Source {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UnsupportedInputError(e.code === 'ENOENT' ? `${path}: no such file` : e.code === 'EISDIR' ? `${path}: is a directory` : `${path}: cannot open (${e.code ?? e.message})`);
  }
  const st = fstatSync(fd);
  if (st.isDirectory()) { closeSync(fd); throw new UnsupportedInputError(`${path}: is a directory`); }
  return {
    name,
    totalBytes: st.isFile() ? st.size : null,
    read(w) {
      w.reserve(READ_SIZE);
      const n = readSync(fd, w.buf, w.end, Math.min(READ_SIZE, w.buf.length - w.end), null);
      w.end += n;
      return n;
    },
    close() { closeSync(fd); },
  };
}

/**
 * Standard input read synchronously: /dev/stdin reopened (a fresh blocking descriptor for a pipe
 * or a file), or fd 0 itself when it is a socket (reopening a socket fails with ENXIO), waiting
 * briefly whenever a non-blocking descriptor has nothing yet.
 */
function stdinSource(): Source {
  try {
    return fileSource('/dev/stdin', '-');
  } catch {
    const pause = new Int32Array(new SharedArrayBuffer(4));
    return {
      name: '-',
      totalBytes: null,
      read(w) {
        w.reserve(READ_SIZE);
        for (;;) {
          try {
            const n = readSync(0, w.buf, w.end, Math.min(READ_SIZE, w.buf.length - w.end), null);
            w.end += n;
            return n;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
            Atomics.wait(pause, 0, 0, 2);
          }
        }
      },
      close() { /* fd 0 is not ours to close */ },
    };
  }
}

function streamSource(name: string, stream: Readable): Source {
  const it = stream[Symbol.asyncIterator]();
  return {
    name,
    totalBytes: null,
    async read(w) {
      const r = await it.next();
      if (r.done) return 0;
      const chunk = r.value as Buffer;
      w.reserve(chunk.length);
      chunk.copy(w.buf, w.end);
      w.end += chunk.length;
      return chunk.length;
    },
    close() { /* the caller owns the stream */ },
  };
}

/**
 * A gzip-compressed capture, decompressed as it is read. Its identity (sha256) is the capture's
 * own, decompressed bytes: the same capture compressed or not is one capture. A corrupt or
 * truncated file is an input error, and nothing of it is recorded.
 */
function gzipFileSource(path: string): Source {
  const inflated = pipeline(createReadStream(path), createGunzip(), () => { /* errors surface through the iterator */ });
  const inner = streamSource(path, inflated);
  return {
    name: path,
    totalBytes: null,
    async read(w) {
      try {
        return await inner.read(w);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code?.startsWith('Z_') || e.code === 'ERR_STREAM_PREMATURE_CLOSE') {
          throw new UnsupportedInputError(`gzip: ${e.message}: the compressed file is corrupt or truncated`);
        }
        throw err;
      }
    },
    close() { inflated.destroy(); },
  };
}

interface FileFingerprint {
  fingerprint: string;
  size: number;
  /** It starts with gzip's magic (1f 8b): `tcpdump -G ... -z gzip` rotates captures into such files. */
  isGzip: boolean;
}

/**
 * A cheap identity for a regular file, computed before reading it: its size and the sha256 of its
 * first and last 64 KiB. A match is confirmed with the full sha256 before anything is skipped.
 */
function fingerprintFile(path: string): FileFingerprint | null {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch { return null; }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return null;
    const h = createHash('sha256').update(`size:${st.size}\n`);
    const head = Buffer.allocUnsafe(Math.min(FINGERPRINT_SPAN, st.size));
    readSync(fd, head, 0, head.length, 0);
    h.update(head);
    if (st.size > FINGERPRINT_SPAN) {
      const tail = Buffer.allocUnsafe(Math.min(FINGERPRINT_SPAN, st.size - FINGERPRINT_SPAN));
      readSync(fd, tail, 0, tail.length, st.size - tail.length);
      h.update(tail);
    }
    return { fingerprint: h.digest('hex'), size: st.size, isGzip: head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b };
  } finally {
    closeSync(fd);
  }
}

/**
 * A hash computed beside the ingest, checked against what the ingest read: a file that grew or
 * shrank in between (still being written) would be recorded under a sha256 of other bytes.
 */
async function besideHash(beside: Promise<FileHash>, bytesRead: number): Promise<string> {
  let h: FileHash;
  try {
    h = await beside;
  } catch (err) {
    throw new UnsupportedInputError(`cannot hash the file: ${(err as Error).message}`);
  }
  if (h.bytes !== bytesRead) {
    throw new UnsupportedInputError(`the file changed while it was read (${bytesRead} bytes decoded, ${h.bytes} hashed); ingest it again once it is complete`);
  }
  return h.sha256;
}

/**
 * The sha256 and length of a file, for IngestOptions.hashBeside: read into one reused buffer, a
 * chunk per turn of the event loop, so the thread stays responsive (the main thread relays the
 * ingest's progress meanwhile).
 */
export async function hashFile(path: string): Promise<FileHash> {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.allocUnsafe(CHUNK);
    let bytes = 0;
    for (let n; (n = readSync(fd, b, 0, b.length, null)) > 0; ) {
      h.update(b.subarray(0, n));
      bytes += n;
      await new Promise(setImmediate);
    }
    return { sha256: h.digest('hex'), bytes };
  } finally {
    closeSync(fd);
  }
}

/** Reads every record of a source through the pipeline; returns the format name. */
async function pump(src: Source, pipe: Pipeline, hash: Hash | null, opts: IngestOptions, t0: number): Promise<string> {
  const w = new Window();
  let reader: RecordReader | null = null;
  let lastProgress = t0;
  const every = opts.progressEveryMs ?? 250;
  for (;;) {
    const n = await src.read(w);
    if (n > 0) {
      // The read appended n bytes at the window's end, after moving what was left unread to the
      // front when it needed room: the new bytes are the last n, wherever the end was before.
      hash?.update(w.buf.subarray(w.end - n, w.end));
      pipe.stats.bytesRead += n;
    }
    if (reader === null) {
      if (n > 0 && w.end - w.start < MAGIC_BYTES) continue;
      reader = detectReader(w.buf.subarray(w.start, w.end));
    }
    w.start += reader.feed(w.buf, w.start, w.end, pipe);
    if (n === 0) {
      reader.finish(w.end - w.start, pipe);
      return reader.format;
    }
    if (opts.onProgress) {
      const now = Date.now();
      if (now - lastProgress >= every) {
        lastProgress = now;
        opts.onProgress({ bytesRead: pipe.stats.bytesRead, totalBytes: src.totalBytes, packets: pipe.stats.packets, elapsedMs: now - t0 });
      }
    }
  }
}

type PipelineOptions = Pick<IngestOptions, 'node' | 'maxFlows' | 'maxPathsPerEdge' | 'batchRows' | 'push'>;

/**
 * Where a pipeline's output goes: batches of aggregated calls and the side records. The one
 * write path of an ingest; the caller holds the transaction that makes a batch atomic.
 */
export interface RowSink extends SideRecordSink {
  calls(rows: AggRow[]): void;
}

/** The local store as a RowSink: prepared upserts, inside the ingest's transaction. */
export function storeSink(db: Db): RowSink {
  const writer = new CallWriter(db);
  return {
    calls: (rows) => { writer.write(rows); },
    dns: (rows) => recordDnsAnswers(db, rows),
    certificates: (rows) => recordCertificates(db, rows),
  };
}

/**
 * The sinks an ingest writes to: the local store, and/or the push outbox (collect --push), which
 * lives in the same store and so in the same transaction.
 */
function sinksFor(db: Db, opts: PipelineOptions): { sink: RowSink; push: OutboxSink | null } {
  const push = opts.push ? new OutboxSink(db, opts.push) : null;
  const local = opts.push === undefined || opts.push.isLocal ? storeSink(db) : null;
  return {
    push,
    sink: {
      calls: (rows) => { local?.calls(rows); push?.calls(rows); },
      dns: (rows) => { local?.dns(rows); push?.dnsNames(rows); },
      certificates: (rows) => { local?.certificates(rows); push?.certificates(rows); },
    },
  };
}

/**
 * decode → track → aggregate → sink, wired once per input. `beforeWrite` runs before every
 * batch reaches the sink (a live capture opens its interval's transaction there).
 */
function buildPipeline(db: Db, opts: PipelineOptions, beforeWrite: () => void) {
  const { sink, push } = sinksFor(db, opts);
  const agg = new Aggregator((rows) => { beforeWrite(); sink.calls(rows); }, opts.batchRows);
  const side = new SideRecords({
    dns: (rows) => { beforeWrite(); sink.dns(rows); },
    certificates: (rows) => { beforeWrite(); sink.certificates(rows); },
  });
  const trackerOpts: TrackerOptions = {
    ...DEFAULT_TRACKER_OPTIONS,
    maxFlows: opts.maxFlows ?? DEFAULT_TRACKER_OPTIONS.maxFlows,
    source: 'pcap',
    node: opts.node,
    inspector: createInspector,
    datagram: inspectDatagram,
    templatePath: pathTemplater(opts.maxPathsPerEdge),
    onDns: (msg, ts) => side.dns(msg, ts),
    onCertificate: (cert, fromClient, ip, ts) => side.certificate(cert, fromClient, ip, ts),
  };
  const tracker = new Tracker(agg, trackerOpts);
  return { agg, side, tracker, push, pipe: new Pipeline(tracker) };
}

/** Ingests one capture (a path, or '-' with a stream) into the store. Never throws for bad input. */
export async function ingestCapture(db: Db, input: string, stdin: Readable | null, opts: IngestOptions): Promise<IngestOutcome> {
  const now = opts.now ?? (() => new Date());
  const isStdin = input === '-';
  // Only a regular file is sniffed ahead: reading a pipe's first bytes would take them away.
  const fp = isStdin ? null : fingerprintFile(input);
  const isGzip = fp?.isGzip ?? false;
  // A compressed file's identity is its decompressed bytes: known once read, as for stdin.
  // The hash the duplicate check took, if it took one: the ingest then does not hash the file again.
  let checked: FileHash | null = null;
  if (fp !== null && !opts.force && !isGzip) {
    const candidates = findCompleteByFingerprint(db, fp.fingerprint);
    if (candidates.length > 0) {
      checked = await hashFile(input);
      const sha = checked.sha256;
      const same = candidates.find((c) => c.sha256 === sha);
      if (same) return { status: 'duplicate', name: input, sha256: sha, previousId: same.id };
    }
  }

  let src: Source;
  try {
    // Standard input without a stream given is read like a file through /dev/stdin: a fresh,
    // blocking descriptor, readable from a worker thread with the same large synchronous reads.
    src = isStdin ? (stdin !== null ? streamSource('-', stdin) : stdinSource()) : isGzip ? gzipFileSource(input) : fileSource(input);
  } catch (err) {
    if (err instanceof UnsupportedInputError) return { status: 'error', name: input, message: err.message };
    throw err;
  }

  const startedAt = now().toISOString();
  const captureId = beginCapture(db, {
    source: 'pcap', name: input, node: opts.node, fingerprint: fp?.fingerprint ?? null,
    sizeBytes: fp?.size ?? 0, nowIso: startedAt,
  });
  const tx = new IngestTransaction(db);
  const { agg, side, tracker, push, pipe } = buildPipeline(db, opts, () => {});
  // A regular file's hash may come from the duplicate check or from beside (opts.hashBeside); anything
  // else is hashed here. Either way the bytes hashed must be the bytes decoded (besideHash).
  const beside = checked !== null ? Promise.resolve(checked)
    : opts.hashBeside !== undefined && fp !== null && !isGzip ? opts.hashBeside(input) : null;
  // Settled either way, so a failed read here does not leave the hash's rejection unhandled.
  beside?.catch(() => {});
  const hash = beside === null ? createHash('sha256') : null;
  const t0 = Date.now();
  try {
    tx.begin();
    const format = await pump(src, pipe, hash, opts, t0);
    tracker.finish();
    agg.drain();
    side.flush();
    const stats = pipe.stats;
    const sha256 = hash !== null ? hash.digest('hex') : await besideHash(beside!, stats.bytesRead);
    stats.connections = tracker.stats.connections;
    stats.evictedEarly = tracker.stats.evictedEarly;
    stats.callsWritten = agg.flushedRows;
    if (!opts.force) {
      // Standard input and a compressed file have no identity until they have been read in full;
      // a file's fingerprint finds only earlier ingests of the same file, not of the same capture
      // compressed or piped.
      const seen = findCompleteBySha(db, sha256);
      if (seen) {
        tx.rollback();
        failCapture(db, captureId, `duplicate of capture ${seen.id}`, now().toISOString());
        return { status: 'duplicate', name: input, sha256, previousId: seen.id };
      }
    }
    const finishedAt = now().toISOString();
    completeCapture(db, captureId, { sha256, stats, nowIso: finishedAt });
    push?.checkpoint(wireCaptureOf({ id: captureId, source: 'pcap', name: input, startedAt, stats, dropped: null, end: { status: 'complete' }, nowIso: finishedAt }));
    tx.commit();
    return { status: 'complete', name: input, captureId, stats, sha256, format: isGzip ? `${format}+gzip` : format, elapsedMs: Date.now() - t0 };
  } catch (err) {
    tx.rollback();
    const message = err instanceof UnsupportedInputError ? err.message : `unexpected failure: ${(err as Error).message}`;
    failCapture(db, captureId, message, now().toISOString());
    if (err instanceof UnsupportedInputError) return { status: 'error', name: input, message: `${input}: ${message}` };
    throw err;
  } finally {
    src.close();
  }
}

/** A stream that runs until stopped: a child process's stdout, plus what the process reports. */
export interface LiveInput {
  source: Source;
  /** Packets dropped so far by the kernel or the capture tool (cumulative), null while unknown. */
  dropped(): number | null;
  /** Asks the capture tool for fresh drop counts, answered before a later flush. */
  requestStats(): void;
  /** Resolves when the tool has exited and said everything it will say; error null on a clean stop. */
  ended(): Promise<{ error: string | null }>;
}

export interface LiveOptions extends PipelineOptions {
  name: string;
  /** Wall time between commits: a crash loses at most this much. */
  flushIntervalMs: number;
  onFlush?: (f: FlushReport) => void;
  /** Called about once a second with the running tallies (a terminal's status line). */
  onStatus?: (s: LiveStatus) => void;
  now?: () => Date;
}

export interface LiveStatus {
  packets: number;
  bytesRead: number;
  /** Rows written so far, counting every flush. */
  callsWritten: number;
  dropped: number | null;
  flushes: number;
  /** Wall time of the last commit, epoch ms; null before the first. */
  lastFlushMs: number | null;
}

export interface FlushReport {
  captureId: number;
  flushes: number;
  stats: IngestStats;
  dropped: number | null;
  /** Connections still open, kept by the tracker for a later flush. */
  openConnections: number;
}

export interface LiveOutcome {
  status: 'complete' | 'failed';
  captureId: number;
  stats: IngestStats;
  dropped: number | null;
  flushes: number;
  format: string | null;
  elapsedMs: number;
  error: string | null;
}

/**
 * Ingests a live capture until its input ends (the caller stops the capture tool), committing
 * every `flushIntervalMs` of wall time: one transaction per interval holds the rows aggregated
 * since the last one, the side records, and the capture record's tallies, so the store never
 * counts an interval twice and a killed collector loses at most the interval in flight (its
 * capture stays 'running'). The clock is read per chunk or tick, never per packet.
 */
export async function ingestLive(db: Db, input: LiveInput, opts: LiveOptions): Promise<LiveOutcome> {
  const now = opts.now ?? (() => new Date());
  const src = input.source;
  const startedAt = now().toISOString();
  const captureId = beginCapture(db, {
    source: 'pcap', name: opts.name, node: opts.node, fingerprint: null, sizeBytes: 0, nowIso: startedAt,
  });
  const tx = new IngestTransaction(db);
  // A batch that fills up mid-interval is written into the interval's transaction, opened then.
  const { agg, side, tracker, push, pipe } = buildPipeline(db, opts, () => tx.ensure());
  const stats = pipe.stats;
  let flushes = 0;
  // The tallies as last committed: what the record may claim if the interval in flight is lost.
  let committed: IngestStats = { ...stats };
  const flush = (end?: { status: 'complete' } | { status: 'failed'; error: string }) => {
    tx.ensure();
    agg.drain();
    side.flush();
    stats.connections = tracker.stats.connections;
    stats.evictedEarly = tracker.stats.evictedEarly;
    stats.callsWritten = agg.flushedRows;
    const dropped = input.dropped();
    const nowIso = now().toISOString();
    updateLiveCapture(db, captureId, { stats, dropped, end, nowIso });
    push?.checkpoint(wireCaptureOf({ id: captureId, source: 'pcap', name: opts.name, startedAt, stats, dropped, end, nowIso }));
    tx.commit();
    committed = { ...stats };
    flushes++;
    opts.onFlush?.({ captureId, flushes, stats: { ...stats }, dropped, openConnections: tracker.liveConnections });
  };

  const t0 = Date.now();
  const w = new Window();
  let reader: RecordReader | null = null;
  let nextFlush = t0 + opts.flushIntervalMs;
  try {
    let lastFlushMs: number | null = null;
    let nextStatus = t0 + STATUS_EVERY_MS;
    for (;;) {
      const n = await src.read(w);
      if (n !== TICK) {
        stats.bytesRead += n;
        // The reader is chosen once the magic bytes are in (a pipe can hand over fewer).
        if (reader === null && (n === 0 || w.end - w.start >= MAGIC_BYTES) && w.end > w.start) {
          reader = detectReader(w.buf.subarray(w.start, w.end));
        }
        if (reader !== null) w.start += reader.feed(w.buf, w.start, w.end, pipe);
        if (n === 0) {
          reader?.finish(w.end - w.start, pipe);
          break;
        }
      }
      const t = Date.now();
      if (t >= nextFlush) {
        flush();
        input.requestStats();
        lastFlushMs = t;
        nextFlush = t + opts.flushIntervalMs;
      }
      if (opts.onStatus && t >= nextStatus) {
        nextStatus = t + STATUS_EVERY_MS;
        opts.onStatus({ packets: stats.packets, bytesRead: stats.bytesRead, callsWritten: agg.flushedRows, dropped: input.dropped(), flushes, lastFlushMs });
      }
    }
    // The input ended: every connection still open is final now.
    tracker.finish();
    const { error } = await input.ended();
    flush(error === null ? { status: 'complete' } : { status: 'failed', error: `${error}; calls up to this point are recorded` });
    return { status: error === null ? 'complete' : 'failed', captureId, stats, dropped: input.dropped(), flushes, format: reader?.format ?? null, elapsedMs: Date.now() - t0, error };
  } catch (err) {
    tx.rollback();
    const message = err instanceof UnsupportedInputError ? err.message : `unexpected failure: ${(err as Error).message}`;
    // Earlier intervals stay committed: only the one in flight is lost, as with a crash.
    updateLiveCapture(db, captureId, { stats: committed, dropped: input.dropped(), end: { status: 'failed', error: `${message}; calls up to the last flush are recorded` }, nowIso: now().toISOString() });
    if (err instanceof UnsupportedInputError) {
      return { status: 'failed', captureId, stats: committed, dropped: input.dropped(), flushes, format: reader?.format ?? null, elapsedMs: Date.now() - t0, error: message };
    }
    throw err;
  } finally {
    src.close();
  }
}
