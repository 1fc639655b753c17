// The collector's subcommands: `collect pcap`, `calls`, `captures`.
import { once } from 'node:events';
import { z } from 'zod';
import type { IngestOutcome } from '../ingest.js';
import { IngestFailure, runIngest } from '../ingest-runner.js';
import { log } from '../log.js';
import { iterateCalls, listCalls, type CallView } from '../store/calls.js';
import { listCaptures } from '../store/captures.js';
import { listCertificates } from '../store/certificates.js';
import { openStore, StoreError, type Db } from '../store/db.js';
import type { Command, Io } from './command.js';
import { ProgressBar } from './progress.js';
import { PUSH_HELP, pushFlagSchema, pushFlagSpec, startPush } from './push-flags.js';
import { defaultDb, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, InputError, parseFlags, printable, table, UsageError } from './support.js';

const dbFlag = { db: { type: 'string' } } as const;

/** Opens the store, turning failures into a one-line input error. */
export function openDb(file: string, readonly = false): Db {
  try {
    return openStore(file, { readonly });
  } catch (err) {
    if (err instanceof StoreError) throw new InputError(err.message);
    throw err;
  }
}

// An ISO-8601 date, or date and time (a space for the T allowed), before Date.parse reads it. Date.parse
// alone takes anything V8 can guess at: "--since 7" (meant: 7 days) was 2001-07-01, "Nov 1" was
// 2001-11-01 and "2026-02-30" March 2nd, each silently widening the window to years of calls.
const ISO_TIME = /^(\d{4})-(\d\d)-(\d\d)(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?(?:Z|[+-]\d\d:?\d\d)?)?$/;

/** ISO-8601 time or a duration back from now (`24h`, `7d`, `30m`). */
export const timeFlag = z.string().transform((s, ctx) => {
  const rel = /^(\d+)(s|m|h|d|w)$/.exec(s);
  if (rel) {
    const unit = { s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 }[rel[2] as 's' | 'm' | 'h' | 'd' | 'w'];
    return Date.now() - Number(rel[1]) * unit;
  }
  const iso = ISO_TIME.exec(s);
  const t = iso ? Date.parse(s) : NaN;
  // The day must exist: Date.parse rolls 2026-02-30 over into March.
  if (Number.isNaN(t) || new Date(Date.UTC(+iso![1], +iso![2] - 1, +iso![3])).getUTCDate() !== +iso![3]) {
    const hint = /^\d+(\.\d+)?$/.test(s) ? ' (a duration needs its unit: 30m, 24h, 7d; a date is like 2026-11-01)' : '';
    ctx.addIssue({ code: 'custom', message: `not an ISO time or a duration like 24h: ${JSON.stringify(s)}${hint}` });
    return z.NEVER;
  }
  return t;
});

/** --since and --until together: an empty or inverted window is a mistake, not "no calls". */
export function checkWindow(sinceMs: number | undefined, untilMs: number | undefined): void {
  if (sinceMs !== undefined && untilMs !== undefined && sinceMs >= untilMs) throw new UsageError('--since must be before --until');
}

const collectPcapFlags = z.object({
  db: z.string().min(1).default(defaultDb()),
  node: z.string().max(253).regex(/^[\w.:-]*$/, 'node names are letters, digits, ".", "_", ":" and "-"').default(''),
  force: z.boolean().default(false),
  json: z.boolean().default(false),
  'max-flows': z.coerce.number().int().min(1024).max(16_777_216).optional(),
  'max-paths-per-edge': z.coerce.number().int().min(1).max(10_000).optional(),
  'batch-rows': z.coerce.number().int().min(1).max(1_000_000).optional(),
  ...pushFlagSchema,
  help: z.boolean().optional(),
});

export const collectPcap: Command = {
  path: ['collect', 'pcap'],
  help: `Record the calls in packet captures (pcap or pcapng) into the store.

Usage:
  trustmap collect pcap [flags] FILE... | -

Reads each FILE (or standard input for "-"), decodes Ethernet/VLAN, Linux cooked (SLL, SLL2),
raw IP and loopback captures, tracks TCP connections and UDP flows, and records aggregated calls.
A file already ingested is skipped (matched by sha256) unless --force is given.

Flags:
  --db FILE         store file (default $TRUSTMAP_DB or ./trustmap.db)
  --node NAME       the host the capture was taken on
  --force           ingest again even if this capture was recorded before
  --max-flows N     live connections tracked at once (default 262144)
  --max-paths-per-edge N
                    distinct path templates kept per edge; later ones fold into PREFIX/* (default 50)
  --batch-rows N    aggregated rows written per transaction (default 50000)
  --json            print the summary as JSON
${PUSH_HELP}
Examples:
  # a capture file from a node
  trustmap collect pcap --node worker-1 node1.pcapng

  # to a central store (trustmap serve --ingest-tokens), spooling while it is unreachable
  tcpdump -i any -U -w - | trustmap collect pcap --node worker-1 \\
    --push http://trustmap.trustmap.svc:7070 --token-file /etc/trustmap/token -

  # live, from tcpdump on all interfaces
  tcpdump -i any -U -w - 'tcp or udp port 53' | trustmap collect pcap --node "$(hostname)" -

A file that grows while it is read (tcpdump still writing it) is refused: stream tcpdump's
output on standard input instead. Ctrl-C on such a pipeline stops tcpdump, and the stream read
until then is recorded; a second Ctrl-C aborts without recording it.

Exit codes: 0 all inputs recorded (or already recorded), 2 an input was unreadable, not a
capture, or changed while it was read (nothing of it is recorded), 1 any other failure.
`,
  async run(argv, io) {
    const { flags, args } = parseFlags(argv, {
      ...dbFlag, node: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' },
      'max-flows': { type: 'string' }, 'max-paths-per-edge': { type: 'string' }, 'batch-rows': { type: 'string' },
      ...pushFlagSpec, help: { type: 'boolean', short: 'h' },
    }, collectPcapFlags);
    if (args.length === 0) throw new UsageError('collect pcap needs at least one FILE, or - for standard input');
    if (args.filter((a) => a === '-').length > 1) throw new UsageError('standard input (-) can be read only once');
    const push = startPush(flags, io);
    const outcomes: IngestOutcome[] = [];
    const t0 = Date.now();
    const label = (i: number) => (args[i] === '-' ? 'stdin' : args[i]);
    let bar = io.stderr.isTTY && !flags.json ? new ProgressBar(io.stderr, label(0)) : null;
    const stopping = args.includes('-') ? readToTheEndOnSignal(() => bar?.clear()) : null;
    try {
      await runIngest({
        dbFile: flags.db,
        inputs: args,
        options: {
          node: flags.node, force: flags.force, maxFlows: flags['max-flows'],
          maxPathsPerEdge: flags['max-paths-per-edge'], batchRows: flags['batch-rows'], push: push?.spool,
        },
        wantsProgress: bar !== null,
      }, {
        progress: (p) => bar?.update(p),
        outcome: (o) => {
          bar?.clear();
          outcomes.push(o);
          reportOutcome(o, io);
          if (bar && outcomes.length < args.length) bar = new ProgressBar(io.stderr, label(outcomes.length));
        },
      });
    } catch (err) {
      bar?.clear();
      // What was committed before the failure is still sent (bounded by --drain-timeout).
      await push?.finish();
      if (err instanceof IngestFailure && err.isInputError) throw new InputError(err.message);
      throw err;
    } finally {
      stopping?.off();
    }
    printSummary(outcomes, (Date.now() - t0) / 1000, flags.json, io);
    const left = push ? await push.finish() : null;
    if (left !== null) {
      io.stderr.write(`error: ${left}\n`);
      return EXIT_FAILURE;
    }
    return outcomes.some((o) => o.status === 'error') ? EXIT_USAGE : EXIT_OK;
  },
};

/**
 * Ctrl-C on `tcpdump -w - | trustmap collect pcap -` reaches tcpdump too (one process group): it
 * writes what it holds and closes the pipe, and the ingest ends there as at any end of input and
 * records the stream. Dying on the signal lost all of it: a stream is one transaction. SIGTERM is
 * the same for a service manager that stops the whole pipeline. The next signal aborts, as before.
 */
function readToTheEndOnSignal(clear: () => void): { off: () => void } {
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const off = () => { for (const s of signals) process.off(s, onSignal); };
  function onSignal(signal: NodeJS.Signals): void {
    off();
    clear();
    log.warn({ signal }, 'stopping: reading standard input to its end (tcpdump stops on the same Ctrl-C), then recording it; signal again to abort without recording it');
  }
  for (const s of signals) process.on(s, onSignal);
  return { off };
}

function reportOutcome(o: IngestOutcome, io: Io): void {
  if (o.status === 'error') {
    io.stderr.write(`error: ${printable(o.message)}\n`);
  } else if (o.status === 'duplicate') {
    io.stderr.write(`${printable(o.name)}: already recorded as capture ${o.previousId} (sha256 ${o.sha256.slice(0, 16)}…); use --force to ingest again\n`);
  } else {
    log.debug({ capture: o.captureId, file: o.name, format: o.format, ...o.stats }, 'capture recorded');
  }
}

function printSummary(outcomes: IngestOutcome[], secs: number, json: boolean, io: Io): void {
  const done = outcomes.filter((o) => o.status === 'complete');
  const sum = (f: (s: Extract<IngestOutcome, { status: 'complete' }>['stats']) => number) =>
    done.reduce((n, o) => n + f(o.stats), 0);
  const summary = {
    files: outcomes.length,
    recorded: done.length,
    duplicates: outcomes.filter((o) => o.status === 'duplicate').length,
    failed: outcomes.filter((o) => o.status === 'error').length,
    bytes: sum((s) => s.bytesRead),
    packets: sum((s) => s.packets),
    connections: sum((s) => s.connections),
    calls_written: sum((s) => s.callsWritten),
    malformed: sum((s) => s.malformed),
    skipped: sum((s) => s.skipped),
    evicted_early: sum((s) => s.evictedEarly),
    seconds: Number(secs.toFixed(3)),
    packets_per_second: secs > 0 ? Math.round(sum((s) => s.packets) / secs) : 0,
  };
  if (json) {
    io.stdout.write(JSON.stringify(summary) + '\n');
    return;
  }
  io.stdout.write(
    `files ${summary.files} (${summary.recorded} recorded, ${summary.duplicates} already recorded, ${summary.failed} failed)`
    + `  packets ${summary.packets}  connections ${summary.connections}  calls written ${summary.calls_written}`
    + `  malformed ${summary.malformed}  ${summary.seconds.toFixed(2)} s  ${summary.packets_per_second} packets/s\n`,
  );
}

const callsFlags = z.object({
  db: z.string().min(1).default(defaultDb()),
  json: z.boolean().default(false),
  since: timeFlag.optional(),
  until: timeFlag.optional(),
  limit: z.coerce.number().int().min(1).max(10_000_000).optional(),
  help: z.boolean().optional(),
});

export const calls: Command = {
  path: ['calls'],
  help: `List the calls recorded in the store, summed over time.

Usage:
  trustmap calls [flags]

Flags:
  --db FILE        store file (default $TRUSTMAP_DB or ./trustmap.db)
  --since T        only calls seen at or after T (ISO time, or 30m, 24h, 7d back from now)
  --until T        only calls that started before T
  --limit N        at most N rows
  --json           one JSON array of call objects (fields in docs/cli.md)

Examples:
  trustmap calls
  trustmap calls --since 24h --json | jq '.[] | select(.security == "plaintext")'
`,
  async run(argv, io) {
    const { flags, args } = parseFlags(argv, {
      ...dbFlag, json: { type: 'boolean' }, since: { type: 'string' }, until: { type: 'string' },
      limit: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    }, callsFlags);
    if (args.length > 0) throw new UsageError(`calls takes no arguments (got ${JSON.stringify(args[0])})`);
    checkWindow(flags.since, flags.until);
    const db = openDb(flags.db, true);
    const query = { sinceMs: flags.since, untilMs: flags.until, limit: flags.limit };
    if (flags.json) {
      // Streamed: one row at a time, so a large store is never held in memory.
      try {
        let n = 0;
        let buf = '[';
        for (const row of iterateCalls(db, query)) {
          buf += `${n++ === 0 ? '\n' : ',\n'}${JSON.stringify(row)}`;
          // Honour the pipe's backpressure: a slow reader must not make us buffer everything.
          if (buf.length >= 65536) {
            if (!io.stdout.write(buf)) await once(io.stdout, 'drain');
            buf = '';
          }
        }
        io.stdout.write(buf + (n === 0 ? ']\n' : '\n]\n'));
      } finally {
        db.close();
      }
      return EXIT_OK;
    }
    let rows: CallView[];
    try {
      rows = listCalls(db, query);
    } finally {
      db.close();
    }
    if (rows.length === 0) {
      // With a window, the store may hold calls, just none in it.
      io.stdout.write(flags.since !== undefined || flags.until !== undefined ? 'No calls recorded in the window.\n' : 'No calls recorded.\n');
      return EXIT_OK;
    }
    io.stdout.write(table(
      ['SOURCE', 'DESTINATION', 'PROTO', 'REQUEST', 'SECURITY', 'COUNT', 'LAST SEEN'],
      // Addresses too: checked at every input since, but a store written before (or merged from
      // one) may hold a Hubble "address" with an escape sequence in it.
      rows.map((r) => [
        printable(r.src_ip),
        printable(`${r.dst_ip}:${r.dst_port}${r.service_ip ? ` (via ${r.service_ip})` : ''}`),
        `${r.protocol}/${r.transport}`,
        printable([r.method, r.path ?? r.sni ?? ''].filter(Boolean).join(' ').slice(0, 60)),
        r.security + (r.credentials_in_plaintext ? ' (credentials!)' : ''),
        String(r.count),
        r.last_seen,
      ]),
    ));
    return EXIT_OK;
  },
};

const capturesFlags = z.object({
  db: z.string().min(1).default(defaultDb()),
  json: z.boolean().default(false),
  help: z.boolean().optional(),
});

export const captures: Command = {
  path: ['captures'],
  help: `List every capture ingested into the store, with its status and tallies.

Usage:
  trustmap captures [--db FILE] [--json]

Examples:
  trustmap captures
`,
  async run(argv, io) {
    const { flags, args } = parseFlags(argv, { ...dbFlag, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, capturesFlags);
    if (args.length > 0) throw new UsageError(`captures takes no arguments (got ${JSON.stringify(args[0])})`);
    const db = openDb(flags.db, true);
    try {
      const rows = listCaptures(db);
      if (flags.json) io.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      else if (rows.length === 0) io.stdout.write('No captures recorded.\n');
      else {
        // SPOOL DROPPED, only where something was pushed: calls a collector's full spool dropped.
        const isPushed = rows.some((c) => c.spoolDroppedCalls !== null);
        io.stdout.write(table(
          // DROPPED: packets the kernel dropped during a live capture ("-" for files: unknown).
          ['ID', 'NAME', 'NODE', 'STATUS', 'PACKETS', 'DROPPED', 'MALFORMED', 'CONNECTIONS', 'SHA256', ...(isPushed ? ['SPOOL DROPPED'] : [])],
          rows.map((c) => [String(c.id), printable(c.name), c.node, c.status, String(c.packets), c.dropped === null ? '-' : String(c.dropped), String(c.malformed), String(c.connections), (c.sha256 ?? '').slice(0, 16),
            ...(isPushed ? [c.spoolDroppedCalls === null ? '-' : String(c.spoolDroppedCalls)] : [])]),
        ));
        // Hubble verdicts a full spool dropped: a note rather than one more column, with what
        // it means (without their DROPPED counts, refused calls look allowed to the policies).
        const verdictLoss = rows.filter((c) => (c.spoolDroppedVerdicts ?? 0) > 0);
        if (verdictLoss.length > 0) {
          io.stdout.write(`\nSpool dropped Hubble verdicts (calls Cilium refuses may be proposed as allowed):\n${verdictLoss.map((c) => `  ${c.id}: ${c.spoolDroppedVerdicts} ${c.spoolDroppedVerdicts === 1 ? 'verdict' : 'verdicts'}\n`).join('')}`);
        }
        // Why each failed capture failed, one line each: too long for a column.
        const failed = rows.filter((c) => c.status === 'failed' && c.error !== null);
        if (failed.length > 0) io.stdout.write(`\nFailed:\n${failed.map((c) => `  ${c.id}: ${printable(c.error!).slice(0, 300)}\n`).join('')}`);
      }
    } finally {
      db.close();
    }
    return EXIT_OK;
  },
};


const certsFlags = z.object({
  db: z.string().min(1).default(defaultDb()),
  json: z.boolean().default(false),
  help: z.boolean().optional(),
});

export const certs: Command = {
  path: ['certs'],
  help: `List certificates that crossed the network unencrypted (TLS 1.2 and older send them in
clear), with their identities (URI SANs such as SPIFFE IDs), issuer, validity, and which
addresses presented them as client or server. A client certificate means mutual TLS.

Usage:
  trustmap certs [--db FILE] [--json]

Examples:
  trustmap certs
  trustmap certs --json | jq '.[] | select(.presented_by[].role == "client") | .uris'
`,
  async run(argv, io) {
    const { flags, args } = parseFlags(argv, { ...dbFlag, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, certsFlags);
    if (args.length > 0) throw new UsageError(`certs takes no arguments (got ${JSON.stringify(args[0])})`);
    const db = openDb(flags.db, true);
    try {
      const rows = listCertificates(db);
      if (flags.json) io.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      else if (rows.length === 0) io.stdout.write('No certificates seen.\n');
      else io.stdout.write(table(
        ['SUBJECT', 'IDENTITIES', 'ISSUER', 'PRESENTED BY', 'NOT AFTER'],
        rows.map((c) => [
          printable(c.subject).slice(0, 60),
          printable([...c.uris, ...c.dns_names].join(',')).slice(0, 80),
          printable(c.issuer).slice(0, 40),
          c.presented_by.map((p) => `${p.role} ${p.ip}`).join(', '),
          c.not_after,
        ]),
      ));
    } finally {
      db.close();
    }
    return EXIT_OK;
  },
};
