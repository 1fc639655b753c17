// `collect envoy|hubble --follow -` fed through a real pipe with pauses, as `kubectl logs -f` or
// `hubble observe -f` would: rows committed while the stream is still open (read by a second
// SQLite connection), exact totals at the end (equal to reading the same lines as a file), and
// malformed lines counted and skipped.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { BIN, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/ingest.js';
import { Aggregator } from '../../collector/aggregate.js';
import { EnvoySink, PAIR_WAIT_MS } from '../../collector/sources/envoy/calls.js';
import { HubbleSink } from '../../collector/sources/hubble/calls.js';

const FIX = new URL('../fixtures/', import.meta.url).pathname;
const lines = (f: string) => readFileSync(join(FIX, f), 'utf8').split('\n').filter((l) => l.trim() !== '');

interface Follower { proc: ChildProcess; stdout: string[]; stderr: string[]; exited: Promise<number | null> }

function follow(source: 'envoy' | 'hubble', db: string): Follower {
  const proc = spawn(process.execPath, [BIN, 'collect', source, '--follow', '-', '--flush-interval', '300ms', '--db', db], {
    stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TRUSTMAP_LOG_LEVEL: 'warn' },
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  proc.stdout!.on('data', (d: Buffer) => stdout.push(d.toString()));
  proc.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  return { proc, stdout, stderr, exited: new Promise((resolve) => proc.on('exit', (code) => resolve(code))) };
}

interface Seen { status: string | null; lines: number; malformed: number; requests: number }

function seen(db: string): Seen {
  const c = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const cap = c.prepare('SELECT status, packets AS lines, malformed FROM captures ORDER BY id DESC LIMIT 1').get() as Omit<Seen, 'requests'> | undefined;
    const n = c.prepare('SELECT coalesce(sum(count), 0) FROM calls').pluck().get() as number;
    return { status: cap?.status ?? null, lines: cap?.lines ?? 0, malformed: cap?.malformed ?? 0, requests: n };
  } catch {
    return { status: null, lines: 0, malformed: 0, requests: 0 };
  } finally {
    c.close();
  }
}

/** Polls until `ok` holds, for at most 20 s (a bounded wait, not a timing assertion). */
async function until(what: string, db: string, ok: (s: Seen) => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    let s: Seen | null = null;
    try { s = seen(db); } catch { /* the store is not created yet */ }
    if (s !== null && ok(s)) return;
    if (Date.now() > deadline) assert.fail(`${what} did not happen: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The same lines read as one file: what the followed store must end up holding. */
function asFile(source: 'envoy' | 'hubble', all: string[]): { calls: unknown; verdicts: unknown } {
  const dir = tempDir('tm-follow-file-');
  const file = join(dir, 'all.log');
  writeFileSync(file, all.join('\n') + '\n');
  const db = join(dir, 'file.db');
  const r = runCli(['collect', source, '--db', db, file]);
  assert.equal(r.code, 0, r.stderr);
  return storeView(db);
}

function storeView(db: string): { calls: unknown; verdicts: unknown } {
  const c = new Database(db, { readonly: true });
  try {
    return {
      calls: JSON.parse(runCli(['calls', '--json', '--db', db]).stdout),
      verdicts: c.prepare('SELECT key_hi, key_lo, verdict, count FROM call_verdicts ORDER BY 1, 2, 3').all(),
    };
  } finally {
    c.close();
  }
}

test('collect envoy --follow: rows committed before the end of the stream; EOF ends it with exact totals', { timeout: 60_000 }, async () => {
  const db = join(tempDir('tm-follow-'), 'f.db');
  const waypoint = lines('envoy/istio-ambient-waypoint-access.log');
  const [pairA, pairB] = lines('envoy/istio-docs-access-log-client-server-pair.log');
  const f = follow('envoy', db);
  const first = [...waypoint, 'this is not an access log line', pairA];
  f.proc.stdin!.write(first.join('\n') + '\n');
  await until('a flush of the waypoint calls with the stream still open', db, (s) => s.status === 'running' && s.requests === waypoint.length && s.lines === first.length && s.malformed === 1);
  // The other side of the pending request arrives after a flush: still paired, counted once.
  const second = [pairB, '{"not": "an envoy json line"}'];
  f.proc.stdin!.end(second.join('\n') + '\n');
  assert.equal(await f.exited, 0, f.stderr.join(''));
  const end = seen(db);
  assert.deepEqual(end, { status: 'complete', lines: first.length + second.length, malformed: 2, requests: waypoint.length + 1 });
  assert.match(f.stdout.join(''), new RegExp(`^capture 1 complete \\(end of input\\) {2}lines ${first.length + second.length} {2}calls ${waypoint.length + 1} {2}deduplicated 1 {2}malformed 2 {2}skipped 0 {2}rows written \\d+ {2}flushes \\d+\n$`));
  assert.deepEqual(storeView(db), asFile('envoy', [...first, ...second]));
});

test('collect hubble --follow: SIGINT with the stream open stops with a final flush and exact totals', { timeout: 60_000 }, async () => {
  const db = join(tempDir('tm-follow-'), 'h.db');
  const http = lines('hubble/hubble-observe-5-l7-http-flows.jsonl');
  const l4 = lines('hubble/hubble-observe-10-l3l4-flows.jsonl');
  const f = follow('hubble', db);
  f.proc.stdin!.write([...http, '{"flow": '].join('\n') + '\n');
  await until('the HTTP requests committed with the stream open', db, (s) => s.requests > 0 && s.lines === http.length + 1 && s.malformed === 1);
  f.proc.stdin!.write(l4.join('\n') + '\n');
  await until('every line read and committed', db, (s) => s.lines === http.length + 1 + l4.length);
  f.proc.kill('SIGINT');
  assert.equal(await f.exited, 0, f.stderr.join(''));
  f.proc.stdin!.destroy();
  assert.equal(seen(db).status, 'complete');
  assert.match(f.stdout.join(''), new RegExp(`^capture 1 complete \\(stopped\\) {2}lines ${http.length + 1 + l4.length} .* malformed 1 `));
  const followed = storeView(db);
  assert.ok((followed.verdicts as unknown[]).length > 0);
  assert.deepEqual(followed, asFile('hubble', [...http, '{"flow": ', ...l4]));
});

test('--follow takes standard input only', () => {
  const r = runCli(['collect', 'envoy', '--follow', 'x.log']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: --follow reads one stream: standard input \(-\)\n$/);
  const bad = runCli(['collect', 'hubble', '--follow', '--flush-interval', 'soon', '-']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /not a duration/);
});

test('follow mode settles by arrival time: an unpaired Envoy line and an L4-only Hubble start count after 30 s', () => {
  const envoy = new EnvoySink(new Aggregator(() => {}), { node: '', templatePath: (_e, t) => t });
  envoy.tick(1_000);
  envoy.line(lines('envoy/istio-docs-access-log-client-server-pair.log')[0]);
  envoy.tick(1_000 + PAIR_WAIT_MS - 1);
  assert.equal(envoy.stats.calls, 0, 'still waiting for the other side');
  envoy.tick(1_000 + PAIR_WAIT_MS);
  assert.equal(envoy.stats.calls, 1, 'counted alone after the wait');
  envoy.finish();
  assert.equal(envoy.stats.calls, 1, 'and not again at the end');

  const flows = lines('hubble/hubble-observe-10-l3l4-flows.jsonl');
  const atEnd = new HubbleSink(new Aggregator(() => {}), { node: '', templatePath: (_e, t) => t, writeVerdicts: () => {} });
  for (const l of flows) atEnd.line(l);
  atEnd.finish();
  const followed = new HubbleSink(new Aggregator(() => {}), { node: '', templatePath: (_e, t) => t, writeVerdicts: () => {} });
  followed.tick(1_000);
  for (const l of flows) followed.line(l);
  const before = followed.stats.calls;
  assert.ok(before < atEnd.stats.calls, 'starts wait for an L7 request');
  followed.tick(1_000 + 29_999);
  assert.equal(followed.stats.calls, before);
  followed.tick(1_000 + 30_000);
  assert.equal(followed.stats.calls, atEnd.stats.calls, 'after the wait, the same calls as at the end of a file');
});
