// The collector benchmark (issue 2): on one synthetic capture, in one run, time the page-cache
// read (`cat`), trustmap's ingest from the file and from standard input, `tcpdump -nn -r` and
// `tshark -q -z conv,tcp`, then check trustmap's counts against the generator's ground truth and
// the targets. docs/benchmarks.md explains the method and keeps the results.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeMachine, hasGnuTime, measure, median, table, type BenchSuite, type Sample, type SuiteOutcome } from './measure.js';
import { FORMATS, GENERATOR_VERSION, LINKS, parseSize, synthCapture, truthPath, type CaptureFormat, type LinkLayer, type SynthTruth } from './synth-capture.js';

export const OUT_DIR = 'test/bench/out';
const TRUSTMAP = 'dist/trustmap.js';

/** Issue 2's targets. */
const TARGETS = {
  vsTshark: 35,
  vsTcpdump: 20,
  peakRssMiB: 200,
  /** Standard input may be at most this much slower than the file. */
  stdinSlowdown: 0.1,
};

interface Options {
  size: string;
  format: CaptureFormat;
  link: LinkLayer;
  seed: number;
  runs: number;
  tsharkRuns: number;
  tsharkTimeoutS: number;
  isBuild: boolean;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      size: { type: 'string', default: '1G' },
      format: { type: 'string', default: 'pcap' },
      link: { type: 'string', default: 'ether' },
      seed: { type: 'string', default: '1' },
      runs: { type: 'string', default: '3' },
      'tshark-runs': { type: 'string', default: '1' },
      'tshark-timeout': { type: 'string', default: '1800' },
      'no-build': { type: 'boolean', default: false },
    },
  });
  const format = values.format as CaptureFormat;
  const link = values.link as LinkLayer;
  if (!FORMATS.includes(format)) throw new Error(`--format must be one of ${FORMATS.join(', ')}`);
  if (!LINKS.includes(link)) throw new Error(`--link must be one of ${LINKS.join(', ')}`);
  parseSize(values.size!);
  const int = (s: string, name: string, min: number): number => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  return {
    size: values.size!, format, link, seed: int(values.seed!, 'seed', 0), runs: int(values.runs!, 'runs', 1),
    tsharkRuns: int(values['tshark-runs']!, 'tshark-runs', 0), tsharkTimeoutS: int(values['tshark-timeout']!, 'tshark-timeout', 1),
    isBuild: !values['no-build'],
  };
}

/** The capture for these arguments, generated once and reused while the generator is unchanged. */
export function capture(o: Pick<Options, 'size' | 'format' | 'link' | 'seed'>): { file: string; truth: SynthTruth } {
  mkdirSync(OUT_DIR, { recursive: true });
  const ext = o.format === 'pcapng' ? 'pcapng' : 'pcap';
  const file = join(OUT_DIR, `synth-v${GENERATOR_VERSION}-${o.size}-${o.link}-seed${o.seed}.${ext}`);
  if (existsSync(file) && existsSync(truthPath(file))) {
    const truth = JSON.parse(readFileSync(truthPath(file), 'utf8')) as SynthTruth;
    if (truth.generatorVersion === GENERATOR_VERSION && statSync(file).size === truth.bytes) {
      say(`reusing ${file}`);
      return { file, truth };
    }
  }
  say(`generating ${file} (${o.size}) ...`);
  const t0 = performance.now();
  const truth = synthCapture({ out: file, sizeBytes: parseSize(o.size), format: o.format, link: o.link, seed: o.seed });
  say(`  ${truth.packets} packets in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { file, truth };
}

export function say(s: string): void {
  process.stdout.write(s + '\n');
}

interface IngestSummary {
  packets: number;
  connections: number;
  calls_written: number;
  malformed: number;
  seconds: number;
  packets_per_second: number;
}

interface CallJson { protocol: string; count: number; connections: number }

function freshDb(name: string): string {
  const db = join(OUT_DIR, name);
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(db + suffix, { force: true });
  return db;
}

function lastJsonLine<T>(s: Sample): T | null {
  const line = s.stdout.trim().split('\n').pop() ?? '';
  try { return JSON.parse(line) as T; } catch { return null; }
}

/** Compares trustmap's tallies with the ground truth; returns the number of mismatches. */
async function verify(label: string, summary: IngestSummary | null, db: string, truth: SynthTruth): Promise<number> {
  const checks: Array<[string, number | null, number]> = [
    ['packets', summary?.packets ?? null, truth.packets],
    ['malformed', summary?.malformed ?? null, 0],
    ['connections (TCP + DNS flows)', summary?.connections ?? null, truth.tcpConnections + truth.dnsFlows],
  ];
  if (db !== '') {
    const callsFile = join(OUT_DIR, 'calls.json');
    const r = await measure({ cmd: process.execPath, args: [TRUSTMAP, 'calls', '--db', db, '--json'], stdout: { file: callsFile } });
    let calls: CallJson[] = [];
    if (r.exitCode === 0) calls = JSON.parse(readFileSync(callsFile, 'utf8')) as CallJson[];
    else say(`  trustmap calls --json failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
    rmSync(callsFile, { force: true });
    const sum = (protocol: string, f: (c: CallJson) => number) => calls.filter((c) => c.protocol === protocol).reduce((n, c) => n + f(c), 0);
    checks.push(
      ['HTTP requests (calls: sum of count, protocol http)', sum('http', (c) => c.count), truth.httpRequests],
      ['HTTP connections', sum('http', (c) => c.connections), truth.httpConnections],
      ['TLS connections', sum('tls', (c) => c.connections), truth.tlsConnections],
      ['DNS queries (calls: sum of count, protocol dns)', sum('dns', (c) => c.count), truth.dnsQueries],
    );
  }
  let bad = 0;
  for (const [what, got, want] of checks) {
    if (got === want) continue;
    bad++;
    say(`  !!! MISMATCH (${label}) ${what}: trustmap ${got ?? 'no summary'}, generator ${want}`);
  }
  if (bad === 0) say(`  counts check (${label}): ${checks.length} of ${checks.length} equal the generator's ground truth`);
  return bad;
}

interface Row {
  name: string;
  samples: Sample[];
}

function medianSeconds(r: Row): number {
  return median(r.samples.filter((s) => !s.isTimedOut).map((s) => s.seconds));
}

function peakRss(r: Row): number | null {
  const xs = r.samples.map((s) => s.peakRssKiB).filter((x): x is number => x !== null);
  return xs.length === 0 ? null : Math.max(...xs) / 1024;
}

async function run(argv: string[]): Promise<SuiteOutcome> {
  const o = options(argv);
  const machine = describeMachine();
  say(`collector benchmark: ${machine.nproc} cpu (${machine.cpu}), ${machine.memGiB} GiB, node ${machine.node}, ${machine.date}, `
    + `commit ${machine.commit}${machine.isCollectorDirty ? ' with uncommitted collector changes' : ''}`);
  if (!hasGnuTime()) say('note: /usr/bin/time not found (Debian package "time"): peak RSS is not measured');
  if (o.isBuild) {
    say('npm run build ...');
    const b = spawnSync('npm', ['run', '--silent', 'build'], { encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`npm run build failed:\n${b.stdout}${b.stderr}`);
  }
  const { file, truth } = capture(o);
  const mb = truth.bytes / 1e6;
  say(`capture: ${file}, ${truth.bytes} bytes, ${truth.packets} packets, ${truth.tcpConnections} TCP connections, `
    + `${truth.httpRequests} HTTP requests, ${truth.tlsConnections} TLS, ${truth.dnsQueries} DNS queries`);

  const catRow: Row = { name: 'cat FILE > /dev/null', samples: [] };
  await measure({ cmd: 'cat', args: [file] }); // warms the page cache
  catRow.samples.push(await measure({ cmd: 'cat', args: [file] }));

  const fileRow: Row = { name: 'trustmap collect pcap FILE', samples: [] };
  const stdinRow: Row = { name: 'cat FILE | trustmap collect pcap -', samples: [] };
  const tcpdumpRow: Row = { name: 'tcpdump -nn -r FILE', samples: [] };
  let checksFailed = 0;
  // Rounds interleave the tools, so a burst of load from a neighbour hits all of them alike.
  for (let k = 0; k < o.runs; k++) {
    say(`round ${k + 1} of ${o.runs}`);
    const db = freshDb('bench-file.db');
    const f = await measure({ cmd: process.execPath, args: [TRUSTMAP, 'collect', 'pcap', '--db', db, '--json', file], stdout: 'capture' });
    fileRow.samples.push(f);
    if (f.exitCode !== 0) say(`  trustmap failed (exit ${f.exitCode}): ${f.stderr.trim()}`);
    if (k === 0) checksFailed += await verify('file', lastJsonLine<IngestSummary>(f), db, truth);
    const sdb = freshDb('bench-stdin.db');
    const s = await measure({ cmd: process.execPath, args: [TRUSTMAP, 'collect', 'pcap', '--db', sdb, '--json', '-'], stdinFile: file, stdout: 'capture' });
    stdinRow.samples.push(s);
    if (k === 0) checksFailed += await verify('stdin', lastJsonLine<IngestSummary>(s), '', truth);
    tcpdumpRow.samples.push(await measure({ cmd: 'tcpdump', args: ['-nn', '-r', file] }));
    say(`  trustmap ${f.seconds.toFixed(2)} s, stdin ${s.seconds.toFixed(2)} s, tcpdump ${tcpdumpRow.samples[k].seconds.toFixed(2)} s (load ${f.load.toFixed(2)})`);
  }
  for (const name of ['bench-file.db', 'bench-stdin.db']) freshDb(name);

  const tsharkRow: Row = { name: 'tshark -q -z conv,tcp -r FILE', samples: [] };
  const hasTshark = spawnSync('tshark', ['--version']).error === undefined;
  if (!hasTshark) say('tshark not installed: skipped');
  for (let k = 0; hasTshark && k < o.tsharkRuns; k++) {
    say(`tshark run ${k + 1} of ${o.tsharkRuns} (timeout ${o.tsharkTimeoutS} s) ...`);
    const t = await measure({ cmd: 'tshark', args: ['-q', '-z', 'conv,tcp', '-r', file], timeoutMs: o.tsharkTimeoutS * 1000 });
    tsharkRow.samples.push(t);
    say(t.isTimedOut ? `  timed out after ${o.tsharkTimeoutS} s` : `  ${t.seconds.toFixed(1)} s`);
  }

  const rows = [catRow, fileRow, stdinRow, tcpdumpRow, tsharkRow].filter((r) => r.samples.length > 0);
  const trustmapS = medianSeconds(fileRow);
  const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a');
  say('');
  say(table(
    ['command', 'runs', 'median s', 'min–max s', 'CPU s', 'packets/s', 'MB/s', 'peak RSS MiB', 'time / trustmap'],
    rows.map((r) => {
      const ok = r.samples.filter((s) => !s.isTimedOut).map((s) => s.seconds);
      const med = medianSeconds(r);
      const rss = peakRss(r);
      const cpu = r.samples.filter((s) => !s.isTimedOut).map((s) => s.cpuSeconds).filter((x): x is number => x !== null);
      return [
        r.name,
        String(r.samples.length),
        ok.length === 0 ? `timeout` : fmt(med, 2),
        ok.length === 0 ? 'n/a' : `${fmt(Math.min(...ok), 2)}–${fmt(Math.max(...ok), 2)}`,
        // For `cat FILE |` pipelines, the measured command's own (trustmap's), not cat's.
        cpu.length === 0 ? 'n/a' : fmt(median(cpu), 2),
        r === catRow ? 'n/a' : fmt(truth.packets / med),
        fmt(mb / med),
        rss === null ? 'n/a' : fmt(rss, 1),
        r === fileRow || r === catRow ? '' : `${fmt(med / trustmapS, 2)}×`,
      ];
    }),
  ));

  const tsharkOk = tsharkRow.samples.some((s) => !s.isTimedOut);
  const tsharkTimedOut = tsharkRow.samples.length > 0 && !tsharkOk;
  // A timeout is a lower bound on tshark's time, so a ratio from it is a lower bound too.
  const tsharkS = tsharkOk ? medianSeconds(tsharkRow) : tsharkTimedOut ? o.tsharkTimeoutS : Number.NaN;
  const rss = Math.max(peakRss(fileRow) ?? Number.NaN, peakRss(stdinRow) ?? Number.NaN);
  const stdinRatio = medianSeconds(stdinRow) / trustmapS;
  const targets: Array<[string, boolean | null, string]> = [
    [`≥ ${TARGETS.vsTshark}× faster than tshark -z conv,tcp`, Number.isNaN(tsharkS) ? null : tsharkS / trustmapS >= TARGETS.vsTshark,
      `${fmt(tsharkS / trustmapS, 1)}×${tsharkTimedOut ? ' (tshark timed out: at least)' : ''}`],
    [`≥ ${TARGETS.vsTcpdump}× faster than tcpdump -nn -r`, medianSeconds(tcpdumpRow) / trustmapS >= TARGETS.vsTcpdump, `${fmt(medianSeconds(tcpdumpRow) / trustmapS, 2)}×`],
    [`peak RSS < ${TARGETS.peakRssMiB} MiB`, Number.isNaN(rss) ? null : rss < TARGETS.peakRssMiB, `${fmt(rss, 1)} MiB`],
    [`stdin within ${TARGETS.stdinSlowdown * 100}% of file speed`, stdinRatio <= 1 + TARGETS.stdinSlowdown, `stdin takes ${fmt(stdinRatio, 2)}× the file's time`],
  ];
  let targetsFailed = 0;
  for (const [what, ok, measured] of targets) {
    if (ok === false) targetsFailed++;
    say(`${ok === null ? 'SKIP' : ok ? 'PASS' : 'FAIL'}  ${what}: ${measured}`);
  }
  if (checksFailed > 0) say(`!!! ${checksFailed} count(s) disagree with the generator: the ingest is wrong, the timings above measure a broken run`);

  const result = {
    machine, options: o, capture: { file, ...truth },
    rows: rows.map((r) => ({ name: r.name, medianSeconds: medianSeconds(r), peakRssMiB: peakRss(r), samples: r.samples.map(({ stdout: _o, stderr: _e, ...s }) => s) })),
    targets: targets.map(([what, ok, measured]) => ({ what, ok, measured })),
    checksFailed,
  };
  const resultFile = join(OUT_DIR, `collector-${machine.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(resultFile, JSON.stringify(result, null, 2) + '\n');
  say(`results: ${resultFile}`);
  return { targetsFailed, checksFailed };
}

export const collectorSuite: BenchSuite = {
  name: 'collector',
  summary: 'pcap ingest vs cat, tcpdump and tshark on a synthetic capture (--size 1G, --runs 3)',
  run,
};
