// `npm run bench -- --only ingest`: how many pushed batches one central `trustmap serve` takes.
// The built server runs as its own process with a fresh store and --ingest-tokens for --nodes
// nodes; this process is the load generator on loopback: a bounded client with a fixed number of
// requests in flight, each POST one batch of --rows aggregated call rows shaped like the demo's
// (pod-to-pod HTTP, gRPC, TLS, DNS; paths from a small set; one hour bucket), picked from a pool
// of --keys distinct keys so that batches mix new rows (inserts) and rows seen before (updates),
// as successive flushes of real collectors do. Reported: batches/s, rows/s (upserts the central
// SQLite sustained, with validation and HTTP included), p50/p99 latency per batch. A check (not a
// timing) fails the run when the store does not hold exactly what was sent.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { WireCall } from '../../collector/push/wire.js';
import { kill } from '../helpers/push-harness.js';
import { serve } from '../helpers/serve.js';
import { describeMachine, table, type BenchSuite, type SuiteOutcome } from './measure.js';
import { mulberry32 } from './synth-capture.js';

interface Options { batches: number; rows: number; nodes: number; keys: number; concurrency: number[]; seed: number }

function parseOptions(argv: string[]): Options {
  const o: Options = { batches: 300, rows: 2000, nodes: 50, keys: 100_000, concurrency: [1, 4, 16], seed: 1 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    const int = (name: string, min: number, max: number) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} takes an integer from ${min} to ${max}`);
      i++;
      return n;
    };
    switch (argv[i]) {
      case '--batches': o.batches = int('--batches', 1, 100_000); break;
      case '--rows': o.rows = int('--rows', 1, 10_000); break;
      case '--nodes': o.nodes = int('--nodes', 1, 10_000); break;
      case '--keys': o.keys = int('--keys', 1, 10_000_000); break;
      case '--seed': o.seed = int('--seed', 0, 2 ** 31); break;
      case '--concurrency':
        o.concurrency = (v ?? '').split(',').map(Number);
        if (o.concurrency.some((n) => !Number.isInteger(n) || n < 1 || n > 256)) throw new Error('--concurrency takes a list like 1,4,16');
        i++;
        break;
      case '--no-build': break;
      default: throw new Error(`unknown ingest flag ${argv[i]}`);
    }
  }
  return o;
}

const PATHS = ['/api/v1/orders', '/api/v1/orders/{id}', '/cart/{id}', '/healthz', '/metrics', '/catalog/items', '/payments/charge', '/'];
const HOUR = 3_600_000;

/** The call row for key number k of the pool: deterministic, so a key drawn twice is an update. */
function callOf(k: number, bucketMs: number): WireCall {
  const src = k % 997, dst = (k * 31) % 1009, kind = k % 10;
  const ip = (i: number) => `10.244.${i >> 8}.${(i & 255) + 1}`;
  const base = {
    bucketMs, source: 'pcap' as const, srcIp: ip(src), dstIp: ip(dst + 1024), serviceIp: '', transport: 'tcp' as const,
    method: '', path: '', host: '', sni: '', alpn: '', securityReason: '', direction: 'observed' as const,
    count: 1 + (k % 7), connections: 1, bytes: 200 + (k % 5000), firstSeenMs: bucketMs + (k % HOUR), lastSeenMs: bucketMs + (k % HOUR) + 5,
    credentialsInPlaintext: 0 as const, status2xx: 0, status3xx: 0, status4xx: 0, status5xx: 0,
  };
  if (kind < 5) return { ...base, dstPort: 8080, protocol: 'http', method: 'GET', path: PATHS[k % PATHS.length], host: `svc-${dst}.shop.svc.cluster.local`, security: 'plaintext', status2xx: base.count };
  if (kind < 7) return { ...base, dstPort: 9090, protocol: 'grpc', method: 'POST', path: `/shop.Orders/Call${k % 13}`, alpn: 'h2', security: 'mtls', status2xx: base.count };
  if (kind < 9) return { ...base, dstPort: 443, protocol: 'tls', sni: `svc-${dst}.example.com`, alpn: 'h2', security: 'tls' };
  return { ...base, dstIp: '10.96.0.10', dstPort: 53, transport: 'tcp', protocol: 'dns', path: `svc-${dst}.shop.svc.cluster.local`, security: 'plaintext' };
}

interface Prepared { node: string; token: string; body: string; count: number }

function prepare(o: Options, runTag: string): Prepared[] {
  const r = mulberry32(o.seed);
  const bucketMs = Math.floor(Date.UTC(2026, 0, 1) / HOUR) * HOUR;
  return Array.from({ length: o.batches }, (_, b) => {
    const n = b % o.nodes;
    const picked = new Set<number>();
    while (picked.size < Math.min(o.rows, o.keys)) picked.add(Math.floor(r() * o.keys));
    const calls = [...picked].map((k) => callOf(k, bucketMs));
    const node = `node-${n}`;
    const body = JSON.stringify({ node, collector: `bench-${runTag}-${n}`, batch_id: `bench-${runTag}-${n}-${b}`, calls, dns_names: [], capture: null });
    return { node, token: tokenOf(n), body, count: calls.reduce((s, c) => s + c.count, 0) };
  });
}

const tokenOf = (n: number) => `bench-token-${String(n).padStart(6, '0')}-0123456789`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Posts every batch with `concurrency` requests in flight; returns per-batch latencies (ms). */
async function drive(url: string, batches: Prepared[], concurrency: number): Promise<{ latencies: number[]; failures: number }> {
  const latencies: number[] = [];
  let next = 0, failures = 0;
  const worker = async () => {
    while (next < batches.length) {
      const b = batches[next++];
      const t0 = performance.now();
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${b.token}` }, body: b.body });
      await res.arrayBuffer();
      latencies.push(performance.now() - t0);
      if (res.status !== 200) failures++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { latencies, failures };
}

export const ingestSuite: BenchSuite = {
  name: 'ingest',
  summary: 'POST /api/v1/ingest: batches/s, rows/s and p50/p99 into one central SQLite',
  async run(argv): Promise<SuiteOutcome> {
    const o = parseOptions(argv);
    const m = describeMachine();
    const say = (s: string) => process.stdout.write(`${s}\n`);
    say(`machine: ${m.nproc} cores, ${m.cpu}, ${m.memGiB} GiB, node ${m.node}, commit ${m.commit}, load ${loadavg()[0].toFixed(2)}`);
    say(`batches ${o.batches} × ${o.rows} rows from ${o.nodes} nodes, key pool ${o.keys}`);
    const rows: string[][] = [];
    let checksFailed = 0;
    for (const concurrency of o.concurrency) {
      const dir = mkdtempSync(join(tmpdir(), 'trustmap-bench-ingest-'));
      const tokens = join(dir, 'tokens');
      writeFileSync(tokens, Array.from({ length: o.nodes }, (_, n) => `node-${n} ${tokenOf(n)}`).join('\n') + '\n');
      chmodSync(tokens, 0o600);
      const db = join(dir, 'central.db');
      const server = await serve(['--db', db, '--port', '0', '--ingest-tokens', tokens]);
      try {
        const url = new URL('/api/v1/ingest', server.url).toString();
        const batches = prepare(o, `c${concurrency}`);
        const t0 = performance.now();
        const { latencies, failures } = await drive(url, batches, concurrency);
        const secs = (performance.now() - t0) / 1000;
        const sorted = [...latencies].sort((a, b) => a - b);
        const store = new Database(db, { readonly: true });
        const stored = store.prepare('SELECT (SELECT count(*) FROM ingest_batches) AS batches, (SELECT coalesce(sum(count), 0) FROM calls) AS calls, (SELECT count(*) FROM calls) AS keys').get() as { batches: number; calls: number; keys: number };
        store.close();
        const sent = batches.reduce((s, b) => s + b.count, 0);
        if (failures > 0 || stored.batches !== batches.length || stored.calls !== sent) {
          checksFailed++;
          say(`CHECK FAILED at concurrency ${concurrency}: ${failures} non-200 answers; store has ${stored.batches}/${batches.length} batches, ${stored.calls}/${sent} calls`);
        }
        rows.push([String(concurrency), String(batches.length), (batches.length / secs).toFixed(1), Math.round((batches.length * o.rows) / secs).toLocaleString('en-US'),
          sorted[Math.floor(sorted.length / 2)].toFixed(1), percentile(sorted, 99).toFixed(1), stored.keys.toLocaleString('en-US')]);
      } finally {
        await kill(server.child, 'SIGTERM');
        rmSync(dir, { recursive: true, force: true });
      }
    }
    say(table(['in flight', 'batches', 'batches/s', 'rows/s', 'p50 ms', 'p99 ms', 'distinct rows stored'], rows));
    return { targetsFailed: 0, checksFailed };
  },
};
