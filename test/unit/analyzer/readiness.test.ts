// checkReadiness rules on small real stores: not-observed CronJobs, probes on application ports
// vs Istio's agent port, unknown security, gateways, a ready workload, the window.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { diffGraphs } from '../../../analyzer/diff.js';
import type { Graph, GraphEdge } from '../../../analyzer/model.js';
import { checkReadiness } from '../../../analyzer/readiness.js';
import { openStore } from '../../../collector/store/db.js';
import { controller, HOUR, pod, service, snapshot, writeCalls } from './fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'trustmap-readiness-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const T0 = Date.parse('2026-03-01T00:00:00Z');
const DAY = 24 * HOUR;

describe('readiness rules', () => {
  const db = openStore(join(dir, 'r.db'));
  snapshot(db, T0, {
    workloads: [controller('jobs', 'CronJob', 'nightly')],
    pods: [
      pod('app', 'web', '10.0.0.1', { labels: { app: 'web', 'security.istio.io/tlsMode': 'istio' } }),
      pod('app', 'api', '10.0.0.2'),
      pod('app', 'db', '10.0.0.3'),
      pod('edge', 'gw', '10.0.0.4', { labels: { app: 'gw', istio: 'ingressgateway' } }),
    ],
    services: [service('app', 'api', '10.96.0.2')],
    nodes: [{ name: 'node-1', podCidrs: ['10.0.0.0/24'], labels: {}, createdMs: 0, addresses: [{ ip: '10.0.0.254', type: 'InternalIP' }] }],
  });
  writeCalls(db, [
    { srcIp: '10.0.0.1', dstIp: '10.0.0.2', serviceIp: '10.96.0.2', dstPort: 8080, atMs: T0, security: 'mtls', count: 10 },
    { srcIp: '10.0.0.1', dstIp: '10.0.0.2', serviceIp: '10.96.0.2', dstPort: 8080, atMs: T0 + 8 * DAY, security: 'mtls', count: 10 },
    // kubelet: on Istio's agent port (rewritten probe) and on the app port (not rewritten).
    { srcIp: '10.0.0.254', dstIp: '10.0.0.2', dstPort: 15020, atMs: T0, method: 'GET', path: '/app-health/api/livez', count: 5 },
    { srcIp: '10.0.0.254', dstIp: '10.0.0.3', dstPort: 5432, atMs: T0, protocol: 'tcp', count: 4 },
    // db: a meshed caller whose security could not be observed.
    { srcIp: '10.0.0.1', dstIp: '10.0.0.3', dstPort: 5432, atMs: T0, protocol: 'tcp', security: 'unknown', count: 2 },
    // The internet reaching the gateway in TLS: expected at the mesh edge.
    { srcIp: '198.51.100.7', dstIp: '10.0.0.4', dstPort: 8443, atMs: T0, protocol: 'tls', security: 'tls', count: 9 },
  ]);
  const r = checkReadiness(db, { minWindowMs: 7 * DAY });
  const w = (ns: string, name: string) => r.namespaces.find((x) => x.namespace === ns)!.workloads.find((x) => x.name === name)!;

  it('a workload reached only over mTLS, observed longer than the window, is ready; its probe on :15020 is a warning', () => {
    assert.equal(w('app', 'api').verdict, 'ready');
    assert.deepEqual(w('app', 'api').blockers, []);
    assert.deepEqual(w('app', 'api').warnings!.map((b) => [b.kind, b.count, b.sources]), [['probe', 5, ['node:node-1']]]);
    assert.deepEqual(w('app', 'api').coverage, { observed_from: new Date(T0).toISOString(), observed_to: new Date(T0 + 8 * DAY + 10).toISOString(), calls: 25, sources: ['pcap'] });
  });

  it('a plaintext probe on an application port and unknown security block', () => {
    assert.equal(w('app', 'db').verdict, 'blocked');
    assert.deepEqual(w('app', 'db').blockers.map((b) => [b.kind, b.count, b.sources]), [['probe', 4, ['node:node-1']], ['unknown-security', 2, ['app/web']]]);
  });

  it('a CronJob that never ran is not-observed: insufficient data, not ready', () => {
    assert.equal(w('jobs', 'nightly').verdict, 'insufficient-data');
    assert.deepEqual(w('jobs', 'nightly').blockers.map((b) => b.kind), ['not-observed']);
    assert.equal(r.namespaces.find((x) => x.namespace === 'jobs')!.verdict, 'insufficient-data');
  });

  it('external TLS into an ingress gateway does not block it', () => {
    assert.equal(w('edge', 'gw').verdict, 'ready');
  });

  it('namespaces asked about; overall verdict is the worst', () => {
    assert.equal(r.verdict, 'blocked');
    assert.equal(checkReadiness(db, { minWindowMs: 7 * DAY, namespaces: ['edge'] }).verdict, 'ready');
    const short = checkReadiness(db, { minWindowMs: 30 * DAY, namespaces: ['edge'] });
    assert.equal(short.verdict, 'insufficient-data');
    assert.match(short.namespaces[0].workloads[0].blockers[0].detail, /^8 d of traffic observed; at least 30 d /);
  });
});

describe('diffGraphs', () => {
  const edge = (source: string, target: string, counts: { mtls: number; plaintext: number }, creds = false): GraphEdge => {
    const total = counts.mtls + counts.plaintext;
    return {
      source, target, ports: [80], protocols: ['http'], methods: [], paths: [], count: total, connections: total, bytes: 0,
      security_counts: { ...counts, tls: 0, unknown: 0 }, security: { mtls: counts.mtls / total, plaintext: counts.plaintext / total, tls: 0, unknown: 0 },
      first_seen: '2026-01-01T00:00:00.000Z', last_seen: '2026-01-01T00:00:00.000Z', credentials_in_plaintext: creds, services: [], calls: [],
    };
  };
  const graph = (edges: GraphEdge[]): Graph => ({ level: 'workload', window: { since: null, until: null, first_seen: null, last_seen: null }, nodes: [], edges });

  it('new, gone, plaintext appearing, mTLS share dropping, credentials; unchanged security is no change', () => {
    const d = diffGraphs(
      graph([edge('a', 'b', { mtls: 10, plaintext: 0 }), edge('a', 'c', { mtls: 10, plaintext: 0 }), edge('a', 'd', { mtls: 4, plaintext: 0 }), edge('x', 'y', { mtls: 1, plaintext: 0 })]),
      graph([edge('a', 'b', { mtls: 9, plaintext: 1 }), edge('a', 'c', { mtls: 100, plaintext: 0 }), edge('a', 'd', { mtls: 4, plaintext: 0 }, true), edge('n', 'm', { mtls: 0, plaintext: 3 })]),
    );
    assert.deepEqual(d.changes.map((c) => [c.change, `${c.source}>${c.target}`, c.is_worse]), [
      ['security-changed', 'a>b', true], ['security-changed', 'a>d', true], ['new', 'n>m', true], ['gone', 'x>y', false],
    ]);
    assert.deepEqual(d.changes[0].reasons, ['plaintext appeared (0% → 10%)', 'mtls share dropped (100% → 90%)']);
    assert.deepEqual(d.changes[1].reasons, ['credentials in plaintext appeared']);
  });
});
