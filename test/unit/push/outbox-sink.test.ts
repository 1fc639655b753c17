// The outbox sink on a real SQLite store: batches cut to the wire's bounds, every batch valid by
// the schema the server checks with, rows not yet timed sent as null, the spool bound enforced.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { AggRow, keyString } from '../../../collector/aggregate.js';
import type { CallKey } from '../../../collector/model.js';
import { OutboxSink, wireCaptureOf } from '../../../collector/push/outbox-sink.js';
import { callKeyOf, DNS_NAMES_PER_BATCH, ingestBatch, ROWS_PER_BATCH, VERDICTS_PER_BATCH, type IngestBatch } from '../../../collector/push/wire.js';
import { openStore, type Db } from '../../../collector/store/db.js';
import { beginCapture } from '../../../collector/store/captures.js';
import { collectorIdOf } from '../../../collector/store/outbox.js';
import { tempDir } from '../../helpers/ingest.js';

function row(i: number, timed = true): AggRow {
  const key: CallKey = {
    bucketMs: 3_600_000 * 490_000, source: 'pcap', node: 'n', srcIp: `10.0.${i >> 8 & 255}.${i & 255}`, dstIp: '10.1.0.1', serviceIp: '',
    dstPort: 80, transport: 'tcp', protocol: 'http', method: 'GET', path: `/p/${i}`, host: 'h', sni: '', alpn: '',
    security: 'plaintext', securityReason: '', direction: 'observed',
  };
  const r = new AggRow(key, keyString(key));
  r.count = 1;
  if (timed) r.seen(key.bucketMs + 5, key.bucketMs + 9);
  return r;
}

function batches(db: Db): IngestBatch[] {
  return (db.prepare('SELECT body FROM push_outbox ORDER BY seq').pluck().all() as string[]).map((b) => ingestBatch.parse(JSON.parse(b)));
}

const stats = { bytesRead: 1, packets: 1, malformed: 0, skipped: 0, connections: 1, evictedEarly: 0, callsWritten: 1, firstTsMs: 1, lastTsMs: 2 };

test('rows and DNS names are cut into batches within the wire bounds, in order, the capture last', () => {
  const db = openStore(join(tempDir(), 's.db'));
  const sink = new OutboxSink(db, { node: 'n', collector: collectorIdOf(db), isLocal: false, spoolMaxBytes: 1e9 });
  const n = ROWS_PER_BATCH * 2 + 7;
  sink.dnsNames(Array.from({ length: DNS_NAMES_PER_BATCH * 2 + 3 }, (_, i) => ({ ip: `10.9.${i >> 8 & 255}.${i & 255}`, name: `s${i}.example`, tsMs: 1000 + i })));
  sink.calls(Array.from({ length: n }, (_, i) => row(i, i % 3 !== 0)));
  sink.checkpoint(wireCaptureOf({ id: 1, source: 'pcap', name: 'a\u0007b.pcap', startedAt: new Date(0).toISOString(), stats, dropped: 4, end: { status: 'complete' }, nowIso: new Date(1).toISOString() }));
  const got = batches(db);
  assert.equal(got.reduce((s, b) => s + b.calls.length, 0), n);
  assert.equal(got.reduce((s, b) => s + b.dns_names.length, 0), DNS_NAMES_PER_BATCH * 2 + 3);
  for (const b of got) {
    assert.ok(b.calls.length <= ROWS_PER_BATCH && b.dns_names.length <= DNS_NAMES_PER_BATCH);
    assert.equal(b.node, 'n');
  }
  assert.equal(new Set(got.map((b) => b.batch_id)).size, got.length, 'ids are unique');
  assert.deepEqual(got.map((b) => b.capture !== null), [...got.slice(1).map(() => false), true], 'only the last batch carries the capture');
  const last = got.at(-1)!.capture!;
  assert.equal(last.name, 'a\uFFFDb.pcap', 'control characters replaced');
  assert.equal(last.dropped, 4);
  const untimed = got.flatMap((b) => b.calls).filter((c) => c.firstSeenMs === null);
  assert.equal(untimed.length, Math.ceil(n / 3), 'rows not yet timed travel with null times');
  assert.ok(untimed.every((c) => c.lastSeenMs === null));
});

test('a full spool refuses the new batch and keeps the queued ones', () => {
  const db = openStore(join(tempDir(), 's.db'));
  const sink = new OutboxSink(db, { node: 'n', collector: collectorIdOf(db), isLocal: false, spoolMaxBytes: 4_000 });
  sink.calls([row(1)]);
  const first = batches(db);
  assert.equal(first.length, 1);
  sink.calls(Array.from({ length: 50 }, (_, i) => row(i)));
  assert.deepEqual(batches(db), first, 'the big batch did not fit; the queued one is untouched');
  assert.deepEqual(sink.dropped, { batches: 1, rows: 50, dnsNames: 0, certificates: 0, verdicts: 0 });
  const bytes = db.prepare('SELECT sum(bytes) FROM push_outbox').pluck().get() as number;
  assert.ok(bytes <= 4_000);
});

test('past the spool bound the capture still goes, with the calls dropped, and replaces its own earlier overflow checkpoint', () => {
  const db = openStore(join(tempDir(), 's.db'));
  const id = beginCapture(db, { source: 'pcap', name: 'live:eth0', node: 'n', fingerprint: null, sizeBytes: 0, nowIso: new Date(0).toISOString() });
  const sink = new OutboxSink(db, { node: 'n', collector: collectorIdOf(db), isLocal: false, spoolMaxBytes: 1_200 });
  const capture = (packets: number) => wireCaptureOf({ id, source: 'pcap', name: 'live:eth0', startedAt: new Date(0).toISOString(), stats: { ...stats, packets }, dropped: null, nowIso: new Date(1).toISOString() });
  sink.calls([row(1)]);
  sink.calls(Array.from({ length: 50 }, (_, i) => row(i)));
  sink.dnsNames([{ ip: '10.9.0.1', name: 'a.example', tsMs: 5 }]);
  sink.checkpoint(capture(10));
  sink.calls(Array.from({ length: 60 }, (_, i) => row(i)));
  sink.checkpoint(capture(20));
  sink.dnsNames([{ ip: '10.9.0.2', name: 'b.example', tsMs: 6 }]);
  sink.checkpoint(capture(30));
  const got = batches(db);
  // The small checkpoint of 10 packets still fitted (with its DNS name); the ones after it did
  // not: the one of 30 packets replaced the one of 20, without its DNS name.
  assert.deepEqual(got.map((b) => [b.calls.length, b.dns_names.length, b.capture?.packets ?? null, b.capture?.spoolDroppedCalls ?? null]),
    [[1, 0, null, null], [0, 1, 10, 50], [0, 0, 30, 110]]);
  assert.deepEqual(sink.dropped, { batches: 2, rows: 110, dnsNames: 1, certificates: 0, verdicts: 0 });
  assert.ok((db.prepare('SELECT sum(bytes) FROM push_outbox').pluck().get() as number) <= 1_200 + 500, 'past the bound by one small checkpoint at most');
  assert.equal(db.prepare('SELECT spool_dropped_calls FROM captures WHERE id = ?').pluck().get(id), 110, 'the local record says so too');
});

test('a checkpoint within the bound carries DNS names and a zero drop count', () => {
  const db = openStore(join(tempDir(), 's.db'));
  const id = beginCapture(db, { source: 'pcap', name: 'f.pcap', node: 'n', fingerprint: null, sizeBytes: 0, nowIso: new Date(0).toISOString() });
  const sink = new OutboxSink(db, { node: 'n', collector: collectorIdOf(db), isLocal: false, spoolMaxBytes: 1e9 });
  sink.dnsNames([{ ip: '10.9.0.1', name: 'a.example', tsMs: 5 }]);
  sink.checkpoint(wireCaptureOf({ id, source: 'pcap', name: 'f.pcap', startedAt: new Date(0).toISOString(), stats, dropped: null, end: { status: 'complete' }, nowIso: new Date(1).toISOString() }));
  assert.deepEqual(batches(db).map((b) => [b.dns_names.length, b.capture?.spoolDroppedCalls, b.capture?.spoolDroppedVerdicts]), [[1, 0, 0]]);
  assert.deepEqual(db.prepare('SELECT spool_dropped_calls, spool_dropped_verdicts FROM captures WHERE id = ?').raw().get(id), [0, 0]);
});

test('verdict counts ride with the calls they count, name the call by its key, and are cut at VERDICTS_PER_BATCH', () => {
  const db = openStore(join(tempDir(), 's.db'));
  const sink = new OutboxSink(db, { node: 'n', collector: collectorIdOf(db), isLocal: false, spoolMaxBytes: 1e9 });
  const rows = Array.from({ length: VERDICTS_PER_BATCH + 5 }, (_, i) => row(i));
  // As the ingest hands them over: the verdicts first (HubbleSink.finish), then the drained calls.
  sink.verdicts(rows.map((r, i) => ({ keyString: r.keyString, key: r.key, verdict: i % 2 === 0 ? 'DROPPED' : 'FORWARDED', count: 1 + (i % 3) })));
  sink.calls(rows);
  const got = batches(db);
  assert.deepEqual(got.map((b) => [b.calls.length, b.verdicts?.length ?? 0]), [[ROWS_PER_BATCH, VERDICTS_PER_BATCH], [5, 5]]);
  const sent = got.flatMap((b) => b.verdicts ?? []);
  // The server rebuilds each call's key string from the wire with its token's node: the collector's own.
  assert.deepEqual(sent.map((v) => [keyString(callKeyOf('n', v)), v.verdict, v.count]),
    rows.map((r, i) => [r.keyString, i % 2 === 0 ? 'DROPPED' : 'FORWARDED', 1 + (i % 3)]));
  assert.ok(got.every((b) => !('verdicts' in b) || b.verdicts!.length > 0), 'no empty verdict list');
});

test('a full spool counts the verdicts it drops; an overflow checkpoint carries none, but counts them', () => {
  const db = openStore(join(tempDir(), 's.db'));
  const id = beginCapture(db, { source: 'hubble', name: 'f.json', node: 'n', fingerprint: null, sizeBytes: 0, nowIso: new Date(0).toISOString() });
  const sink = new OutboxSink(db, { node: 'n', collector: collectorIdOf(db), isLocal: false, spoolMaxBytes: 1_200 });
  const verdict = (r: AggRow) => ({ keyString: r.keyString, key: r.key, verdict: 'DROPPED', count: 1 });
  sink.verdicts(Array.from({ length: 20 }, (_, i) => verdict(row(i))));
  sink.calls(Array.from({ length: 20 }, (_, i) => row(i)));
  // Past the bound with these, the checkpoint goes without them.
  sink.verdicts(Array.from({ length: 5 }, (_, i) => verdict(row(90 + i))));
  sink.checkpoint(wireCaptureOf({ id, source: 'hubble', name: 'f.json', startedAt: new Date(0).toISOString(), stats, dropped: null, end: { status: 'complete' }, nowIso: new Date(1).toISOString() }));
  assert.deepEqual(batches(db).map((b) => [b.calls.length, b.verdicts?.length ?? 0, b.capture !== null]), [[0, 0, true]]);
  assert.deepEqual(sink.dropped, { batches: 1, rows: 20, dnsNames: 0, certificates: 0, verdicts: 25 });
  // The 5 it left out itself are in its count: the calls they count may have gone out before,
  // and a file's last checkpoint has no later one to tell the server.
  const capture = batches(db)[0].capture!;
  assert.deepEqual([capture.spoolDroppedCalls, capture.spoolDroppedVerdicts], [20, 25]);
  assert.deepEqual(db.prepare('SELECT spool_dropped_calls, spool_dropped_verdicts FROM captures WHERE id = ?').raw().get(id), [20, 25], 'the local record says so too');
});

test('verdicts left out of an overflow checkpoint whose calls went out before are counted on it', () => {
  const db = openStore(join(tempDir(), 's.db'));
  const id = beginCapture(db, { source: 'hubble', name: 'f.json', node: 'n', fingerprint: null, sizeBytes: 0, nowIso: new Date(0).toISOString() });
  const sink = new OutboxSink(db, { node: 'n', collector: collectorIdOf(db), isLocal: false, spoolMaxBytes: 2_500 });
  const calls = Array.from({ length: 3 }, (_, i) => row(i));
  sink.calls(calls);
  // The verdicts of those calls arrive after them (a verdict-only remainder): past the bound.
  sink.verdicts(calls.map((r) => ({ keyString: r.keyString, key: r.key, verdict: 'DROPPED', count: 1 })));
  sink.checkpoint(wireCaptureOf({ id, source: 'hubble', name: 'f.json', startedAt: new Date(0).toISOString(), stats, dropped: null, end: { status: 'complete' }, nowIso: new Date(1).toISOString() }));
  const got = batches(db);
  assert.deepEqual(got.map((b) => [b.calls.length, b.verdicts?.length ?? 0, b.capture?.spoolDroppedCalls ?? null, b.capture?.spoolDroppedVerdicts ?? null]),
    [[3, 0, null, null], [0, 0, 0, 3]], 'every call went, none of their verdicts, and the checkpoint says so');
  assert.equal(db.prepare('SELECT spool_dropped_verdicts FROM captures WHERE id = ?').pluck().get(id), 3);
});
