// Log text is hostile input like packet bytes: an Envoy line or a Hubble flow with control
// characters or an over-long Host must be stored as data and must not make a central server refuse
// the batch it rides in (with every other call of it). The built binary, a real
// `trustmap serve --ingest-tokens` on 127.0.0.1, real SQLite stores, lines made from the real
// fixtures with one field changed each.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/ingest.js';
import { kill, startCentral, writeTokens, type Central } from '../helpers/push-harness.js';

const FIX = new URL('../fixtures/', import.meta.url).pathname;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

interface Row { source: string; node: string | null; src_ip: string; method: string | null; host: string | null; sni: string | null; count: number }

function rows(db: string): Row[] {
  const r = runCli(['calls', '--json', '--db', db]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Row[];
}

function outbox(db: string): { queued: number; rejected: number } {
  const c = new Database(db, { readonly: true });
  try {
    return c.prepare('SELECT count(*) FILTER (WHERE rejected IS NULL) AS queued, count(*) FILTER (WHERE rejected IS NOT NULL) AS rejected FROM push_outbox').get() as { queued: number; rejected: number };
  } finally {
    c.close();
  }
}

describe('hostile text in Envoy and Hubble input, pushed', () => {
  const dir = tempDir('tm-push-hostile-');
  const { tokensFile, tokenFile } = writeTokens(dir);
  const centralDb = join(dir, 'central.db');
  let central: Central;
  before(async () => { central = await startCentral(centralDb, tokensFile); });
  after(async () => { if (central) await kill(central.child, 'SIGTERM'); });

  const push = (kind: string, spool: string, file: string) => runCli(['collect', kind, '--db', spool, '--push', central.url,
    '--token-file', tokenFile['node-a'], '--node', 'node-a', '--local', '--drain-timeout', '20', file]);

  it('Envoy: a method, Host and SNI with control characters, a Host over 255 characters', () => {
    const [, server] = readFileSync(FIX + 'envoy/istio-docs-access-log-client-server-pair.log', 'utf8').trimEnd().split('\n');
    const hostile = server
      .replace('"GET /status/418', '"G\x1bET /status/418')
      .replace('"httpbin:8000"', `"httpbin\x1b]0;title\x07:8000${'x'.repeat(300)}"`)
      .replace('outbound_.8000_._.httpbin', 'outbound_.8000_._.http\x01bin');
    const file = join(dir, 'envoy.log');
    writeFileSync(file, [readFileSync(FIX + 'envoy/istio-ambient-waypoint-access.log', 'utf8').trimEnd(), hostile].join('\n') + '\n');
    const spool = join(dir, 'envoy-spool.db');
    const r = push('envoy', spool, file);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /rejected/);
    assert.deepEqual(outbox(spool), { queued: 0, rejected: 0 });
    const local = rows(spool);
    const odd = local.find((c) => c.method !== 'GET');
    assert.equal(odd?.method, 'G\uFFFDET');
    assert.ok(odd.host!.startsWith('httpbin\uFFFD]0;title\uFFFD:8000x') && odd.host!.length === 255 && odd.host!.endsWith('\u2026'), odd.host!);
    assert.equal(odd.sni, 'outbound_.8000_._.http\uFFFDbin.foo.svc.cluster.local');
    // Every call reached the central store, the odd one as stored locally.
    const centralRows = rows(centralDb).filter((c) => c.source === 'envoy');
    assert.equal(centralRows.reduce((n, c) => n + c.count, 0), 17);
    assert.deepEqual(centralRows.map(({ node: _, ...c }) => c), local.map(({ node: _, ...c }) => c));
  });

  it('Hubble: control characters in the method and node name are replaced; an address that is not one makes the flow malformed', () => {
    const http = readFileSync(FIX + 'hubble/hubble-observe-5-l7-http-flows.jsonl', 'utf8').trimEnd().split('\n');
    const flow = JSON.parse(http[0]) as { node_name: string; flow: { node_name: string; IP: { source: string }; l7: { http: { method: string } } } };
    const odd = structuredClone(flow);
    odd.node_name = odd.flow.node_name = 'node\x1b[31m-1';
    odd.flow.l7.http.method = 'G\x1bET';
    odd.flow.IP.source = '10.156.2.8';
    const bogus = structuredClone(flow);
    bogus.flow.IP.source = '10.0.0.1\x1b[2J';
    const file = join(dir, 'flows.jsonl');
    writeFileSync(file, [...http, JSON.stringify(odd), JSON.stringify(bogus)].join('\n') + '\n');
    // Locally, without --node: the flows' node names are kept.
    const localDb = join(dir, 'hubble.db');
    const r = runCli(['collect', 'hubble', '--json', '--db', localDb, file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { malformed: number }).malformed, 1, 'the flow whose source is not an address');
    const local = rows(localDb);
    assert.ok(local.every((c) => Object.values(c).every((v) => typeof v !== 'string' || !CONTROL.test(v))), 'no control character stored');
    assert.equal(local.find((c) => c.src_ip === '10.156.2.8')?.method, 'G\uFFFDET');
    assert.equal(local.find((c) => c.src_ip === '10.156.2.8')?.node, 'node\uFFFD[31m-1');
    // Pushed (--node is required, and names the calls' node): every call reaches the central store.
    const spool = join(dir, 'hubble-spool.db');
    assert.equal(push('hubble', spool, file).code, 0);
    assert.deepEqual(outbox(spool), { queued: 0, rejected: 0 });
    assert.equal(rows(centralDb).filter((c) => c.source === 'hubble').reduce((n, c) => n + c.count, 0), local.reduce((n, c) => n + c.count, 0));
  });
});
