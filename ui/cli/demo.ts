// `trustmap demo` (what `npm start` runs): ingests the embedded demo recording and its Kubernetes
// inventory (test/testbed/demo, made by the testbed) into a fresh temporary store, then serves the
// web UI over it and prints the URL. `--once` (or `--no-serve`) prints the workload-level edge
// table instead and exits, for scripts and tests.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Io } from '../../collector/cli/command.js';
import type { Command } from '../../collector/cli/command.js';
import { openDb } from '../../collector/cli/commands.js';
import { EXIT_OK, InputError, parseFlags, printable, table } from '../../collector/cli/support.js';
import { AttributionIndex, type Endpoint } from '../../collector/identity/attribute.js';
import { ingestCapture } from '../../collector/ingest.js';
import { loadInventory } from '../../collector/inventory/load.js';
import { listCalls } from '../../collector/store/calls.js';
import type { Db } from '../../collector/store/db.js';
import { storeAnalysis } from '../api/analysis.js';
import { duration } from '../api/params.js';
import { readToken } from '../security.js';
import { bind, serveUntilStopped } from './serve-loop.js';
import { hostFlag, portFlag } from './serve.js';

/** The repository root: the nearest folder above this module with a package.json. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new InputError('cannot find the trustmap package folder');
    dir = up;
  }
  return dir;
}

function label(e: Endpoint, ip: string): string {
  switch (e.kind) {
    case 'workload': return `${e.namespace}/${e.name}`;
    case 'service': return `svc ${e.namespace}/${e.name}`;
    case 'node': return `node ${e.name}`;
    case 'external': return e.name ?? ip;
    default: return ip;
  }
}

const demoFlags = z.object({
  db: z.string().min(1).optional(),
  once: z.boolean().default(false),
  'no-serve': z.boolean().default(false),
  host: hostFlag.default('127.0.0.1'),
  port: portFlag.optional(),
  'token-file': z.string().min(1).optional(),
  // The recording is ten seconds long: a 24h minimum would call every workload short-window.
  'min-window': duration.default(5e3),
  help: z.boolean().optional(),
});

/** The workload-level edges as a table: what `--once` prints. */
function edgeTable(db: Db): { text: string; edges: number } {
  const index = AttributionIndex.fromDb(db);
  const edges = new Map<string, { from: string; to: string; port: number; protocol: string; security: string; count: number }>();
  for (const c of listCalls(db)) {
    const t = Date.parse(c.first_seen);
    const from = label(index.attribute(c.src_ip, t), c.src_ip);
    const to = label(index.attribute(c.dst_ip, t), c.dst_ip);
    const k = [from, to, c.dst_port, c.protocol, c.security].join('|');
    const e = edges.get(k) ?? { from, to, port: c.dst_port, protocol: c.protocol, security: c.security, count: 0 };
    e.count += c.count;
    edges.set(k, e);
  }
  const rows = [...edges.values()].sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to) || a.port - b.port);
  return {
    text: table(['FROM', 'TO', 'PORT', 'PROTOCOL', 'SECURITY', 'COUNT'],
      rows.map((e) => [printable(e.from), printable(e.to), String(e.port), e.protocol, e.security, String(e.count)])),
    edges: rows.length,
  };
}

async function ingestDemo(db: Db): Promise<number> {
  const dir = join(packageRoot(), 'test', 'testbed', 'demo');
  const capture = join(dir, 'capture.pcap'), inventory = join(dir, 'inventory.json');
  if (!existsSync(capture) || !existsSync(inventory)) throw new InputError(`the demo recording is missing from ${dir}`);
  const inv = await loadInventory(db, inventory, null, { atMs: null, force: true });
  if (inv.status === 'error') throw new InputError(inv.message);
  const cap = await ingestCapture(db, capture, null, { node: 'demo-node', force: true });
  if (cap.status === 'error') throw new InputError(cap.message);
  return cap.status === 'complete' ? cap.stats.packets : 0;
}

export const demo: Command = {
  path: ['demo'],
  help: `Ingest the embedded demo recording (a small online shop run in network namespaces by the
testbed: pods, Services, DNS, mutual TLS and plaintext calls) and its Kubernetes inventory into a
temporary store, then serve the web UI over it and print its URL (Ctrl-C stops it).

Usage:
  trustmap demo [--db FILE] [--port N] [--once]

Flags:
  --db FILE          store to ingest into (default: a new temporary file)
  --once, --no-serve print who calls whom at the workload level as a table and exit
  --host ADDR        address to listen on (default 127.0.0.1)
  --port N           port (default 7070, or a free one when 7070 is taken; 0 picks a free one)
  --token-file FILE  access token file (or TRUSTMAP_TOKEN); required off loopback
  --min-window D     observed time readiness needs (default 5s: the recording lasts 10 s)

Examples:
  npm start
  trustmap demo --once
  trustmap demo --db /tmp/demo.db --once && trustmap serve --db /tmp/demo.db
`,
  async run(argv: string[], io: Io) {
    const { flags } = parseFlags(argv, {
      db: { type: 'string' }, once: { type: 'boolean' }, 'no-serve': { type: 'boolean' }, host: { type: 'string' },
      port: { type: 'string' }, 'token-file': { type: 'string' }, 'min-window': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    }, demoFlags);
    const isOnce = flags.once || flags['no-serve'];
    const token = isOnce ? null : readToken(flags['token-file'], process.env);
    const dbFile = flags.db ?? join(mkdtempSync(join(tmpdir(), 'trustmap-demo-')), 'demo.db');
    const db = openDb(dbFile);
    let closeDb = true;
    try {
      const packets = await ingestDemo(db);
      if (isOnce) {
        const t = edgeTable(db);
        io.stdout.write(t.text);
        io.stdout.write(`\n${t.edges} edges from ${packets} packets. Store: ${dbFile}\n`
          + `Explore it: trustmap serve --db ${dbFile}   trustmap calls --db ${dbFile}\n`);
        return EXIT_OK;
      }
      const running = await bind({
        db, analysis: storeAnalysis, host: flags.host, port: flags.port ?? 7070, token, minWindowMs: flags['min-window'],
      }, flags.port === undefined);
      closeDb = false;
      await serveUntilStopped(running, io, () => db.close(), `Demo ingested: ${packets} packets into ${dbFile}\n`);
      return EXIT_OK;
    } finally {
      if (closeDb) db.close();
    }
  },
};
