// `trustmap collect envoy|hubble`: mesh telemetry (line-oriented logs) into the same staged
// capture → calls path as pcap. The runner below is the line-source twin of ingest.ts: identify
// the input, skip it if already recorded, stream lines through the source's sink, aggregate, stage,
// and commit atomically.
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { Aggregator } from '../aggregate.js';
import { log } from '../log.js';
import type { CallSource } from '../model.js';
import { pathTemplater } from '../paths.js';
import { OutboxSink, wireCaptureOf, type PushSpoolOptions } from '../push/outbox-sink.js';
import { EnvoySink, type TelemetryStats } from '../sources/envoy/calls.js';
import { HubbleSink } from '../sources/hubble/calls.js';
import { CallWriter } from '../store/calls.js';
import { beginCapture, completeCapture, failCapture, findCompleteBySha, IngestTransaction } from '../store/captures.js';
import type { Db } from '../store/db.js';
import { VerdictWriter, type VerdictRow } from '../store/telemetry.js';
import type { Command, Io } from './command.js';
import { openDb } from './commands.js';
import { PUSH_HELP, pushFlagSchema, pushFlagSpec, startPush } from './push-flags.js';
import { runFollow } from './follow.js';
import { defaultDb, durationFlag, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, parseFlags, printable, UsageError } from './support.js';

/** What every line source hands the runner: one call per line, then finish(). */
export interface LineSink {
  readonly stats: TelemetryStats;
  line(text: string): void;
  /** Follow mode, at every flush: count what waited long enough, hand over side records. */
  tick?(nowMs: number): void;
  finish(): void;
}

export interface SinkContext {
  agg: Aggregator;
  db: Db;
  captureId: number;
  node: string;
  /** Runs before a side record (verdicts) is written: follow mode opens its interval's transaction. */
  beforeWrite?: () => void;
  /** Pushing: side records go to the outbox too, like the calls. */
  push: OutboxSink | null;
  /** Side records go to the local store: not when pushing without --local (their calls do not either). */
  isLocal: boolean;
}

export interface LineSource {
  name: Extract<CallSource, 'envoy' | 'hubble'>;
  /** What a line it reads is, for the error when no line of an input is one: "no line is ...". */
  lineKind: string;
  createSink(ctx: SinkContext): LineSink;
}

export const envoySource: LineSource = {
  name: 'envoy',
  lineKind: 'an Envoy access-log line in a format trustmap reads (docs/envoy-access-log-format.md)',
  createSink: (ctx) => new EnvoySink(ctx.agg, { node: ctx.node, templatePath: pathTemplater() }),
};

export const hubbleSource: LineSource = {
  name: 'hubble',
  lineKind: 'a Hubble flow (hubble observe -o json or -o jsonpb)',
  createSink: (ctx) => {
    const local = ctx.isLocal ? new VerdictWriter(ctx.db) : null;
    const writeVerdicts = (rows: VerdictRow[]) => {
      ctx.beforeWrite?.();
      local?.write(rows);
      // Without them the central store would propose allowing what Cilium refuses.
      ctx.push?.verdicts(rows);
    };
    return new HubbleSink(ctx.agg, { node: ctx.node, templatePath: pathTemplater(), writeVerdicts });
  },
};

export type TelemetryOutcome =
  | { status: 'complete'; name: string; captureId: number; stats: TelemetryStats & Record<string, unknown>; callsWritten: number; extra: Record<string, unknown> }
  | { status: 'duplicate'; name: string; previousId: number }
  | { status: 'error'; name: string; message: string };

function sha256OfFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (b) => h.update(b)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });
}

/** Ingests one log (a path, or '-' with a stream) into the store. Never throws for bad input. */
export async function ingestTelemetry(db: Db, input: string, stdin: Readable | null, source: LineSource,
  opts: { node: string; force: boolean; now?: () => Date; push?: PushSpoolOptions }): Promise<TelemetryOutcome> {
  const now = opts.now ?? (() => new Date());
  const isStdin = input === '-';
  let sha: string | null = null;
  let size = 0;
  if (!isStdin) {
    try {
      const st = statSync(input);
      if (st.isDirectory()) return { status: 'error', name: input, message: `${input}: is a directory` };
      size = st.size;
      // Only a regular file is hashed ahead. A pipe (`<(kubectl logs ...)`, a FIFO) read here
      // would be empty when read again, and reopening it waited forever for a writer; it is
      // hashed as it is read, like standard input, and checked inside the transaction.
      if (st.isFile()) sha = await sha256OfFile(input);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      return { status: 'error', name: input, message: e.code === 'ENOENT' ? `${input}: no such file` : `${input}: cannot read (${e.code ?? e.message})` };
    }
    if (sha !== null && !opts.force) {
      const seen = findCompleteBySha(db, sha);
      if (seen) return { status: 'duplicate', name: input, previousId: seen.id };
    }
  }
  const startedAt = now().toISOString();
  const captureId = beginCapture(db, {
    source: source.name, name: input, node: opts.node, fingerprint: sha, sizeBytes: size, nowIso: startedAt,
  });
  // One write transaction from the first batch to the capture marked complete: a process killed
  // in between leaves nothing of the input counted (captures.ts IngestTransaction).
  const tx = new IngestTransaction(db);
  const writer = new CallWriter(db);
  // Pushing: rows go to the outbox in this same transaction, and to the store too with --local.
  const push = opts.push ? new OutboxSink(db, opts.push) : null;
  const isLocal = push === null || opts.push!.isLocal;
  const agg = new Aggregator((rows) => {
    if (isLocal) writer.write(rows);
    push?.calls(rows);
  });
  const sink = source.createSink({ agg, db, captureId, node: opts.node, push, isLocal });
  const hash = createHash('sha256');
  let bytes = 0;
  const stream: Readable = isStdin ? (stdin ?? process.stdin) : createReadStream(input);
  stream.on('data', (b: Buffer | string) => {
    hash.update(b);
    bytes += b.length;
  });
  try {
    tx.begin();
    for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) sink.line(line);
    sink.finish();
    agg.drain();
    const digest = hash.digest('hex');
    // Checked again inside the write transaction, files too: two collectors given the same file
    // at once both pass the check above, and the second one here finds the first's commit.
    if (!opts.force) {
      const seen = findCompleteBySha(db, digest);
      if (seen) {
        tx.rollback();
        failCapture(db, captureId, `duplicate of capture ${seen.id}`, now().toISOString());
        return { status: 'duplicate', name: input, previousId: seen.id };
      }
    }
    const s = sink.stats;
    if (s.lines > 0 && s.malformed === s.lines) {
      // Another kind of input (a capture, the other collector's log, a manifest): recorded, its
      // sha256 would make the right collector skip it as "already recorded".
      tx.rollback();
      const message = `${input}: no line of ${s.lines} is ${source.lineKind}`;
      failCapture(db, captureId, message, now().toISOString());
      return { status: 'error', name: input, message };
    }
    const callsWritten = agg.flushedRows;
    const finishedAt = now().toISOString();
    const stats = {
      bytesRead: bytes, packets: s.lines, malformed: s.malformed, skipped: s.skipped, connections: s.connections,
      evictedEarly: 0, callsWritten, firstTsMs: s.firstTsMs, lastTsMs: s.lastTsMs,
    };
    completeCapture(db, captureId, { sha256: digest, nowIso: finishedAt, stats });
    push?.checkpoint(wireCaptureOf({ id: captureId, source: source.name, name: input, startedAt, stats, dropped: null, end: { status: 'complete' }, nowIso: finishedAt }));
    tx.commit();
    const extra: Record<string, unknown> = sink instanceof HubbleSink ? { verdicts: Object.fromEntries([...sink.verdictTotals].sort()) } : {};
    return { status: 'complete', name: input, captureId, stats: { ...s }, callsWritten, extra };
  } catch (err) {
    tx.rollback();
    failCapture(db, captureId, `unexpected failure: ${(err as Error).message}`, now().toISOString());
    const e = err as NodeJS.ErrnoException;
    if (e.code !== undefined) return { status: 'error', name: input, message: `${input}: cannot read (${e.code})` };
    throw err;
  }
}

const collectFlags = z.object({
  db: z.string().min(1).default(defaultDb()),
  node: z.string().max(253).regex(/^[\w.:-]*$/, 'node names are letters, digits, ".", "_", ":" and "-"').default(''),
  force: z.boolean().default(false),
  json: z.boolean().default(false),
  follow: z.boolean().default(false),
  'flush-interval': durationFlag(100, 3_600_000).default(10_000),
  ...pushFlagSchema,
  help: z.boolean().optional(),
});

async function runCollect(source: LineSource, argv: string[], io: Io): Promise<number> {
  const { flags, args } = parseFlags(argv, {
    db: { type: 'string' }, node: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' },
    follow: { type: 'boolean' }, 'flush-interval': { type: 'string' },
    ...pushFlagSpec, help: { type: 'boolean', short: 'h' },
  }, collectFlags);
  if (args.length === 0) throw new UsageError(`collect ${source.name} needs at least one FILE, or - for standard input`);
  if (args.filter((a) => a === '-').length > 1) throw new UsageError('standard input (-) can be read only once');
  if (flags.follow && (args.length !== 1 || args[0] !== '-')) throw new UsageError('--follow reads one stream: standard input (-)');
  if (flags.follow && flags.force) throw new UsageError('--force has no meaning with --follow (a stream is never a duplicate)');
  const push = startPush(flags, io);
  if (flags.follow) return runFollow(source, flags, push, io);
  const db = openDb(flags.db);
  const outcomes: TelemetryOutcome[] = [];
  try {
    for (const input of args) {
      const o = await ingestTelemetry(db, input, io.stdin, source, { node: flags.node, force: flags.force, push: push?.spool });
      outcomes.push(o);
      if (o.status === 'error') io.stderr.write(`error: ${printable(o.message)}\n`);
      else if (o.status === 'duplicate') io.stderr.write(`${printable(o.name)}: already recorded as capture ${o.previousId}; use --force to ingest again\n`);
      else log.debug({ capture: o.captureId, file: o.name, ...o.stats }, 'telemetry recorded');
    }
  } catch (err) {
    // What was committed before the failure is still sent (bounded by --drain-timeout).
    await push?.finish();
    throw err;
  } finally {
    db.close();
  }
  const left = push ? await push.finish() : null;
  const done = outcomes.filter((o): o is Extract<TelemetryOutcome, { status: 'complete' }> => o.status === 'complete');
  const sum = (k: keyof TelemetryStats) => done.reduce((n, o) => n + (o.stats[k] as number), 0);
  const verdicts: Record<string, number> = {};
  for (const o of done) for (const [v, n] of Object.entries((o.extra.verdicts ?? {}) as Record<string, number>)) verdicts[v] = (verdicts[v] ?? 0) + n;
  const summary = {
    files: outcomes.length,
    recorded: done.length,
    duplicates: outcomes.filter((o) => o.status === 'duplicate').length,
    failed: outcomes.filter((o) => o.status === 'error').length,
    lines: sum('lines'),
    calls: sum('calls'),
    deduplicated: sum('deduplicated'),
    malformed: sum('malformed'),
    skipped: sum('skipped'),
    calls_written: done.reduce((n, o) => n + o.callsWritten, 0),
    ...(source.name === 'hubble' ? { verdicts } : {}),
  };
  if (flags.json) io.stdout.write(JSON.stringify(summary) + '\n');
  else {
    io.stdout.write(
      `files ${summary.files} (${summary.recorded} recorded, ${summary.duplicates} already recorded, ${summary.failed} failed)`
      + `  lines ${summary.lines}  calls ${summary.calls}  deduplicated ${summary.deduplicated}`
      + `  malformed ${summary.malformed}  skipped ${summary.skipped}  rows written ${summary.calls_written}`
      + (source.name === 'hubble' ? `  verdicts ${Object.entries(verdicts).map(([v, n]) => `${v}=${n}`).join(',') || '-'}` : '') + '\n',
    );
  }
  if (left !== null) {
    io.stderr.write(`error: ${left}\n`);
    return EXIT_FAILURE;
  }
  return outcomes.some((o) => o.status === 'error') ? EXIT_USAGE : EXIT_OK;
}

const FOLLOW_HELP = `  --follow       read standard input as a stream that does not end (kubectl logs -f,
                 hubble observe -f): commit every --flush-interval until the end of the
                 stream or SIGINT/SIGTERM, then a final flush (exit 0)
  --flush-interval D
                 with --follow: time between commits, e.g. 500ms, 10s, 1m (default 10s)
`;

export const collectEnvoy: Command = {
  path: ['collect', 'envoy'],
  help: `Record the calls in Envoy access logs (Istio sidecars and gateways) into the store.

Usage:
  trustmap collect envoy [flags] FILE... | -

Reads Istio's default TEXT format (1.3+), Istio's JSON encoding, and the trustmap format with
peer certificates and TLS versions (docs/envoy-access-log-format.md), as kubectl logs prints
them, with or without --timestamps and --prefix. A line that is not an access-log line is
counted and skipped. A request logged by both the client's and the server's sidecar in the
same input is counted once, from the server's (inbound) line.

Flags:
  --db FILE      store file (default $TRUSTMAP_DB or ./trustmap.db)
  --node NAME    the host the logs came from
  --force        ingest again even if this input was recorded before
  --json         print the summary as JSON
${FOLLOW_HELP}${PUSH_HELP}
Examples:
  kubectl logs -n foo deploy/httpbin -c istio-proxy --timestamps | trustmap collect envoy -
  kubectl logs -f -n foo deploy/httpbin -c istio-proxy | trustmap collect envoy --follow -
  # every sidecar of every namespace in one input, so both sides of a request pair up
  # (kubectl logs has no -A, and with -l keeps only 10 lines per pod unless --tail=-1)
  for ns in $(kubectl get ns -o jsonpath='{.items[*].metadata.name}'); do
    kubectl logs -n "$ns" -l security.istio.io/tlsMode=istio -c istio-proxy --prefix --tail=-1
  done > mesh.log
  trustmap collect envoy mesh.log
`,
  run: (argv, io) => runCollect(envoySource, argv, io),
};

export const collectHubble: Command = {
  path: ['collect', 'hubble'],
  help: `Record the calls in Hubble flow exports into the store.

Usage:
  trustmap collect hubble [flags] FILE... | -

Reads hubble observe -o json or -o jsonpb output (one flow per line, wrapped or bare). Counts
one call per connection start (TCP SYN without ACK, first flow of a UDP 5-tuple), per L7 HTTP
request and per DNS query, not per packet; the copies of one start seen at several observation
points count once. Verdicts (FORWARDED, DROPPED, ...) are kept per call.

Flags:
  --db FILE      store file (default $TRUSTMAP_DB or ./trustmap.db)
  --node NAME    override the node names in the flows
  --force        ingest again even if this input was recorded before
  --json         print the summary as JSON
${FOLLOW_HELP}${PUSH_HELP}
Examples:
  hubble observe --since 1h -o json > flows.json && trustmap collect hubble flows.json
  hubble observe --follow -o jsonpb | trustmap collect hubble --follow -
`,
  run: (argv, io) => runCollect(hubbleSource, argv, io),
};

export const TELEMETRY_COMMANDS: Command[] = [collectEnvoy, collectHubble];
