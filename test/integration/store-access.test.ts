// A store the user running trustmap may not write or read, as an operator meets it: the collector
// runs as root (or a service user) and writes /var/lib/trustmap/NODE.db, someone else lists it.
// Real SQLite files, the built binary run as nobody (setpriv).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { BIN, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/ingest.js';

const FIX = new URL('../fixtures/pcap/', import.meta.url).pathname;
const skip = process.getuid?.() !== 0 ? 'needs root to run the binary as another user'
  : spawnSync('setpriv', ['--version']).status !== 0 ? 'setpriv (util-linux) is not installed' : false;

function asNobody(args: string[]) {
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...args], { encoding: 'utf8', env: { ...process.env, TRUSTMAP_LOG_LEVEL: 'warn' }, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A store written by root in DIR (mode 0755: others may enter, not create files), closed cleanly. */
function rootStore(): { dir: string; db: string } {
  const dir = join(tempDir(), 'trustmap');
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(join(dir, '..'), 0o755);
  const db = join(dir, 'node.db');
  assert.equal(runCli(['collect', 'pcap', '--db', db, FIX + 'http1-get-full-handshake.pcap']).code, 0);
  chmodSync(db, 0o644);
  assert.deepEqual(readdirSync(dir), ['node.db'], 'closed cleanly: no -wal or -shm left');
  return { dir, db };
}

test('reading a store whose directory the user may not write: one line saying why, not "not a trustmap database"', { skip }, () => {
  const { db } = rootStore();
  const r = asNobody(['calls', '--db', db]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^error: cannot read the store .*node\.db: SQLite must create .*node\.db-shm to read it while no collector has it open, and this user may not write to .*; read it as the user that writes it\n$/);
  // While a collector has it open, the same user reads it (SQLite uses the writer's -shm read-only).
  const writer = new Database(db);
  try {
    writer.pragma('journal_mode = WAL');
    writer.prepare('SELECT count(*) FROM calls').get();
    const ok = asNobody(['calls', '--json', '--db', db]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as unknown[]).length, 1);
  } finally {
    writer.close();
  }
});

test('collecting into a store the user may not write: one line, exit 2, the store unchanged', { skip }, () => {
  const { db } = rootStore();
  const before = readFileSync(db);
  for (const [args, msg] of [
    [['collect', 'pcap', '--force', '--db', db, FIX + 'http1-get-full-handshake.pcap'], /^error: cannot write to the store .*node\.db: this user may not write it\n$/],
    [['collect', 'envoy', '--db', db, new URL('../fixtures/envoy/istio-docs-access-log-client-server-pair.log', import.meta.url).pathname], /^error: cannot write to the store .*node\.db: this user may not write it\n$/],
    [['collect', 'pcap', '--db', db.replace(/node\.db$/, 'other.db'), FIX + 'http1-get-full-handshake.pcap'], /^error: cannot open database .*other\.db: this user may not write to .*trustmap\n$/],
  ] as Array<[string[], RegExp]>) {
    const r = asNobody(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
  assert.ok(readFileSync(db).equals(before));
  assert.ok(!existsSync(db.replace(/node\.db$/, 'other.db')));
});

test('a store the user may not read: one line saying so', { skip }, () => {
  const { dir, db } = rootStore();
  const priv = join(dir, 'private.db');
  copyFileSync(db, priv);
  chmodSync(priv, 0o600);
  const r = asNobody(['calls', '--db', priv]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^error: cannot open database .*private\.db: this user may not read it\n$/);
});

test('collectors that create a new store at the same moment all succeed (the schema is made once)', async () => {
  const log = new URL('../fixtures/envoy/istio-docs-access-log-client-server-pair.log', import.meta.url).pathname;
  const run = (db: string, node: string) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
    // The same file four times: --force, so none is skipped as already recorded.
    const p = spawn(process.execPath, [BIN, 'collect', 'envoy', '--force', '--node', node, '--db', db, log], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TRUSTMAP_LOG_LEVEL: 'warn' } });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('exit', (code) => resolve({ code, stderr }));
  });
  for (let round = 0; round < 3; round++) {
    const db = join(tempDir(), 'new.db');
    const all = await Promise.all(['a', 'b', 'c', 'd'].map((n) => run(db, n)));
    // Before: "error: ...new.db is not a trustmap database: table captures already exists", exit 2.
    assert.deepEqual(all.map((r) => r.code), [0, 0, 0, 0], all.map((r) => r.stderr).join(''));
    const r = runCli(['captures', '--json', '--db', db]);
    assert.equal((JSON.parse(r.stdout) as unknown[]).length, 4);
  }
});

test('an empty store name (TRUSTMAP_DB set to "") is a usage error, never a temporary database', () => {
  for (const args of [['collect', 'pcap', FIX + 'http1-get-full-handshake.pcap'], ['collect', 'envoy', new URL('../fixtures/envoy/istio-docs-access-log-client-server-pair.log', import.meta.url).pathname], ['calls'], ['captures']]) {
    // SQLite's "" is a private temporary database: an ingest reported its calls recorded and kept none.
    const r = runCli(args, { env: { TRUSTMAP_DB: '' } });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stderr, 'error: the store\'s file name is empty (TRUSTMAP_DB set to ""?): name it with --db FILE or TRUSTMAP_DB\n', args.join(' '));
  }
});
