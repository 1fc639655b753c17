// buildGraph reuses the last graph of a connection while the store is unchanged (analyzer/graph.ts):
// the same query gets the same frozen graph, and any write — another connection's commit or this
// connection's own — is seen by the next call.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { attributionIndex, buildGraph } from '../../../analyzer/graph.js';
import { checkReadiness } from '../../../analyzer/readiness.js';
import { openStore } from '../../../collector/store/db.js';
import { HOUR, pod, snapshot, writeCalls } from './fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'trustmap-graph-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const T0 = Date.parse('2026-03-01T00:00:00Z');
const total = (g: ReturnType<typeof buildGraph>) => g.edges.reduce((s, e) => s + e.count, 0);

describe('graph reuse while the store is unchanged', () => {
  const file = join(dir, 'store.db');
  const db = openStore(file);
  snapshot(db, T0, { pods: [pod('shop', 'web', '10.0.0.5'), pod('shop', 'api', '10.0.0.9')] });
  writeCalls(db, [{ srcIp: '10.0.0.5', dstIp: '10.0.0.9', dstPort: 8080, atMs: T0 + HOUR, count: 3 }]);

  it('answers the same query with the same graph, and another query with its own', () => {
    const a = buildGraph(db, { level: 'workload' });
    assert.equal(buildGraph(db, { level: 'workload' }), a);
    const ns = buildGraph(db, { level: 'namespace' });
    assert.notEqual(ns, a);
    assert.deepEqual(ns.edges.map((e) => `${e.source} -> ${e.target}`), ['shop -> shop']);
    assert.equal(attributionIndex(db), attributionIndex(db, 'cluster.local'));
    assert.notEqual(attributionIndex(db, 'prod.example.org'), attributionIndex(db));
  });

  it('hands out a frozen graph: a caller cannot change what the next caller gets', () => {
    const g = buildGraph(db, { level: 'workload' });
    assert.throws(() => { (g.edges as unknown[]).push({}); }, TypeError);
    assert.throws(() => { (g.edges[0] as { count: number }).count = 0; }, TypeError);
    assert.throws(() => { (g.nodes[0].labels as Record<string, string>).x = 'y'; }, TypeError);
    assert.equal(total(buildGraph(db, { level: 'workload' })), 3);
  });

  it("sees this connection's own writes", () => {
    const before = buildGraph(db, { level: 'workload' });
    writeCalls(db, [{ srcIp: '10.0.0.5', dstIp: '10.0.0.9', dstPort: 8080, atMs: T0 + 2 * HOUR, count: 4 }]);
    const after = buildGraph(db, { level: 'workload' });
    assert.notEqual(after, before);
    assert.equal(total(after), 7);
  });

  it("sees another connection's commits, inventory included", () => {
    const other = openStore(file);
    try {
      assert.equal(checkReadiness(db, { minWindowMs: 0 }).namespaces.flatMap((n) => n.workloads).length, 2);
      writeCalls(other, [{ srcIp: '10.0.0.9', dstIp: '10.0.0.5', dstPort: 80, atMs: T0 + 3 * HOUR, count: 2 }]);
      snapshot(other, T0 + 4 * HOUR, { pods: [pod('shop', 'web', '10.0.0.5'), pod('shop', 'api', '10.0.0.9'), pod('shop', 'worker', '10.0.0.7')] });
      assert.equal(total(buildGraph(db, { level: 'workload' })), 9);
      assert.equal(checkReadiness(db, { minWindowMs: 0 }).namespaces.flatMap((n) => n.workloads).length, 3);
    } finally {
      other.close();
    }
  });
});
