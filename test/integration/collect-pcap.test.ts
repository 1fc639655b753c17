// `trustmap collect pcap` as users run it: real capture files, the built binary, real SQLite.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { appendFileSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { hashFile, ingestCapture } from '../../collector/ingest.js';
import { listCalls } from '../../collector/store/calls.js';
import { openStore } from '../../collector/store/db.js';
import { runCli, startCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/ingest.js';
import { httpConnection, pcapFile } from '../helpers/packets.js';
import { synthCapture } from '../bench/synth-capture.js';
import { writeCalls } from '../unit/analyzer/fixture.js';

const FIX = new URL('../fixtures/pcap/', import.meta.url).pathname;

interface Call { src_ip: string; dst_ip: string; dst_port: number; transport: string; protocol: string; method: string | null; path: string | null; host: string | null; sni: string | null; alpn: string | null; security: string; count: number; bytes: number; first_seen: string; last_seen: string; node: string | null; source: string }

function calls(db: string): Call[] {
  const r = runCli(['calls', '--json', '--db', db]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Call[];
}

test('calls --json has the documented fields and types', () => {
  const db = join(tempDir(), 'a.db');
  const r = runCli(['collect', 'pcap', '--db', db, '--node', 'worker-1', FIX + 'http1-get-full-handshake.pcap', FIX + 'tls13-sni-alpn-h2.pcap', FIX + 'pcapng-multi-interface-dns.pcapng']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^files 3 \(3 recorded, 0 already recorded, 0 failed\)\s+packets \d+\s+connections \d+\s+calls written \d+\s+malformed 0\s+[\d.]+ s\s+\d+ packets\/s\n$/);
  const rows = calls(db);
  for (const c of rows) {
    for (const k of ['src_ip', 'dst_ip', 'dst_port', 'transport', 'protocol', 'method', 'path', 'host', 'sni', 'alpn', 'security', 'count', 'bytes', 'first_seen', 'last_seen']) {
      assert.ok(k in c, `missing ${k}`);
    }
    assert.ok(['tcp', 'udp'].includes(c.transport));
    assert.ok(['http', 'http2', 'grpc', 'tls', 'dns', 'tcp', 'udp'].includes(c.protocol));
    assert.ok(['plaintext', 'tls', 'mtls', 'unknown'].includes(c.security));
    assert.match(c.first_seen, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(c.node, 'worker-1');
    assert.equal(c.source, 'pcap');
  }
  const http = rows.find((c) => c.protocol === 'http');
  assert.deepEqual(http && [http.src_ip, http.dst_ip, http.dst_port, http.method, http.path, http.host, http.count], ['141.142.228.5', '192.150.187.43', 80, 'GET', '/download/CHANGES.bro-aux.txt', 'bro.org', 1]);
  // A call is first seen when its connection starts: the client's SYN, per tshark, in whole ms.
  const reqEpoch = execFileSync('tshark', ['-r', FIX + 'http1-get-full-handshake.pcap', '-Y', 'tcp.flags.syn == 1 && tcp.flags.ack == 0', '-T', 'fields', '-e', 'frame.time_epoch'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  assert.equal(http!.first_seen, new Date(Math.floor(Number(reqEpoch) * 1000)).toISOString());
  const tls = rows.find((c) => c.protocol === 'tls');
  assert.equal(tls?.sni, 'lh3.google.com');
  assert.equal(rows.filter((c) => c.protocol === 'dns').reduce((n, c) => n + c.count, 0), 3, 'three DNS queries');
});

test('table output for people, and an empty store says so', () => {
  const db = join(tempDir(), 'a.db');
  assert.equal(runCli(['collect', 'pcap', '--db', db, FIX + 'http1-get-full-handshake.pcap']).code, 0);
  const r = runCli(['calls', '--db', db]);
  assert.match(r.stdout, /^SOURCE\s+DESTINATION\s+PROTO\s+REQUEST\s+SECURITY\s+COUNT\s+LAST SEEN\n141\.142\.228\.5\s+192\.150\.187\.43:80\s+http\/tcp\s+GET \/download\/CHANGES\.bro-aux\.txt\s+plaintext\s+1\s/);
  const empty = join(tempDir(), 'e.db');
  assert.equal(runCli(['collect', 'pcap', '--db', empty, FIX + 'empty.pcapng']).code, 0);
  assert.equal(runCli(['calls', '--db', empty]).stdout, 'No calls recorded.\n');
  // A window without calls is not an empty store; an inverted window is a mistake.
  assert.equal(runCli(['calls', '--db', db, '--since', '1h']).stdout, 'No calls recorded in the window.\n');
  const inverted = runCli(['calls', '--db', db, '--since', '1h', '--until', '2h']);
  assert.equal(inverted.code, 2);
  assert.equal(inverted.stderr, 'error: --since must be before --until\n');
});

test('bad inputs: one line on stderr, exit 2, nothing recorded for that file, others still ingested', () => {
  const dir = tempDir();
  const db = join(dir, 'a.db');
  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'hello, not a capture\n');
  const truncated = join(dir, 'trunc.pcap');
  writeFileSync(truncated, readFileSync(FIX + 'http1-get-full-handshake.pcap').subarray(0, 12));
  const r = runCli(['collect', 'pcap', '--db', db, text, FIX + 'http1-get-full-handshake.pcap', truncated, join(dir, 'missing.pcap'), FIX + 'corrupt-pcapng-unknown-shb-version.pcapng']);
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 4, r.stderr);
  assert.match(lines[0], /^error: .*notes\.txt: not a pcap or pcapng capture \(magic 68 65 6c 6c\)$/);
  assert.match(lines[1], /^error: .*trunc\.pcap: truncated global header/);
  assert.match(lines[2], /^error: .*missing\.pcap: no such file$/);
  assert.match(lines[3], /^error: .*unsupported section version 2\.0$/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  const rows = calls(db);
  assert.equal(rows.length, 1, 'only the good file was recorded (the pcapng with a bad later section contributes nothing)');
});

test('calls prints stored text, addresses included, without raw control characters', () => {
  // As an older trustmap stored a Hubble flow's "address" (nothing checked it then).
  const db = join(tempDir(), 'old.db');
  const store = openStore(db);
  try {
    writeCalls(store, [{ srcIp: '10.0.0.1\x1b[2J\x1b]0;pwned\x07', dstIp: '10.0.0.2\x1b[31m', serviceIp: '10.96.0.1\r', dstPort: 80, atMs: Date.parse('2026-11-01T00:00:00Z'), method: 'GET', path: '/\x1b[1m' }]);
  } finally {
    store.close();
  }
  const r = runCli(['calls', '--db', db]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/, JSON.stringify(r.stdout));
  assert.match(r.stdout, /\n10\.0\.0\.1\uFFFD\[2J\uFFFD\]0;pwned\uFFFD\s+10\.0\.0\.2\uFFFD\[31m:80 \(via 10\.96\.0\.1\uFFFD\)\s/);
});

test('usage errors are one line with exit 2', () => {
  for (const [args, msg] of [
    [['collect', 'pcap'], /needs at least one FILE/],
    [['collect', 'pcap', '--bogus', 'x.pcap'], /Unknown option '--bogus'/],
    [['collect', 'pcap', '--max-flows', 'lots', 'x.pcap'], /^error: --max-flows: /],
    [['collect'], /"collect" needs one of: pcap/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['calls', '--since', 'yesterday-ish'], /not an ISO time or a duration/],
    // A stray word (a file name, a capture id) is refused as by calls and certs, not ignored.
    [['captures', 'trustmap.db'], /^error: captures takes no arguments \(got "trustmap\.db"\)\n$/],
  ] as Array<[string[], RegExp]>) {
    const r = runCli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, msg);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const help = runCli(['collect', 'pcap', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Examples:\n[\s\S]*tcpdump -i any -U -w - .*\| trustmap collect pcap/);
});

test('a store that is not a database is a one-line error', () => {
  const dir = tempDir();
  const bogus = join(dir, 'bogus.db');
  writeFileSync(bogus, 'this is not sqlite'.repeat(100));
  const r = runCli(['calls', '--db', bogus]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: .*bogus\.db/);
});

test('collect pcap into a store that cannot be opened: one line, exit 2, and the process ends', () => {
  const dir = tempDir();
  for (const [db, msg] of [
    [join(dir, 'missing-dir', 'a.db'), /^error: cannot open database .*missing-dir\/a\.db: .*directory does not exist\n$/],
    [dir, /^error: cannot open database .*: unable to open database file\n$/],
  ] as Array<[string, RegExp]>) {
    // The worker that failed to open the store used to keep the process alive after the error.
    const r = runCli(['collect', 'pcap', '--db', db, FIX + 'http1-get-full-handshake.pcap'], { timeoutMs: 15_000 });
    assert.equal(r.code, 2, `${db}: exit ${r.code} (null: still running after 15 s)`);
    assert.match(r.stderr, msg);
  }
});

test('re-ingesting the same file is a reported no-op; --force counts it again', () => {
  const dir = tempDir();
  const db = join(dir, 'a.db');
  const copy = join(dir, 'renamed.pcap');
  copyFileSync(FIX + 'sll-redis-loopback.pcap', copy);
  assert.equal(runCli(['collect', 'pcap', '--db', db, FIX + 'sll-redis-loopback.pcap']).code, 0);
  const first = calls(db);
  const again = runCli(['collect', 'pcap', '--db', db, copy]);
  assert.equal(again.code, 0);
  assert.match(again.stderr, /renamed\.pcap: already recorded as capture 1 \(sha256 ce066f785444fd08…\); use --force/);
  assert.match(again.stdout, /files 1 \(0 recorded, 1 already recorded, 0 failed\)/);
  assert.deepEqual(calls(db), first);
  assert.equal(runCli(['collect', 'pcap', '--db', db, '--force', copy]).code, 0);
  const doubled = calls(db);
  assert.deepEqual(doubled.map((c) => c.count), first.map((c) => c.count * 2));
});

test('a capture larger than the read window: the stored sha256 is the file\'s, and a second ingest is a no-op (file and stdin)', () => {
  // Large enough that the reader's window moves unread bytes to its front between reads. The CLI
  // hashes a file on its main thread while the worker decodes it, and standard input as it is read:
  // both must come to the file's sha256.
  const dir = tempDir();
  const capture = join(dir, 'big.pcap');
  synthCapture({ out: capture, sizeBytes: 40 * 1024 * 1024, format: 'pcap', link: 'ether', seed: 3 });
  const sha = createHash('sha256').update(readFileSync(capture)).digest('hex');
  const db = join(dir, 'big.db');
  assert.equal(runCli(['collect', 'pcap', '--db', db, capture]).code, 0);
  const stored = () => new Database(db, { readonly: true }).prepare('SELECT sha256, status FROM captures ORDER BY id').all();
  assert.deepEqual(stored(), [{ sha256: sha, status: 'complete' }]);
  const first = calls(db);
  const again = runCli(['collect', 'pcap', '--db', db, capture]);
  assert.match(again.stderr, /already recorded as capture 1/);
  const piped = runCli(['collect', 'pcap', '--db', db, '-'], { input: readFileSync(capture) });
  assert.match(piped.stderr, /-: already recorded as capture 1/);
  assert.deepEqual(calls(db), first, 'nothing counted twice');
});

test('a file that changes while it is ingested (still being written) is an input error, and nothing of it is recorded', async () => {
  const dir = tempDir();
  const capture = join(dir, 'growing.pcap');
  copyFileSync(FIX + 'http1-get-full-handshake.pcap', capture);
  const db = openStore(join(dir, 'a.db'));
  try {
    // Packets appended after the decoder has read the file, before the hash beside it reads it:
    // what `tcpdump -w` still writing the file would do. The file is read with synchronous reads,
    // so the next turn of the event loop comes once the decoder is done with it.
    const more = readFileSync(FIX + 'http1-get-full-handshake.pcap').subarray(24);
    const outcome = await ingestCapture(db, capture, null, {
      node: '', force: false,
      hashBeside: async (input) => {
        await new Promise(setImmediate);
        appendFileSync(input, more);
        return hashFile(input);
      },
    });
    assert.equal(outcome.status, 'error');
    assert.match(outcome.status === 'error' ? outcome.message : '', /growing\.pcap: the file changed while it was read \(\d+ bytes decoded, \d+ hashed\); ingest it again once it is complete$/);
    assert.equal(listCalls(db).length, 0, 'no calls of the changed file');
    assert.deepEqual(db.prepare('SELECT status FROM captures').pluck().all(), ['failed']);
    // Once complete, the same file ingests, hashed beside and checked.
    const again = await ingestCapture(db, capture, null, { node: '', force: false, hashBeside: hashFile });
    assert.equal(again.status, 'complete');
    assert.equal(again.status === 'complete' ? again.sha256 : '', createHash('sha256').update(readFileSync(capture)).digest('hex'));
  } finally {
    db.close();
  }
});

test('a file with the fingerprint of a recorded capture but other bytes is ingested, hashed once by the duplicate check', async () => {
  // The fingerprint reads the size, the first and the last 64 KiB: a byte changed in the middle
  // keeps it. The duplicate check must then hash the file in full, and the ingest uses that hash
  // instead of reading the file a third time beside the decoder.
  const dir = tempDir();
  const first = join(dir, 'first.pcap');
  synthCapture({ out: first, sizeBytes: 512 * 1024, format: 'pcap', link: 'ether', seed: 5 });
  const bytes = readFileSync(first);
  const second = join(dir, 'second.pcap');
  const changed = Buffer.from(bytes);
  changed[changed.length >> 1] ^= 0xff;
  writeFileSync(second, changed);
  const db = openStore(join(dir, 'a.db'));
  try {
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const one = await ingestCapture(db, first, null, { node: '', force: false, hashBeside: hashFile });
    assert.equal(one.status === 'complete' ? one.sha256 : one.status, sha(bytes));
    let besideCalls = 0;
    const two = await ingestCapture(db, second, null, {
      node: '', force: false,
      hashBeside: (input) => { besideCalls++; return hashFile(input); },
    });
    assert.equal(two.status === 'complete' ? two.sha256 : two.status, sha(changed));
    assert.equal(besideCalls, 0, 'the duplicate check\'s hash is reused');
    assert.deepEqual(db.prepare('SELECT sha256, status FROM captures ORDER BY id').raw().all(), [[sha(bytes), 'complete'], [sha(changed), 'complete']]);
    // A third ingest of the second file is found by that hash.
    const three = await ingestCapture(db, second, null, { node: '', force: false, hashBeside: hashFile });
    assert.equal(three.status, 'duplicate');
  } finally {
    db.close();
  }
});

test('a gzip-compressed capture (tcpdump -z gzip) is read as the capture itself, and recorded once whether compressed, plain or piped', () => {
  const dir = tempDir();
  const plain = FIX + 'tls12-mutual-auth-certrequest.pcap';
  const gz = join(dir, 'rotated.pcap.gz');
  writeFileSync(gz, gzipSync(readFileSync(plain)));
  const fromPlain = join(dir, 'p.db'), db = join(dir, 'g.db');
  assert.equal(runCli(['collect', 'pcap', '--db', fromPlain, plain]).code, 0);
  const r = runCli(['collect', 'pcap', '--db', db, gz]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(calls(db), calls(fromPlain));
  const sha = createHash('sha256').update(readFileSync(plain)).digest('hex');
  assert.equal(new Database(db, { readonly: true }).prepare('SELECT sha256 FROM captures').pluck().get(), sha, 'the capture\'s own sha256');
  for (const again of [runCli(['collect', 'pcap', '--db', db, gz]), runCli(['collect', 'pcap', '--db', db, plain]), runCli(['collect', 'pcap', '--db', db, '-'], { input: readFileSync(plain) })]) {
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /already recorded as capture 1/);
  }
  assert.deepEqual(calls(db), calls(fromPlain), 'nothing counted twice');
  // The other order: the plain file first, then the compressed one.
  assert.match(runCli(['collect', 'pcap', '--db', fromPlain, gz]).stderr, /rotated\.pcap\.gz: already recorded as capture 1/);
});

test('a truncated or corrupt gzip file is one line, exit 2, nothing recorded; a gzip stream on stdin says what to do', () => {
  const dir = tempDir();
  const packed = gzipSync(readFileSync(FIX + 'tls12-mutual-auth-certrequest.pcap'));
  const truncated = join(dir, 'cut.pcap.gz'), corrupt = join(dir, 'bad.pcap.gz');
  writeFileSync(truncated, packed.subarray(0, Math.floor(packed.length / 2)));
  const flipped = Buffer.from(packed);
  for (let i = 200; i < 260; i++) flipped[i] ^= 0xff;
  writeFileSync(corrupt, flipped);
  for (const file of [truncated, corrupt]) {
    const db = join(dir, `${file.endsWith('cut.pcap.gz') ? 'cut' : 'bad'}.db`);
    const r = runCli(['collect', 'pcap', '--db', db, file]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^error: [^\n]*\.pcap\.gz: gzip: [^\n]*: the compressed file is corrupt or truncated\n$/);
    assert.deepEqual(calls(db), [], 'nothing of it is recorded');
  }
  const piped = runCli(['collect', 'pcap', '--db', join(dir, 's.db'), '-'], { input: packed });
  assert.equal(piped.code, 2);
  assert.match(piped.stderr, /^error: -: gzip-compressed stream \(magic 1f 8b\): give the file itself, or decompress it \(zcat FILE \| trustmap collect pcap -\)\n$/);
});

test('standard input gives the same calls as the file, and a repeated stream is a no-op', () => {
  const dir = tempDir();
  const bytes = readFileSync(FIX + 'tls12-mutual-auth-certrequest.pcap');
  const fromFile = join(dir, 'f.db'), fromStdin = join(dir, 's.db');
  assert.equal(runCli(['collect', 'pcap', '--db', fromFile, FIX + 'tls12-mutual-auth-certrequest.pcap']).code, 0);
  const r = runCli(['collect', 'pcap', '--db', fromStdin, '-'], { input: bytes });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(calls(fromStdin), calls(fromFile));
  const again = runCli(['collect', 'pcap', '--db', fromStdin, '-'], { input: bytes });
  assert.match(again.stderr, /-: already recorded as capture 1/);
  assert.deepEqual(calls(fromStdin), calls(fromFile));
});

test('kill -9 mid-ingest leaves a consistent store, and a rerun completes without double counting', async () => {
  const dir = tempDir();
  // 100,000 HTTP connections from 2,000 clients: over a second of work, to be interrupted mid-way.
  const pkts = [];
  for (let i = 0; i < 100_000; i++) {
    pkts.push(...httpConnection({
      client: `10.244.${(i % 2000) >> 8}.${(i % 2000) & 255}`, server: '10.244.9.9', cport: 30000 + (i % 30000), sport: 8080, t0: Date.UTC(2026, 0, 1) + i * 20,
      requests: [{ req: `GET /api/items/${i} HTTP/1.1\r\nHost: items\r\n\r\n`, resp: 'HTTP/1.1 204 No Content\r\n\r\n' }],
    }));
  }
  const file = join(dir, 'big.pcap');
  writeFileSync(file, pcapFile(pkts));
  const clean = join(dir, 'clean.db');
  assert.equal(runCli(['collect', 'pcap', '--db', clean, file]).code, 0);
  const expected = calls(clean);

  const db = join(dir, 'killed.db');
  const child = startCli(['collect', 'pcap', '--db', db, '--batch-rows', '50', file]);
  // Wait until the ingest is under way (its capture is recorded as running and batches are being
  // written inside its transaction), then kill it without warning.
  let running = 0;
  for (let i = 0; i < 2000 && running === 0; i++) {
    await new Promise((r) => setTimeout(r, 5));
    try {
      const probe = new Database(db, { readonly: true, fileMustExist: true });
      try { running = (probe.prepare(`SELECT count(*) AS n FROM captures WHERE status = 'running'`).get() as { n: number }).n; } finally { probe.close(); }
    } catch { /* not created yet */ }
  }
  await new Promise((r) => setTimeout(r, 150));
  const exitedEarly = child.exitCode !== null;
  child.kill('SIGKILL');
  await new Promise((r) => (child.exitCode !== null ? r(null) : child.on('exit', r)));
  assert.ok(running > 0 && !exitedEarly, 'the ingest was interrupted while running');

  const check = new Database(db);
  assert.equal(check.pragma('integrity_check', { simple: true }), 'ok');
  const stillRunning = check.prepare(`SELECT count(*) AS n FROM captures WHERE status = 'running'`).get() as { n: number };
  const counted = check.prepare('SELECT count(*) AS n FROM calls').get() as { n: number };
  check.close();
  assert.equal(stillRunning.n, 1, 'the interrupted capture is still running in the store');
  assert.equal(counted.n, 0, 'nothing of the interrupted capture is counted yet');
  // Its collector is gone, so the listing says it was interrupted rather than running.
  const listed = runCli(['captures', '--db', db, '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual((JSON.parse(listed.stdout) as Array<{ status: string; error: string | null }>).map((c) => [c.status, c.error]),
    [['failed', 'interrupted: the collector process ended without finishing (killed?); what it committed before is kept']]);
  assert.match(runCli(['captures', '--db', db]).stdout, /\n\nFailed:\n {2}1: interrupted: the collector process ended without finishing \(killed\?\); what it committed before is kept\n$/);

  const rerun = runCli(['collect', 'pcap', '--db', db, '--batch-rows', '50', file]);
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.deepEqual(calls(db), expected);
  const after = new Database(db, { readonly: true });
  assert.deepEqual(after.prepare('SELECT status FROM captures ORDER BY id').all(), [{ status: 'failed' }, { status: 'complete' }]);
  after.close();
});
