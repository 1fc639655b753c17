// The memory soak (`npm run bench -- --only soak [--soak-seconds 120] [--sample-every 5]`): the
// real `trustmap collect live` (built binary, worker thread, heap bound, a flush every 10 s) fed
// an endless synthetic stream by a stand-in tcpdump (soak-stream.ts) with ever new flows and
// paths, for a bounded time. RSS of the collector is sampled from /proc every few seconds;
// reported: first, last and peak RSS and the slope. Target: flat memory — the peak of the last
// third of the run no higher than the peak of the middle third (+5 %, +8 MiB for GC noise).
// Checked: the capture ends complete, exit 0, and it recorded exactly the packets written.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { describeMachine, table, type BenchSuite, type SuiteOutcome } from './measure.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'dist', 'trustmap.js');
const TSX_LOADER = join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');
const STREAM = fileURLToPath(new URL('./soak-stream.ts', import.meta.url));

interface RssSample { seconds: number; rssMiB: number; packets: number }

function rssMiB(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Packets the collector has committed so far (a second, read-only connection). */
function committedPackets(db: string): number {
  if (!existsSync(db)) return 0;
  const c = new Database(db, { readonly: true });
  try {
    return (c.prepare('SELECT coalesce(max(packets), 0) FROM captures').pluck().get() as number);
  } catch {
    return 0;
  } finally {
    c.close();
  }
}

/** Least-squares slope of RSS over time, MiB per hour. */
function slopeMiBPerHour(xs: RssSample[]): number {
  const n = xs.length;
  if (n < 2) return Number.NaN;
  const mx = xs.reduce((a, s) => a + s.seconds, 0) / n;
  const my = xs.reduce((a, s) => a + s.rssMiB, 0) / n;
  let num = 0, den = 0;
  for (const s of xs) { num += (s.seconds - mx) * (s.rssMiB - my); den += (s.seconds - mx) ** 2; }
  return (num / den) * 3600;
}

async function run(argv: string[]): Promise<SuiteOutcome> {
  const { values } = parseArgs({
    args: argv, strict: false,
    options: { 'soak-seconds': { type: 'string', default: '120' }, 'sample-every': { type: 'string', default: '5' }, 'no-build': { type: 'boolean' } },
  });
  const seconds = Number(values['soak-seconds']);
  const every = Number(values['sample-every']);
  if (!(seconds >= 10 && seconds <= 7 * 86400) || !(every >= 1 && every <= seconds / 3)) {
    throw new Error('--soak-seconds must be 10 s to 7 days, --sample-every 1 s to a third of it');
  }
  if (!values['no-build']) {
    const b = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    if (b.status !== 0) throw new Error('npm run build failed');
  }
  const dir = mkdtempSync(join(tmpdir(), 'trustmap-soak-'));
  const db = join(dir, 'soak.db');
  const countFile = join(dir, 'written');
  // The stand-in tcpdump, first in PATH.
  writeFileSync(join(dir, 'tcpdump'), `#!/bin/sh\nexec "${process.execPath}" --import "${TSX_LOADER}" "${STREAM}" "$@"\n`);
  chmodSync(join(dir, 'tcpdump'), 0o755);
  const machine = describeMachine();
  process.stdout.write(`soak: collect live for ${seconds} s, RSS every ${every} s (${machine.nproc} cores, load ${spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.split(' ')[0]}, commit ${machine.commit}${machine.isCollectorDirty ? ' + uncommitted collector changes' : ''})\n`);

  const child = spawn(process.execPath, [BIN, 'collect', 'live', '--interface', 'soak', '--db', db, '--flush-interval', '10s', '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}`, TRUSTMAP_LOG_LEVEL: 'warn', SOAK_COUNT_FILE: countFile },
  });
  let stdout = '', stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 65536) stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const samples: RssSample[] = [];
  const t0 = Date.now();
  while (Date.now() - t0 < seconds * 1000 && child.exitCode === null) {
    await new Promise((r) => setTimeout(r, every * 1000));
    const rss = rssMiB(child.pid!);
    if (rss !== null) samples.push({ seconds: (Date.now() - t0) / 1000, rssMiB: rss, packets: committedPackets(db) });
  }
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const code = await exited;
  clearTimeout(timer);
  const wall = (Date.now() - t0) / 1000;

  let checksFailed = 0;
  let summary: { packets: number; connections: number; calls_written: number; flushes: number; status: string; dropped: number | null } | null = null;
  try { summary = JSON.parse(stdout); } catch { /* reported below */ }
  const written = existsSync(countFile) ? Number(readFileSync(countFile, 'utf8')) : null;
  if (code !== 0 || summary === null || summary.status !== 'complete') {
    process.stdout.write(`CHECK FAILED: collect live exited ${code}: ${stderr.trim().split('\n').pop() ?? ''}\n`);
    checksFailed++;
  } else if (written === null || summary.packets !== written) {
    process.stdout.write(`CHECK FAILED: ${written} packets written, ${summary.packets} recorded\n`);
    checksFailed++;
  }

  const third = Math.floor(samples.length / 3);
  const mid = samples.slice(third, 2 * third);
  const last = samples.slice(2 * third);
  const peak = (xs: RssSample[]) => Math.max(...xs.map((s) => s.rssMiB));
  const isFlat = mid.length > 0 && last.length > 0 && peak(last) <= peak(mid) * 1.05 + 8;
  const afterWarmup = samples.slice(Math.ceil(samples.length / 5));
  // The GC sawtooth makes a regression over raw samples swing with the phase at which the run
  // ends; the peaks of fixed windows (a sixth of the run) show growth if there is any.
  const width = seconds / 6;
  const windowPeaks: RssSample[] = [];
  for (let k = 0; k < 6; k++) {
    const w = samples.filter((x) => x.seconds > k * width && x.seconds <= (k + 1) * width);
    if (w.length > 0) windowPeaks.push({ seconds: (k + 0.5) * width, rssMiB: peak(w), packets: 0 });
  }
  const fmt = (n: number) => n.toFixed(1);
  process.stdout.write(table(
    ['t (s)', 'RSS (MiB)', 'packets committed'],
    samples.map((s) => [s.seconds.toFixed(0), fmt(s.rssMiB), String(s.packets)]),
  ));
  const rows = [
    ['run', `${wall.toFixed(0)} s`],
    ['packets', `${summary?.packets ?? 'n/a'} (${summary ? Math.round(summary.packets / wall) : 'n/a'}/s), written ${written ?? 'n/a'}`],
    ['connections', String(summary?.connections ?? 'n/a')],
    ['calls written (rows, all flushes)', String(summary?.calls_written ?? 'n/a')],
    ['flushes', String(summary?.flushes ?? 'n/a')],
    ['RSS first / last / peak', samples.length ? `${fmt(samples[0].rssMiB)} / ${fmt(samples[samples.length - 1].rssMiB)} / ${fmt(peak(samples))} MiB` : 'n/a'],
    ['RSS peak middle third / last third', mid.length && last.length ? `${fmt(peak(mid))} / ${fmt(peak(last))} MiB` : 'n/a'],
    ['RSS slope after the first fifth', `${fmt(slopeMiBPerHour(afterWarmup))} MiB/h`],
    ['RSS peak per sixth of the run', windowPeaks.map((w) => fmt(w.rssMiB)).join(' ')],
    ['slope of those peaks (from the second)', `${fmt(slopeMiBPerHour(windowPeaks.slice(1)))} MiB/h`],
    ['flat (target)', isFlat ? 'yes' : 'NO'],
  ];
  process.stdout.write(table(['measure', 'value'], rows));
  rmSync(dir, { recursive: true, force: true });
  return { targetsFailed: isFlat ? 0 : 1, checksFailed };
}

export const soakSuite: BenchSuite = {
  name: 'soak',
  summary: 'collect live on an endless synthetic stream for a bounded time: RSS first/last/peak, slope, flat or not',
  run,
};
