// `npm run bench -- --only ui`: the web UI at 1,000 workloads and 5,000 edges. A synthetic store
// (a seeded inventory of 20 namespaces × 50 pods, and call rows between them written through the
// store's own writer) is served by the built `trustmap serve`; we time /api/graph, then load the
// page in headless Chromium and time until the map is drawn and a click on a node has opened its
// panel. Targets: /api/graph < 200 ms, drawn and responding < 2 s from navigation.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { AggRow } from '../../collector/aggregate.js';
import { loadInventoryBytes } from '../../collector/inventory/load.js';
import type { CallKey, Protocol, Security } from '../../collector/model.js';
import { CallWriter } from '../../collector/store/calls.js';
import { openStore } from '../../collector/store/db.js';
import { describeMachine, median, table, type BenchSuite, type SuiteOutcome } from './measure.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TRUSTMAP = join(ROOT, 'dist', 'trustmap.js');
const OUT_DIR = join(ROOT, 'test', 'bench', 'out');
const CHROMIUM = '/usr/bin/chromium';
const TARGETS = { graphMs: 200, pageMs: 2000 };

const say = (s: string) => process.stdout.write(`${s}\n`);

/** mulberry32: the same seed gives the same store. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SyntheticShape { namespaces: number; perNamespace: number; edges: number; seed: number }

const ipOf = (i: number) => `10.244.${Math.floor(i / 250)}.${(i % 250) + 2}`;

/**
 * Writes a store whose workload graph has namespaces × perNamespace nodes and `edges` distinct
 * edges (70% inside a namespace), with a mix of protocols and security. Returns the edge count.
 */
export function writeSyntheticStore(file: string, shape: SyntheticShape): { nodes: number; edges: number } {
  const r = rng(shape.seed);
  const n = shape.namespaces * shape.perNamespace;
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const ns = (i: number) => `team-${String(Math.floor(i / shape.perNamespace)).padStart(2, '0')}`;
  const name = (i: number) => `svc-${String(i % shape.perNamespace).padStart(2, '0')}`;
  const items: unknown[] = [];
  for (let k = 0; k < shape.namespaces; k++) items.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns(k * shape.perNamespace), uid: `ns-${k}` } });
  items.push({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'bench-node', uid: 'node-1' },
    spec: { podCIDR: '10.244.0.0/16', podCIDRs: ['10.244.0.0/16'] }, status: { addresses: [{ type: 'InternalIP', address: '192.168.0.10' }] } });
  for (let i = 0; i < n; i++) {
    items.push({
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: `${name(i)}-0`, namespace: ns(i), uid: `pod-${i}`, creationTimestamp: new Date(t0 - 3600e3).toISOString(), labels: { app: name(i) } },
      spec: { nodeName: 'bench-node', serviceAccountName: name(i), containers: [{ name: 'app', image: 'bench' }] },
      status: { phase: 'Running', podIP: ipOf(i), podIPs: [{ ip: ipOf(i) }], startTime: new Date(t0 - 3600e3).toISOString() },
    });
  }
  const db = openStore(file);
  try {
    const inv = loadInventoryBytes(db, 'synthetic-inventory.json', Buffer.from(JSON.stringify({ apiVersion: 'v1', kind: 'List', items })), { atMs: t0 - 1800e3, force: true });
    if (inv.status === 'error') throw new Error(inv.message);
    const pairs = new Set<string>();
    const rows: AggRow[] = [];
    const kinds: Array<[Protocol, number, Security]> = [['http', 8080, 'plaintext'], ['grpc', 50051, 'plaintext'], ['tls', 8443, 'mtls'], ['tls', 443, 'tls'], ['tcp', 6379, 'plaintext']];
    while (pairs.size < shape.edges) {
      const a = Math.floor(r() * n);
      const sameNs = r() < 0.7;
      const b = sameNs ? Math.floor(a / shape.perNamespace) * shape.perNamespace + Math.floor(r() * shape.perNamespace) : Math.floor(r() * n);
      if (a === b || pairs.has(`${a}>${b}`)) continue;
      pairs.add(`${a}>${b}`);
      const roll = r();
      const [protocol, port, sec] = roll < 0.55 ? kinds[2] : roll < 0.7 ? kinds[3] : roll < 0.88 ? kinds[0] : roll < 0.95 ? kinds[1] : kinds[4];
      // A few edges carry both mTLS and plaintext calls: the "mixed" colour.
      const variants: Array<[Protocol, number, Security, string]> = [[protocol, port, sec, protocol === 'http' ? '/api/items/{id}' : '']];
      if (r() < 0.05) variants.push(['http', 8080, 'plaintext', '/healthz']);
      for (const [p, dport, s, path] of variants) {
        const key: CallKey = {
          bucketMs: t0, source: 'pcap', node: 'bench-node', srcIp: ipOf(a), dstIp: ipOf(b), serviceIp: '', dstPort: dport,
          transport: 'tcp', protocol: p, method: path ? 'GET' : '', path, host: '', sni: '', alpn: '', security: s,
          securityReason: '', direction: 'observed',
        };
        const row = new AggRow(key, `${a}|${b}|${dport}|${p}|${s}|${path}`);
        row.count = 1 + Math.floor(r() * 500);
        row.connections = Math.max(1, Math.floor(row.count / 10));
        row.bytes = row.count * 700;
        row.seen(t0 + r() * 600e3, t0 + 600e3 + r() * 600e3);
        rows.push(row);
      }
    }
    const writer = new CallWriter(db);
    db.transaction(() => writer.write(rows))();
    return { nodes: n, edges: pairs.size };
  } finally {
    db.close();
  }
}

async function serve(db: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [TRUSTMAP, 'serve', '--db', db, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TRUSTMAP_LOG_LEVEL: 'warn', TRUSTMAP_TOKEN: '' },
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('trustmap serve did not start within 20 s')), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /trustmap UI: (\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`trustmap serve exited ${code}`)); });
  });
  return { child, url };
}

async function run(argv: string[]): Promise<SuiteOutcome> {
  const runs = Number(argv[argv.indexOf('--runs') + 1]) || 5;
  if (!existsSync(TRUSTMAP)) throw new Error('dist/trustmap.js is missing: run npm run build first');
  if (!existsSync(CHROMIUM)) throw new Error(`needs Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  mkdirSync(OUT_DIR, { recursive: true });
  const machine = describeMachine();
  const db = join(OUT_DIR, 'ui-bench.db');
  for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
  const shape = { namespaces: 20, perNamespace: 50, edges: 5000, seed: 1 };
  const t0 = performance.now();
  const made = writeSyntheticStore(db, shape);
  say(`synthetic store: ${made.nodes} workloads, ${made.edges} edges (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  const server = await serve(db);
  const browser = await chromium.launch({ executablePath: CHROMIUM, timeout: 30_000,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--disable-sync', '--no-first-run'] });
  let checksFailed = 0;
  const graphMs: number[] = [], drawnMs: number[] = [], clickMs: number[] = [];
  let drawnNodes = 0, drawnEdges = 0, apiNodes = 0, apiEdges = 0, bytes = 0;
  try {
    for (let k = 0; k < runs + 1; k++) {
      const t = performance.now();
      const res = await fetch(new URL('/api/graph', server.url));
      const body = await res.text();
      const ms = performance.now() - t;
      if (k > 0) graphMs.push(ms); // the first request also warms the page cache: reported apart
      else say(`/api/graph first (cold) request: ${ms.toFixed(0)} ms`);
      const g = JSON.parse(body) as { nodes: unknown[]; edges: unknown[] };
      apiNodes = g.nodes.length; apiEdges = g.edges.length; bytes = body.length;
    }
    for (let k = 0; k < runs; k++) {
      const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
      try {
        const start = Date.now();
        await page.goto(server.url);
        await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
        drawnMs.push(Date.now() - start);
        drawnNodes = await page.locator('svg.map g.node').count();
        drawnEdges = await page.locator('svg.map path.edge').count();
        await page.locator('svg.map g.node').nth(500).click({ force: true, timeout: 10_000 });
        await page.locator('aside.panel table.inbound, aside.panel table.outbound').first().waitFor({ timeout: 10_000 });
        clickMs.push(Date.now() - start);
      } finally {
        await page.close();
      }
    }
  } finally {
    await browser.close();
    server.child.kill('SIGTERM');
    await once(server.child, 'exit');
  }
  if (apiNodes !== made.nodes || drawnNodes !== apiNodes || drawnEdges !== apiEdges) {
    checksFailed++;
    say(`!!! nodes: store ${made.nodes}, API ${apiNodes}, drawn ${drawnNodes}; edges: API ${apiEdges}, drawn ${drawnEdges}`);
  }
  say('');
  say(table(['measure', 'runs', 'median ms', 'min–max ms'], [
    ['/api/graph (warm)', String(graphMs.length), median(graphMs).toFixed(0), `${Math.min(...graphMs).toFixed(0)}–${Math.max(...graphMs).toFixed(0)}`],
    ['page load → map drawn', String(drawnMs.length), median(drawnMs).toFixed(0), `${Math.min(...drawnMs)}–${Math.max(...drawnMs)}`],
    ['page load → click answered', String(clickMs.length), median(clickMs).toFixed(0), `${Math.min(...clickMs)}–${Math.max(...clickMs)}`],
  ]));
  say(`graph: ${apiNodes} nodes, ${apiEdges} edges, ${(bytes / 1e6).toFixed(1)} MB of JSON; drawn: ${drawnNodes} nodes, ${drawnEdges} edges`);
  const targets: Array<[string, boolean]> = [
    [`/api/graph < ${TARGETS.graphMs} ms (median ${median(graphMs).toFixed(0)} ms)`, median(graphMs) < TARGETS.graphMs],
    [`drawn and answering a click < ${TARGETS.pageMs} ms from navigation (median ${median(clickMs).toFixed(0)} ms)`, median(clickMs) < TARGETS.pageMs],
  ];
  for (const [what, ok] of targets) say(`${ok ? 'PASS' : 'FAIL'}  ${what}`);
  const resultFile = join(OUT_DIR, `ui-${machine.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(resultFile, JSON.stringify({ machine, shape, apiNodes, apiEdges, bytes, graphMs, drawnMs, clickMs, targets }, null, 2) + '\n');
  say(`results: ${resultFile}`);
  return { targetsFailed: targets.filter(([, ok]) => !ok).length, checksFailed };
}

export const uiSuite: BenchSuite = {
  name: 'ui',
  summary: 'the web UI at 1,000 workloads / 5,000 edges: /api/graph time, page drawn and clickable (--runs 5)',
  run,
};
