// The testbed end to end, checked by an independent peer: up → record → tshark reads the capture
// and must find every expected call (and nothing else) → down, twice, leaving nothing behind.
// Then: once trustmap's pcap collector exists, its calls must match the demo's ground truth.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PODS, REPORT_JOB_TARGET_IP, spiffeId } from '../testbed/definitions.js';
import type { ExpectedCall, ExpectedCalls } from '../testbed/ground-truth.js';
import { templatePath } from '../testbed/ledger.js';
import { cannotRun } from '../testbed/lifecycle.js';
import { AttributionIndex, type Endpoint } from '../../collector/identity/attribute.js';
import { openStore } from '../../collector/store/db.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(ROOT, 'test', 'testbed', 'cli.ts');

const testbed = (...args: string[]): { code: number; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
};

const tshark = (pcap: string, filter: string, fields: string[], decodeAs: string[] = []): string[][] => {
  const r = spawnSync('tshark', ['-r', pcap, '-n', ...decodeAs.flatMap((d) => ['-d', d]), '-Y', filter, '-T', 'fields',
    '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=,', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`tshark ${filter}: ${r.stderr.split('\n')[0]}`);
  return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t'));
};

// ---- trustmap's own collector against the demo's ground truth ---------------------------------

const DEMO = path.join(ROOT, 'test', 'testbed', 'demo');
const TRUSTMAP = path.join(ROOT, 'dist', 'trustmap.js');

const collectorMissing = (): string | false => {
  if (!fs.existsSync(TRUSTMAP)) return 'needs trustmap collect pcap with L7 (issue 2/3)';
  const r = spawnSync(process.execPath, [TRUSTMAP, 'collect', 'pcap', '--help'], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? false : 'needs trustmap collect pcap with L7 (issue 2/3)';
};

interface CollectedCall {
  src_ip: string; dst_ip: string; service_ip: string | null; dst_port: number; transport: string; protocol: string;
  method: string | null; path: string | null; security: string; count: number;
}

const KEY_FIELDS = ['src_ip', 'dst_ip', 'dst_port', 'transport', 'protocol', 'method', 'path', 'security'] as const;
const keyOfCollected = (c: CollectedCall): string => KEY_FIELDS.map((f) => String(c[f] ?? '-')).join(' ');
const keyOfExpected = (c: ExpectedCall): string =>
  [c.source.ip, c.destination.ip, c.port, c.transport, c.protocol, c.method ?? '-', c.path ?? '-', c.security].join(' ');

/** Sums counts per key; returns the readable differences (empty when equal). */
export const diffCalls = (expected: ExpectedCall[], actual: CollectedCall[]): string[] => {
  const want = new Map<string, number>();
  for (const c of expected) want.set(keyOfExpected(c), (want.get(keyOfExpected(c)) ?? 0) + c.count);
  const got = new Map<string, number>();
  for (const c of actual) got.set(keyOfCollected(c), (got.get(keyOfCollected(c)) ?? 0) + c.count);
  const lines: string[] = [];
  for (const [k, n] of want) {
    const m = got.get(k);
    if (m === undefined) lines.push(`missing   ${k} (count ${n})`);
    else if (m !== n) lines.push(`count     ${k}: expected ${n}, got ${m}`);
  }
  for (const [k, m] of got) if (!want.has(k)) lines.push(`invented  ${k} (count ${m})`);
  return lines.sort();
};

/** Workload-level label of an expected endpoint, and of an attributed one, in the same words. */
const expectedLabel = (e: ExpectedCall['source'] | ExpectedCall['destination']): string =>
  e.kind === 'pod' ? `${e.namespace}/${e.workload}` : e.kind === 'node' ? `node:${e.pod}` : `external:${e.ip}`;
const attributedLabel = (e: Endpoint, ip: string): string =>
  e.kind === 'workload' ? `${e.namespace}/${e.name}` : e.kind === 'node' ? `node:${e.name}` : e.kind === 'service' ? `service:${e.namespace}/${e.name}` : `external:${ip}`;

/**
 * Runs the real CLI on a recording (capture + inventory) and compares with its ground truth: at
 * the IP level (every expected call with the right protocol, method, path template, security and
 * count, the Service address where the client dialled one, nothing invented), and at the workload
 * level once the inventory is loaded.
 */
const checkCollector = (dir: string): void => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tm-collect-'));
  try {
    const db = path.join(tmp, 'calls.db');
    const collect = spawnSync(process.execPath, [TRUSTMAP, 'collect', 'pcap', '--db', db, path.join(dir, 'capture.pcap')], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(collect.status, 0, collect.stderr);
    const calls = spawnSync(process.execPath, [TRUSTMAP, 'calls', '--json', '--db', db], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 26 });
    assert.equal(calls.status, 0, calls.stderr);
    const collected = JSON.parse(calls.stdout) as Array<CollectedCall & { first_seen: string }>;
    const expected = (JSON.parse(fs.readFileSync(path.join(dir, 'expected-calls.json'), 'utf8')) as ExpectedCalls).calls;
    const diff = diffCalls(expected, collected);
    assert.ok(diff.length === 0, `collector vs ground truth (src dst port transport protocol method path security):\n${diff.join('\n')}`);
    // The address the client dialled: a ClusterIP for calls through a Service, none otherwise.
    for (const c of expected) {
      const mine = collected.filter((x) => keyOfCollected(x) === keyOfExpected(c));
      assert.ok(mine.every((x) => x.service_ip === c.destination.service_ip), `service address of ${keyOfExpected(c)}: ${mine.map((x) => x.service_ip).join(',')} vs ${c.destination.service_ip}`);
    }

    const load = spawnSync(process.execPath, [TRUSTMAP, 'inventory', 'load', '--db', db, path.join(dir, 'inventory.json')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(load.status, 0, load.stderr);
    const store = openStore(db, { readonly: true });
    try {
      const index = AttributionIndex.fromDb(store);
      const sum = (m: Map<string, number>, k: string, n: number) => m.set(k, (m.get(k) ?? 0) + n);
      const want = new Map<string, number>(), got = new Map<string, number>();
      for (const c of expected) sum(want, [expectedLabel(c.source), expectedLabel(c.destination), c.port, c.protocol, c.method ?? '-', c.path ?? '-', c.security].join(' '), c.count);
      for (const c of collected) {
        const t = Date.parse(c.first_seen);
        sum(got, [attributedLabel(index.attribute(c.src_ip, t), c.src_ip), attributedLabel(index.attribute(c.dst_ip, t), c.dst_ip), c.dst_port, c.protocol, c.method ?? '-', c.path ?? '-', c.security].join(' '), c.count);
      }
      assert.deepEqual([...got].sort(), [...want].sort(), 'workload level');
    } finally {
      store.close();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
};

const whyNotTestbed = cannotRun() ?? (spawnSync('tshark', ['--version']).status === 0 ? null : 'tshark is not installed');

describe('testbed: capture vs ground truth (tshark)', { skip: whyNotTestbed ?? false, timeout: 300_000 }, () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tm-testbed-'));
  const pcap = path.join(out, 'capture.pcap');
  let expected: ExpectedCalls;
  const podIps = new Set(PODS.map((p) => p.ip));

  before(() => {
    testbed('down');
    const up = testbed('up');
    assert.equal(up.code, 0, up.stderr);
    const rec = testbed('record', '--seconds', '8', '--rate', '2', '--out', out);
    assert.equal(rec.code, 0, rec.stderr);
    expected = JSON.parse(fs.readFileSync(path.join(out, 'expected-calls.json'), 'utf8')) as ExpectedCalls;
  });

  after(() => {
    testbed('down');
    fs.rmSync(out, { recursive: true, force: true });
  });

  it('recorded SLL2 with the three files', () => {
    for (const f of ['capture.pcap', 'inventory.json', 'expected-calls.json']) assert.ok(fs.statSync(path.join(out, f)).size > 0, f);
    const r = spawnSync('capinfos', ['-E', pcap], { encoding: 'utf8' });
    assert.match(r.stdout, /Linux cooked-mode capture v2/);
    assert.ok(expected.calls.length > 20, 'a run has many edges');
  });

  it('every plaintext HTTP request appears with its method, URI and host, between the right IPs, before and after DNAT', () => {
    const seen = new Set(tshark(pcap, 'http.request', ['ip.src', 'ip.dst', 'tcp.dstport', 'http.request.method', 'http.request.uri', 'http.host'])
      .map(([src, dst, port, method, uri, host]) => [src, dst, port, method, templatePath(uri ?? ''), host].join(' ')));
    const http = expected.calls.filter((c) => c.protocol === 'http');
    assert.ok(http.length > 0);
    for (const c of http) {
      const key = (dst: string, port: number): string => [c.source.ip, dst, port, c.method, c.path, c.host].join(' ');
      assert.ok(seen.has(key(c.destination.ip, c.port)), `missing in capture: ${key(c.destination.ip, c.port)}`);
      if (c.destination.service_ip && c.destination.service_port) {
        assert.ok(seen.has(key(c.destination.service_ip, c.destination.service_port)), `missing pre-DNAT: ${key(c.destination.service_ip, c.destination.service_port)}`);
      }
    }
    // Nothing else: every request the capture shows reaching a pod is an expected row.
    const allowed = new Set(http.map((c) => [c.source.ip, c.destination.ip, c.port, c.method, c.path, c.host].join(' ')));
    for (const s of seen) {
      const dst = s.split(' ')[1] ?? '';
      if (podIps.has(dst)) assert.ok(allowed.has(s), `unexpected request in capture: ${s}`);
    }
  });

  it('every TLS connection starts with a ClientHello carrying the expected SNI and ALPN; counts match', () => {
    const hellos = tshark(pcap, 'tls.handshake.type == 1', ['ip.src', 'ip.dst', 'tcp.srcport', 'tcp.dstport',
      'tls.handshake.extensions_server_name', 'tls.handshake.extensions_alpn_str'], ['tcp.port==8080,tls']);
    const connections = new Map<string, Set<string>>();
    for (const [src, dst, sport, dport, sni, alpn] of hellos) {
      if (!podIps.has(dst ?? '')) continue; // the pre-DNAT copy of the same hello
      const key = [src, dst, dport, sni, alpn].join(' ');
      connections.set(key, (connections.get(key) ?? new Set()).add(sport ?? ''));
    }
    const tls = expected.calls.filter((c) => c.protocol === 'tls');
    assert.ok(tls.some((c) => c.security === 'mtls') && tls.some((c) => c.security === 'tls'));
    const want = new Map(tls.map((c) => [[c.source.ip, c.destination.ip, c.port, c.sni, (c.alpn ?? []).join(',')].join(' '), c.count]));
    assert.deepEqual(Object.fromEntries([...connections].map(([k, v]) => [k, v.size])), Object.fromEntries(want));
  });

  it('TLS 1.2 mutual TLS shows the client certificate with its SPIFFE ID', () => {
    const certs = tshark(pcap, 'tls.handshake.type == 11', ['ip.src', 'ip.dst', 'tcp.dstport', 'x509ce.uniformResourceIdentifier'],
      ['tcp.port==8080,tls']).map((r) => r.join(' '));
    const tls12 = expected.calls.filter((c) => c.security === 'mtls' && c.tls_version === 'TLSv1.2');
    assert.ok(tls12.length >= 2);
    for (const c of tls12) {
      const client = PODS.find((p) => p.ip === c.source.ip);
      assert.ok(client);
      const line = [c.source.ip, c.destination.ip, c.port, spiffeId(client)].join(' ');
      assert.ok(certs.includes(line), `no client Certificate ${line}`);
    }
    // TLS 1.3 encrypts certificates: none of its connections show one.
    for (const c of expected.calls.filter((x) => x.tls_version === 'TLSv1.3')) {
      assert.ok(!certs.some((l) => l.startsWith(`${c.source.ip} ${c.destination.ip} ${c.port} `)), `TLS 1.3 cert visible ${c.source.ip}`);
    }
  });

  it('DNS queries got the expected ClusterIP answers from 10.96.0.10', () => {
    const answers = new Set(tshark(pcap, 'dns.flags.response == 1', ['ip.src', 'ip.dst', 'dns.qry.name', 'dns.a'])
      .map((r) => r.join(' ')));
    const dns = expected.calls.filter((c) => c.protocol === 'dns');
    assert.ok(dns.length > 0);
    for (const c of dns) {
      for (const q of c.dns_queries ?? []) {
        assert.ok(answers.has([c.destination.service_ip, c.source.ip, q.name, q.answer].join(' ')), `no answer ${q.name} for ${c.source.ip}`);
      }
    }
  });

  it('the report-job calls the catalog pod IP in plaintext with an Authorization header', () => {
    const rows = tshark(pcap, 'http.request && http.authorization', ['ip.src', 'ip.dst', 'tcp.dstport', 'http.request.uri']);
    assert.ok(rows.some(([src, dst, port, uri]) => src === '10.244.0.50' && dst === REPORT_JOB_TARGET_IP && port === '8080' && uri?.startsWith('/api/products')));
    const row = expected.calls.find((c) => c.call_id === 'report-job-catalog');
    assert.equal(row?.credentials, true);
    assert.equal(row?.destination.service_ip, null);
  });

  it('no TCP or UDP conversation that the ground truth does not list', () => {
    const allowedTcp = new Set(expected.calls.filter((c) => c.transport === 'tcp').flatMap((c) => [
      [c.source.ip, c.destination.ip, c.port].join(' '),
      ...(c.destination.service_ip ? [[c.source.ip, c.destination.service_ip, c.destination.service_port].join(' ')] : []),
    ]));
    const syns = tshark(pcap, 'tcp.flags.syn == 1 && tcp.flags.ack == 0', ['ip.src', 'ip.dst', 'tcp.dstport', 'tcp.srcport']);
    const unexpected = [...new Set(syns.map((r) => r.slice(0, 3).join(' ')).filter((k) => !allowedTcp.has(k)))];
    assert.deepEqual(unexpected, []);
    for (const k of allowedTcp) assert.ok(syns.some((r) => r.slice(0, 3).join(' ') === k), `no SYN for ${k}`);
    // Raw TCP (redis) counts connections: distinct client ports after DNAT.
    for (const c of expected.calls.filter((x) => x.protocol === 'tcp')) {
      const ports = new Set(syns.filter((r) => r[0] === c.source.ip && r[1] === c.destination.ip && r[2] === String(c.port)).map((r) => r[3]));
      assert.equal(ports.size, c.count, `${c.call_id} connections`);
    }
    const udp = tshark(pcap, 'udp', ['ip.src', 'ip.dst', 'udp.srcport', 'udp.dstport']);
    const notDns = udp.filter(([, , sport, dport]) => sport !== '53' && dport !== '53');
    assert.deepEqual(notDns, []);
  });

  it('trustmap collect pcap on this recording finds exactly the ground truth (IP and workload level)', { skip: collectorMissing() }, () => {
    checkCollector(out);
  });

  it('down removes every namespace, link and rule, and is idempotent', () => {
    assert.equal(testbed('down').code, 0);
    assert.equal(testbed('down').code, 0);
    const status = JSON.parse(testbed('status').stdout) as { isUp: boolean; netns: string[]; links: string[]; iptables: string[] };
    assert.deepEqual({ isUp: status.isUp, netns: status.netns, links: status.links, iptables: status.iptables },
      { isUp: false, netns: [], links: [], iptables: [] });
    assert.ok(!spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes('tm-'));
    assert.ok(!spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout.includes('TM-'));
    assert.ok(!fs.existsSync('/run/trustmap-testbed'));
  });
});

describe('testbed demo: trustmap collect pcap finds exactly the ground truth', () => {
  it('collect pcap + calls --json == expected-calls.json (IP and workload level)', { skip: collectorMissing() }, () => {
    checkCollector(DEMO);
  });
});
