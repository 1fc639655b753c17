// `trustmap merge` on real stores made by `collect pcap`, `collect hubble` and `inventory load`
// from the fixtures: the merged store must hold exactly what collecting everything into one store
// gives; merging again is a no-op; bad or refused sources leave the target untouched.
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/ingest.js';
import { httpConnection, pcapFile } from '../helpers/packets.js';
import { MIGRATIONS } from '../../collector/store/migrations.js';

const FIX = new URL('../fixtures/', import.meta.url).pathname;
const PCAP = join(FIX, 'pcap');

function ok(args: string[]): string {
  const r = runCli(args);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Two small captures whose calls share one key (same edge, path and hour): the merge must sum them. */
function sharedKeyCaptures(dir: string): [string, string] {
  const files: string[] = [];
  for (const [i, t0] of [[0, Date.UTC(2026, 10, 1, 12, 0, 5)], [1, Date.UTC(2026, 10, 1, 12, 40, 0)]] as const) {
    const pkts = httpConnection({
      client: '10.0.0.1', server: '10.0.0.2', cport: 40000 + i, sport: 8080, t0,
      requests: [{ req: 'GET /api/items/1 HTTP/1.1\r\nHost: items\r\n\r\n', resp: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' }],
    });
    const f = join(dir, `shared-${i}.pcap`);
    writeFileSync(f, pcapFile(pkts));
    files.push(f);
  }
  return files as [string, string];
}

interface Everything { calls: unknown; certs: unknown; dns: unknown; verdicts: unknown; snapshots: unknown; captures: unknown }

/** Everything a user can see in a store, in a stable order. */
function contents(db: string): Everything {
  const c = new Database(db, { readonly: true });
  try {
    return {
      calls: JSON.parse(ok(['calls', '--json', '--db', db])),
      certs: JSON.parse(ok(['certs', '--json', '--db', db])),
      dns: c.prepare('SELECT ip, name, first_seen_ms, last_seen_ms FROM dns_names ORDER BY ip, name').all(),
      verdicts: c.prepare(`SELECT c.src_ip, c.dst_ip, c.dst_port, c.protocol, v.verdict, sum(v.count) AS n FROM call_verdicts v
        JOIN calls c ON c.key_hi = v.key_hi AND c.key_lo = v.key_lo GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`).all(),
      snapshots: c.prepare('SELECT sha256, taken_at_ms, objects, (SELECT count(*) FROM inventory_pods p WHERE p.snapshot_id = s.id) AS pods FROM inventory_snapshots s ORDER BY sha256').all(),
      captures: c.prepare('SELECT source, name, node, status, sha256, packets, calls_written FROM captures ORDER BY sha256').all(),
    };
  } finally {
    c.close();
  }
}

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

function build(dir: string) {
  const [s1, s2] = sharedKeyCaptures(dir);
  const inventory = join(FIX, 'k8s', 'bookinfo-pods-list.json');
  const a = join(dir, 'a.db');
  const b = join(dir, 'b.db');
  const one = join(dir, 'one.db');
  const inA = [join(PCAP, 'http1-get-full-handshake.pcap'), join(PCAP, 'tls12-mutual-auth-certrequest.pcap'), s1];
  const inB = [join(PCAP, 'pcapng-multi-interface-dns.pcapng'), join(PCAP, 'tls12-mutual-auth-certrequest.pcap'), s2];
  ok(['collect', 'pcap', '--db', a, '--node', 'n1', ...inA]);
  ok(['collect', 'pcap', '--db', b, '--node', 'n1', ...inB]);
  ok(['collect', 'hubble', '--db', b, join(FIX, 'hubble', 'hubble-observe-10-l3l4-flows.jsonl')]);
  // The single store sees the shared certificate capture once per collection, like A and B did.
  ok(['collect', 'pcap', '--db', one, '--node', 'n1', ...inA]);
  ok(['collect', 'pcap', '--db', one, '--node', 'n1', '--force', ...inB]);
  ok(['collect', 'hubble', '--db', one, join(FIX, 'hubble', 'hubble-observe-10-l3l4-flows.jsonl')]);
  // The same inventory loaded on both nodes is one snapshot after the merge, as in one store.
  for (const db of [a, b]) ok(['inventory', 'load', '--db', db, '--at', '2026-11-01T12:00:00Z', inventory]);
  ok(['inventory', 'load', '--db', one, '--at', '2026-11-01T12:00:00Z', inventory]);
  return { a, b, one };
}

test('merge of two stores equals collecting everything into one; merging again changes nothing', () => {
  const dir = tempDir('tm-merge-');
  const { a, b, one } = build(dir);
  const into = join(dir, 'merged.db');
  const out = ok(['merge', a, b, '--into', into]);
  assert.match(out, /^STORE\s+IDENTITY\s+RESULT\s+CAPTURES\s+CALL ROWS\n.*a\.db\s+[0-9a-f]{12}\s+merged\s+3\s+\d+\n.*b\.db\s+[0-9a-f]{12}\s+merged\s+4\s+\d+\n$/);
  const merged = contents(into);
  const single = contents(one);
  // The shared key was summed: two requests on one row, first seen from A, last seen from B.
  const shared = (merged.calls as Array<{ dst_ip: string; count: number; connections: number; first_seen: string; last_seen: string }>).filter((c) => c.dst_ip === '10.0.0.2');
  assert.equal(shared.length, 1);
  assert.deepEqual([shared[0].count, shared[0].connections], [2, 2]);
  assert.equal(shared[0].first_seen.slice(0, 16), '2026-11-01T12:00');
  assert.equal(shared[0].last_seen.slice(0, 16), '2026-11-01T12:40');
  assert.ok((merged.verdicts as unknown[]).length > 0, 'hubble verdicts came along');
  assert.ok((merged.certs as unknown[]).length > 0, 'certificates came along');
  assert.deepEqual(merged.calls, single.calls);
  assert.deepEqual(merged.certs, single.certs);
  assert.deepEqual(merged.dns, single.dns);
  assert.deepEqual(merged.verdicts, single.verdicts);
  assert.equal((merged.snapshots as Array<{ pods: number }>)[0]?.pods > 0, true, 'the inventory came along');
  assert.deepEqual(merged.snapshots, single.snapshots);
  assert.deepEqual(merged.captures, single.captures);

  // Again, together and one by one: reported, nothing changes.
  const again = runCli(['merge', a, b, '--into', into, '--json']);
  assert.equal(again.code, 0, again.stderr);
  const res = JSON.parse(again.stdout) as Array<{ status: string }>;
  assert.deepEqual(res.map((r) => r.status), ['already-merged', 'already-merged']);
  assert.equal(runCli(['merge', b, '--into', into]).code, 0);
  assert.deepEqual(contents(into), merged);

  // A store that changed since it was merged is refused, not counted twice.
  ok(['collect', 'pcap', '--db', a, join(PCAP, 'vlan-8021q-http.pcap')]);
  const before = sha(into);
  const changed = runCli(['merge', a, '--into', into]);
  assert.equal(changed.code, 2);
  assert.match(changed.stderr, /^error: .*a\.db changed since it was merged at .*; merging it again would count its earlier calls twice/);
  assert.equal(changed.stderr.trim().split('\n').length, 1);
  assert.equal(sha(into), before);

  // A merged store merged into another that already holds one of its parts: refused.
  const other = join(dir, 'other.db');
  ok(['merge', b, '--into', other]);
  const overlap = runCli(['merge', into, '--into', other]);
  assert.equal(overlap.code, 2);
  assert.match(overlap.stderr, /which the target already holds; merging would count it twice\n$/);
  // Two sources that share a part: refused before anything is written.
  const fresh = join(dir, 'fresh.db');
  const both = runCli(['merge', b, other, '--into', fresh]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /both hold store [0-9a-f]{32}; merging both would count it twice\n$/);
  assert.equal(JSON.parse(ok(['calls', '--json', '--db', fresh])).length, 0, 'nothing merged');
});

test('unreadable, damaged, non-trustmap and newer stores: exit 2, one line, target unchanged', () => {
  const dir = tempDir('tm-merge-bad-');
  const good = join(dir, 'good.db');
  ok(['collect', 'pcap', '--db', good, join(PCAP, 'http1-get-full-handshake.pcap')]);
  const into = join(dir, 'into.db');
  ok(['collect', 'pcap', '--db', into, join(PCAP, 'dns-k8s-tcp.pcap')]);
  const before = sha(into);

  const text = join(dir, 'notes.db');
  writeFileSync(text, 'not a database at all, just text\n'.repeat(200));
  const damaged = join(dir, 'damaged.db');
  copyFileSync(good, damaged);
  const bytes = readFileSync(damaged);
  // Page 1 (the header and schema) kept; every later page overwritten with garbage.
  const pageSize = bytes.readUInt16BE(16) === 1 ? 65536 : bytes.readUInt16BE(16);
  bytes.fill(0xa5, pageSize);
  writeFileSync(damaged, bytes);
  const plain = join(dir, 'plain.db');
  new Database(plain).exec('CREATE TABLE t (x)').close();
  const newer = join(dir, 'newer.db');
  copyFileSync(good, newer);
  const n = new Database(newer);
  n.pragma('user_version = 999');
  n.close();

  for (const [src, msg] of [
    [text, /not a readable SQLite store \(file is not a database\)/],
    [damaged, /damaged store|malformed/],
    [plain, /not a trustmap store/],
    [newer, /schema version 999 is newer than this trustmap/],
    [join(dir, 'missing.db'), /not a readable SQLite store/],
  ] as const) {
    // The good store first: it must not be merged either when a later source is bad.
    const r = runCli(['merge', good, src, '--into', into]);
    assert.equal(r.code, 2, `${src}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.equal(sha(into), before, `${src}: the target changed`);
  }
  const usage = runCli(['merge', good, '--into', good]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /both a source and the target/);
});

test('an older store is upgraded in place and merged into an existing store', () => {
  const dir = tempDir('tm-merge-old-');
  // A store as trustmap wrote it at schema 5, before store identities: the migrations up to 5,
  // one capture and one call.
  const old = join(dir, 'old.db');
  const o = new Database(old);
  for (const m of MIGRATIONS.filter((x) => x.version <= 5)) o.exec(m.sql);
  o.pragma('user_version = 5');
  o.prepare(`INSERT INTO captures (source, name, status, started_at, packets) VALUES ('pcap', 'old.pcap', 'complete', '2026-10-01T00:00:00Z', 9)`).run();
  o.prepare(`INSERT INTO calls (key_hi, key_lo, bucket_ms, source, src_ip, dst_ip, dst_port, transport, protocol, security, count, first_seen_ms, last_seen_ms)
    VALUES (1, 2, 0, 'pcap', '10.9.9.1', '10.9.9.2', 5432, 'tcp', 'tcp', 'unknown', 3, 1000, 2000)`).run();
  o.close();
  const into = join(dir, 'into.db');
  ok(['collect', 'pcap', '--db', into, join(PCAP, 'dns-k8s-tcp.pcap')]);
  const before = (JSON.parse(ok(['calls', '--json', '--db', into])) as unknown[]).length;
  const r = runCli(['merge', old, '--into', into]);
  assert.equal(r.code, 0, r.stderr);
  const up = new Database(old, { readonly: true });
  assert.equal(up.pragma('user_version', { simple: true }), MIGRATIONS[MIGRATIONS.length - 1].version);
  assert.match(up.prepare('SELECT id FROM store_identity').pluck().get() as string, /^[0-9a-f]{32}$/);
  up.close();
  const after = JSON.parse(ok(['calls', '--json', '--db', into])) as Array<{ dst_ip: string; count: number }>;
  assert.equal(after.length, before + 1);
  assert.equal(after.find((c) => c.dst_ip === '10.9.9.2')?.count, 3);
  assert.match(runCli(['merge', old, '--into', into]).stdout, /already merged at/);
});
