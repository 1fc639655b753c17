// `trustmap collect live`: tcpdump started by trustmap, its stream ingested for as long as it
// runs, committed every --flush-interval (collector/live/, ingest.ts ingestLive).
import { hostname } from 'node:os';
import { z } from 'zod';
import type { LiveOutcome } from '../ingest.js';
import { IngestFailure } from '../ingest-runner.js';
import { runLive } from '../live/runner.js';
import { log } from '../log.js';
import type { Command, Io } from './command.js';
import { PUSH_HELP, pushFlagSchema, pushFlagSpec, startPush } from './push-flags.js';
import { StatusLine } from './status-line.js';
import { defaultDb, durationFlag, EXIT_FAILURE, EXIT_OK, InputError, parseFlags, printable, UsageError } from './support.js';

const liveFlags = z.object({
  db: z.string().min(1).default(defaultDb()),
  interface: z.string().regex(/^[\w.:@-]{1,64}$/, 'interface names are letters, digits, ".", "_", ":", "@" and "-"')
    .refine((s) => !s.startsWith('-'), 'an interface name cannot start with "-"').default('any'),
  filter: z.string().min(1).max(4096).optional(),
  snaplen: z.coerce.number().int().min(0).max(262_144).optional(),
  'buffer-size': z.coerce.number().int().min(1024).max(4_194_304).default(16_384),
  'flush-interval': durationFlag(100, 3_600_000).default(10_000),
  node: z.string().max(253).regex(/^[\w.:-]*$/, 'node names are letters, digits, ".", "_", ":" and "-"').default(hostname()),
  'max-flows': z.coerce.number().int().min(1024).max(16_777_216).optional(),
  'max-paths-per-edge': z.coerce.number().int().min(1).max(10_000).optional(),
  json: z.boolean().default(false),
  ...pushFlagSchema,
  help: z.boolean().optional(),
});

export const collectLive: Command = {
  path: ['collect', 'live'],
  help: `Capture packets live with tcpdump and record the calls, for as long as it runs.

Usage:
  trustmap collect live [flags]

Starts "tcpdump -U -w - -i IF -B KIB [-s N] -- FILTER" (needs root, or CAP_NET_RAW for
tcpdump), records the calls it sees, and commits them every --flush-interval: a crash loses
at most that much. SIGINT or SIGTERM stops tcpdump, flushes, and exits 0. Packets the kernel
dropped (tcpdump's "dropped by kernel"/"by interface") are recorded with the capture: a drop
means the map may miss calls. docs/live.md explains running it for days.

Flags:
  --interface IF       interface to capture on (default any)
  --filter BPF         capture filter (tcpdump syntax), e.g. 'tcp or udp port 53'
  --snaplen N          bytes kept per packet (default tcpdump's 262144)
  --buffer-size KIB    kernel capture buffer in KiB (default 16384; small buffers drop packets)
  --flush-interval D   time between commits: 500ms, 10s, 1m (default 10s)
  --node NAME          the host captured on (default this host's name)
  --db FILE            store file (default $TRUSTMAP_DB or ./trustmap.db)
  --max-flows N        live connections tracked at once (default 262144)
  --max-paths-per-edge N
                       distinct path templates kept per edge (default 50)
  --json               print the final summary as JSON
${PUSH_HELP}
Examples:
  sudo trustmap collect live --node "$(hostname)"
  sudo trustmap collect live --interface eth0 --filter 'tcp or udp port 53' --flush-interval 30s
  # every node to one central store (docs/deploy/)
  trustmap collect live --node "$NODE_NAME" --push http://trustmap:7070 --token-file /etc/trustmap/token

Exit codes: 0 stopped by SIGINT/SIGTERM with everything recorded, 1 tcpdump died or the ingest
failed (calls up to then are recorded), 2 bad flags, tcpdump missing, no permission, a bad
filter or interface, or an unreadable store.
`,
  async run(argv, io) {
    const { flags, args } = parseFlags(argv, {
      db: { type: 'string' }, interface: { type: 'string', short: 'i' }, filter: { type: 'string' },
      snaplen: { type: 'string' }, 'buffer-size': { type: 'string' }, 'flush-interval': { type: 'string' },
      node: { type: 'string' }, 'max-flows': { type: 'string' }, 'max-paths-per-edge': { type: 'string' },
      json: { type: 'boolean' }, ...pushFlagSpec, help: { type: 'boolean', short: 'h' },
    }, liveFlags);
    if (args.length > 0) throw new UsageError(`collect live takes no arguments (got ${JSON.stringify(args[0])}); a filter goes in --filter`);
    const push = startPush(flags, io);
    const status = io.stderr.isTTY && !flags.json ? new StatusLine(io.stderr, `live ${flags.interface}`) : null;
    const t0 = Date.now();
    let outcome: LiveOutcome;
    try {
      outcome = await runLive({
        dbFile: flags.db,
        tcpdump: { iface: flags.interface, filter: flags.filter ?? null, snaplen: flags.snaplen ?? null, bufferKiB: flags['buffer-size'], tickMs: Math.min(1000, flags['flush-interval']) },
        options: {
          name: `live:${flags.interface}`, node: flags.node, flushIntervalMs: flags['flush-interval'],
          maxFlows: flags['max-flows'], maxPathsPerEdge: flags['max-paths-per-edge'], push: push?.spool,
        },
        wantsStatus: status !== null,
      }, {
        listening: (pid) => log.info({ interface: flags.interface, filter: flags.filter ?? null, tcpdumpPid: pid, db: flags.db }, 'capturing; SIGINT or SIGTERM stops'),
        status: (s) => status?.update(s),
        stopping: (signal) => { status?.clear(); log.info({ signal }, 'stopping: final flush'); },
      });
    } catch (err) {
      status?.clear();
      await push?.finish();
      if (err instanceof IngestFailure && err.isInputError) throw new InputError(err.message);
      throw err;
    }
    status?.clear();
    printSummary(outcome, (Date.now() - t0) / 1000, flags.json, io);
    const left = push ? await push.finish() : null;
    if (left !== null) io.stderr.write(`error: ${left}\n`);
    if (outcome.status === 'failed') {
      io.stderr.write(`error: ${printable(outcome.error ?? 'the capture failed')}; the calls recorded until then are kept\n`);
      return EXIT_FAILURE;
    }
    return left === null ? EXIT_OK : EXIT_FAILURE;
  },
};

function printSummary(o: LiveOutcome, secs: number, json: boolean, io: Io): void {
  const s = o.stats;
  const summary = {
    capture: o.captureId, status: o.status, packets: s.packets, bytes: s.bytesRead, connections: s.connections,
    calls_written: s.callsWritten, dropped: o.dropped, malformed: s.malformed, skipped: s.skipped,
    evicted_early: s.evictedEarly, flushes: o.flushes, seconds: Number(secs.toFixed(3)),
  };
  if (json) {
    io.stdout.write(JSON.stringify(summary) + '\n');
    return;
  }
  io.stdout.write(
    `capture ${summary.capture} ${summary.status}  packets ${summary.packets}  connections ${summary.connections}`
    + `  calls written ${summary.calls_written}  dropped ${summary.dropped ?? 'unknown'}  malformed ${summary.malformed}`
    + `  flushes ${summary.flushes}  ${summary.seconds.toFixed(2)} s\n`,
  );
}
