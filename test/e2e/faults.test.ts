// Many nodes, one store, nothing lost (issue 9): two collectors (node-a, node-b) push the demo
// capture, split into six pieces between them, to one `trustmap serve --ingest-tokens` process,
// through faults: the server SIGKILLed and restarted while they run, a collector SIGKILLed in the
// middle of an input and of its resending, a resend of batches the server already applied, and
// the network to the server cut and restored. Each time the central store must hold exactly what
// one local collector records from the same six pieces: real processes, real HTTP on 127.0.0.1,
// real SQLite files.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { BIN, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/ingest.js';
import { CutProxy, DEMO_CAPTURE, kill, scalar, splitPcap, startCentral, totals, writeTokens, type Central, type NodeName } from '../helpers/push-harness.js';

/** Aggregator batches of two rows: dozens of batches per collector, so faults land between them. */
const BATCH_ROWS = '2';

interface Collector {
  child: ChildProcess;
  stderr: () => string;
  done: Promise<number | null>;
}

describe('two collectors pushing to one server, with faults', { timeout: 110_000 }, () => {
  const dir = tempDir('tm-faults-');
  const { tokensFile, tokenFile } = writeTokens(dir);
  let pieces: string[] = [];
  let reference: ReturnType<typeof totals>;

  before(() => {
    pieces = splitPcap(DEMO_CAPTURE, 6, dir);
    const ref = join(dir, 'reference.db');
    const r = runCli(['collect', 'pcap', '--db', ref, '--node', 'reference', ...pieces]);
    assert.equal(r.code, 0, r.stderr);
    reference = totals(ref);
    assert.ok(reference.calls.length > 10, 'the pieces hold calls');
  });

  /** Starts `collect pcap --push` for `node` with its own spool store. */
  function collect(node: NodeName, spool: string, url: string, inputs: string[], extra: string[] = []): Collector {
    const child = spawn(process.execPath, [BIN, 'collect', 'pcap', '--db', spool, '--node', node, '--batch-rows', BATCH_ROWS,
      '--push', url, '--token-file', tokenFile[node], '--drain-timeout', '60', ...extra, ...inputs], {
      stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TRUSTMAP_LOG_LEVEL: 'info' },
    });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdout!.resume();
    const done = once(child, 'exit').then(([code]) => code as number | null);
    return { child, stderr: () => err, done };
  }

  async function succeeds(c: Collector): Promise<void> {
    assert.equal(await c.done, 0, c.stderr());
  }

  /** Waits (bounded) until the collector has logged `re`. */
  async function logged(c: Collector, re: RegExp, timeoutMs = 30_000): Promise<void> {
    for (const t0 = Date.now(); !re.test(c.stderr());) {
      if (Date.now() - t0 > timeoutMs) assert.fail(`no ${re} within ${timeoutMs} ms: ${c.stderr()}`);
      if (c.child.exitCode !== null) assert.fail(`the collector exited before ${re}: ${c.stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  function assertComplete(centralDb: string, spools: string[]): void {
    assert.deepEqual(totals(centralDb), reference, 'the central store equals one local collector');
    for (const s of spools) assert.equal(scalar(s, 'SELECT count(*) FROM push_outbox'), 0, `${s}: spool drained`);
    assert.equal(scalar(centralDb, "SELECT count(*) FROM captures WHERE status = 'complete' AND origin IS NOT NULL"), 6, 'six pushed captures');
    assert.equal(scalar(centralDb, 'SELECT count(DISTINCT node) FROM calls'), 2);
  }

  it('(a) the server SIGKILLed and restarted while both collectors run', async () => {
    const db = join(dir, 'central-a.db');
    const [spoolA, spoolB] = [join(dir, 'a-spool-a.db'), join(dir, 'a-spool-b.db')];
    let central: Central = await startCentral(db, tokensFile);
    await Promise.all([succeeds(collect('node-a', spoolA, central.url, [pieces[0]])), succeeds(collect('node-b', spoolB, central.url, [pieces[1]]))]);
    const port = central.port;
    await kill(central.child);
    const a = collect('node-a', spoolA, central.url, [pieces[2]]);
    const b = collect('node-b', spoolB, central.url, [pieces[3]]);
    await Promise.all([logged(a, /central server unreachable/), logged(b, /central server unreachable/)]);
    central = await startCentral(db, tokensFile, port);
    await Promise.all([succeeds(a), succeeds(b)]);
    // Killed again while the last pieces are being sent: whatever it had not committed is resent.
    const a2 = collect('node-a', spoolA, central.url, [pieces[4]]);
    const b2 = collect('node-b', spoolB, central.url, [pieces[5]]);
    for (let i = 0; i < 400 && scalar(db, 'SELECT count(*) FROM ingest_batches') <= 4 * 2; i++) await new Promise((r) => setTimeout(r, 5));
    await kill(central.child);
    central = await startCentral(db, tokensFile, port);
    await Promise.all([succeeds(a2), succeeds(b2)]);
    await kill(central.child, 'SIGTERM');
    assertComplete(db, [spoolA, spoolB]);
  });

  it('(b) a collector SIGKILLed mid-input and mid-resend, and a resend of batches already applied', async () => {
    const db = join(dir, 'central-b.db');
    const [spoolA, spoolB] = [join(dir, 'b-spool-a.db'), join(dir, 'b-spool-b.db')];
    let central: Central = await startCentral(db, tokensFile);
    const port = central.port;
    await Promise.all([succeeds(collect('node-a', spoolA, central.url, [pieces[0]])), succeeds(collect('node-b', spoolB, central.url, [pieces[1]]))]);

    // node-a killed in the middle of an input (standard input, half of piece 2 written): its
    // transaction never commits, so nothing of it is spooled or sent.
    const half = collect('node-a', spoolA, central.url, ['-']);
    const bytes = readFileSync(pieces[2]);
    half.child.stdin!.write(bytes.subarray(0, bytes.length >> 1));
    await new Promise((r) => setTimeout(r, 300));
    await kill(half.child);

    // node-a killed while resending: the server is down, piece 2 is committed to the spool.
    await kill(central.child);
    const resending = collect('node-a', spoolA, central.url, [pieces[2]]);
    await logged(resending, /central server unreachable/);
    await kill(resending.child);
    assert.ok(scalar(spoolA, 'SELECT count(*) FROM push_outbox') > 0, 'piece 2 waits in the spool');

    // node-b spools pieces 3 and 5 while the server is down; a copy of its spool stands for a
    // collector that crashed after the server applied its batches but before it deleted them.
    const spooled = collect('node-b', spoolB, central.url, [pieces[3], pieces[5]], ['--drain-timeout', '0']);
    assert.equal(await spooled.done, 1, spooled.stderr());
    assert.match(spooled.stderr(), /still spooled/);
    const copy = join(dir, 'b-spool-b-copy.db');
    copyFileSync(spoolB, copy);
    if (existsSync(`${spoolB}-wal`)) copyFileSync(`${spoolB}-wal`, `${copy}-wal`);

    central = await startCentral(db, tokensFile, port);
    // Restarted: piece 2 is already recorded locally, its spooled batches go out; piece 4 is new.
    const again = collect('node-a', spoolA, central.url, [pieces[2], pieces[4]]);
    await succeeds(again);
    assert.match(again.stderr(), /piece-2\.pcap: already recorded/);
    await succeeds(collect('node-b', spoolB, central.url, [pieces[3], pieces[5]]));
    const applied = totals(db);
    const batches = scalar(db, 'SELECT count(*) FROM ingest_batches');
    // The crashed copy resends everything it had: every batch is a replay.
    await succeeds(collect('node-b', copy, central.url, [pieces[3], pieces[5]]));
    assert.equal(scalar(copy, 'SELECT count(*) FROM push_outbox'), 0);
    assert.deepEqual(totals(db), applied, 'replays change nothing');
    assert.equal(scalar(db, 'SELECT count(*) FROM ingest_batches'), batches);
    await kill(central.child, 'SIGTERM');
    assertComplete(db, [spoolA, spoolB]);
  });

  it('(c) the network to the server cut for a while, then restored: the spools drain', async () => {
    const db = join(dir, 'central-c.db');
    const [spoolA, spoolB] = [join(dir, 'c-spool-a.db'), join(dir, 'c-spool-b.db')];
    const central = await startCentral(db, tokensFile);
    const proxy = new CutProxy(central.port);
    await proxy.start();
    const via = `http://127.0.0.1:${proxy.port}/`;
    try {
      await Promise.all([succeeds(collect('node-a', spoolA, via, [pieces[0]])), succeeds(collect('node-b', spoolB, via, [pieces[1]]))]);
      await proxy.stop();
      const a = collect('node-a', spoolA, via, [pieces[2], pieces[4]]);
      const b = collect('node-b', spoolB, via, [pieces[3], pieces[5]]);
      await Promise.all([logged(a, /central server unreachable/), logged(b, /central server unreachable/)]);
      // Both inputs recorded and spooled while the network is down.
      for (const [c, s] of [[a, spoolA], [b, spoolB]] as const) {
        for (let i = 0; i < 400 && scalar(s, "SELECT count(*) FROM captures WHERE status = 'complete'") < 3; i++) {
          assert.equal(c.child.exitCode, null, c.stderr());
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(scalar(s, "SELECT count(*) FROM captures WHERE status = 'complete'"), 3);
        assert.ok(scalar(s, 'SELECT count(*) FROM push_outbox') > 0);
      }
      assert.equal(scalar(db, "SELECT count(*) FROM captures WHERE status = 'complete'"), 2, 'only pieces 0 and 1 arrived so far');
      await proxy.start();
      await Promise.all([succeeds(a), succeeds(b)]);
      for (const c of [a, b]) assert.match(c.stderr(), /central server reachable again: the spool drains/);
    } finally {
      await proxy.stop();
      await kill(central.child, 'SIGTERM');
    }
    assertComplete(db, [spoolA, spoolB]);
  });
});
