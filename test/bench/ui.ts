// `npm run bench -- --only ui`: the web UI at 1,000 workloads and 5,000 edges. A synthetic store
// (a seeded inventory of 20 namespaces × 50 pods, and call rows between them written through the
// store's own writer) is served by the built `trustmap serve`; we time /api/graph, then load the
// page in headless Chromium and time until the map is drawn and a click on a node has opened its
// panel. Targets: /api/graph < 200 ms, drawn and responding < 2 s from navigation.
//
// The server reuses the analyzer's answers until the store changes (ui/api/memo.ts), so each
// figure is taken both ways: "fresh" right after this process committed one more call to the
// store (as a collector's flush would; the server must rebuild everything), and "repeat" with the
// store unchanged since the previous request. The targets are judged on the fresh figures.
import { once } from 'node:events';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { AggRow } from '../../collector/aggregate.js';
import { loadInventoryBytes } from '../../collector/inventory/load.js';
import type { CallKey, Protocol, Security } from '../../collector/model.js';
import { CallWriter } from '../../collector/store/calls.js';
import { openStore } from '../../collector/store/db.js';
import { serve } from '../helpers/serve.js';
import { describeMachine, median, table, type BenchSuite, type SuiteOutcome } from './measure.js';
import { mulberry32 } from './synth-capture.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TRUSTMAP = join(ROOT, 'dist', 'trustmap.js');
const OUT_DIR = join(ROOT, 'test', 'bench', 'out');
const CHROMIUM = '/usr/bin/chromium';
const TARGETS = { graphMs: 200, pageMs: 2000 };

const say = (s: string) => process.stdout.write(`${s}\n`);

export interface SyntheticShape { namespaces: number; perNamespace: number; edges: number; seed: number }

const ipOf = (i: number) => `10.244.${Math.floor(i / 250)}.${(i % 250) + 2}`;

export interface SyntheticStore {
  nodes: number;
  edges: number;
  /** One row's key: writing it again adds a call to an existing edge (the graph's shape stays). */
  touch: { key: CallKey; keyString: string };
}

/**
 * Writes a store whose workload graph has namespaces × perNamespace nodes and `edges` distinct
 * edges (70% inside a namespace), with a mix of protocols and security.
 */
export function writeSyntheticStore(file: string, shape: SyntheticShape): SyntheticStore {
  const r = mulberry32(shape.seed);
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
    return { nodes: n, edges: pairs.size, touch: { key: rows[0].key, keyString: rows[0].keyString } };
  } finally {
    db.close();
  }
}

/** Commits one more call on an existing edge from a connection of our own, as a collector would. */
function touchStore(file: string, touch: SyntheticStore['touch']): void {
  const db = openStore(file);
  try {
    const row = new AggRow(touch.key, touch.keyString);
    row.count = 1;
    row.connections = 1;
    row.bytes = 700;
    row.seen(touch.key.bucketMs, touch.key.bucketMs + 1000);
    const writer = new CallWriter(db);
    db.transaction(() => writer.write([row]))();
  } finally {
    db.close();
  }
}

interface PageTimes { drawnMs: number; clickMs: number; drawnNodes: number; drawnEdges: number }

/** Loads the page, waits until the map is drawn, clicks the 500th node and waits for its panel's calls. */
async function timePage(browser: Browser, url: string): Promise<PageTimes> {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  try {
    const start = Date.now();
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    const drawnMs = Date.now() - start;
    const drawnNodes = await page.locator('svg.map g.node').count();
    const drawnEdges = await page.locator('svg.map path.edge').count();
    await page.locator('svg.map g.node').nth(500).click({ force: true, timeout: 10_000 });
    await page.locator('aside.panel table.inbound, aside.panel table.outbound').first().waitFor({ timeout: 10_000 });
    return { drawnMs, clickMs: Date.now() - start, drawnNodes, drawnEdges };
  } finally {
    await page.close();
  }
}

async function timeGraph(url: string): Promise<{ ms: number; nodes: number; edges: number; bytes: number }> {
  const t = performance.now();
  const res = await fetch(new URL('/api/graph', url));
  const body = await res.text();
  const ms = performance.now() - t;
  if (res.status !== 200) throw new Error(`/api/graph answered ${res.status}: ${body.slice(0, 200)}`);
  const g = JSON.parse(body) as { nodes: unknown[]; edges: unknown[] };
  return { ms, nodes: g.nodes.length, edges: g.edges.length, bytes: body.length };
}

const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;

async function run(argv: string[]): Promise<SuiteOutcome> {
  const runs = Number(argv[argv.indexOf('--runs') + 1]) || 3;
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

  const server = await serve(['--db', db, '--port', '0']);
  const browser = await chromium.launch({ executablePath: CHROMIUM, timeout: 30_000,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--disable-sync', '--no-first-run'] });
  let checksFailed = 0;
  const m = { graphFresh: [] as number[], graphRepeat: [] as number[], drawnFresh: [] as number[], clickFresh: [] as number[], drawnRepeat: [] as number[], clickRepeat: [] as number[] };
  let first = 0, apiNodes = 0, apiEdges = 0, bytes = 0;
  const drawn: PageTimes[] = [];
  try {
    // The server's very first answer also pays for loading and compiling the analyzer.
    first = (await timeGraph(server.url)).ms;
    say(`/api/graph, first request after start: ${first.toFixed(0)} ms`);
    for (let k = 0; k < runs; k++) {
      touchStore(db, made.touch);
      const fresh = await timeGraph(server.url);
      m.graphFresh.push(fresh.ms);
      m.graphRepeat.push((await timeGraph(server.url)).ms);
      ({ nodes: apiNodes, edges: apiEdges, bytes } = fresh);
    }
    for (let k = 0; k < runs; k++) {
      touchStore(db, made.touch);
      const fresh = await timePage(browser, server.url);
      m.drawnFresh.push(fresh.drawnMs); m.clickFresh.push(fresh.clickMs);
      const again = await timePage(browser, server.url);
      m.drawnRepeat.push(again.drawnMs); m.clickRepeat.push(again.clickMs);
      drawn.push(fresh, again);
    }
  } finally {
    await browser.close();
    server.child.kill('SIGTERM');
    await once(server.child, 'exit');
  }
  const wrong = drawn.filter((d) => d.drawnNodes !== apiNodes || d.drawnEdges !== apiEdges);
  if (apiNodes !== made.nodes || wrong.length > 0) {
    checksFailed++;
    say(`!!! nodes: store ${made.nodes}, API ${apiNodes}; edges: API ${apiEdges}; drawn (nodes/edges): ${drawn.map((d) => `${d.drawnNodes}/${d.drawnEdges}`).join(' ')}`);
  }
  say('');
  const row = (what: string, xs: number[]) => [what, String(xs.length), median(xs).toFixed(0), range(xs)];
  say(table(['measure', 'runs', 'median ms', 'min–max ms'], [
    row('/api/graph, store just changed', m.graphFresh),
    row('/api/graph, store unchanged', m.graphRepeat),
    row('page → map drawn, store just changed', m.drawnFresh),
    row('page → click answered, store just changed', m.clickFresh),
    row('page → map drawn, store unchanged', m.drawnRepeat),
    row('page → click answered, store unchanged', m.clickRepeat),
  ]));
  say(`graph: ${apiNodes} nodes, ${apiEdges} edges, ${(bytes / 1e6).toFixed(1)} MB of JSON; every page drew ${drawn.length - wrong.length === drawn.length ? 'all of them' : 'a different number'}`);
  const targets: Array<[string, boolean]> = [
    [`/api/graph < ${TARGETS.graphMs} ms after a store change (median ${median(m.graphFresh).toFixed(0)} ms)`, median(m.graphFresh) < TARGETS.graphMs],
    [`drawn and answering a click < ${TARGETS.pageMs} ms from navigation after a store change (median ${median(m.clickFresh).toFixed(0)} ms)`, median(m.clickFresh) < TARGETS.pageMs],
  ];
  for (const [what, ok] of targets) say(`${ok ? 'PASS' : 'FAIL'}  ${what}`);
  const resultFile = join(OUT_DIR, `ui-${machine.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(resultFile, JSON.stringify({ machine, shape, apiNodes, apiEdges, bytes, firstGraphMs: first, ...m, targets }, null, 2) + '\n');
  say(`results: ${resultFile}`);
  return { targetsFailed: targets.filter(([, ok]) => !ok).length, checksFailed };
}

export const uiSuite: BenchSuite = {
  name: 'ui',
  summary: 'the web UI at 1,000 workloads / 5,000 edges: /api/graph time, page drawn and clickable (--runs 3)',
  run,
};
