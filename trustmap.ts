#!/usr/bin/env node
// The `trustmap` binary: picks the subcommand, runs it, and turns errors into one line and an
// exit code (0 ok, 1 findings or failure, 2 usage or unreadable input). No stack traces for users;
// TRUSTMAP_DEBUG=1 shows them.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { moderateHeapGrowth } from './analyzer/heap.js';
import type { Command, Io } from './collector/cli/command.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, InputError, UsageError } from './collector/cli/support.js';

const VERSION = '0.1.0';

/**
 * The commands, loaded on use: a command imports only what it needs, so `collect pcap` starts
 * without express, the analyzer and the YAML renderer (start-up time, and the collector's RSS
 * budget, count). `path` must equal the loaded command's own path (checked on load and by a test).
 * Order matters: the dispatcher takes the first entry whose words match.
 */
interface Entry {
  path: string[];
  /** One line for `trustmap --help`, kept here so the overview loads no command. */
  summary: string;
  load: () => Promise<Command>;
  /** It builds graphs, readiness reports or policies: V8's heap growth is moderated (analyzer/heap.ts). */
  analysis?: true;
}

export const COMMANDS: Entry[] = [
  { path: ['demo'], summary: 'Ingest the embedded demo mesh and serve the web UI over it', load: async () => (await import('./ui/cli/demo.js')).demo, analysis: true },
  { path: ['collect', 'pcap'], summary: 'Record calls from pcap/pcapng files or a tcpdump stream', load: async () => (await import('./collector/cli/commands.js')).collectPcap },
  { path: ['collect', 'live'], summary: 'Capture live with tcpdump and record calls until stopped', load: async () => (await import('./collector/cli/live.js')).collectLive },
  { path: ['collect', 'envoy'], summary: 'Record calls from Envoy/Istio access logs', load: async () => (await import('./collector/cli/telemetry.js')).collectEnvoy },
  { path: ['collect', 'hubble'], summary: 'Record calls from Cilium Hubble flows (hubble observe -o json)', load: async () => (await import('./collector/cli/telemetry.js')).collectHubble },
  { path: ['merge'], summary: 'Fold stores collected on several nodes into one', load: async () => (await import('./collector/cli/merge.js')).merge },
  { path: ['calls'], summary: 'List the recorded calls', load: async () => (await import('./collector/cli/commands.js')).calls },
  { path: ['captures'], summary: 'List the ingested captures and their tallies', load: async () => (await import('./collector/cli/commands.js')).captures },
  { path: ['certs'], summary: 'List the certificates seen in clear (TLS 1.2 handshakes)', load: async () => (await import('./collector/cli/commands.js')).certs },
  { path: ['inventory', 'load'], summary: 'Load kubectl get -o json|yaml listings as inventory snapshots', load: async () => (await import('./collector/cli/inventory.js')).inventoryLoad },
  { path: ['inventory', 'snapshot'], summary: 'Take an inventory snapshot with kubectl (current or given context)', load: async () => (await import('./collector/cli/inventory.js')).inventorySnapshot },
  { path: ['inventory', 'list'], summary: 'Show workloads with their addresses and identities', load: async () => (await import('./collector/cli/inventory.js')).inventoryList },
  { path: ['inventory'], summary: 'Same as \'inventory list\'', load: async () => (await import('./collector/cli/inventory.js')).inventory },
  { path: ['graph', 'diff'], summary: 'Edges new, gone, or whose security changed between two windows', load: async () => (await import('./analyzer/cli/graph.js')).graphDiff, analysis: true },
  { path: ['graph'], summary: 'Who calls whom: the dependency graph (table, json, dot, mermaid)', load: async () => (await import('./analyzer/cli/graph.js')).graph, analysis: true },
  { path: ['readiness'], summary: 'Would strict mTLS break anything? Per namespace and workload, with blockers', load: async () => (await import('./analyzer/cli/readiness.js')).readiness, analysis: true },
  { path: ['policy'], summary: 'Least-privilege policies from what was observed (istio, netpol, cilium, linkerd)', load: async () => (await import('./analyzer/cli/policy.js')).policy, analysis: true },
  { path: ['simulate'], summary: 'Replay recorded calls against policies: what would be denied, and why', load: async () => (await import('./analyzer/cli/simulate.js')).simulateCommand, analysis: true },
  { path: ['drift'], summary: 'Policy rules no recorded call used, rules wider than the traffic, calls only a wide rule allows', load: async () => (await import('./analyzer/cli/drift.js')).driftCommand, analysis: true },
  { path: ['serve'], summary: 'Serve the web UI: the service map, readiness and policies', load: async () => (await import('./ui/cli/serve.js')).serve, analysis: true },
];

/** Loads an entry's command and checks that it is the one the entry names. */
export async function loadCommand(e: Entry): Promise<Command> {
  const cmd = await e.load();
  if (cmd.path.join(' ') !== e.path.join(' ')) throw new Error(`command table: "${e.path.join(' ')}" loads "${cmd.path.join(' ')}"`);
  return cmd;
}

async function overview(): Promise<string> {
  const width = Math.max(...COMMANDS.map((c) => c.path.join(' ').length));
  const rows = COMMANDS.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`).join('\n');
  return `trustmap maps who calls whom in a service mesh, proposes least-privilege policies, and
checks whether strict mTLS is safe to turn on.

Usage:
  trustmap COMMAND [flags]

Commands:
${rows}

Run "trustmap COMMAND --help" for a command's flags and examples.

Examples:
  tcpdump -i any -U -w - | trustmap collect pcap -
  trustmap calls --json
`;
}

function find(argv: string[]): { entry: Entry; rest: string[] } | null {
  for (const entry of COMMANDS) {
    if (entry.path.every((w, i) => argv[i] === w)) return { entry, rest: argv.slice(entry.path.length) };
  }
  return null;
}

export async function main(argv: string[], io: Io): Promise<number> {
  if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    io.stdout.write(await overview());
    return argv.length === 0 ? EXIT_USAGE : EXIT_OK;
  }
  if (argv[0] === '--version' || argv[0] === 'version') {
    io.stdout.write(`trustmap ${VERSION}\n`);
    return EXIT_OK;
  }
  const found = find(argv);
  if (found === null) {
    const group = COMMANDS.filter((c) => c.path[0] === argv[0]);
    const hint = group.length > 0
      ? `"${argv[0]}" needs one of: ${group.map((c) => c.path.slice(1).join(' ')).join(', ')}`
      : `unknown command "${argv[0]}"; run "trustmap --help"`;
    io.stderr.write(`error: ${hint}\n`);
    return EXIT_USAGE;
  }
  const cmd = await loadCommand(found.entry);
  if (found.rest.includes('--help') || found.rest.includes('-h')) {
    io.stdout.write(cmd.help);
    return EXIT_OK;
  }
  if (found.entry.analysis) moderateHeapGrowth();
  try {
    return await cmd.run(found.rest, io);
  } catch (err) {
    if (err instanceof UsageError || err instanceof InputError) {
      io.stderr.write(`error: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (process.env.TRUSTMAP_DEBUG) throw err;
    io.stderr.write(`error: ${(err as Error).message ?? String(err)} (set TRUSTMAP_DEBUG=1 for details)\n`);
    return EXIT_FAILURE;
  }
}

// stdin is a getter: touching process.stdin makes Node switch a pipe to non-blocking mode, and
// the ingest worker reads standard input itself.
const io: Io = { get stdin() { return process.stdin; }, stdout: process.stdout, stderr: process.stderr };

/** True when this file is the program (run as the bin, through its npm symlink or directly), not imported by a test. */
function isEntryPoint(): boolean {
  const argv1 = process.argv[1];
  if (argv1 === undefined) return false;
  try {
    return realpathSync(argv1) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // A reader that stops early (`trustmap policy … | head`) closes the pipe: the rest of the output
  // is dropped, and the command still ends with its own exit code rather than an EPIPE stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
  main(process.argv.slice(2), io).then(
    (code) => { process.exitCode = code; },
    (err) => { process.stderr.write(`${(err as Error).stack ?? err}\n`); process.exitCode = EXIT_FAILURE; },
  );
}
