// The real path end to end: real HTTP servers on 127.0.0.1, real clients making a bounded number
// of requests, real tcpdump capturing loopback, then `trustmap collect pcap` on the file — both
// from the file and from tcpdump's standard output — and the exact calls recorded.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, request, Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BIN, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/ingest.js';

const haveTcpdump = spawnSync('tcpdump', ['--version']).status === 0;
const isRoot = process.getuid?.() === 0;
const skip = !haveTcpdump ? 'tcpdump is not installed (apt-get install tcpdump)' : !isRoot ? 'capturing on loopback needs root' : false;

function listen(handler: (path: string) => number): Promise<Server> {
  const s = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const status = handler(req.url ?? '/');
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end('x'.repeat(100));
    });
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

function call(port: number, method: string, path: string, agent: Agent | false, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(method === 'POST' ? '{"qty":1}' : undefined);
  });
}

const tcpdumpSaid: string[] = [];

/**
 * Starts tcpdump and resolves once it reports that it is listening. --immediate-mode: without it,
 * libpcap's TPACKET_V3 ring hands packets over a block at a time, and a capture stopped within
 * the block timeout loses its last packets (seen here: "24 received by filter, 0 captured").
 * -B 16384: with immediate mode and the default buffer, a loaded 2-core machine dropped 48 of
 * 96 packets in the kernel (seen here); a 16 MiB buffer dropped none.
 */
function startTcpdump(args: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const p = spawn('tcpdump', ['-i', 'lo', '-U', '--immediate-mode', '-B', '16384', '-n', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => { tcpdumpSaid.push(d.toString()); });
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
    p.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) { clearTimeout(timer); resolve(p); }
    });
    p.on('exit', (code) => { clearTimeout(timer); if (!err.includes('listening on')) reject(new Error(`tcpdump exited ${code}: ${err}`)); });
  });
}

function stop(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    p.on('exit', () => resolve());
    p.kill('SIGINT');
  });
}

test('real servers, real clients, real tcpdump: exactly the calls that were made', { skip, timeout: 60_000 }, async () => {
  const dir = tempDir();
  const file = join(dir, 'lo.pcap');
  const catalog = await listen((p) => (p.startsWith('/api/products') ? 200 : 404));
  const orders = await listen(() => 201);
  const cport = (catalog.address() as AddressInfo).port;
  const oport = (orders.address() as AddressInfo).port;
  const filter = `tcp port ${cport} or tcp port ${oport}`;
  const dump = await startTcpdump(['-w', file, filter]);
  const streamed: Buffer[] = [];
  const live = await startTcpdump(['-w', '-', filter]);
  live.stdout!.on('data', (d: Buffer) => streamed.push(d));
  try {
    // 5 product lookups on fresh connections, with ids that template to {id}.
    for (let i = 0; i < 5; i++) assert.equal(await call(cport, 'GET', `/api/products/${100 + i}?ref=home`, false), 200);
    // 4 requests on one keep-alive connection, one of them a 404.
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    for (const p of ['/api/products', '/api/products/7', '/api/products/8', '/nope']) await call(cport, 'GET', p, keepAlive);
    keepAlive.destroy();
    // 3 orders with a bearer token in plaintext.
    for (let i = 0; i < 3; i++) assert.equal(await call(oport, 'POST', '/api/orders', false, { authorization: 'Bearer s3cret-token' }), 201);
    // Let the last FIN/ACKs reach the capture; on a loaded machine tcpdump can lag behind.
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    await stop(dump);
    await stop(live);
    catalog.close();
    orders.close();
  }

  // A capture that lost packets would fail below with a confusing diff; say so plainly.
  const said = tcpdumpSaid.join('');
  assert.equal((said.match(/\b0 packets dropped by kernel/g) ?? []).length, 2, `tcpdump lost packets: ${said}`);
  const db = join(dir, 'a.db');
  const r = runCli(['collect', 'pcap', '--db', db, '--node', 'lo-test', file]);
  assert.equal(r.code, 0, r.stderr);
  const out = runCli(['calls', '--json', '--db', db]);
  const rows = JSON.parse(out.stdout) as Array<Record<string, unknown>>;
  const summary = rows.map((c) => `${c.method} ${c.dst_port === cport ? 'catalog' : 'orders'} ${c.path} ${c.protocol} ${c.security} count=${c.count} conns=${c.connections} 2xx=${(c.status as Record<string, number>)['2xx']} 4xx=${(c.status as Record<string, number>)['4xx']} creds=${c.credentials_in_plaintext}`).sort();
  assert.deepEqual(summary, [
    'GET catalog /api/products http plaintext count=1 conns=1 2xx=1 4xx=0 creds=false',
    'GET catalog /api/products/{id} http plaintext count=7 conns=5 2xx=7 4xx=0 creds=false',
    'GET catalog /nope http plaintext count=1 conns=0 2xx=0 4xx=1 creds=false',
    'POST orders /api/orders http plaintext count=3 conns=3 2xx=3 4xx=0 creds=true',
  ].sort(), JSON.stringify(rows, null, 1));
  // The keep-alive connection is one connection: it was attributed to its first request.
  assert.equal(rows.reduce((n, c) => n + (c.connections as number), 0), 5 + 1 + 3);
  for (const c of rows) {
    assert.equal(c.src_ip, '127.0.0.1');
    assert.equal(c.host, `127.0.0.1:${c.dst_port}`);
    assert.equal(c.node, 'lo-test');
    assert.equal(c.direction, 'observed');
  }
  // The secret itself is nowhere in the store.
  assert.ok(!readFileSync(db).includes('s3cret-token'));

  // The same traffic streamed from `tcpdump -w -` on standard input gives the same calls.
  const db2 = join(dir, 'stdin.db');
  const r2 = runCli(['collect', 'pcap', '--db', db2, '--node', 'lo-test', '-'], { input: Buffer.concat(streamed) });
  assert.equal(r2.code, 0, r2.stderr);
  const rows2 = JSON.parse(runCli(['calls', '--json', '--db', db2]).stdout) as unknown[];
  assert.deepEqual(rows2, rows);
});

test('Ctrl-C on `tcpdump -w - | trustmap collect pcap -` records the stream read until tcpdump stopped', { skip, timeout: 60_000 }, async () => {
  const dir = tempDir();
  const db = join(dir, 'a.db');
  const server = await listen(() => 200);
  const port = (server.address() as AddressInfo).port;
  // The pipeline as bash runs it, in its own process group: a terminal's Ctrl-C signals the group.
  // (bash, not dash: dash dies of the SIGINT itself even when the pipeline handled it.)
  const pipeline = spawn('bash', ['-c', `tcpdump -i lo -U --immediate-mode -B 16384 -n -w - 'tcp port ${port}' | "${process.execPath}" "${BIN}" collect pcap --db "${db}" -`],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TRUSTMAP_LOG_LEVEL: 'warn' } });
  let stderr = '';
  pipeline.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => pipeline.on('exit', (code) => resolve(code)));
  try {
    for (let waited = 0; !stderr.includes('listening on'); waited += 50) {
      assert.ok(waited < 10_000, `tcpdump did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (let i = 0; i < 6; i++) assert.equal(await call(port, 'GET', `/orders/${i}`, false), 200);
    await new Promise((r) => setTimeout(r, 500));
    process.kill(-pipeline.pid!, 'SIGINT');
    assert.equal(await exited, 0, stderr);
  } finally {
    server.close();
    if (pipeline.exitCode === null && pipeline.signalCode === null) process.kill(-pipeline.pid!, 'SIGKILL');
  }
  assert.match(stderr, /stopping: reading standard input to its end/);
  assert.match(stderr, /\b0 packets dropped by kernel/, 'tcpdump lost no packets');
  const calls = JSON.parse(runCli(['calls', '--json', '--db', db]).stdout) as Array<{ path: string; count: number; connections: number }>;
  assert.deepEqual(calls.map((c) => [c.path, c.count, c.connections]), [['/orders/{id}', 6, 6]]);
  const [capture] = JSON.parse(runCli(['captures', '--json', '--db', db]).stdout) as Array<{ status: string; name: string }>;
  assert.equal(capture.status, 'complete');
});
