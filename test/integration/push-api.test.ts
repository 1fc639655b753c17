// POST /api/v1/ingest and `collect --push` as they run in production: the built binary, a real
// `trustmap serve --ingest-tokens` process on 127.0.0.1, real SQLite stores, batches made by a
// real collector. Every refusal is checked to leave the central store untouched.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/ingest.js';
import { deadPort, DEMO_CAPTURE, kill, scalar, startCentral, TOKENS, totals, writeTokens, type Central } from '../helpers/push-harness.js';

const FIX = new URL('../fixtures/', import.meta.url).pathname;
const ENVOY_LOG = FIX + 'envoy/istio-docs-access-log-client-server-pair.log';
const HUBBLE_FLOWS = FIX + 'hubble/hubble-observe-5-l7-http-flows.jsonl';

async function problem(res: Response, status: number): Promise<string> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const body = JSON.parse(text) as { status: number; detail: string };
  assert.equal(body.status, status);
  assert.doesNotMatch(text, /\bat \S+ \(|node_modules|\.ts:\d+/, 'no stack trace');
  return body.detail;
}

describe('POST /api/v1/ingest', () => {
  const dir = tempDir('tm-push-api-');
  const centralDb = join(dir, 'central.db');
  const { tokensFile, tokenFile } = writeTokens(dir);
  let central: Central;
  /** Real batches of node-a: the demo capture pushed to a dead port, left in the spool. */
  let batches: string[] = [];

  before(async () => {
    const spool = join(dir, 'spool-a.db');
    const r = runCli(['collect', 'pcap', '--db', spool, '--node', 'node-a', '--push', `http://127.0.0.1:${await deadPort()}`,
      '--token-file', tokenFile['node-a'], '--drain-timeout', '0', DEMO_CAPTURE]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: 2 batches \(\d+ calls\) are still spooled in .*spool-a\.db/m);
    const db = new Database(spool, { readonly: true });
    batches = (db.prepare('SELECT body FROM push_outbox ORDER BY seq').pluck().all() as string[]);
    db.close();
    central = await startCentral(centralDb, tokensFile);
  });
  after(async () => { if (central) await kill(central.child, 'SIGTERM'); });

  const endpoint = () => new URL('/api/v1/ingest', central.url).toString();
  const post = (body: string | Buffer, token: string | null, contentType = 'application/json') => fetch(endpoint(), {
    method: 'POST', body,
    headers: { 'content-type': contentType, ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
  });
  const stored = () => ({
    calls: scalar(centralDb, 'SELECT count(*) FROM calls'),
    batches: scalar(centralDb, 'SELECT count(*) FROM ingest_batches'),
    captures: scalar(centralDb, 'SELECT count(*) FROM captures'),
  });
  const nothing = { calls: 0, batches: 0, captures: 0 };

  it('refuses a missing or unknown token with 401 and stores nothing', async () => {
    const res = await post(batches[0], null);
    await problem(res, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /);
    await problem(await post(batches[0], 'not-a-token-of-anyone-at-all'), 401);
    await problem(await post(batches[0], `${TOKENS['node-a']}x`), 401);
    assert.deepEqual(stored(), nothing);
  });

  it("refuses a batch for node-a sent with node-b's token with 403 and stores nothing", async () => {
    assert.match(await problem(await post(batches[0], TOKENS['node-b']), 403), /another node/);
    assert.deepEqual(stored(), nothing);
  });

  it('refuses a body over 8 MiB with 413 and stores nothing', async () => {
    const big = JSON.parse(batches[0]) as { calls: Array<Record<string, unknown>> };
    const row = big.calls[0];
    // Valid rows up to 9 MiB: only the size is wrong.
    big.calls = Array.from({ length: Math.ceil((9 * 1024 * 1024) / JSON.stringify(row).length) }, () => row);
    await problem(await post(JSON.stringify(big), TOKENS['node-a']), 413);
    assert.deepEqual(stored(), nothing);
  });

  it('refuses malformed batches with 400 naming the field, and stores nothing', async () => {
    const good = JSON.parse(batches[0]) as Record<string, unknown> & { calls: Array<Record<string, unknown>> };
    const withCall = (patch: Record<string, unknown>) => JSON.stringify({ ...good, calls: [{ ...good.calls[0], ...patch }] });
    const cases: Array<[string, string, RegExp]> = [
      ['not JSON', '{"node": "node-a", ', /./],
      ['an array', '[]', /body/],
      ['no batch id', JSON.stringify({ ...good, batch_id: undefined }), /body\.batch_id/],
      ['an unknown field', JSON.stringify({ ...good, extra: 1 }), /extra/],
      ['a control character in a path', withCall({ path: '/a\u0001b' }), /body\.calls\.0\.path/],
      ['a port out of range', withCall({ dstPort: 70000 }), /body\.calls\.0\.dstPort/],
      ['a negative counter', withCall({ count: -1 }), /body\.calls\.0\.count/],
      ['a bucket not on the hour', withCall({ bucketMs: 1234 }), /body\.calls\.0\.bucketMs/],
      ['an unknown protocol', withCall({ protocol: 'smtp' }), /body\.calls\.0\.protocol/],
      ['a path too long', withCall({ path: '/' + 'a'.repeat(5000) }), /body\.calls\.0\.path/],
      ['a hostile batch id', JSON.stringify({ ...good, batch_id: "x'; DROP TABLE calls; --" }), /body\.batch_id/],
    ];
    for (const [what, body, detail] of cases) {
      assert.match(await problem(await post(body, TOKENS['node-a']), 400), detail, what);
    }
    await problem(await post(batches[0], TOKENS['node-a'], 'text/plain'), 415);
    assert.deepEqual(stored(), nothing);
  });

  it('applies a batch once: a replay answers duplicate and changes nothing', async () => {
    const first = await post(batches[0], TOKENS['node-a']);
    assert.equal(first.status, 200);
    const reply = await first.json() as { duplicate: boolean; calls: number; dns_names: number };
    const rows = (JSON.parse(batches[0]) as { calls: unknown[] }).calls.length;
    assert.deepEqual(reply, { duplicate: false, calls: rows, dns_names: reply.dns_names, certificates: 0, verdicts: 0 });
    assert.ok(rows > 0);
    const after1 = { totals: totals(centralDb), stored: stored() };
    assert.equal(after1.stored.batches, 1);
    assert.equal(scalar(centralDb, "SELECT count(*) FROM calls WHERE node <> 'node-a'"), 0, 'rows take the token\'s node');
    const again = await post(batches[0], TOKENS['node-a']);
    assert.equal(again.status, 200);
    assert.equal(((await again.json()) as { duplicate: boolean }).duplicate, true);
    assert.deepEqual({ totals: totals(centralDb), stored: stored() }, after1);
    // The checkpoint batch carries the capture record.
    assert.equal((await post(batches[1], TOKENS['node-a'])).status, 200);
    assert.equal(scalar(centralDb, "SELECT count(*) FROM captures WHERE node = 'node-a' AND status = 'complete' AND origin IS NOT NULL"), 1);
  });

  it('keeps hostile strings as data: stored verbatim, served as JSON text', async () => {
    const good = JSON.parse(batches[0]) as Record<string, unknown> & { calls: Array<Record<string, unknown>> };
    const path = '/<script>alert(1)</script>?q=\'";--\u202e';
    const body = JSON.stringify({ ...good, batch_id: `${String(good.collector)}-hostile`, calls: [{ ...good.calls[0], path, host: '<img src=x onerror=alert(1)>' }] });
    assert.equal((await post(body, TOKENS['node-a'])).status, 200);
    assert.equal(scalar(centralDb, `SELECT count(*) FROM calls WHERE path = '${path.replace(/'/g, "''")}'`), 1);
    const res = await fetch(new URL('/api/calls', central.url));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const served = await res.json() as Array<{ path: string | null }>;
    assert.ok(served.some((c) => c.path === path));
  });

  it('a token removed from the file is refused within seconds; SIGHUP reloads at once', async () => {
    const fresh = JSON.parse(batches[0]) as Record<string, unknown>;
    const bodyFor = (node: string, id: string) => JSON.stringify({ ...fresh, node, batch_id: id, calls: [], dns_names: [], capture: null });
    writeFileSync(tokensFile, `node-b ${TOKENS['node-b']}\n`);
    let status = 0;
    for (let i = 0; i < 50 && status !== 401; i++) {
      status = (await post(bodyFor('node-a', 'revoked-1'), TOKENS['node-a'])).status;
      if (status !== 401) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status, 401, 'node-a revoked');
    assert.equal((await post(bodyFor('node-b', 'still-1'), TOKENS['node-b'])).status, 200, 'node-b unaffected');
    // Give node-a a new token; SIGHUP makes it count without waiting for the change check.
    const renewed = 'token-a-renewed-0123456789';
    writeFileSync(tokensFile, `node-b ${TOKENS['node-b']}\nnode-a ${renewed}\n`);
    central.child.kill('SIGHUP');
    let ok = 0;
    for (let i = 0; i < 50 && ok !== 200; i++) {
      ok = (await post(bodyFor('node-a', 'renewed-1'), renewed)).status;
      if (ok !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(ok, 200);
    assert.equal((await post(bodyFor('node-a', 'old-1'), TOKENS['node-a'])).status, 401, 'the old token is gone');
    assert.equal(central.child.exitCode, null, 'SIGHUP does not stop the server');
  });
});

describe('serve --ingest-tokens: a bad tokens file stops the start with one line, exit 2', () => {
  it('names the file and line, never the token', () => {
    const dir = tempDir('tm-push-tokens-');
    const secret = 'do-not-print-this-secret-0123456789';
    const cases: Array<[string, string | null, RegExp]> = [
      ['missing', null, /cannot read the ingest tokens file .*missing: ENOENT/],
      ['empty', '# only a comment\n', /no "node-name token" lines/],
      ['three-fields', `node-a ${secret} extra\n`, /three-fields line 1: expected "node-name token"/],
      ['short', 'node-a short\n', /short line 1: the token must be at least 16 characters/],
      ['bad-node', `node/a ${secret}\n`, /bad-node line 1: not a node name/],
      ['shared', `node-a ${secret}\n# b\nnode-b ${secret}\n`, /shared line 3: this token is already given to another line/],
    ];
    for (const [name, text, msg] of cases) {
      const file = join(dir, name);
      if (text !== null) writeFileSync(file, text, { mode: 0o600 });
      const r = runCli(['serve', '--db', join(dir, 'x.db'), '--port', '0', '--ingest-tokens', file]);
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, msg, name);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, new RegExp(secret), 'the token is never printed');
    }
  });
});

describe('collect --push', () => {
  const dir = tempDir('tm-push-cli-');
  const { tokensFile, tokenFile } = writeTokens(dir);
  let central: Central;
  const centralDb = join(dir, 'central.db');

  before(async () => { central = await startCentral(centralDb, tokensFile); });
  after(async () => { if (central) await kill(central.child, 'SIGTERM'); });

  it('sends what a local collect records; --local writes both; the spool is empty afterwards', async () => {
    const local = join(dir, 'local.db');
    const r0 = runCli(['collect', 'pcap', '--db', local, '--node', 'node-a', DEMO_CAPTURE]);
    assert.equal(r0.code, 0, r0.stderr);
    const spool = join(dir, 'spool.db');
    const r = runCli(['collect', 'pcap', '--db', spool, '--node', 'node-a', '--push', central.url, '--token-file', tokenFile['node-a'], '--local', DEMO_CAPTURE]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.deepEqual(totals(centralDb), totals(local));
    assert.deepEqual(totals(spool), totals(local), '--local keeps a copy');
    assert.equal(scalar(spool, 'SELECT count(*) FROM push_outbox'), 0);
    // Without --local the spool store keeps capture records only; a rerun is a local duplicate and sends nothing.
    const spool2 = join(dir, 'spool2.db');
    const r2 = runCli(['collect', 'pcap', '--db', spool2, '--node', 'node-b', '--push', central.url, '--token-file', tokenFile['node-b'], DEMO_CAPTURE]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(scalar(spool2, 'SELECT count(*) FROM calls'), 0);
    const before = totals(centralDb);
    const r3 = runCli(['collect', 'pcap', '--db', spool2, '--node', 'node-b', '--push', central.url, '--token-file', tokenFile['node-b'], DEMO_CAPTURE]);
    assert.equal(r3.code, 0, r3.stderr);
    assert.match(r3.stderr, /already recorded/);
    assert.deepEqual(totals(centralDb), before);
    const counts = (totals(centralDb).calls as Array<{ count: number }>).reduce((n, c) => n + c.count, 0);
    const localCounts = (totals(local).calls as Array<{ count: number }>).reduce((n, c) => n + c.count, 0);
    assert.equal(counts, 2 * localCounts, 'two nodes pushed the same capture');
  });

  it('collect envoy and hubble --push send what they record locally', () => {
    for (const [source, fixture] of [['envoy', ENVOY_LOG], ['hubble', HUBBLE_FLOWS]]) {
      const local = join(dir, `${source}-local.db`);
      const r0 = runCli(['collect', source, '--db', local, '--node', 'node-a', fixture]);
      assert.equal(r0.code, 0, r0.stderr);
      const spool = join(dir, `${source}-spool.db`);
      const r = runCli(['collect', source, '--db', spool, '--node', 'node-a', '--push', central.url, '--token-file', tokenFile['node-a'], fixture]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(scalar(spool, 'SELECT count(*) FROM push_outbox'), 0);
      assert.equal(scalar(spool, 'SELECT count(*) FROM calls'), 0, 'nothing written locally without --local');
      const expected = totals(local).calls;
      assert.ok(expected.length > 0, `${source}: the fixture has calls`);
      assert.deepEqual(totals(centralDb).calls.filter((c) => (c as { source: string }).source === source), expected, source);
    }
  });

  it('a batch the server refuses as malformed is set aside and the queue moves on', async () => {
    const spool = join(dir, 'rejected.db');
    const args = ['collect', 'pcap', '--db', spool, '--node', 'node-b', '--token-file', tokenFile['node-b'], DEMO_CAPTURE];
    const r1 = runCli([...args, '--push', `http://127.0.0.1:${await deadPort()}`, '--drain-timeout', '0']);
    assert.equal(r1.code, 1, r1.stderr);
    // Corrupt the first queued batch the way a buggy collector would: a port out of range.
    const db = new Database(spool);
    const first = db.prepare('SELECT seq, body FROM push_outbox ORDER BY seq LIMIT 1').get() as { seq: number; body: string };
    db.prepare('UPDATE push_outbox SET body = ? WHERE seq = ?').run(first.body.replace(/"dstPort":\d+/, '"dstPort":70000'), first.seq);
    db.close();
    const capturesBefore = scalar(centralDb, "SELECT count(*) FROM captures WHERE node = 'node-b'");
    const r2 = runCli([...args, '--push', central.url]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stderr, /rejected a batch as malformed/);
    assert.match(r2.stderr, /1 batches were rejected by the server and are kept in .*rejected\.db/);
    assert.match(scalar(spool, 'SELECT rejected FROM push_outbox') as unknown as string, /^HTTP 400: .*dstPort/);
    assert.equal(scalar(spool, 'SELECT count(*) FROM push_outbox'), 1, 'only the refused batch is left');
    assert.equal(scalar(centralDb, "SELECT count(*) FROM captures WHERE node = 'node-b'"), capturesBefore + 1, 'the batch behind it arrived');
  });

  it('certificates seen in clear reach the server\'s inventory as a local collect records them', async () => {
    const capture = new URL('../fixtures/pcap/tls12-mutual-auth-certrequest.pcap', import.meta.url).pathname;
    const local = join(dir, 'certs-local.db');
    assert.equal(runCli(['collect', 'pcap', '--db', local, capture]).code, 0);
    type Cert = { fingerprint: string };
    const want = JSON.parse(runCli(['certs', '--json', '--db', local]).stdout) as Cert[];
    assert.ok(want.length >= 2, 'the fixture holds client and server certificates');
    const ours = new Set(want.map((c) => c.fingerprint));
    const r = runCli(['collect', 'pcap', '--db', join(dir, 'certs-spool.db'), '--node', 'node-a', '--push', central.url, '--token-file', tokenFile['node-a'], capture]);
    assert.equal(r.code, 0, r.stderr);
    // The central store also holds the demo capture's certificates, pushed by the tests above.
    assert.deepEqual((JSON.parse(runCli(['certs', '--json', '--db', centralDb]).stdout) as Cert[]).filter((c) => ours.has(c.fingerprint)), want);
  });

  it('a full spool drops new batches with a warning and stays within --spool-max', async () => {
    const spool = join(dir, 'full.db');
    const r = runCli(['collect', 'pcap', '--db', spool, '--node', 'node-a', '--push', `http://127.0.0.1:${await deadPort()}`,
      '--token-file', tokenFile['node-a'], '--spool-max', '0.005', '--drain-timeout', '0', DEMO_CAPTURE]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /push spool full/);
    assert.ok(scalar(spool, 'SELECT coalesce(sum(bytes), 0) FROM push_outbox') <= 5000);
    assert.equal(scalar(spool, 'SELECT count(*) FROM push_outbox'), 1, 'the small checkpoint batch still fitted');
    // The checkpoint tells how many calls were dropped; so do the local record and listing.
    const dropped = scalar(spool, 'SELECT spool_dropped_calls FROM captures');
    assert.ok(dropped > 0);
    const checkpoint = JSON.parse(scalar(spool, 'SELECT body FROM push_outbox') as unknown as string) as { capture: { spoolDroppedCalls: number } };
    assert.equal(checkpoint.capture.spoolDroppedCalls, dropped);
    const listed = runCli(['captures', '--db', spool]);
    assert.match(listed.stdout, /\sSPOOL DROPPED\n/);
    assert.match(listed.stdout, new RegExp(`\\s${dropped}\\n$`));
    // Once the server is back, the next collector run sends the checkpoint: the central record
    // and the summary the UI warns from carry the count.
    const later = runCli(['collect', 'envoy', '--db', spool, '--node', 'node-a', '--push', central.url, '--token-file', tokenFile['node-a'], ENVOY_LOG]);
    assert.equal(later.code, 0, later.stderr);
    assert.equal(scalar(centralDb, `SELECT spool_dropped_calls FROM captures WHERE origin LIKE 'node-a/%/1'  AND spool_dropped_calls > 0`), dropped);
    const summary = await (await fetch(new URL('/api/summary', central.url))).json() as { counts: { spool_dropped_calls: number } };
    assert.equal(summary.counts.spool_dropped_calls, dropped);
  });

  it('flag errors are one line with exit 2', () => {
    const db = join(dir, 'x.db');
    for (const [args, msg] of [
      [['--push', central.url, '--node', 'node-a'], /--push needs --token-file/],
      [['--push', central.url, '--token-file', tokenFile['node-a']], /--push needs --node/],
      [['--push', 'ftp://example/', '--token-file', tokenFile['node-a'], '--node', 'node-a'], /not an http\(s\) URL/],
      [['--local'], /--token-file and --local go with --push/],
      [['--push', central.url, '--token-file', join(dir, 'missing'), '--node', 'node-a'], /cannot read the token file/],
    ] as Array<[string[], RegExp]>) {
      const r = runCli(['collect', 'pcap', '--db', db, ...args, DEMO_CAPTURE]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, msg);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});
