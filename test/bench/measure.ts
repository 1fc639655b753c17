// What every benchmark suite shares: run a child and measure its wall time and peak RSS, take
// medians, describe the machine, and print aligned tables. Peak RSS and CPU time come from GNU
// time (`/usr/bin/time -f '%e %M %U %S'`, Debian package `time`), which reports the child's
// maximum resident set size and its user and system time; without it they are reported as
// unknown rather than guessed. CPU time is what to compare on a machine others share: wall
// time moves with their load far more.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

export const GNU_TIME = '/usr/bin/time';

/** A suite is one file exporting one of these; run.ts lists them. */
export interface BenchSuite {
  name: string;
  summary: string;
  run(argv: string[]): Promise<SuiteOutcome>;
}

export interface SuiteOutcome {
  /** Performance targets missed: fail the process only under --strict. */
  targetsFailed: number;
  /** Correctness checks failed (counts that disagree with the ground truth): always fail. */
  checksFailed: number;
}

export interface ChildSpec {
  cmd: string;
  args: string[];
  /** Feed this file on standard input through `cat FILE |`, timed as part of the pipeline. */
  stdinFile?: string;
  /** 'capture' keeps stdout in memory (small outputs only), a path writes it there, else /dev/null. */
  stdout?: 'capture' | 'ignore' | { file: string };
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface Sample {
  seconds: number;
  /** Peak resident set size of the measured command (not of `cat`), KiB; null without GNU time. */
  peakRssKiB: number | null;
  /** User + system CPU seconds of the measured command (all its threads), null without GNU time. */
  cpuSeconds: number | null;
  exitCode: number | null;
  isTimedOut: boolean;
  stdout: string;
  stderr: string;
  /** 1-minute load average when the run started: how busy the machine was. */
  load: number;
}

export function hasGnuTime(): boolean {
  return existsSync(GNU_TIME);
}

/** Runs one child (optionally behind `cat FILE |`) and measures it. */
export async function measure(spec: ChildSpec): Promise<Sample> {
  const dir = mkdtempSync(join(tmpdir(), 'trustmap-bench-'));
  const timeFile = join(dir, 'time');
  const useTime = hasGnuTime();
  const cmd = useTime ? GNU_TIME : spec.cmd;
  const args = useTime ? ['-f', '%e %M %U %S', '-o', timeFile, spec.cmd, ...spec.args] : spec.args;
  const out = spec.stdout ?? 'ignore';
  const outFd = typeof out === 'object' ? openSync(out.file, 'w') : out === 'ignore' ? openSync('/dev/null', 'w') : null;
  const load = loadavg()[0];
  const t0 = performance.now();
  const cat = spec.stdinFile !== undefined ? spawn('cat', [spec.stdinFile], { stdio: ['ignore', 'pipe', 'inherit'] }) : null;
  // detached: the child leads its own process group, so a timeout can end it and its children.
  const child = spawn(cmd, args, {
    stdio: [cat ? cat.stdout! : 'ignore', outFd ?? 'pipe', 'pipe'],
    detached: true,
    env: spec.env ?? process.env,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { if (stderr.length < 65536) stderr += s; });
  let isTimedOut = false;
  const timer = spec.timeoutMs === undefined ? null : setTimeout(() => {
    isTimedOut = true;
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    if (cat?.pid !== undefined) cat.kill('SIGKILL');
  }, spec.timeoutMs);
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  if (cat !== null && cat.exitCode === null) await new Promise((resolve) => cat.on('close', resolve));
  const seconds = (performance.now() - t0) / 1000;
  if (timer !== null) clearTimeout(timer);
  if (outFd !== null) closeSync(outFd);
  let peakRssKiB: number | null = null;
  let cpuSeconds: number | null = null;
  if (useTime && existsSync(timeFile)) {
    // GNU time writes "Command exited with non-zero status N" before the format line on failure.
    const last = readFileSync(timeFile, 'utf8').trim().split('\n').pop() ?? '';
    const m = /^([\d.]+) (\d+) ([\d.]+) ([\d.]+)$/.exec(last);
    if (m !== null) {
      peakRssKiB = Number(m[2]);
      cpuSeconds = Number(m[3]) + Number(m[4]);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return { seconds, peakRssKiB, cpuSeconds, exitCode, isTimedOut, stdout, stderr, load };
}

export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export interface Machine {
  date: string;
  nproc: number;
  cpu: string;
  memGiB: number;
  node: string;
  tcpdump: string;
  tshark: string;
  /** The commit measured, and whether the collector's sources differed from it (others' work in progress). */
  commit: string;
  isCollectorDirty: boolean;
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return 'not installed';
  return `${r.stdout}${r.stderr}`.split('\n').find((l) => l.trim() !== '' && !l.startsWith('Running as user'))?.trim() ?? 'unknown';
}

export function describeMachine(): Machine {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const mem = existsSync('/proc/meminfo') ? Number(/^MemTotal:\s*(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) : 0;
  return {
    date: new Date().toISOString(),
    nproc: Number(spawnSync('nproc', [], { encoding: 'utf8' }).stdout.trim()) || cpus().length,
    cpu: model,
    memGiB: Math.round(mem / 1024 / 1024),
    node: process.version,
    tcpdump: firstLine('tcpdump', ['--version']),
    tshark: firstLine('tshark', ['--version']),
    commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim() || 'unknown',
    isCollectorDirty: spawnSync('git', ['status', '--porcelain', '--', 'collector', 'trustmap.ts'], { encoding: 'utf8' }).stdout.trim() !== '',
  };
}

/** A plain-text table with right-aligned numeric columns. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const isNum = head.map((_, i) => rows.every((r) => /^[\d.,×%x<>=~ -]*$|^n\/a$|^timeout/.test(r[i])));
  const line = (cells: string[]) => cells.map((c, i) => (isNum[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}
