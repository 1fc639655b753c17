// `trustmap demo` (what `npm start` runs): ingests the embedded demo recording and its
// Kubernetes inventory (test/testbed/demo, made by the testbed) into a fresh temporary store and
// shows who calls whom at the workload level. The web UI will be served from here once it exists.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { AttributionIndex, type Endpoint } from '../identity/attribute.js';
import { ingestCapture } from '../ingest.js';
import { loadInventory } from '../inventory/load.js';
import { listCalls } from '../store/calls.js';
import type { Command } from './command.js';
import { openDb } from './commands.js';
import { EXIT_OK, InputError, parseFlags, printable, table } from './support.js';

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

const demoFlags = z.object({ db: z.string().min(1).optional(), help: z.boolean().optional() });

export const demo: Command = {
  path: ['demo'],
  summary: 'Ingest the embedded demo mesh and show who calls whom',
  help: `Ingest the embedded demo recording (a small online shop run in network namespaces by the
testbed: pods, Services, DNS, mutual TLS and plaintext calls) and its Kubernetes inventory into a
temporary store, and show who calls whom at the workload level with the security of each edge.

Usage:
  trustmap demo [--db FILE]

Examples:
  npm start
  trustmap demo --db /tmp/demo.db && trustmap calls --db /tmp/demo.db
`,
  async run(argv, io) {
    const { flags } = parseFlags(argv, { db: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, demoFlags);
    const dir = join(packageRoot(), 'test', 'testbed', 'demo');
    const capture = join(dir, 'capture.pcap'), inventory = join(dir, 'inventory.json');
    if (!existsSync(capture) || !existsSync(inventory)) throw new InputError(`the demo recording is missing from ${dir}`);
    const dbFile = flags.db ?? join(mkdtempSync(join(tmpdir(), 'trustmap-demo-')), 'demo.db');
    const db = openDb(dbFile);
    try {
      const inv = await loadInventory(db, inventory, null, { atMs: null, force: true });
      if (inv.status === 'error') throw new InputError(inv.message);
      const cap = await ingestCapture(db, capture, null, { node: 'demo-node', force: true });
      if (cap.status === 'error') throw new InputError(cap.message);
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
      io.stdout.write(table(['FROM', 'TO', 'PORT', 'PROTOCOL', 'SECURITY', 'COUNT'],
        rows.map((e) => [printable(e.from), printable(e.to), String(e.port), e.protocol, e.security, String(e.count)])));
      io.stdout.write(`\n${rows.length} edges from ${cap.status === 'complete' ? cap.stats.packets : 0} packets. Store: ${dbFile}\n`
        + `Explore it: trustmap calls --db ${dbFile}   trustmap certs --db ${dbFile}\n`
        + 'The web UI (the service map) is not built yet; this table is what it will draw.\n');
    } finally {
      db.close();
    }
    return EXIT_OK;
  },
};
