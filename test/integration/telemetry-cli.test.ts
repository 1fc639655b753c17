// `trustmap collect envoy|hubble` end to end: the CLI through tsx, real SQLite files in a temp
// dir, the real logs in test/fixtures/{envoy,hubble}.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { openStore } from '../../collector/store/db.js';
import { listVerdicts } from '../../collector/store/telemetry.js';
import { listCalls } from '../../collector/store/calls.js';
import { BIN, runCli } from '../helpers/cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'trustmap-tel-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'trustmap.ts'), ...args], {
    cwd: ROOT, input, encoding: 'utf8', env: { ...process.env, TRUSTMAP_LOG_LEVEL: 'warn' }, timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('trustmap collect envoy', () => {
  const db = join(dir, 'envoy.db');
  it('records the docs pair once, and malformed lines are counted', () => {
    const pair = readFileSync(join(ROOT, 'test/fixtures/envoy/istio-docs-access-log-client-server-pair.log'), 'utf8');
    const r = cli(['collect', 'envoy', '--db', db, '--json', '-'], `garbage line\n${pair}\x00\x01binary\n`);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as Record<string, number>;
    assert.equal(s.lines, 4);
    assert.equal(s.calls, 1);
    assert.equal(s.deduplicated, 1);
    assert.equal(s.malformed, 2);
    const again = cli(['collect', 'envoy', '--db', db, '-'], `garbage line\n${pair}\x00\x01binary\n`);
    assert.match(again.stderr, /already recorded as capture 1/);
    const store = openStore(db);
    try {
      const calls = listCalls(store);
      assert.equal(calls.length, 1);
      assert.equal(calls[0].source, 'envoy');
      assert.equal(calls[0].security, 'mtls');
      assert.equal(calls[0].service_ip, '10.0.45.184');
    } finally {
      store.close();
    }
  });

  it('reads the waypoint log with kubectl timestamps; a missing file is exit 2 with one line', () => {
    const r = cli(['collect', 'envoy', '--db', db, join(ROOT, 'test/fixtures/envoy/istio-ambient-waypoint-access.log')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /lines 16 {2}calls 16 .* malformed 0/);
    const missing = cli(['collect', 'envoy', '--db', db, join(dir, 'nope.log')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: .*nope\.log: no such file\n$/);
  });
});

describe('--help examples', () => {
  it('fetch sidecar logs with flags kubectl logs has, all of each pod', () => {
    const help = cli(['collect', 'envoy', '--help']).stdout;
    const fetches = help.split('\n').filter((l) => /kubectl logs/.test(l) && !/^\s*#/.test(l));
    assert.ok(fetches.length >= 3, help);
    for (const l of fetches) {
      // `kubectl logs` has no -A (--all-namespaces): kubectl stops with "unknown shorthand flag".
      assert.doesNotMatch(l, /\s(-A|--all-namespaces)\b/, l);
      // With a selector kubectl prints the last 10 lines of each pod unless told otherwise.
      if (/\s(-l|--selector)\b/.test(l) && !/\s-f\b|--follow/.test(l)) assert.match(l, /--tail=-1/, l);
    }
  });
});

describe('the wrong kind of input', () => {
  it('is one line and exit 2, is not recorded, and so does not make the right collector skip it', () => {
    const db = join(dir, 'wrong.db');
    const pcap = join(ROOT, 'test/fixtures/pcap/http1-get-full-handshake.pcap');
    const flows = join(ROOT, 'test/fixtures/hubble/hubble-observe-10-l3l4-flows.jsonl');
    const accessLog = join(ROOT, 'test/fixtures/envoy/istio-docs-access-log-client-server-pair.log');
    for (const [args, msg] of [
      [['envoy', pcap], /^error: .*http1-get-full-handshake\.pcap: no line of \d+ is an Envoy access-log line in a format trustmap reads \(docs\/envoy-access-log-format\.md\)\n$/],
      [['envoy', flows], /^error: .*hubble-observe-10-l3l4-flows\.jsonl: no line of 10 is an Envoy access-log line/],
      [['hubble', accessLog], /^error: .*istio-docs-access-log-client-server-pair\.log: no line of 2 is a Hubble flow \(hubble observe -o json or -o jsonpb\)\n$/],
    ] as Array<[string[], RegExp]>) {
      const r = cli(['collect', args[0], '--db', db, args[1]]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.match(r.stdout, /\(0 recorded, 0 already recorded, 1 failed\)/);
    }
    assert.equal(cli(['collect', 'hubble', '--db', db, flows]).code, 0);
    assert.equal(cli(['collect', 'envoy', '--db', db, accessLog]).code, 0);
    // The built binary: collect pcap's ingest worker does not load through tsx.
    const r = runCli(['collect', 'pcap', '--db', db, pcap]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^files 1 \(1 recorded, 0 already recorded, 0 failed\)/);
  });
});

describe('a log given as a pipe (bash process substitution, a FIFO)', () => {
  it('is read once and recorded, not waited on forever', () => {
    const db = join(dir, 'pipe.db');
    const log = join(ROOT, 'test/fixtures/envoy/istio-ambient-waypoint-access.log');
    const viaPipe = () => spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" collect envoy --db "${db}" <(cat "${log}")`],
      { encoding: 'utf8', timeout: 20_000, env: { ...process.env, TRUSTMAP_LOG_LEVEL: 'warn' } });
    const r = viaPipe();
    // Before: the pipe was read to hash it, then opened again to be read, which never returned.
    assert.equal(r.status, 0, `exit ${r.status} (null: still waiting after 20 s) ${r.stderr}`);
    assert.match(r.stdout, /^files 1 \(1 recorded, 0 already recorded, 0 failed\)  lines 16  calls 16 /);
    // The same bytes again through a pipe: recognised as recorded once read.
    const again = viaPipe();
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /already recorded as capture 1/);
  });
});

describe('the same log given to two collectors at once', () => {
  it('is recorded once; the other reports it as already recorded', async () => {
    const db = join(dir, 'race.db');
    const waypoint = readFileSync(join(ROOT, 'test/fixtures/envoy/istio-ambient-waypoint-access.log'), 'utf8').trimEnd();
    // Large enough (192,000 lines) that both are still reading when the other starts.
    const file = join(dir, 'big.log');
    writeFileSync(file, `${Array<string>(12_000).fill(waypoint).join('\n')}\n`);
    const run = () => new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [BIN, 'collect', 'envoy', '--db', db, file], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TRUSTMAP_LOG_LEVEL: 'warn' } });
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      p.on('exit', (code) => resolve({ code, stderr }));
    });
    const both = await Promise.all([run(), run()]);
    assert.deepEqual(both.map((r) => r.code), [0, 0], both.map((r) => r.stderr).join(''));
    assert.equal(both.filter((r) => /already recorded as capture \d+/.test(r.stderr)).length, 1, both.map((r) => r.stderr).join(''));
    const store = openStore(db);
    try {
      assert.equal(listCalls(store).reduce((n, c) => n + c.count, 0), 192_000);
    } finally {
      store.close();
    }
  });
});

describe('trustmap collect hubble', () => {
  it('records the 400-flow export with verdicts', () => {
    const db = join(dir, 'hubble.db');
    const r = cli(['collect', 'hubble', '--db', db, '--json', join(ROOT, 'test/fixtures/hubble/hubble-observe-400-tcp-flows.jsonl')]);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { calls: number; malformed: number; verdicts: Record<string, number> };
    assert.equal(s.calls, 49);
    assert.deepEqual(s.verdicts, { FORWARDED: 49, REDIRECTED: 27 });
    const store = openStore(db);
    try {
      const v = listVerdicts(store);
      assert.equal(v.filter((x) => x.verdict === 'REDIRECTED').reduce((n, x) => n + x.count, 0), 27);
      assert.equal(listCalls(store).reduce((n, c) => n + c.count, 0), 49);
    } finally {
      store.close();
    }
  });
});
