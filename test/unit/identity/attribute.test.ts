// Attribution against real kubectl listings (test/fixtures/k8s, see ATTRIBUTION.md), plus
// snapshots derived from them in memory for address reuse and finished Job pods.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AttributionIndex, serviceForAddress, type Endpoint } from '../../../collector/identity/attribute.js';
import { loadInventoryBytes } from '../../../collector/inventory/load.js';
import { recordDnsAnswers } from '../../../collector/store/inventory.js';
import { openStore, type Db } from '../../../collector/store/db.js';

const FIX = new URL('../../fixtures/k8s/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'trustmap-identity-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function freshDb(): Db {
  return openStore(join(dir, `t${n++}.db`));
}
function load(db: Db, name: string, bytes: Buffer | string, atMs: number | null = null) {
  const o = loadInventoryBytes(db, name, Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes), { atMs, force: true });
  assert.equal(o.status, 'loaded', JSON.stringify(o));
  return o;
}
const t = (iso: string) => Date.parse(iso);
const who = (e: Endpoint) => (e.kind === 'workload' ? `${e.workloadKind}/${e.namespace}/${e.name}` : e.kind === 'unattributed' ? `unattributed:${e.reason}` : `${e.kind}:${'name' in e ? e.name ?? '' : ''}`);

describe('bookinfo pods (kubectl get pods -o json)', () => {
  const db = freshDb();
  load(db, 'bookinfo-pods-list.json', readFileSync(FIX + 'bookinfo-pods-list.json'));
  const ix = AttributionIndex.fromDb(db);
  const at = t('2021-08-02T07:00:00Z');

  it('attributes every pod IP to its Deployment with the SPIFFE id of its service account', () => {
    const expected: Array<[string, string, string]> = [
      ['10.244.0.10', 'details-v1', 'bookinfo-details'],
      ['10.244.0.15', 'productpage-v1', 'bookinfo-productpage'],
      ['10.244.0.13', 'ratings-v1', 'bookinfo-ratings'],
      ['10.244.0.14', 'reviews-v1', 'bookinfo-reviews'],
      ['10.244.0.11', 'reviews-v2', 'bookinfo-reviews'],
      ['10.244.0.12', 'reviews-v3', 'bookinfo-reviews'],
    ];
    for (const [ip, name, sa] of expected) {
      const e = ix.attribute(ip, at);
      assert.equal(e.kind, 'workload', ip);
      if (e.kind !== 'workload') continue;
      assert.equal(e.name, name);
      assert.equal(e.workloadKind, 'Deployment');
      assert.equal(e.namespace, 'default');
      assert.equal(e.serviceAccount, sa);
      assert.equal(e.spiffe, `spiffe://cluster.local/ns/default/sa/${sa}`);
      assert.equal(e.node, 'istio-testing-control-plane');
      // The ReplicaSets are not in the listing: the Deployment comes from the pod-template-hash convention.
      assert.equal(e.resolution, 'pod-template-hash');
      assert.equal(e.labels['pod-template-hash'], undefined);
    }
  });

  it('uses the configured trust domain', () => {
    const other = AttributionIndex.fromDb(db, { trustDomain: 'prod.example.org' });
    const e = other.attribute('10.244.0.15', at);
    assert.equal(e.kind === 'workload' && e.spiffe, 'spiffe://prod.example.org/ns/default/sa/bookinfo-productpage');
  });

  it('never gives a call to a pod created after it', () => {
    // details-v1 was created 2021-08-02T06:44:36Z.
    assert.equal(who(ix.attribute('10.244.0.10', t('2021-08-02T06:44:35Z'))), 'unattributed:address-not-owned-at-that-time');
    assert.equal(who(ix.attribute('10.244.0.10', t('2021-08-02T06:44:36Z'))), 'Deployment/default/details-v1');
  });

  it('prefers owner references when the ReplicaSet is listed', () => {
    const db2 = freshDb();
    const list = JSON.parse(readFileSync(FIX + 'bookinfo-pods-list.json', 'utf8')) as { items: Array<Record<string, unknown>> };
    list.items.push({
      apiVersion: 'apps/v1', kind: 'ReplicaSet',
      metadata: { name: 'details-v1-5f449bdbb9', namespace: 'default', ownerReferences: [{ kind: 'Deployment', name: 'details-v1', controller: true }] },
      spec: {},
    });
    load(db2, 'with-rs.json', JSON.stringify(list));
    const e = AttributionIndex.fromDb(db2).attribute('10.244.0.10', at);
    assert.equal(e.kind === 'workload' && e.resolution, 'owner-references');
    assert.equal(who(e), 'Deployment/default/details-v1');
  });

  it('answers 100k lookups quickly', () => {
    const ips = ['10.244.0.10', '10.244.0.15', '10.244.0.99', '8.8.8.8', '10.244.0.12'];
    const t0 = performance.now();
    let w = 0;
    for (let i = 0; i < 100_000; i++) if (ix.attribute(ips[i % ips.length], at + i).kind === 'workload') w++;
    const ms = performance.now() - t0;
    assert.equal(w, 60_000);
    assert.ok(ms < 1000, `100k lookups took ${ms.toFixed(0)} ms`);
  });
});

describe('services1 (kubectl -o yaml lists: pods, services)', () => {
  const db = freshDb();
  load(db, 'services1-pods-list.yaml', readFileSync(FIX + 'services1-pods-list.yaml'));
  load(db, 'services1-services-list.yaml', readFileSync(FIX + 'services1-services-list.yaml'));
  load(db, 'services1-ns-list.yaml', readFileSync(FIX + 'services1-ns-list.yaml'));
  const ix = AttributionIndex.fromDb(db);

  it('maps ClusterIPs to services and their backing workloads', () => {
    const s = serviceForAddress(ix, '10.96.0.10', t('2022-01-28T00:00:00Z'));
    assert.ok(s);
    assert.equal(`${s.namespace}/${s.name}`, 'kube-system/kube-dns');
    assert.deepEqual(s.backends, [{ namespace: 'kube-system', name: 'coredns', workloadKind: 'Deployment' }]);
    assert.deepEqual(s.ports.map((p) => `${p.port}/${p.protocol}`), ['53/UDP', '53/TCP', '9153/TCP']);
    // Only the Completed admission Job pods match the webhook selector, and they back nothing.
    const adm = serviceForAddress(ix, '10.102.9.73', t('2022-01-28T00:00:00Z'));
    assert.equal(adm?.name, 'ingress-nginx-controller-admission');
    assert.deepEqual(adm?.backends, []);
    assert.equal(serviceForAddress(ix, '172.17.0.2', t('2022-01-28T00:00:00Z')), null);
  });

  it('a Completed Job pod owns its IP only until its container finished', () => {
    // ingress-nginx-admission-create (Job, Succeeded, finishedAt 18:07:10) and the controller
    // (Running) were both listed with 172.17.0.3; the controller received it afterwards.
    assert.equal(who(ix.attribute('172.17.0.3', t('2022-01-27T18:07:08Z'))), 'Job/ingress-nginx/ingress-nginx-admission-create');
    assert.equal(who(ix.attribute('172.17.0.3', t('2022-01-27T18:07:30Z'))), 'Deployment/ingress-nginx/ingress-nginx-controller');
    // admission-patch held 172.17.0.4 until 18:07:11; demo was created with it at 18:17:18.
    assert.equal(who(ix.attribute('172.17.0.4', t('2022-01-27T18:07:10Z'))), 'Job/ingress-nginx/ingress-nginx-admission-patch');
    assert.equal(who(ix.attribute('172.17.0.4', t('2022-01-27T18:10:00Z'))), 'unattributed:address-not-owned-at-that-time');
    assert.equal(who(ix.attribute('172.17.0.4', t('2022-01-27T18:20:00Z'))), 'Deployment/default/demo');
  });

  it('host-network pods mark their node address, and unknown addresses say why', () => {
    assert.equal(who(ix.attribute('192.168.49.2', t('2022-01-28T00:00:00Z'))), 'node:minikube');
    assert.equal(who(ix.attribute('172.17.0.99', t('2022-01-28T00:00:00Z'))), 'unattributed:unknown-address');
    assert.equal(who(ix.attribute('140.82.112.3', t('2022-01-28T00:00:00Z'))), 'external:');
    recordDnsAnswers(db, [{ ip: '140.82.112.3', name: 'GitHub.com.', tsMs: t('2022-01-28T00:00:00Z') }]);
    const named = AttributionIndex.fromDb(db).attribute('140.82.112.3', t('2022-01-28T00:00:00Z'));
    assert.deepEqual(named, { kind: 'external', name: 'github.com' });
  });

  it('resolves static pods to their name without the node suffix', () => {
    const etcd = ix.workloads().find((w) => w.name === 'etcd');
    assert.equal(etcd?.resolution, 'static-pod');
  });
});

describe('address reuse across two snapshots', () => {
  it('attributes each call by its own time', () => {
    const db = freshDb();
    const text = readFileSync(FIX + 'bookinfo-pods-list.json', 'utf8');
    load(db, 'snapshot-1.json', text, t('2021-08-02T07:00:00Z'));
    // Snapshot 2, an hour later: ratings-v1's pod is gone and a new pod (of a different
    // workload) was created at 07:30 with its address 10.244.0.13.
    const list = JSON.parse(text) as { items: Array<{ metadata: Record<string, unknown>; spec: Record<string, unknown>; status: Record<string, unknown> }> };
    const ratings = list.items.findIndex((p) => (p.metadata.name as string).startsWith('ratings-v1'));
    const reused = structuredClone(list.items[ratings]);
    list.items.splice(ratings, 1);
    reused.metadata = { ...reused.metadata, name: 'batch-7c9d8b6f5d-q2w4e', uid: 'a7c0f1e2-0000-4000-8000-000000000001', creationTimestamp: '2021-08-02T07:30:00Z',
      labels: { app: 'batch', 'pod-template-hash': '7c9d8b6f5d' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'batch-7c9d8b6f5d', controller: true, uid: 'x' }] };
    reused.spec = { ...reused.spec, serviceAccountName: 'batch' };
    list.items.push(reused);
    load(db, 'snapshot-2.json', JSON.stringify(list), t('2021-08-02T08:00:00Z'));

    const ix = AttributionIndex.fromDb(db);
    assert.equal(who(ix.attribute('10.244.0.13', t('2021-08-02T07:10:00Z'))), 'Deployment/default/ratings-v1');
    assert.equal(who(ix.attribute('10.244.0.13', t('2021-08-02T07:29:59Z'))), 'Deployment/default/ratings-v1');
    const late = ix.attribute('10.244.0.13', t('2021-08-02T07:45:00Z'));
    assert.equal(who(late), 'Deployment/default/batch');
    assert.equal(late.kind === 'workload' && late.spiffe, 'spiffe://cluster.local/ns/default/sa/batch');
    // The others are in both snapshots and keep their address throughout.
    assert.equal(who(ix.attribute('10.244.0.15', t('2021-08-02T09:00:00Z'))), 'Deployment/default/productpage-v1');
    // Loading order does not matter: snapshot 2 first gives the same answers.
    const db2 = freshDb();
    load(db2, 'snapshot-2.json', JSON.stringify(list), t('2021-08-02T08:00:00Z'));
    load(db2, 'snapshot-1.json', text, t('2021-08-02T07:00:00Z'));
    const ix2 = AttributionIndex.fromDb(db2);
    assert.equal(who(ix2.attribute('10.244.0.13', t('2021-08-02T07:10:00Z'))), 'Deployment/default/ratings-v1');
    assert.equal(who(ix2.attribute('10.244.0.13', t('2021-08-02T07:45:00Z'))), 'Deployment/default/batch');
  });

  it('reports two live pods listed with one address as ambiguous', () => {
    const db = freshDb();
    const list = JSON.parse(readFileSync(FIX + 'bookinfo-pods-list.json', 'utf8')) as { items: Array<{ status: { podIP: string; podIPs?: unknown } }> };
    list.items[1].status.podIP = list.items[0].status.podIP;
    delete list.items[1].status.podIPs;
    load(db, 'conflict.json', JSON.stringify(list));
    assert.equal(who(AttributionIndex.fromDb(db).attribute(list.items[0].status.podIP, t('2021-08-02T07:00:00Z'))), 'unattributed:ambiguous');
  });

  it('says no-inventory when nothing was loaded', () => {
    assert.equal(who(AttributionIndex.fromDb(freshDb()).attribute('10.244.0.10', 0)), 'unattributed:no-inventory');
  });
});

describe('inventory documents', () => {
  it('counts a malformed object and loads the rest', () => {
    const db = freshDb();
    const list = JSON.parse(readFileSync(FIX + 'bookinfo-pods-list.json', 'utf8')) as { items: Array<Record<string, unknown>> };
    (list.items[2] as { metadata: unknown }).metadata = { namespace: 'default' }; // no name
    const o = load(db, 'broken.json', JSON.stringify(list));
    assert.equal(o.status === 'loaded' && o.skipped, 1);
    assert.equal(o.status === 'loaded' && o.pods, 5);
  });

  it('refuses a file that is not JSON or YAML', () => {
    const db = freshDb();
    const o = loadInventoryBytes(db, 'x.yaml', Buffer.from('items: [\n  - {kind: Pod\n'), { atMs: null, force: false });
    assert.equal(o.status, 'error');
    const p = loadInventoryBytes(db, 'y.txt', Buffer.from('just some words\n'), { atMs: null, force: false });
    assert.equal(p.status, 'error');
  });
});
