// The analyzer benchmark (issue 6): on a synthetic store of 5,000 workloads in 200 namespaces and
// 100,000 call rows over 7 days (test/bench/synth-store.ts, generated once and cached), run the
// workload graph, the readiness check and the policy proposals in all four formats in a fresh
// process (test/bench/analyzer-child.ts, run as JavaScript against dist/ like the CLI), --runs times. Each run reports every step's time and the
// process's peak RSS; the suite prints medians and the spread, checks the results against the
// store's ground truth, and compares with the targets. docs/benchmarks.md keeps the results.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { transformSync } from 'esbuild';
import { z } from 'zod';
import type { ChildReport } from './analyzer-child.js';
import { describeMachine, measure, median, table, type BenchSuite, type SuiteOutcome } from './measure.js';
import { cachedStore, ISSUE_6_SHAPE, type StoreShape, type StoreTruth } from './synth-store.js';

const OUT_DIR = 'test/bench/out';
const CHILD = 'test/bench/analyzer-child.ts';
// The child as JavaScript inside dist/, so its relative imports reach the compiled analyzer the
// CLI and the server run, and the process carries no TypeScript loader: tsx's loader thread was
// 35-40 MiB of the peak RSS (measured 2026-11-23, docs/benchmarks.md).
const CHILD_JS = 'dist/test/bench/analyzer-child.js';

/** Issue 6's targets: all six steps together, and the process's peak resident set. */
const TARGETS = { totalMs: 2000, peakRssMiB: 400 };

const say = (s: string) => process.stdout.write(`${s}\n`);

const optionsSchema = z.object({
  workloads: z.coerce.number().int().min(4),
  namespaces: z.coerce.number().int().min(4),
  rows: z.coerce.number().int().min(1),
  days: z.coerce.number().positive(),
  seed: z.coerce.number().int().min(0),
  runs: z.coerce.number().int().min(1),
  maxOldSpace: z.coerce.number().int().min(16).optional(),
  isBuild: z.boolean(),
});

function options(argv: string[]): StoreShape & { runs: number; maxOldSpace?: number; isBuild: boolean } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      workloads: { type: 'string', default: String(ISSUE_6_SHAPE.workloads) },
      namespaces: { type: 'string', default: String(ISSUE_6_SHAPE.namespaces) },
      rows: { type: 'string', default: String(ISSUE_6_SHAPE.rows) },
      days: { type: 'string', default: String(ISSUE_6_SHAPE.days) },
      seed: { type: 'string', default: String(ISSUE_6_SHAPE.seed) },
      runs: { type: 'string', default: '3' },
      // V8's old-generation limit for the child, MiB (node --max-old-space-size). Unset, V8 sizes
      // it from the machine's memory and collects lazily: the peak RSS then says more about V8's
      // heuristics than about what the analysis keeps alive.
      'max-old-space': { type: 'string' },
      // Measure dist/ as it is (built by hand, or by an earlier suite of the same run).
      'no-build': { type: 'boolean', default: false },
    },
  });
  const r = optionsSchema.safeParse({ ...values, maxOldSpace: values['max-old-space'], isBuild: !values['no-build'] });
  if (!r.success) throw new Error(r.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; '));
  return r.data;
}

/** What the analyzer must have found in the store, whatever its speed. Returns the mismatches. */
function verify(report: ChildReport, truth: StoreTruth): string[] {
  const counts = new Map(report.steps.map((s) => [s.name, s.counts]));
  const graph = counts.get('graph (workload level)') ?? {};
  const readiness = counts.get('readiness') ?? {};
  const checks: Array<[string, number | undefined, number]> = [
    ['graph: workload nodes = workloads with running pods', graph.workloadNodes, truth.runningWorkloads],
    ['graph: unattributed nodes (every address is in the inventory)', graph.unattributedNodes, 0],
    ['graph: sum of edge counts = sum of row counts', graph.count, truth.totalCount],
    ['readiness: workloads = controllers in the inventory', readiness.workloads, truth.workloads],
    ['readiness: namespaces', readiness.namespaces, truth.namespaces],
  ];
  for (const s of report.steps.filter((x) => x.name.startsWith('policy '))) {
    // Istio proposes nothing in the mesh's root namespace, istio-system (docs/policies.md).
    const want = s.name === 'policy istio' ? truth.namespaces - 1 : truth.namespaces;
    checks.push([`${s.name}: one file per namespace (Istio: but its root namespace)`, s.counts.files, want]);
  }
  return checks.filter(([, got, want]) => got !== want).map(([what, got, want]) => `${what}: analyzer ${got ?? 'n/a'}, store ${want}`);
}

/** The child's TypeScript stripped to JavaScript (one file, imports unchanged) at CHILD_JS. */
function compileChild(): void {
  const { code } = transformSync(readFileSync(CHILD, 'utf8'), { loader: 'ts', format: 'esm', target: 'es2022', sourcefile: CHILD });
  mkdirSync(join(CHILD_JS, '..'), { recursive: true });
  writeFileSync(CHILD_JS, code);
}

async function run(argv: string[]): Promise<SuiteOutcome> {
  const o = options(argv);
  const machine = describeMachine();
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'analyzer', 'collector/identity', 'collector/store'], { encoding: 'utf8' }).stdout.trim();
  say(`analyzer benchmark: ${machine.nproc} cpu (${machine.cpu}), ${machine.memGiB} GiB, node ${machine.node}, ${machine.date}, `
    + `commit ${machine.commit}${dirty !== '' ? ' with uncommitted changes in analyzer/ or collector/' : ''}`);
  if (o.maxOldSpace !== undefined) say(`child heap: --max-old-space-size=${o.maxOldSpace}`);
  if (o.isBuild) {
    say('npm run build ...');
    const b = spawnSync('npm', ['run', '--silent', 'build'], { encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`npm run build failed:\n${b.stdout}${b.stderr}`);
  }
  compileChild();
  const t0 = performance.now();
  const { file, truth, isReused } = cachedStore(OUT_DIR, o);
  say(`${isReused ? 'reusing' : `generated (${((performance.now() - t0) / 1000).toFixed(1)} s)`} ${file}: ${truth.workloads} workloads `
    + `(${truth.runningWorkloads} running, ${truth.pods} pods) in ${truth.namespaces} namespaces, ${truth.services} services, ${truth.nodes} nodes, `
    + `${truth.rows} call rows (${truth.callShapes} call shapes) over ${((truth.lastSeenMs - truth.firstSeenMs) / 864e5).toFixed(1)} days`);

  const reports: ChildReport[] = [];
  const loads: number[] = [];
  let checksFailed = 0;
  for (let k = 0; k < o.runs; k++) {
    const heap = o.maxOldSpace !== undefined ? [`--max-old-space-size=${o.maxOldSpace}`] : [];
    const s = await measure({ cmd: process.execPath, args: [...heap, CHILD_JS, file], stdout: 'capture' });
    if (s.exitCode !== 0) throw new Error(`${CHILD} failed (exit ${s.exitCode}): ${s.stderr.trim()}`);
    const report = JSON.parse(s.stdout.trim().split('\n').pop() ?? '') as ChildReport;
    reports.push(report);
    loads.push(s.load);
    say(`run ${k + 1} of ${o.runs}: ${report.totalMs.toFixed(0)} ms (CPU ${report.totalCpuMs.toFixed(0)} ms), peak RSS ${(report.peakRssKiB / 1024).toFixed(0)} MiB (load ${s.load.toFixed(2)})`);
    if (k === 0) {
      const bad = verify(report, truth);
      for (const b of bad) say(`  !!! MISMATCH ${b}`);
      checksFailed += bad.length;
    }
  }

  const fmt = (n: number) => n.toFixed(0);
  const spread = (xs: number[]) => `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;
  const rows = reports[0].steps.map((step, i) => {
    const ms = reports.map((r) => r.steps[i].ms);
    const cpu = reports.map((r) => r.steps[i].cpuMs);
    return [step.name, fmt(median(ms)), spread(ms), fmt(median(cpu))];
  });
  const total = reports.map((r) => r.totalMs);
  const rss = reports.map((r) => r.peakRssKiB / 1024);
  const base = reports.map((r) => r.baselineRssKiB / 1024);
  rows.push(['all six steps', fmt(median(total)), spread(total), fmt(median(reports.map((r) => r.totalCpuMs)))]);
  say('');
  say(table(['step', 'median ms', 'min–max ms', 'median CPU ms'], rows));
  say(`peak RSS: median ${fmt(median(rss))} MiB (${spread(rss)}); of which ${fmt(median(base))} MiB before the first step (node, modules)`);
  const targets: Array<[string, boolean, string]> = [
    [`graph + readiness + 4 policy formats < ${TARGETS.totalMs} ms`, median(total) < TARGETS.totalMs, `median ${fmt(median(total))} ms`],
    [`peak RSS < ${TARGETS.peakRssMiB} MiB`, Math.max(...rss) < TARGETS.peakRssMiB, `at most ${fmt(Math.max(...rss))} MiB`],
  ];
  for (const [what, ok, measured] of targets) say(`${ok ? 'PASS' : 'FAIL'}  ${what}: ${measured}`);
  if (checksFailed > 0) say(`!!! ${checksFailed} result(s) disagree with the store: the timings above measure a broken analysis`);

  const resultFile = join(OUT_DIR, `analyzer-${machine.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(resultFile, JSON.stringify({ machine, isDirty: dirty !== '', options: o, store: { file, ...truth }, loads, reports,
    targets: targets.map(([what, ok, measured]) => ({ what, ok, measured })), checksFailed }, null, 2) + '\n');
  say(`results: ${resultFile}`);
  return { targetsFailed: targets.filter(([, ok]) => !ok).length, checksFailed };
}

export const analyzerSuite: BenchSuite = {
  name: 'analyzer',
  summary: 'graph, readiness and 4 policy formats on 5,000 workloads / 100,000 call rows over 7 days (--runs 3)',
  run,
};
