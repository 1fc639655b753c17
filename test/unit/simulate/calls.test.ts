// Recorded calls → request attributes, on a real SQLite store written through the collector's
// own write paths: namespace labels and named ports come from the inventory (a Service whose
// targetPort is a name, and its EndpointSlice), a call to a ClusterIP keeps the Service but not
// the pod's address but is evaluated on the pod port behind it, an unknown address stays
// unattributed; then the same store simulated.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { simulationTable } from '../../../analyzer/cli/simulate.js';
import { simulationCalls } from '../../../analyzer/simulate/calls.js';
import { REFUSED_TODAY, simulate } from '../../../analyzer/simulate/simulate.js';
import { openStore } from '../../../collector/store/db.js';
import { pod, snapshot, writeCalls } from '../analyzer/fixture.js';
import { loadText } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'trustmap-sim-calls-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const T0 = Date.UTC(2026, 0, 1);

function store() {
  const db = openStore(join(dir, `s-${Math.random()}.db`));
  snapshot(db, T0, {
    namespaces: [{ name: 'shop', labels: { 'kubernetes.io/metadata.name': 'shop', team: 'a' } }, { name: 'other', labels: { 'kubernetes.io/metadata.name': 'other' } }],
    pods: [pod('shop', 'web', '10.0.0.1'), pod('shop', 'api', '10.0.0.2', { name: 'api-1' }), pod('other', 'client', '10.0.1.1')],
    services: [{ namespace: 'shop', name: 'api', type: 'ClusterIP', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 'web' }], selector: { app: 'api' }, createdMs: 0, addresses: [{ ip: '10.96.0.5', kind: 'cluster-ip' }] }],
    endpoints: [{ namespace: 'shop', slice: 'api-x', service: 'api', ip: '10.0.0.2', targetKind: 'Pod', targetName: 'api-1', ready: true, ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }],
  });
  writeCalls(db, [
    { srcIp: '10.0.0.1', dstIp: '10.0.0.2', dstPort: 8080, atMs: T0 + 1000, method: 'GET', path: '/items' },
    { srcIp: '10.0.0.1', dstIp: '10.96.0.5', dstPort: 80, atMs: T0 + 2000, method: 'GET', path: '/items', count: 3 },
    { srcIp: '10.0.1.1', dstIp: '10.0.0.2', dstPort: 8080, atMs: T0 + 3000, method: 'POST', path: '/items' },
    { srcIp: '10.9.9.9', dstIp: '10.0.0.2', dstPort: 8080, atMs: T0 + 4000, method: 'GET', path: '/items' },
  ]);
  return db;
}

describe('simulationCalls', () => {
  it('attributes both ends with what policies select on', () => {
    const db = store();
    try {
      const calls = simulationCalls(db, {});
      const direct = calls.find((c) => c.source.id === 'shop/web' && c.destination.ip === '10.0.0.2')!;
      assert.ok(direct);
      assert.deepEqual(direct.destination.namespaceLabels, { 'kubernetes.io/metadata.name': 'shop', team: 'a' });
      assert.deepEqual(direct.destination.namedPorts, [{ name: 'web', port: 8080, protocol: 'TCP' }]);
      assert.equal(direct.destination.isNamedPortsComplete, false);
      assert.equal(direct.source.serviceAccount, 'web');
      assert.equal(direct.source.node, 'node-1');
      const viaService = calls.find((c) => c.source.id === 'shop/web' && c.destination.ip === null)!;
      assert.ok(viaService, 'the ClusterIP call keeps its backend but not a pod address');
      assert.equal(viaService.destination.id, 'shop/api');
      assert.equal(viaService.via_service, true);
      assert.equal(viaService.count, 3);
      assert.equal(viaService.port, 8080, 'the Service port 80 is the pod port its targetPort names');
      const unknown = calls.find((c) => c.source.ip === '10.9.9.9')!;
      assert.equal(unknown.source.kind, 'unattributed');
      assert.deepEqual(simulationCalls(db, { namespaces: ['other'] }).map((c) => c.source.id), ['other/client']);
    } finally {
      db.close();
    }
  });

  it('a NetworkPolicy with a named port and a namespace label, simulated on the store', () => {
    const db = store();
    try {
      const loaded = loadText(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: a}}}]
    ports: [{port: web}]
`);
      const r = simulate(db, loaded, {});
      const by = (src: string, ip: string | null) => r.calls.find((c) => c.source === src && (ip === null || c.source_ip === ip))!;
      assert.equal(by('shop/web', null).verdict, 'allowed');
      assert.equal(r.calls.filter((c) => c.source === 'shop/web').every((c) => c.verdict === 'allowed'), true);
      const other = by('other/client', null);
      assert.equal(other.verdict, 'denied');
      assert.match(other.findings[0].reason, /no ingress rule allows from other\/client \(10\.0\.1\.1\) on TCP port 8080/);
      assert.equal(by('unattributed:10.9.9.9', null).verdict, 'indeterminate');
      assert.deepEqual(r.summary, { calls: 4, requests: 6, allowed: 2, denied: 1, indeterminate: 1 });
    } finally {
      db.close();
    }
  });

  it('a call Hubble saw DROPPED every time is denied with a note that it is refused today', () => {
    // The proposal leaves such calls out (it never worked); a denial of it is no change.
    const db = openStore(join(dir, 'dropped.db'));
    try {
      snapshot(db, T0, { namespaces: [{ name: 'shop', labels: {} }], pods: [pod('shop', 'web', '10.0.0.1'), pod('shop', 'api', '10.0.0.2'), pod('shop', 'db', '10.0.0.3')] });
      writeCalls(db, [
        { srcIp: '10.0.0.1', dstIp: '10.0.0.2', dstPort: 8080, atMs: T0 + 1000, count: 2, dropped: 2 },
        { srcIp: '10.0.0.1', dstIp: '10.0.0.3', dstPort: 5432, atMs: T0 + 1000, count: 2, dropped: 1 },
      ]);
      const denyAll = 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec: {podSelector: {}}\n';
      const r = simulate(db, loadText(denyAll), {});
      const refused = r.calls.find((c) => c.destination === 'shop/api')!;
      assert.equal(refused.verdict, 'denied');
      assert.ok(refused.notes.includes(REFUSED_TODAY));
      assert.match(simulationTable(r, false), /shop\/api .*; Hubble saw every one of these calls DROPPED: the cluster refuses them today/);
      const some = r.calls.find((c) => c.destination === 'shop/db')!;
      assert.equal(some.verdict, 'denied');
      assert.ok(!some.notes.includes(REFUSED_TODAY), 'one of two got through: it worked, its denial is a change');
    } finally {
      db.close();
    }
  });

  it('every namespace has kubernetes.io/metadata.name, also when the listing lacks it (a cluster before 1.22)', () => {
    // The proposals select a caller's namespace by that label; the API server sets it on every
    // namespace since 1.22. An older listing without it denied every such caller.
    const db = openStore(join(dir, 'old-listing.db'));
    try {
      snapshot(db, T0, {
        namespaces: [{ name: 'shop', labels: { team: 'a' } }, { name: 'other', labels: {} }],
        pods: [pod('shop', 'api', '10.0.0.2'), pod('other', 'client', '10.0.1.1')],
      });
      writeCalls(db, [{ srcIp: '10.0.1.1', dstIp: '10.0.0.2', dstPort: 8080, atMs: T0 + 1000, method: 'GET', path: '/items' }]);
      const [c] = simulationCalls(db, {});
      assert.deepEqual(c.source.namespaceLabels, { 'kubernetes.io/metadata.name': 'other' });
      assert.deepEqual(c.destination.namespaceLabels, { team: 'a', 'kubernetes.io/metadata.name': 'shop' });
      const r = simulate(db, loadText(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}, namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: other}}}]
`), {});
      assert.deepEqual(r.calls.map((x) => x.verdict), ['allowed']);
    } finally {
      db.close();
    }
  });
});
