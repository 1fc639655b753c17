// The analyzer benchmark's synthetic store (test/bench/synth-store.ts), at a small shape: the
// same seed writes the same store, the counts asked for are the counts stored, and every address
// the calls use is one the inventory explains.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AttributionIndex } from '../../../collector/identity/attribute.js';
import { iterateBucketCalls, listTopControllers, type BucketCallRow } from '../../../collector/store/analysis.js';
import { openStore } from '../../../collector/store/db.js';
import { readInventory } from '../../../collector/store/inventory.js';
import { cachedStore, storeTruthPath, synthStore, type StoreShape } from '../../bench/synth-store.js';

const dir = mkdtempSync(join(tmpdir(), 'trustmap-synth-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SHAPE: StoreShape = { workloads: 150, namespaces: 12, rows: 4000, days: 2, seed: 7 };

function rowsOf(file: string): BucketCallRow[] {
  const db = openStore(file, { readonly: true });
  try {
    return [...iterateBucketCalls(db)].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  } finally {
    db.close();
  }
}

let n = 0;
const fresh = (shape: StoreShape) => {
  const file = join(dir, `store-${n++}.db`);
  return { file, truth: synthStore(file, shape) };
};

describe('synthetic analyzer store', () => {
  const a = fresh(SHAPE);

  it('writes the same rows and inventory for the same seed, other rows for another seed', () => {
    const b = fresh(SHAPE);
    assert.deepEqual(b.truth, a.truth);
    const rowsA = rowsOf(a.file);
    assert.deepEqual(rowsOf(b.file), rowsA);
    const inv = (file: string) => {
      const db = openStore(file, { readonly: true });
      try {
        const { snapshots: _s, ...rest } = readInventory(db);
        return rest;
      } finally {
        db.close();
      }
    };
    assert.deepEqual(inv(b.file), inv(a.file));
    const c = fresh({ ...SHAPE, seed: 8 });
    assert.notDeepEqual(rowsOf(c.file), rowsA);
  });

  it('stores exactly the rows, workloads and namespaces asked for, over the days asked for', () => {
    const rows = rowsOf(a.file);
    assert.equal(rows.length, SHAPE.rows);
    assert.equal(a.truth.rows, SHAPE.rows);
    assert.equal(rows.reduce((s, r) => s + r.count, 0), a.truth.totalCount);
    const db = openStore(a.file, { readonly: true });
    try {
      assert.equal(listTopControllers(db).length, SHAPE.workloads);
      const inv = readInventory(db);
      assert.equal(new Set(inv.namespaces.map((x) => x.name)).size, SHAPE.namespaces);
      assert.equal(new Set(listTopControllers(db).map((c) => c.namespace)).size, SHAPE.namespaces);
      assert.equal(inv.pods.length, a.truth.pods);
      const index = AttributionIndex.fromDb(db);
      assert.equal(index.workloads().length, a.truth.runningWorkloads);
      assert.ok(a.truth.runningWorkloads < SHAPE.workloads, 'some CronJobs have no pods in the window');
    } finally {
      db.close();
    }
    const first = Math.min(...rows.map((r) => r.firstSeenMs));
    const last = Math.max(...rows.map((r) => r.lastSeenMs));
    assert.equal(last - first, SHAPE.days * 864e5);
    // Every hour bucket of the window holds rows, and no row lies outside its bucket's hour.
    assert.equal(new Set(rows.map((r) => r.bucketMs)).size, SHAPE.days * 24);
    for (const r of rows) assert.ok(r.firstSeenMs >= r.bucketMs && r.lastSeenMs <= r.bucketMs + 36e5, JSON.stringify(r));
    // The mix the benchmark is meant to exercise.
    for (const p of ['http', 'grpc', 'tls', 'tcp', 'dns'] as const) assert.ok((a.truth.rowsByProtocol[p] ?? 0) > 0, p);
    for (const s of ['plaintext', 'tls', 'mtls'] as const) assert.ok(a.truth.rowsBySecurity[s] > 0, s);
    assert.ok(a.truth.rowsBySource.pcap > 0 && a.truth.rowsBySource.envoy > 0);
    assert.ok(rows.some((r) => r.credentialsInPlaintext === 1));
  });

  it('uses only addresses the inventory or recorded DNS answers explain', () => {
    const db = openStore(a.file, { readonly: true });
    try {
      const index = AttributionIndex.fromDb(db);
      const kube = index.services().find((s) => s.namespace === 'kube-system' && s.name === 'kube-dns');
      assert.deepEqual(kube?.backends.map((b) => `${b.namespace}/${b.name}`), ['kube-system/coredns']);
      const externals = new Set<string>();
      for (const r of iterateBucketCalls(db)) {
        for (const ip of [r.srcIp, r.dstIp]) {
          const e = index.attribute(ip, r.firstSeenMs);
          assert.notEqual(e.kind, 'unattributed', `${ip} in ${JSON.stringify(r)}`);
          if (e.kind === 'external') externals.add(e.name ?? ip);
        }
        if (r.serviceIp !== '' && r.protocol !== 'tls') assert.equal(index.serviceAt(r.serviceIp, r.firstSeenMs)?.kind, 'service', r.serviceIp);
        if (r.protocol === 'dns') {
          const server = index.attribute(r.dstIp, r.firstSeenMs);
          assert.equal(server.kind === 'workload' ? server.name : server.kind, 'coredns');
        }
        // mTLS is only between pods with a sidecar, which the inventory's labels must show.
        if (r.security === 'mtls') {
          for (const ip of [r.srcIp, r.dstIp]) {
            const e = index.attribute(ip, r.firstSeenMs);
            assert.equal(e.kind === 'workload' ? e.labels['security.istio.io/tlsMode'] : e.kind, 'istio', `${ip} in ${JSON.stringify(r)}`);
          }
        }
      }
      for (const name of externals) assert.ok(a.truth.externalHosts.includes(name) || /^\d+\.\d+\.\d+\.\d+$/.test(name), name);
      assert.ok(externals.size > 0);
      // Every workload with pods has a service account and selector labels.
      for (const w of index.workloads()) assert.ok(w.serviceAccount !== '' && Object.keys(w.labels).length > 0, `${w.namespace}/${w.name}`);
    } finally {
      db.close();
    }
  });

  it('refuses shapes it cannot write', () => {
    assert.throws(() => fresh({ ...SHAPE, namespaces: 3 }), /at least 4 namespaces/);
    assert.throws(() => fresh({ ...SHAPE, rows: 100 }), /do not fit in 100 rows/);
    assert.throws(() => fresh({ ...SHAPE, rows: 10_000_000 }), /do not fit in/);
  });

  it('caches by parameters and remakes a store from another generator version', () => {
    const cacheDir = join(dir, 'cache');
    const first = cachedStore(cacheDir, SHAPE);
    assert.equal(first.isReused, false);
    const again = cachedStore(cacheDir, SHAPE);
    assert.equal(again.isReused, true);
    assert.equal(again.file, first.file);
    assert.deepEqual(again.truth, first.truth);
    assert.notEqual(cachedStore(cacheDir, { ...SHAPE, seed: 9 }).file, first.file);
    const t = JSON.parse(readFileSync(storeTruthPath(first.file), 'utf8')) as { generatorVersion: number };
    writeFileSync(storeTruthPath(first.file), JSON.stringify({ ...t, generatorVersion: 0 }));
    const remade = cachedStore(cacheDir, SHAPE);
    assert.equal(remade.isReused, false);
    assert.equal(rowsOf(remade.file).length, SHAPE.rows);
  });
});
