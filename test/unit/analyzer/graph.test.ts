// buildGraph's passes on small real stores (fixture.ts writes through the collector's own write
// path): attribution at each call's own time, Services vs pod addresses, the source merge rule of
// docs/identity.md, security shares, level aggregation, determinism.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildGraph } from '../../../analyzer/graph.js';
import { proposePolicies } from '../../../analyzer/policy/propose.js';
import { openStore, type Db } from '../../../collector/store/db.js';
import { HOUR, pod, service, snapshot, writeCalls } from './fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'trustmap-graph-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (): Db => openStore(join(dir, `g${n++}.db`));
const T0 = Date.parse('2026-03-01T00:00:00Z');
const edgeIds = (db: Db, level: 'workload' | 'service' | 'namespace' = 'workload') =>
  buildGraph(db, { level }).edges.map((e) => `${e.source} -> ${e.target} ${e.count}`);

describe('identity: an address reused by another pod is attributed at the time of each call', () => {
  const db = fresh();
  // 10.0.0.9 belongs to api-v1 until it is deleted at T0+2h; api-v2's pod gets it at T0+2h.
  snapshot(db, T0 + HOUR, { pods: [pod('shop', 'web', '10.0.0.5'), pod('shop', 'api-v1', '10.0.0.9', { deletedMs: T0 + 2 * HOUR })] });
  snapshot(db, T0 + 4 * HOUR, { pods: [pod('shop', 'web', '10.0.0.5'), pod('shop', 'api-v2', '10.0.0.9', { createdMs: T0 + 2 * HOUR })] });
  writeCalls(db, [
    { srcIp: '10.0.0.5', dstIp: '10.0.0.9', dstPort: 8080, atMs: T0 + 1.5 * HOUR, count: 3 },
    { srcIp: '10.0.0.5', dstIp: '10.0.0.9', dstPort: 8080, atMs: T0 + 3.5 * HOUR, count: 5 },
    { srcIp: '10.0.0.5', dstIp: '10.9.9.9', dstPort: 8080, atMs: T0 + 3.5 * HOUR, count: 1 },
  ]);

  it('splits one address into the two workloads that held it', () => {
    assert.deepEqual(edgeIds(db), ['shop/web -> shop/api-v1 3', 'shop/web -> shop/api-v2 5', 'shop/web -> unattributed:10.9.9.9 1']);
  });

  it('unattributed nodes say why', () => {
    const g = buildGraph(db, { level: 'workload' });
    const u = g.nodes.find((x) => x.kind === 'unattributed')!;
    assert.equal(u.id, 'unattributed:10.9.9.9');
    assert.equal(u.reason, 'unknown-address');
    assert.deepEqual(g.nodes.find((x) => x.id === 'shop/api-v2')!.addresses, ['10.0.0.9']);
  });

  it('--since/--until window the calls by time', () => {
    const g = buildGraph(db, { level: 'workload', sinceMs: T0 + 3 * HOUR });
    assert.deepEqual(g.edges.map((e) => e.target), ['shop/api-v2', 'unattributed:10.9.9.9']);
    assert.equal(g.window.since, new Date(T0 + 3 * HOUR).toISOString());
  });
});

describe('services: via a ClusterIP vs a pod address', () => {
  const db = fresh();
  snapshot(db, T0, {
    pods: [pod('shop', 'web', '10.0.0.5'), pod('shop', 'api', '10.0.0.9'), pod('ops', 'probe', '10.0.1.1')],
    services: [service('shop', 'api-svc', '10.96.0.9', { app: 'api' })],
  });
  writeCalls(db, [
    // DNAT seen: the client dialled the ClusterIP, the pod answered.
    { srcIp: '10.0.0.5', dstIp: '10.0.0.9', serviceIp: '10.96.0.9', dstPort: 8080, atMs: T0 + 60e3, count: 4, security: 'mtls' },
    // Straight to the pod.
    { srcIp: '10.0.0.5', dstIp: '10.0.0.9', dstPort: 8080, atMs: T0 + 60e3, count: 1, security: 'mtls', method: 'GET', path: '/x' },
    // Only the ClusterIP is known (an outbound-only record): the single backend answered.
    { srcIp: '10.0.1.1', dstIp: '10.96.0.9', dstPort: 80, atMs: T0 + 60e3, count: 2 },
  ]);

  it('workload level: calls carry via_service, the edge names the Service', () => {
    const g = buildGraph(db, { level: 'workload' });
    const e = g.edges.find((x) => x.source === 'shop/web')!;
    assert.equal(e.target, 'shop/api');
    assert.deepEqual(e.services, ['shop/api-svc']);
    assert.deepEqual(e.calls.map((c) => [c.via_service, c.count]), [[true, 4], [false, 1]]);
    const viaIp = g.edges.find((x) => x.source === 'ops/probe')!;
    assert.equal(viaIp.target, 'shop/api', 'a ClusterIP with one backend resolves to it');
    assert.equal(viaIp.calls[0].via_service, true);
  });

  it('service level: the Service for via-service calls, the workload for pod-IP calls', () => {
    assert.deepEqual(edgeIds(db, 'service'), ['ops/probe -> shop/api-svc 2', 'shop/web -> shop/api 1', 'shop/web -> shop/api-svc 4']);
    const g = buildGraph(db, { level: 'service' });
    assert.equal(g.nodes.find((x) => x.id === 'shop/api-svc')!.kind, 'service');
    assert.deepEqual(g.nodes.find((x) => x.id === 'shop/api-svc')!.addresses, ['10.96.0.9']);
    assert.equal(g.nodes.find((x) => x.id === 'shop/api')!.kind, 'workload');
  });

  it('namespace level: one edge per namespace pair, self-loops kept; --namespace filters', () => {
    assert.deepEqual(edgeIds(db, 'namespace'), ['ops -> shop 2', 'shop -> shop 5']);
    assert.deepEqual(buildGraph(db, { level: 'workload', namespaces: ['ops'] }).edges.map((e) => e.source), ['ops/probe']);
  });
});

describe('security mix and the source merge rule', () => {
  const db = fresh();
  snapshot(db, T0, { pods: [pod('a', 'client', '10.0.0.1'), pod('a', 'server', '10.0.0.2'), pod('a', 'other', '10.0.0.3')] });
  const call = { srcIp: '10.0.0.1', dstIp: '10.0.0.2', dstPort: 8080, atMs: T0 + 60e3, method: 'GET', path: '/items' };
  writeCalls(db, [
    // One request shape seen by three sources in one bucket: Envoy's inbound line counts.
    { ...call, source: 'pcap', security: 'unknown', count: 7 },
    { ...call, source: 'envoy', securityReason: 'inbound: mtls', security: 'mtls', count: 6 },
    { ...call, source: 'hubble', security: 'unknown', count: 9 },
    // Only pcap and hubble: pcap counts; hubble's observed plaintext replaces pcap's unknown.
    { ...call, path: '/other', source: 'pcap', security: 'unknown', count: 2 },
    { ...call, path: '/other', source: 'hubble', security: 'plaintext', count: 2 },
    // Another edge with a real mix.
    { srcIp: '10.0.0.3', dstIp: '10.0.0.2', dstPort: 8080, atMs: T0, security: 'mtls', count: 3 },
    { srcIp: '10.0.0.3', dstIp: '10.0.0.2', dstPort: 8080, atMs: T0, security: 'plaintext', count: 1, path: '/p' },
  ]);
  const g = buildGraph(db, { level: 'workload' });

  it('counts from the preferred source only; security from the strongest evidence; every source kept as evidence', () => {
    const e = g.edges.find((x) => x.source === 'a/client')!;
    assert.deepEqual(e.calls.map((c) => [c.path, c.count, c.security, c.sources]), [
      ['/items', 6, 'mtls', ['envoy', 'hubble', 'pcap']],
      ['/other', 2, 'plaintext', ['hubble', 'pcap']],
    ]);
    assert.equal(e.count, 8);
  });

  it('shares are counts over the total and sum to 1', () => {
    const e = g.edges.find((x) => x.source === 'a/other')!;
    assert.deepEqual(e.security_counts, { mtls: 3, tls: 0, plaintext: 1, unknown: 0 });
    assert.deepEqual(e.security, { mtls: 0.75, tls: 0, plaintext: 0.25, unknown: 0 });
  });

  it('is deterministic and sorted', () => {
    assert.equal(JSON.stringify(buildGraph(db, { level: 'workload' })), JSON.stringify(g));
    const ids = g.nodes.map((x) => x.id);
    assert.deepEqual(ids, [...ids].sort());
  });

  it('rejects a malformed query', () => {
    assert.throws(() => buildGraph(db, { level: 'pod' as 'workload' }));
  });
});

describe('repeated small lists are shared, and stay what they are', () => {
  const db = fresh();
  snapshot(db, T0 + HOUR, { pods: [pod('shop', 'web', '10.0.0.5'), pod('shop', 'api', '10.0.0.9'), pod('shop', 'db', '10.0.0.7')] });
  // A hostile method spelled like a port number must stay a string, not become the port list [80].
  writeCalls(db, [
    { srcIp: '10.0.0.5', dstIp: '10.0.0.9', dstPort: 80, atMs: T0 + 1.5 * HOUR, method: 'GET', path: '/a' },
    { srcIp: '10.0.0.9', dstIp: '10.0.0.7', dstPort: 80, atMs: T0 + 1.5 * HOUR, method: '80', path: '/b' },
    { srcIp: '10.0.0.5', dstIp: '10.0.0.7', dstPort: 80, atMs: T0 + 1.5 * HOUR, method: 'GET', path: '/c' },
  ]);

  it('edges with the same ports, protocols or methods hold one frozen list; a method "80" stays the string', () => {
    const g = buildGraph(db, { level: 'workload' });
    const [a, b, c] = ['shop/web shop/api', 'shop/api shop/db', 'shop/web shop/db'].map((k) => g.edges.find((e) => `${e.source} ${e.target}` === k)!);
    assert.equal(a.ports, b.ports);
    assert.equal(a.protocols, c.protocols);
    assert.equal(a.methods, c.methods);
    assert.deepEqual(b.methods, ['80']);
    assert.deepEqual(b.ports, [80]);
    assert.ok(Object.isFrozen(a.ports) && Object.isFrozen(a.calls[0].sources));
    assert.equal(a.calls[0].sources, c.calls[0].sources, 'one list per set of sources');
  });
});

describe('calls Hubble saw DROPPED', () => {
  const db = fresh();
  snapshot(db, T0 + HOUR, { pods: [pod('shop', 'web', '10.0.0.5'), pod('shop', 'api', '10.0.0.9'), pod('shop', 'db', '10.0.0.7')] });
  writeCalls(db, [
    // Refused every time by the cluster's current policy: it never worked.
    { srcIp: '10.0.0.5', dstIp: '10.0.0.7', dstPort: 5432, atMs: T0 + 1.5 * HOUR, source: 'hubble', protocol: 'tcp', security: 'unknown', count: 4, dropped: 4 },
    // Refused on one port only; the other port's calls got through.
    { srcIp: '10.0.0.9', dstIp: '10.0.0.7', dstPort: 5432, atMs: T0 + 1.5 * HOUR, source: 'hubble', protocol: 'tcp', security: 'unknown', count: 3, dropped: 1 },
    { srcIp: '10.0.0.9', dstIp: '10.0.0.7', dstPort: 9187, atMs: T0 + 1.5 * HOUR, source: 'hubble', protocol: 'tcp', security: 'unknown', count: 2, dropped: 2 },
  ]);

  it('the graph keeps them, with how many were dropped', () => {
    const g = buildGraph(db, { level: 'workload' });
    const calls = g.edges.flatMap((e) => e.calls.map((c) => `${e.source} -> ${e.target}:${c.port} ${c.count} dropped ${c.dropped ?? 0}`));
    assert.deepEqual(calls, ['shop/api -> shop/db:5432 3 dropped 1', 'shop/api -> shop/db:9187 2 dropped 2', 'shop/web -> shop/db:5432 4 dropped 4']);
  });

  it('the proposals never start allowing what only ever was refused', () => {
    // Istio: web's refused calls are not blockers either (blockers are calls the proposal would cut off).
    const istio = proposePolicies(db, { format: 'istio', granularity: 'port', trustDomain: 'cluster.local', istioVersion: '1.26', dryRun: false });
    assert.ok(!istio.blockers.some((b) => b.callers.includes('shop/web')), JSON.stringify(istio.blockers));
    assert.ok(istio.blockers.some((b) => b.callers.includes('shop/api')), 'api is unmeshed and got through: a blocker, as before');
    for (const format of ['netpol', 'cilium'] as const) {
      const set = proposePolicies(db, { format, granularity: 'port', trustDomain: 'cluster.local', istioVersion: '1.26', dryRun: false });
      const dbYaml = set.workloads['shop/db'] ?? '';
      assert.match(dbYaml, /5432/, `${format}: api's calls to 5432 got through, so 5432 stays`);
      assert.doesNotMatch(dbYaml, /9187/, `${format}: 9187 was only ever refused`);
      assert.doesNotMatch(dbYaml, /shop\/web\b|\bapp: web\b|sa\/web\b/, `${format}: web never got through`);
    }
  });
});
