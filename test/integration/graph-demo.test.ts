// `trustmap graph` on the testbed's demo recording, checked against its ground truth: the capture
// and inventory go through the real CLI (collect pcap, inventory load), and the expectation is
// derived from expected-calls.json and inventory.json alone, never from our own output.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { graphDot, graphMermaid } from '../../analyzer/cli/render-graph.js';
import { EDGE_CHANGE_KINDS, LEVELS, NODE_KINDS, type Graph } from '../../analyzer/model.js';
import { CALL_SOURCES, PROTOCOLS, SECURITIES } from '../../collector/model.js';
import { runCli } from '../helpers/cli.js';
import type { ExpectedCall, ExpectedCalls } from '../testbed/ground-truth.js';

const DEMO = fileURLToPath(new URL('../testbed/demo/', import.meta.url));
const truth = JSON.parse(readFileSync(join(DEMO, 'expected-calls.json'), 'utf8')) as ExpectedCalls;
const inventory = JSON.parse(readFileSync(join(DEMO, 'inventory.json'), 'utf8')) as {
  items: Array<{ kind: string; metadata: { namespace?: string; name: string }; spec?: { clusterIP?: string }; status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } } }>;
};

// ---- the expectation, from the ground truth files ----------------------------------------------

/** Addresses a DNS answer named in the run (an external destination is named by it). */
const dnsNames = new Map<string, string>();
for (const c of truth.calls) for (const q of c.dns_queries ?? []) if (q.answer !== null) dnsNames.set(q.answer, q.name);

/** Service address → NS/NAME, from the inventory's Services (ClusterIPs and load-balancer IPs). */
const serviceByIp = new Map<string, string>();
for (const o of inventory.items) {
  if (o.kind !== 'Service') continue;
  const id = `${o.metadata.namespace}/${o.metadata.name}`;
  if (o.spec?.clusterIP && o.spec.clusterIP !== 'None') serviceByIp.set(o.spec.clusterIP, id);
  for (const i of o.status?.loadBalancer?.ingress ?? []) if (i.ip) serviceByIp.set(i.ip, id);
}

const label = (e: ExpectedCall['source']): string =>
  e.kind === 'pod' ? `${e.namespace}/${e.workload}` : e.kind === 'node' ? `node:${e.pod}` : `external:${dnsNames.get(e.ip) ?? e.ip}`;
const nsLabel = (e: ExpectedCall['source']): string => (e.kind === 'pod' ? e.namespace! : label(e));

interface WantEdge {
  ports: Set<number>; protocols: Set<string>; methods: Set<string>; paths: Set<string>;
  security: Record<string, number>; count: number; credentials: boolean; services: Set<string>;
  /** port protocol method path security via_service → count */
  calls: Map<string, number>;
}

function expectedEdges(ends: (c: ExpectedCall) => [string, string]): Map<string, WantEdge> {
  const edges = new Map<string, WantEdge>();
  for (const c of truth.calls) {
    const k = ends(c).join(' -> ');
    let e = edges.get(k);
    if (!e) {
      e = { ports: new Set(), protocols: new Set(), methods: new Set(), paths: new Set(), security: { mtls: 0, tls: 0, plaintext: 0, unknown: 0 },
        count: 0, credentials: false, services: new Set(), calls: new Map() };
      edges.set(k, e);
    }
    e.ports.add(c.port);
    e.protocols.add(c.protocol);
    if (c.method) e.methods.add(c.method);
    if (c.path) e.paths.add(c.path);
    e.security[c.security] += c.count;
    e.count += c.count;
    e.credentials ||= c.credentials;
    if (c.destination.service_ip) e.services.add(serviceByIp.get(c.destination.service_ip)!);
    const ck = [c.port, c.protocol, c.method ?? '-', c.path ?? '-', c.security, c.destination.service_ip !== null].join(' ');
    e.calls.set(ck, (e.calls.get(ck) ?? 0) + c.count);
  }
  return edges;
}

function actualEdges(g: Graph): Map<string, WantEdge> {
  const edges = new Map<string, WantEdge>();
  for (const e of g.edges) {
    const calls = new Map<string, number>();
    for (const c of e.calls) {
      const ck = [c.port, c.protocol, c.method ?? '-', c.path ?? '-', c.security, c.via_service].join(' ');
      calls.set(ck, (calls.get(ck) ?? 0) + c.count);
    }
    edges.set(`${e.source} -> ${e.target}`, {
      ports: new Set(e.ports), protocols: new Set(e.protocols), methods: new Set(e.methods), paths: new Set(e.paths),
      security: { ...e.security_counts }, count: e.count, credentials: e.credentials_in_plaintext, services: new Set(e.services), calls,
    });
  }
  return edges;
}

const sorted = (m: Map<string, WantEdge>) => Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)));

// ---- the JSON contract, as a schema (docs/graph.md) ---------------------------------------------

const mix = z.object({ mtls: z.number().min(0), tls: z.number().min(0), plaintext: z.number().min(0), unknown: z.number().min(0) }).strict();
const isoTime = z.string().datetime();
const graphSchema = z.object({
  level: z.enum(LEVELS),
  window: z.object({ since: isoTime.nullable(), until: isoTime.nullable(), first_seen: isoTime.nullable(), last_seen: isoTime.nullable() }).strict(),
  nodes: z.array(z.object({
    id: z.string(), kind: z.enum(NODE_KINDS), namespace: z.string().nullable(), name: z.string(), workload_kind: z.string().nullable(),
    service_account: z.string().nullable(), spiffe: z.string().nullable(), labels: z.record(z.string(), z.string()),
    addresses: z.array(z.string()), reason: z.string().nullable(),
  }).strict()),
  edges: z.array(z.object({
    source: z.string(), target: z.string(), ports: z.array(z.number().int()), protocols: z.array(z.enum(PROTOCOLS)),
    methods: z.array(z.string()), paths: z.array(z.string()), security: mix, security_counts: mix, count: z.number().int(),
    connections: z.number().int(), bytes: z.number().int(), first_seen: isoTime, last_seen: isoTime, credentials_in_plaintext: z.boolean(),
    services: z.array(z.string()),
    calls: z.array(z.object({
      port: z.number().int(), transport: z.enum(['tcp', 'udp']), protocol: z.enum(PROTOCOLS), method: z.string().nullable(),
      path: z.string().nullable(), host: z.string().nullable(), sni: z.string().nullable(), security: z.enum(SECURITIES),
      security_reason: z.string().nullable(), count: z.number().int().positive(), first_seen: isoTime, last_seen: isoTime,
      credentials_in_plaintext: z.boolean(), via_service: z.boolean(), sources: z.array(z.enum(CALL_SOURCES)).min(1),
    }).strict()).min(1),
  }).strict()),
}).strict();

// ---- the store --------------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'trustmap-graph-demo-'));
const db = join(dir, 'demo.db');
const graphJson = (...args: string[]): Graph => {
  const r = runCli(['graph', '--db', db, '--format', 'json', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return graphSchema.parse(JSON.parse(r.stdout)) as Graph;
};

before(() => {
  const c = runCli(['collect', 'pcap', '--db', db, join(DEMO, 'capture.pcap')]);
  assert.equal(c.code, 0, c.stderr);
  const i = runCli(['inventory', 'load', '--db', db, join(DEMO, 'inventory.json')]);
  assert.equal(i.code, 0, i.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('trustmap graph on the demo recording', () => {
  it('workload level equals the ground truth: edges, ports, protocols, methods, paths, security, Services, counts', () => {
    const g = graphJson('--level', 'workload');
    assert.equal(g.level, 'workload');
    assert.deepEqual(sorted(actualEdges(g)), sorted(expectedEdges((c) => [label(c.source), label(c.destination)])));
    // Nodes: exactly the ends of the expected edges, workloads with their SPIFFE identity.
    const want = new Set(truth.calls.flatMap((c) => [label(c.source), label(c.destination)]));
    assert.deepEqual(g.nodes.map((n) => n.id), [...want].sort());
    const catalog = g.nodes.find((n) => n.id === 'shop/catalog')!;
    assert.equal(catalog.kind, 'workload');
    assert.deepEqual(catalog.addresses, [...new Set(truth.calls.filter((c) => label(c.destination) === 'shop/catalog').map((c) => c.destination.ip))].sort());
    assert.match(catalog.spiffe ?? '', /^spiffe:\/\/cluster\.local\/ns\/shop\/sa\/[\w-]+$/);
    assert.equal(g.nodes.find((n) => n.id === 'node:tm-node-1')?.kind, 'node');
  });

  it('security shares sum to 1 on every edge and match the counts', () => {
    for (const e of graphJson().edges) {
      const s = e.security.mtls + e.security.tls + e.security.plaintext + e.security.unknown;
      assert.ok(Math.abs(s - 1) < 1e-9, `${e.source} -> ${e.target}: shares sum to ${s}`);
      assert.ok(Math.abs(e.security.plaintext - e.security_counts.plaintext / e.count) < 1e-12);
    }
  });

  it('service level: callees become the Services dialled, pod-IP calls stay on the workload', () => {
    const g = graphJson('--level', 'service');
    const want = expectedEdges((c) => [label(c.source), c.destination.service_ip ? serviceByIp.get(c.destination.service_ip)! : label(c.destination)]);
    assert.deepEqual(sorted(actualEdges(g)), sorted(want));
    assert.ok(g.edges.some((e) => e.target === 'kube-system/kube-dns'), 'DNS goes to the kube-dns Service, not the coredns workload');
    assert.equal(g.nodes.find((n) => n.id === 'kube-system/kube-dns')?.kind, 'service');
  });

  it('namespace level: the same calls between namespaces, counts preserved', () => {
    const g = graphJson('--level', 'namespace');
    const want = expectedEdges((c) => [nsLabel(c.source), nsLabel(c.destination)]);
    const got = actualEdges(g);
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
    for (const [k, w] of want) {
      assert.equal(got.get(k)!.count, w.count, k);
      assert.deepEqual(got.get(k)!.security, w.security, k);
    }
    assert.equal(g.nodes.find((n) => n.id === 'shop')?.kind, 'namespace');
    const total = (x: Graph) => x.edges.reduce((n, e) => n + e.count, 0);
    assert.equal(total(g), truth.calls.reduce((n, c) => n + c.count, 0));
  });

  it('--namespace keeps the edges with an end in it; --since/--until window the calls', () => {
    const g = graphJson('--namespace', 'payments');
    assert.deepEqual(g.edges.map((e) => `${e.source} -> ${e.target}`), [...new Set(truth.calls
      .filter((c) => c.source.namespace === 'payments' || c.destination.namespace === 'payments')
      .map((c) => `${label(c.source)} -> ${label(c.destination)}`))].sort());
    const late = graphJson('--since', '2099-01-01T00:00:00Z');
    assert.deepEqual(late.edges, []);
    assert.equal(late.window.since, '2099-01-01T00:00:00.000Z');
  });

  it('is deterministic: two runs print the same bytes', () => {
    const a = runCli(['graph', '--db', db, '--format', 'json']);
    const b = runCli(['graph', '--db', db, '--format', 'json']);
    assert.equal(a.stdout, b.stdout);
  });

  it('table for people', () => {
    const r = runCli(['graph', '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^SOURCE\s+TARGET\s+PORTS\s+PROTOCOLS\s+SECURITY\s+CALLS\s+LAST SEEN/);
    assert.match(r.stdout, /legacy\/report-job\s+shop\/catalog\s+8080\s+http\s+plaintext \(credentials!\)\s+1\s/);
  });

  const hasDot = spawnSync('dot', ['-V']).status === 0;

  it('dot output is accepted by Graphviz, one edge line per edge, coloured by security', { skip: hasDot ? false : 'graphviz not installed' }, () => {
    for (const level of LEVELS) {
      const r = runCli(['graph', '--db', db, '--format', 'dot', '--level', level]);
      assert.equal(r.code, 0, r.stderr);
      const svg = spawnSync('dot', ['-Tsvg'], { input: r.stdout, encoding: 'utf8' });
      assert.equal(svg.status, 0, svg.stderr);
      assert.match(svg.stdout, /<svg/);
      const g = graphJson('--level', level);
      assert.equal(r.stdout.split('\n').filter((l) => l.includes(' -> ')).length, g.edges.length);
    }
    const dot = runCli(['graph', '--db', db, '--format', 'dot']).stdout;
    assert.match(dot, /"shop\/frontend" -> "shop\/cart" \[.*color="#c62828"/);
    assert.match(dot, /"shop\/frontend" -> "shop\/checkout" \[.*color="#2e7d32"/);
  });

  it('dot and mermaid escape hostile names', { skip: hasDot ? false : 'graphviz not installed' }, () => {
    const nasty = 'external:evil"]; x -> y [label="<b>|#1;\\';
    const g = graphJson();
    g.nodes.push({ ...g.nodes[0], id: nasty, name: nasty });
    g.edges.push({ ...g.edges[0], source: nasty, target: g.nodes[0].id, ports: [1] });
    const dot = graphDot(g);
    const svg = spawnSync('dot', ['-Tsvg'], { input: dot, encoding: 'utf8' });
    assert.equal(svg.status, 0, svg.stderr);
    assert.ok(!svg.stdout.includes('<b>'), 'markup from a name must not reach the SVG');
    const mer = graphMermaid(g);
    const line = mer.split('\n').find((l) => l.includes('evil'))!;
    const text = /"([^"]*)"/.exec(line)?.[1] ?? '';
    assert.ok(text.includes('evil') && !/[<>"|]/.test(text), `mermaid label keeps no raw markup: ${line}`);
  });

  it('mermaid is structurally valid: a flowchart, node and edge lines, one linkStyle per edge', () => {
    const r = runCli(['graph', '--db', db, '--format', 'mermaid']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'flowchart LR');
    const g = graphJson();
    const nodeLines = lines.filter((l) => /^ {2}n\d+(\[|\(\[|\[\[|\{\{|>|\(\()"[^"]*"(\]|\]\)|\]\]|\}\}|\)\))$/.test(l));
    const edgeLines = lines.filter((l) => /^ {2}n\d+ -->\|"[^"]*"\| n\d+$/.test(l));
    const styleLines = lines.filter((l) => /^ {2}linkStyle \d+ stroke:#[0-9a-f]{6},color:#[0-9a-f]{6}$/.test(l));
    assert.equal(nodeLines.length, g.nodes.length);
    assert.equal(edgeLines.length, g.edges.length);
    assert.equal(styleLines.length, g.edges.length);
    assert.equal(lines.length, 1 + g.nodes.length + 2 * g.edges.length, 'no other lines');
  });

  it('bad flags: one-line errors, exit 2', () => {
    for (const args of [
      ['--level', 'pod'], ['--format', 'svg'], ['--since', 'yesterday'], ['--since', '2h', '--until', '3h'],
      ['--namespace', 'Not_A_Namespace'], ['--bogus'], ['extra'],
      // It becomes part of every SPIFFE identity: spiffe://Bad Domain/ns/... matches nothing.
      ['--trust-domain', 'Bad Domain'], ['--trust-domain', 'example.org/x'],
    ]) {
      const r = runCli(['graph', '--db', db, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^error: [^\n]+\n$/, args.join(' '));
    }
    const missing = runCli(['graph', '--db', join(dir, 'nope.db')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: no store at [^\n]*nope\.db: record calls into it first \(trustmap collect \.\.\.\), or name another with --db or \$TRUSTMAP_DB\n$/);
    // A path that exists but cannot be opened says why instead.
    const dirAsDb = runCli(['graph', '--db', dir]);
    assert.equal(dirAsDb.code, 2);
    assert.match(dirAsDb.stderr, /^error: (cannot open database|[^\n]* is not a trustmap database)[^\n]*\n$/);
  });

  it('nothing left: an empty window says so, a --namespace with no edges is named (a typo is not a quiet window)', () => {
    assert.deepEqual(runCli(['graph', '--db', db, '--until', '2020-01-01']).stdout, 'No calls in the window.\n');
    const r = runCli(['graph', '--db', db, '--namespace', 'shopp']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'No calls with an end in shopp in the window.\n');
  });

  it('an empty file or another program\'s SQLite database: every analyzer command says so in one line, exit 2', () => {
    // Read-only opens never migrate: these used to fail at the first query, 'no such table', exit 1.
    const zero = join(dir, 'zero.db');
    writeFileSync(zero, '');
    const other = join(dir, 'other.db');
    new Database(other).exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)');
    const policyFile = join(dir, 'allow.yaml');
    writeFileSync(policyFile, 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: shop}\nspec: {podSelector: {}}\n');
    for (const file of [zero, other]) {
      for (const args of [['graph'], ['graph', 'diff', '--baseline-until', '1h'], ['readiness'], ['policy', '--format', 'netpol'], ['simulate', '--policies', policyFile], ['drift', '--policies', policyFile]]) {
        const r = runCli([...args, '--db', file]);
        assert.equal(r.code, 2, `${args.join(' ')} ${file}: ${r.stderr}`);
        assert.match(r.stderr, /^error: [^\n]*\.db is not a trustmap store \(it has no trustmap tables\): record calls into it first [^\n]*\n$/, args.join(' '));
      }
    }
  });
});

describe('trustmap graph diff on the demo recording', () => {
  const diff = (...args: string[]) => runCli(['graph', 'diff', '--db', db, ...args]);
  const changesSchema = z.object({
    level: z.enum(LEVELS), baseline: z.any(), current: z.any(),
    changes: z.array(z.object({ change: z.enum(EDGE_CHANGE_KINDS), source: z.string(), target: z.string(), reasons: z.array(z.string()), is_worse: z.boolean() }).passthrough()),
  }).strict();

  it('the same window twice: no changes, exit 0', () => {
    const r = diff('--baseline-since', '2026-01-01T00:00:00Z', '--baseline-until', '2099-01-01T00:00:00Z', '--since', '2026-01-01T00:00:00Z', '--until', '2099-01-01T00:00:00Z');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /No changes\./);
  });

  it('a baseline before the recording: every edge is new, plaintext ones are worse; exit 1', () => {
    const r = diff('--baseline-until', '2026-01-01T00:00:00Z', '--format', 'json');
    assert.equal(r.code, 1, r.stderr);
    const d = changesSchema.parse(JSON.parse(r.stdout));
    const edges = expectedEdges((c) => [label(c.source), label(c.destination)]);
    assert.deepEqual(d.changes.map((c) => `${c.source} -> ${c.target}`), [...edges.keys()].sort());
    assert.ok(d.changes.every((c) => c.change === 'new'));
    for (const c of d.changes) assert.equal(c.is_worse, edges.get(`${c.source} -> ${c.target}`)!.security.plaintext > 0, `${c.source} -> ${c.target}`);
  });

  it('a current window after the recording: every edge is gone', () => {
    const r = diff('--baseline-until', '2099-01-01T00:00:00Z', '--format', 'json');
    assert.equal(r.code, 1);
    const d = changesSchema.parse(JSON.parse(r.stdout));
    assert.ok(d.changes.length > 0 && d.changes.every((c) => c.change === 'gone'));
  });

  it('needs --baseline-until; bad windows are usage errors', () => {
    for (const args of [[], ['--baseline-until', 'soon'], ['--baseline-since', '1h', '--baseline-until', '2h'], ['--baseline-until', '1h', '--format', 'dot']]) {
      const r = diff(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^error: [^\n]+\n$/);
    }
  });
});
