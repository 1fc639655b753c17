// Hubble verdicts through `collect hubble --push` as they run in production: the built binary, a
// real `trustmap serve --ingest-tokens` on 127.0.0.1, real SQLite stores. The fixture
// (hubble-observe-synthetic-bookinfo-dropped.jsonl, synthetic, see ATTRIBUTION.md) has, between
// the bookinfo pods of test/fixtures/k8s:
//   productpage-v1 -> details-v1:9080   1 connection, FORWARDED
//   productpage-v1 -> reviews-v1:9080   1 connection, FORWARDED
//   ratings-v1     -> details-v1:9080   2 connections, both DROPPED (POLICY_DENIED) at ingress
//   reviews-v2     -> ratings-v1:9080   2 connections, one FORWARDED, one DROPPED
// Cilium refuses ratings -> details today, so no proposed policy may allow it: the central store
// must know the DROPPED counts exactly as a local ingest does.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runCli, type CliResult } from '../helpers/cli.js';
import { BOOKINFO_INVENTORY, HUBBLE_DROPPED_FLOWS, halfRefusedFlows, hubbleDroppedStore } from '../helpers/hubble-dropped.js';
import { tempDir } from '../helpers/ingest.js';
import { deadPort, kill, scalar, startCentral, TOKENS, totals, writeTokens, type Central } from '../helpers/push-harness.js';

const FORMATS = ['istio', 'netpol', 'cilium', 'linkerd'];

/**
 * A store's call_verdicts, raw: the key hash each count is filed under, so node and server must
 * agree on it. With `node`: only those of that node's calls.
 */
function verdicts(dbFile: string, node?: string): unknown[] {
  const db = new Database(dbFile, { readonly: true });
  try {
    if (node !== undefined) {
      return db.prepare(
        `SELECT v.key_hi, v.key_lo, v.verdict, v.count FROM call_verdicts v
         WHERE EXISTS (SELECT 1 FROM calls c WHERE c.key_hi = v.key_hi AND c.key_lo = v.key_lo AND c.node = ?) ORDER BY 1, 2, 3`,
      ).all(node);
    }
    return db.prepare('SELECT key_hi, key_lo, verdict, count FROM call_verdicts ORDER BY key_hi, key_lo, verdict').all();
  } finally {
    db.close();
  }
}

/** Per call (source, destination, port): its verdict counts, joined to the store's calls the way the analyzer joins them. */
function verdictsByCall(dbFile: string): Record<string, Record<string, number>> {
  const db = new Database(dbFile, { readonly: true });
  try {
    const rows = db.prepare(
      `SELECT c.src_ip || ' -> ' || c.dst_ip || ':' || c.dst_port AS call, v.verdict, sum(v.count) AS n
       FROM call_verdicts v JOIN calls c ON c.key_hi = v.key_hi AND c.key_lo = v.key_lo GROUP BY 1, 2 ORDER BY 1, 2`,
    ).all() as Array<{ call: string; verdict: string; n: number }>;
    const out: Record<string, Record<string, number>> = {};
    for (const r of rows) (out[r.call] ??= {})[r.verdict] = r.n;
    return out;
  } finally {
    db.close();
  }
}

function ok(args: string[]): string {
  const r = runCli(args);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** `trustmap policy` as printed: the YAML, and its exit code and blockers (exit 1: the DNS pods are unknown here). */
function policy(dbFile: string, format: string): CliResult {
  const r = runCli(['policy', '--db', dbFile, '--format', format]);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  return r;
}

describe('collect hubble --push: DROPPED verdicts reach the central store', () => {
  const dir = tempDir('tm-push-verdicts-');
  const { tokensFile, tokenFile } = writeTokens(dir);
  const centralDb = join(dir, 'central.db');
  let localDb = '';
  const spool = join(dir, 'spool.db');
  let central: Central;
  /** The batches node-a's collector made of the fixture (spooled while the server was unreachable). */
  let bodies: string[] = [];

  before(async () => {
    localDb = hubbleDroppedStore('node-a');
    ok(['inventory', 'load', '--db', centralDb, ...BOOKINFO_INVENTORY]);
    central = await startCentral(centralDb, tokensFile);
  });
  after(async () => { if (central) await kill(central.child, 'SIGTERM'); });

  const push = (db: string, url: string, extra: string[] = []) =>
    runCli(['collect', 'hubble', '--db', db, '--node', 'node-a', '--push', url, '--token-file', tokenFile['node-a'], ...extra, HUBBLE_DROPPED_FLOWS]);

  it('the local ingest counts what the fixture holds', () => {
    assert.deepEqual(verdictsByCall(localDb), {
      '10.244.0.11 -> 10.244.0.13:9080': { DROPPED: 1, FORWARDED: 2 },
      '10.244.0.13 -> 10.244.0.10:9080': { DROPPED: 2, FORWARDED: 2 },
      '10.244.0.15 -> 10.244.0.10:9080': { FORWARDED: 1 },
      '10.244.0.15 -> 10.244.0.14:9080': { FORWARDED: 1 },
    });
  });

  it('pushed verdicts equal a local ingest\'s, under the same key hashes; a resend after a lost acknowledgement counts nothing twice', async () => {
    // The batches are made while the server is unreachable and stay in the spool.
    const r1 = push(spool, `http://127.0.0.1:${await deadPort()}`, ['--drain-timeout', '0']);
    assert.equal(r1.code, 1, r1.stderr);
    const spooled = (new Database(spool, { readonly: true }));
    bodies = spooled.prepare('SELECT body FROM push_outbox ORDER BY seq').pluck().all() as string[];
    spooled.close();
    assert.ok(bodies.some((b) => (JSON.parse(b) as { verdicts?: Array<{ verdict: string }> }).verdicts?.some((v) => v.verdict === 'DROPPED')),
      'a spooled batch carries the DROPPED counts');
    assert.equal(scalar(spool, 'SELECT count(*) FROM call_verdicts'), 0, 'without --local nothing is written to the spool store');
    // A copy of the spool as it was before the server acknowledged anything: the collector that
    // lost the acknowledgements sends the same batches again.
    const stale = join(dir, 'spool-stale.db');
    copyFileSync(spool, stale);

    const r2 = push(spool, central.url);
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stderr, /already recorded/, 'the file itself is not read again');
    assert.equal(scalar(spool, 'SELECT count(*) FROM push_outbox'), 0);
    assert.deepEqual(verdicts(centralDb), verdicts(localDb));
    assert.deepEqual(totals(centralDb), totals(localDb));
    assert.equal(scalar(centralDb, 'SELECT count(*) FROM call_verdicts'), 6);

    const r3 = push(stale, central.url);
    assert.equal(r3.code, 0, r3.stderr);
    assert.equal(scalar(stale, 'SELECT count(*) FROM push_outbox'), 0, 'the server answered every resent batch');
    assert.deepEqual(verdicts(centralDb), verdicts(localDb), 'no verdict counted twice');
    assert.deepEqual(totals(centralDb), totals(localDb), 'no call counted twice');
  });

  it('the central store\'s policies leave the refused call out, identical to a local ingest\'s in every format', () => {
    /** Proposed policies (one YAML document each) that let ratings-v1 reach details-v1, from either side. */
    const allowingRefused = (dbFile: string, format: string) =>
      policy(dbFile, format).stdout.split('\n---\n').filter((d) => /ratings/.test(d) && /details/.test(d));
    // Without its verdicts the same store proposes allowing the refused call: what the central
    // store did before verdicts were pushed.
    const unaware = join(dir, 'no-verdicts.db');
    copyFileSync(localDb, unaware);
    const db = new Database(unaware);
    db.prepare('DELETE FROM call_verdicts').run();
    db.close();
    for (const format of FORMATS) assert.notDeepEqual(allowingRefused(unaware, format), [], `${format}: the control store allows it`);

    for (const format of FORMATS) {
      assert.deepEqual(policy(centralDb, format), policy(localDb, format), format);
      assert.deepEqual(allowingRefused(centralDb, format), [], format);
    }
    // Partly refused calls stay: reviews-v2 -> ratings-v1 got through once.
    const ratings = policy(centralDb, 'cilium').stdout.split('\n---\n').find((d) => /^\s+name: ratings-v1$/m.test(d));
    assert.match(ratings ?? '', /fromEndpoints:\n\s+- matchLabels:\n\s+app: reviews\n[^\n]+\n\s+version: v2/);
  });

  it('a batch with malformed verdicts is refused with 400 naming the field, and nothing of it is written', async () => {
    type Batch = { batch_id: string; verdicts?: Array<Record<string, unknown>> };
    const good = JSON.parse(bodies.find((b) => (JSON.parse(b) as Batch).verdicts !== undefined)!) as Batch;
    const v0 = good.verdicts![0];
    const post = (b: Batch) => fetch(new URL('/api/v1/ingest', central.url), {
      method: 'POST', body: JSON.stringify(b), headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS['node-a']}` },
    });
    // A fresh batch id each time: were it valid, it would be applied.
    const withVerdict = (id: string, patch: Record<string, unknown>) => ({ ...good, batch_id: `${good.batch_id}-${id}`, verdicts: [{ ...v0, ...patch }, ...good.verdicts!.slice(1)] });
    const stored = () => ({
      verdicts: verdicts(centralDb), totals: totals(centralDb), batches: scalar(centralDb, 'SELECT count(*) FROM ingest_batches'),
    });
    const before = stored();
    const cases: Array<[string, Batch, RegExp]> = [
      ['a verdict name in lower case', withVerdict('lower', { verdict: 'dropped' }), /^a Hubble verdict name .*\(at: body\.verdicts\.0\.verdict\)$/],
      ['an empty verdict name', withVerdict('empty', { verdict: '' }), /body\.verdicts\.0\.verdict/],
      ['a zero count', withVerdict('zero', { count: 0 }), /body\.verdicts\.0\.count/],
      ['a fractional count', withVerdict('frac', { count: 1.5 }), /body\.verdicts\.0\.count/],
      ['a call key without its port', withVerdict('noport', { dstPort: undefined }), /body\.verdicts\.0\.dstPort/],
      ['a control character in the key', withVerdict('ctl', { path: '/a\u0001b' }), /body\.verdicts\.0\.path/],
      ['a node per verdict', withVerdict('node', { node: 'node-b' }), /node.*\(at: body\.verdicts\.0\)/],
      ['verdicts not a list', { ...good, batch_id: `${good.batch_id}-obj`, verdicts: { DROPPED: 2 } as unknown as Batch['verdicts'] }, /body\.verdicts/],
    ];
    for (const [what, body, detail] of cases) {
      const res = await post(body);
      const text = await res.text();
      assert.equal(res.status, 400, `${what}: ${text}`);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.match((JSON.parse(text) as { detail: string }).detail, detail, what);
    }
    assert.deepEqual(stored(), before, 'neither the calls nor the verdicts of a refused batch are written');
    // The same batch with its verdicts intact is accepted: only the verdicts were wrong.
    const fixed = await post({ ...good, batch_id: `${good.batch_id}-fixed` });
    assert.equal(fixed.status, 200);
    assert.equal(((await fixed.json()) as { verdicts: number }).verdicts, good.verdicts!.length);
  });

  it('--follow pushes the verdicts of every flush', () => {
    const localB = join(dir, 'local-b.db');
    ok(['collect', 'hubble', '--db', localB, '--node', 'node-b', HUBBLE_DROPPED_FLOWS]);
    const r = runCli(['collect', 'hubble', '--follow', '-', '--flush-interval', '200ms', '--db', join(dir, 'follow-spool.db'), '--node', 'node-b',
      '--push', central.url, '--token-file', tokenFile['node-b']], { input: readFileSync(HUBBLE_DROPPED_FLOWS) });
    assert.equal(r.code, 0, r.stderr);
    const pushed = verdicts(centralDb, 'node-b');
    assert.equal(pushed.length, 6);
    assert.deepEqual(pushed, verdicts(localB));
  });

  it('--local keeps the verdicts in the spool store too', () => {
    const both = join(dir, 'both.db');
    const r = push(both, central.url, ['--local']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(verdicts(both), verdicts(localDb));
  });
});

describe('collect hubble --push with a full spool: the verdicts it leaves out are counted, and the server shows the count', () => {
  const dir = tempDir('tm-push-verdict-drops-');
  const { tokensFile, tokenFile } = writeTokens(dir);
  const centralDb = join(dir, 'central.db');
  let central: Central;
  // 2,200 verdict rows: the first 2,000 (VERDICTS_PER_BATCH) go with the 1,100 calls, the other
  // 200 with the capture's checkpoint.
  const CALLS = 1_100;
  let flows = '';
  /** The checkpoint batch of a run that had room for everything. */
  let roomyCheckpoint = '';

  before(async () => {
    flows = halfRefusedFlows(CALLS, dir);
    central = await startCentral(centralDb, tokensFile);
  });
  after(async () => { if (central) await kill(central.child, 'SIGTERM'); });

  const push = (db: string, url: string, extra: string[] = []) =>
    runCli(['collect', 'hubble', '--db', db, '--node', 'node-a', '--push', url, '--token-file', tokenFile['node-a'], ...extra, flows]);
  type Batch = { batch_id: string; calls: unknown[]; verdicts?: unknown[]; capture: Record<string, unknown> | null };
  const spooled = (db: string) => {
    const d = new Database(db, { readonly: true });
    try {
      return (d.prepare('SELECT bytes, body FROM push_outbox ORDER BY seq').all() as Array<{ bytes: number; body: string }>)
        .map((r) => ({ bytes: r.bytes, batch: JSON.parse(r.body) as Batch }));
    } finally {
      d.close();
    }
  };

  it('the calls go, the verdicts past --spool-max do not: the node\'s capture counts them, and so does the server\'s once it is reachable', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`;
    // How large the two batches are, from a run with room to spare.
    const roomy = join(dir, 'roomy.db');
    assert.equal(push(roomy, dead, ['--drain-timeout', '0']).code, 1);
    const sizes = spooled(roomy);
    assert.deepEqual(sizes.map((s) => [s.batch.calls.length, s.batch.verdicts?.length ?? 0, s.batch.capture !== null]), [[CALLS, 2_000, false], [0, 200, true]]);
    roomyCheckpoint = JSON.stringify(sizes[1].batch);
    // A bound the calls' batch fits under and the checkpoint with the other verdicts does not.
    const spoolMax = (sizes[0].bytes + sizes[1].bytes / 2) / 1e6;

    const spool = join(dir, 'spool.db');
    const r1 = push(spool, dead, ['--spool-max', String(spoolMax), '--drain-timeout', '0']);
    assert.equal(r1.code, 1, r1.stderr);
    assert.match(r1.stderr, /push spool full: Hubble verdicts are left out of the capture's checkpoint/);
    assert.deepEqual(spooled(spool).map((s) => [s.batch.calls.length, s.batch.verdicts?.length ?? 0, s.batch.capture?.spoolDroppedCalls, s.batch.capture?.spoolDroppedVerdicts]),
      [[CALLS, 2_000, undefined, undefined], [0, 0, 0, 200]], 'every call is queued; the checkpoint goes without its verdicts and with their count');
    assert.deepEqual([scalar(spool, 'SELECT spool_dropped_calls FROM captures'), scalar(spool, 'SELECT spool_dropped_verdicts FROM captures')], [0, 200]);
    assert.match(ok(['captures', '--db', spool]), /\nSpool dropped Hubble verdicts \(calls Cilium refuses may be proposed as allowed\):\n {2}1: 200 verdicts\n/);

    // The server is reachable: the next run sends what is queued (the file itself is not read again).
    const r2 = push(spool, central.url);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(scalar(spool, 'SELECT count(*) FROM push_outbox'), 0);
    // What the count warns of: every call arrived, 200 of their verdict rows did not.
    assert.deepEqual([scalar(centralDb, 'SELECT count(*) FROM calls'), scalar(centralDb, 'SELECT count(*) FROM call_verdicts')], [CALLS, 2_000]);
    const where = "FROM captures WHERE origin LIKE 'node-a/%'";
    assert.deepEqual([scalar(centralDb, `SELECT spool_dropped_calls ${where}`), scalar(centralDb, `SELECT spool_dropped_verdicts ${where}`)], [0, 200]);
    const id = scalar(centralDb, `SELECT id ${where}`);
    assert.match(ok(['captures', '--db', centralDb]), new RegExp(`\\nSpool dropped Hubble verdicts \\(calls Cilium refuses may be proposed as allowed\\):\\n {2}${id}: 200 verdicts\\n`));
    assert.equal((JSON.parse(ok(['captures', '--json', '--db', centralDb])) as Array<{ spoolDroppedVerdicts: number }>)[0].spoolDroppedVerdicts, 200);
    const summary = await (await fetch(new URL('/api/summary', central.url))).json() as {
      counts: { spool_dropped_calls: number | null; spool_dropped_verdicts: number | null };
      captures: Array<{ node: string; spool_dropped_verdicts: number | null }>;
    };
    assert.deepEqual([summary.counts.spool_dropped_calls, summary.counts.spool_dropped_verdicts], [0, 200]);
    assert.deepEqual(summary.captures.map((c) => [c.node, c.spool_dropped_verdicts]), [['node-a', 200]]);
  });

  it('a checkpoint from an older collector, without spoolDroppedVerdicts, is accepted and stored as unknown (NULL), not zero', async () => {
    const old = JSON.parse(roomyCheckpoint) as Batch & { capture: Record<string, unknown> };
    delete old.capture.spoolDroppedVerdicts;
    delete old.verdicts;
    const body = { ...old, batch_id: `${old.batch_id}-old`, capture: { ...old.capture, id: 999_001 } };
    const res = await fetch(new URL('/api/v1/ingest', central.url), {
      method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS['node-a']}` },
    });
    assert.equal(res.status, 200, await res.text());
    const row = "FROM captures WHERE origin LIKE 'node-a/%/999001'";
    assert.deepEqual([scalar(centralDb, `SELECT spool_dropped_calls ${row}`), scalar(centralDb, `SELECT spool_dropped_verdicts ${row}`)], [0, null]);
    const summary = await (await fetch(new URL('/api/summary', central.url))).json() as { counts: { spool_dropped_verdicts: number | null } };
    assert.equal(summary.counts.spool_dropped_verdicts, 200, 'the sum of the counts that are known');
  });
});
