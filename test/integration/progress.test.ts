// The progress bar is for people at a terminal: on a TTY (a real pseudo-terminal made by
// util-linux `script`) `collect pcap` draws bytes, packets, rate and ETA on one rewritten line;
// without a TTY it prints nothing but the summary.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { synthCapture } from '../bench/synth-capture.js';
import { BIN, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/ingest.js';

const haveScript = spawnSync('script', ['--version']).status === 0;

// Large enough that reading it spans several progress intervals (250 ms) on any machine.
const dir = tempDir();
const capture = join(dir, 'synth.pcap');
synthCapture({ out: capture, sizeBytes: 96 * 1024 * 1024, format: 'pcap', link: 'ether', seed: 7 });

test('on a terminal: a progress bar with bytes, packets, rate and ETA, then the summary', { skip: haveScript ? false : 'util-linux script is not installed' }, () => {
  const cmd = `${process.execPath} ${BIN} collect pcap --db ${join(dir, 'tty.db')} ${capture}`;
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, COLUMNS: '200' } });
  assert.equal(r.status, 0, r.stderr);
  const frames = r.stdout.split('\r').filter((f) => f.includes('pkt/s'));
  assert.ok(frames.length >= 1, `no progress frame in: ${JSON.stringify(r.stdout.slice(0, 400))}`);
  // Bar, percentage, ETA, bytes, packets and rate, in that order (parts give way on narrow terminals).
  assert.match(frames[0], /^synth\.pcap \[=* *\]\s+\d+%  ETA \d+s  [\d.]+ [kMG]?B\/[\d.]+ [kMG]?B  [\d.]+[kM]? pkts  [\d.]+[kM]? pkt\/s/);

  assert.match(r.stdout, /\x1b\[K\r?\n?files 1 \(1 recorded/, 'the bar is cleared before the summary');
});

test('not on a terminal: only the summary', () => {
  const r = runCli(['collect', 'pcap', '--db', join(dir, 'pipe.db'), capture]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^files 1 \(1 recorded, 0 already recorded, 0 failed\)  packets \d+ .*packets\/s\n$/);
});
