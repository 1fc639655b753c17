// `trustmap collect live` as an operator runs it: the built binary starts real tcpdump on
// loopback, real HTTP servers and clients make a bounded number of requests, and a second SQLite
// connection reads the store while the collector runs. Stopping (SIGINT), killing (SIGKILL) and
// failing to start are each checked against the store and the exit code.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { BIN, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/ingest.js';
import { StatusLine } from '../../collector/cli/status-line.js';
import { TcpdumpStats } from '../../collector/live/tcpdump-stats.js';

const haveTcpdump = spawnSync('tcpdump', ['--version']).status === 0;
const isRoot = process.getuid?.() === 0;
const skip = !haveTcpdump ? 'tcpdump is not installed (apt-get install tcpdump)' : !isRoot ? 'capturing on loopback needs root' : false;

function listen(status: number): Promise<Server> {
  const s = createServer((req, res) => {
    req.resume();
    req.on('end', () => { res.writeHead(status, { 'content-type': 'text/plain' }); res.end('ok'); });
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

const portOf = (s: Server) => (s.address() as AddressInfo).port;

/** One request on a fresh connection (agent: false closes it after the response). */
function call(port: number, method: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Live { proc: ChildProcess; stdout: string[]; stderr: string[]; tcpdumpPid: number; exited: Promise<number | null> }

/** Starts `collect live` and resolves once tcpdump is capturing (the collector logs its pid). */
function startLive(args: string[]): Promise<Live> {
  const proc = spawn(process.execPath, [BIN, 'collect', 'live', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TRUSTMAP_LOG_LEVEL: 'info' } });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  proc.stdout!.on('data', (d: Buffer) => stdout.push(d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`collect live did not start: ${stderr.join('')}`)), 30_000);
    proc.stderr!.on('data', (d: Buffer) => {
      stderr.push(d.toString());
      const m = /"tcpdumpPid":(\d+)/.exec(stderr.join(''));
      if (m) { clearTimeout(timer); resolve({ proc, stdout, stderr, tcpdumpPid: Number(m[1]), exited }); }
    });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`collect live exited ${code}: ${stderr.join('')}`)); });
  });
}

interface StoreState { captures: Array<{ status: string; dropped: number | null; packets: number }>; requests: number; connections: number; byPath: string[] }

/** What the store holds, read through a second connection while the collector may be writing. */
function readStore(db: string): StoreState {
  const c = new Database(db, { readonly: true });
  try {
    const captures = c.prepare('SELECT status, dropped, packets FROM captures ORDER BY id').all() as StoreState['captures'];
    const t = c.prepare('SELECT coalesce(sum(count), 0) AS n, coalesce(sum(connections), 0) AS k FROM calls').get() as { n: number; k: number };
    const byPath = (c.prepare(`SELECT method || ' ' || path || ' ' || status_2xx || ' ' || status_4xx || ' ' || sum(count) AS r FROM calls GROUP BY method, path, status_2xx, status_4xx ORDER BY r`).all() as Array<{ r: string }>).map((x) => x.r);
    return { captures, requests: t.n, connections: t.k, byPath };
  } finally {
    c.close();
  }
}

/** Polls until `ok` holds, for at most `limitMs` (a bounded wait, not a timing assertion). */
async function until(what: string, limitMs: number, ok: () => boolean, state: () => unknown): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen: ${JSON.stringify(state())}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** SIGTERM to tcpdump left behind by a collector killed with SIGKILL (we started it). */
function reap(pid: number): void {
  try { process.kill(pid, 'SIGTERM'); } catch { /* already gone: it died of SIGPIPE */ }
}

test('collect live on loopback: calls committed while it runs, SIGINT stops with exactly the calls made', { skip, timeout: 90_000 }, async () => {
  const dir = tempDir();
  const db = join(dir, 'live.db');
  const items = await listen(200);
  const orders = await listen(404);
  const filter = `tcp port ${portOf(items)} or tcp port ${portOf(orders)}`;
  const live = await startLive(['--interface', 'lo', '--filter', filter, '--flush-interval', '500ms', '--db', db, '--node', 'lo-live']);
  try {
    for (let i = 0; i < 6; i++) assert.equal(await call(portOf(items), 'GET', `/api/items/${1000 + i}`), 200);
    for (let i = 0; i < 2; i++) assert.equal(await call(portOf(orders), 'POST', '/api/orders'), 404);
    // Committed before the collector stops: a flush happened, visible to another connection.
    const s = () => readStore(db);
    await until('a flush with every request and connection', 30_000, () => { const x = s(); return x.requests === 8 && x.connections === 8; }, s);
    // tcpdump answered a SIGUSR1 with its statistics: the running capture carries a drop count.
    await until('a drop count from tcpdump', 30_000, () => s().captures[0]?.dropped !== null, s);
    assert.equal(s().captures.length, 1);
    assert.equal(s().captures[0].status, 'running');
  } finally {
    live.proc.kill('SIGINT');
  }
  assert.equal(await live.exited, 0, live.stderr.join(''));
  items.close();
  orders.close();
  const end = readStore(db);
  assert.equal(end.captures.length, 1);
  assert.equal(end.captures[0].status, 'complete');
  assert.equal(end.captures[0].dropped, 0, `the kernel dropped packets, the counts below would be off: ${live.stderr.join('')}`);
  assert.deepEqual(end.byPath, ['GET /api/items/{id} 6 0 6', 'POST /api/orders 0 2 2']);
  assert.equal(end.connections, 8);
  assert.match(live.stdout.join(''), /^capture 1 complete {2}packets \d+ {2}connections 8 {2}calls written \d+ {2}dropped 0 {2}malformed 0 {2}flushes \d+ {2}[\d.]+ s\n$/);
  // The captures listing shows the drop count.
  const listing = runCli(['captures', '--db', db]);
  assert.match(listing.stdout, /^ID\s+NAME\s+NODE\s+STATUS\s+PACKETS\s+DROPPED\s+MALFORMED/);
  assert.match(listing.stdout, /\n1\s+live:lo\s+lo-live\s+complete\s+\d+\s+0\s+0\s/);
  // And /api/summary carries it, per capture and in total.
  const summary = await apiSummary(db);
  assert.equal(summary.counts.dropped, 0);
  assert.deepEqual(summary.captures.map((c) => [c.name, c.dropped]), [['live:lo', 0]]);
});

/** GET /api/summary from `trustmap serve` on the store (a free loopback port). */
async function apiSummary(db: string): Promise<{ counts: { dropped: number | null }; captures: Array<{ name: string; dropped: number | null }> }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--db', db, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TRUSTMAP_LOG_LEVEL: 'warn', TRUSTMAP_TOKEN: '' } });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => { out += d.toString(); const m = /trustmap UI: (http:\/\/\S+)/.exec(out); if (m) resolve(m[1]); });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
    });
    const res = await fetch(new URL('/api/summary', url));
    assert.equal(res.status, 200);
    return await res.json() as Awaited<ReturnType<typeof apiSummary>>;
  } finally {
    child.kill('SIGTERM');
  }
}

test('collect live killed with SIGKILL: earlier flushes intact, store consistent, a rerun adds without double counting', { skip, timeout: 90_000 }, async () => {
  const dir = tempDir();
  const db = join(dir, 'live.db');
  const srv = await listen(200);
  const args = ['--interface', 'lo', '--filter', `tcp port ${portOf(srv)}`, '--flush-interval', '500ms', '--db', db];
  const first = await startLive(args);
  try {
    for (let i = 0; i < 3; i++) await call(portOf(srv), 'GET', '/a');
    await until('the first run\'s calls committed', 30_000, () => readStore(db).connections === 3, () => readStore(db));
  } finally {
    first.proc.kill('SIGKILL');
    await first.exited;
    reap(first.tcpdumpPid);
  }
  const c = new Database(db, { readonly: true });
  assert.equal(c.pragma('integrity_check', { simple: true }), 'ok');
  c.close();
  const killed = readStore(db);
  assert.deepEqual(killed.captures.map((x) => x.status), ['running'], 'a killed capture stays running in the store: nothing marked it complete');
  assert.deepEqual(killed.byPath, ['GET /a 3 0 3']);
  // Its collector is gone: the listing says so (what it flushed is kept).
  const listed = runCli(['captures', '--db', db]);
  assert.match(listed.stdout, /\n1\s+live:lo\s+\S*\s+failed\s/);

  const second = await startLive(args);
  try {
    for (let i = 0; i < 2; i++) await call(portOf(srv), 'GET', '/a');
    await until('the second run\'s calls committed', 30_000, () => readStore(db).connections === 5, () => readStore(db));
  } finally {
    second.proc.kill('SIGTERM');
  }
  assert.equal(await second.exited, 0, second.stderr.join(''));
  srv.close();
  const end = readStore(db);
  // The second run's start wrote the first one down as failed.
  assert.deepEqual(end.captures.map((x) => x.status), ['failed', 'complete']);
  assert.deepEqual(end.byPath, ['GET /a 5 0 5']);
  assert.equal(end.connections, 5);
});

test('tcpdump dying on its own: final flush, capture failed with its reason, exit 1', { skip, timeout: 60_000 }, async () => {
  const db = join(tempDir(), 'live.db');
  const srv = await listen(200);
  const live = await startLive(['--interface', 'lo', '--filter', `tcp port ${portOf(srv)}`, '--flush-interval', '500ms', '--db', db]);
  try {
    await call(portOf(srv), 'GET', '/before');
    await until('the call committed', 30_000, () => readStore(db).connections === 1, () => readStore(db));
  } finally {
    // We started this tcpdump (through the collector); it dies as if the OOM killer took it.
    process.kill(live.tcpdumpPid, 'SIGKILL');
  }
  assert.equal(await live.exited, 1);
  srv.close();
  assert.match(live.stderr.join(''), /error: tcpdump was killed by SIGKILL; the calls recorded until then are kept\n$/);
  const c = new Database(db, { readonly: true });
  const cap = c.prepare('SELECT status, error FROM captures').get() as { status: string; error: string };
  c.close();
  assert.equal(cap.status, 'failed');
  assert.match(cap.error, /^tcpdump was killed by SIGKILL; calls up to this point are recorded$/);
  assert.deepEqual(readStore(db).byPath, ['GET /before 1 0 1']);
});

test('collect live without tcpdump in PATH: one line, exit 2, no capture recorded', () => {
  const dir = tempDir();
  const db = join(dir, 'a.db');
  const r = runCli(['collect', 'live', '--interface', 'lo', '--db', db], { env: { PATH: dir } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: tcpdump not found in PATH; collect live needs tcpdump \(apt-get install tcpdump\)\n$/);
  assert.equal(r.stdout, '');
  assert.equal(runCli(['captures', '--db', db]).stdout, 'No captures recorded.\n');
});

test('collect live with a bad filter: tcpdump\'s own message on one line, exit 2', { skip }, () => {
  const db = join(tempDir(), 'a.db');
  const r = runCli(['collect', 'live', '--interface', 'lo', '--filter', 'tcp porrt 80', '--db', db]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: tcpdump: can't parse filter expression: syntax error\n$/);
  // A filter that looks like an option is still a filter ("--" before it), so tcpdump rejects it.
  const opt = runCli(['collect', 'live', '--interface', 'lo', '--filter=-w/tmp/x', '--db', db]);
  assert.equal(opt.code, 2);
  assert.match(opt.stderr, /^error: tcpdump: .*syntax error/);
  const iface = runCli(['collect', 'live', '--interface', 'nosuch0', '--db', db]);
  assert.equal(iface.code, 2);
  assert.match(iface.stderr, /^error: tcpdump: nosuch0: .*\n$/);
  assert.equal(iface.stderr.split('\n').length, 2, 'one line');
});

test('collect live without capture permission: tcpdump\'s own message, exit 2', { skip: skip || (spawnSync('setpriv', ['--version']).status !== 0 ? 'setpriv (util-linux) is not installed' : false) }, () => {
  const dir = tempDir();
  chmodSync(dir, 0o777);
  // As nobody, without CAP_NET_RAW: what an operator sees when not root.
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'collect', 'live', '--interface', 'lo', '--db', join(dir, 'a.db')], { encoding: 'utf8', env: { ...process.env, TRUSTMAP_LOG_LEVEL: 'warn' } });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^error: tcpdump: lo: You don't have permission to [^\n]*\(socket: Operation not permitted\)\n$/);
});

test('collect live usage errors: exit 2, one line', () => {
  for (const [args, msg] of [
    [['--flush-interval', '10'], /not a duration/],
    [['--interface=-w'], /cannot start with "-"/],
    [['--interface', '-w'], /argument is ambiguous/],
    [['extra'], /takes no arguments/],
  ] as const) {
    const r = runCli(['collect', 'live', ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, msg);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
});

test('the status line: drawn in place, drops flagged, cleared', () => {
  const out: string[] = [];
  const sink = { write: (s: string) => { out.push(s); return true; }, columns: 200 } as unknown as NodeJS.WritableStream & { columns: number };
  const line = new StatusLine(sink, 'live lo');
  line.update({ packets: 12_345, bytesRead: 0, callsWritten: 42, dropped: 3, flushes: 2, lastFlushMs: 10_000 }, 14_000);
  line.update({ packets: 1, bytesRead: 0, callsWritten: 0, dropped: null, flushes: 0, lastFlushMs: null }, 14_000);
  line.clear();
  assert.deepEqual(out, [
    '\rlive lo  12.3k pkts  42 calls written  drops 3 (map may be incomplete)  last flush 4s ago\x1b[K',
    '\rlive lo  1 pkts  0 calls written  drops ?  no flush yet\x1b[K',
    '\r\x1b[K',
  ]);
});

test('tcpdump statistics: the SIGUSR1 line, the exit lines, interface drops, 32-bit wrap', () => {
  const s = new TcpdumpStats();
  assert.equal(s.dropped(), null);
  assert.equal(s.line('tcpdump: listening on lo, link-type EN10MB (Ethernet), snapshot length 262144 bytes'), false);
  assert.equal(s.line('tcpdump: 5 packets captured, 7 packets received by filter, 2 packets dropped by kernel'), true);
  assert.equal(s.dropped(), 2);
  s.line('1 packet dropped by interface');
  assert.equal(s.dropped(), 3);
  s.line('4294967295 packets dropped by kernel');
  s.line('5 packets dropped by kernel');
  assert.equal(s.dropped(), 2 ** 32 + 5 + 1);
});
