#!/usr/bin/env node
// The `trustmap` binary: picks the subcommand, runs it, and turns errors into one line and an
// exit code (0 ok, 1 findings or failure, 2 usage or unreadable input). No stack traces for users;
// TRUSTMAP_DEBUG=1 shows them.
import { graph, graphDiff } from './analyzer/cli/graph.js';
import { readiness } from './analyzer/cli/readiness.js';
import { calls, captures, certs, collectPcap } from './collector/cli/commands.js';
import type { Command, Io } from './collector/cli/command.js';
import { INVENTORY_COMMANDS } from './collector/cli/inventory.js';
import { TELEMETRY_COMMANDS } from './collector/cli/telemetry.js';
import { demo } from './ui/cli/demo.js';
import { serve } from './ui/cli/serve.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, InputError, UsageError } from './collector/cli/support.js';

const VERSION = '0.1.0';

const COMMANDS: Command[] = [demo, collectPcap, calls, captures, certs, ...INVENTORY_COMMANDS, ...TELEMETRY_COMMANDS,
  // graph diff before graph: the dispatcher takes the first command whose words match.
  graphDiff, graph, readiness, serve];

function overview(): string {
  const rows = COMMANDS.map((c) => `  ${c.path.join(' ').padEnd(16)} ${c.summary}`).join('\n');
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

function find(argv: string[]): { cmd: Command; rest: string[] } | null {
  for (const cmd of COMMANDS) {
    if (cmd.path.every((w, i) => argv[i] === w)) return { cmd, rest: argv.slice(cmd.path.length) };
  }
  return null;
}

export async function main(argv: string[], io: Io): Promise<number> {
  if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    io.stdout.write(overview());
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
  if (found.rest.includes('--help') || found.rest.includes('-h')) {
    io.stdout.write(found.cmd.help);
    return EXIT_OK;
  }
  try {
    return await found.cmd.run(found.rest, io);
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
main(process.argv.slice(2), io).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`${(err as Error).stack ?? err}\n`); process.exitCode = EXIT_FAILURE; },
);
