// One measured run of the analyzer, in a process of its own so its peak RSS is the analyzer's
// alone: the workload graph, the readiness check and the policy proposals in every format, each
// called the way the CLI and the UI call them (store in, result out). Prints one JSON line
// (ChildReport) on stdout; test/bench/analyzer.ts starts it and reads that line.
//   node dist/test/bench/analyzer-child.js STORE.db   (the suite strips the types into dist/ first)
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { openStore } from '../../collector/store/db.js';
import { buildGraph } from '../../analyzer/graph.js';
import { moderateHeapGrowth } from '../../analyzer/heap.js';
import { POLICY_FORMATS, proposePolicies } from '../../analyzer/policy/index.js';
import { checkReadiness } from '../../analyzer/readiness.js';

export interface StepReport {
  name: string;
  ms: number;
  /** CPU time of the process in the step (user + system): less disturbed than wall time when
   *  others' work shares the cores, though never the target. */
  cpuMs: number;
  /** What the step produced, to check it against the store's ground truth. */
  counts: Record<string, number>;
}

export interface ChildReport {
  steps: StepReport[];
  /** Sum of the steps: the figure the target is about. */
  totalMs: number;
  totalCpuMs: number;
  /** VmHWM after the modules were loaded, before the first step (Node, tsx, better-sqlite3, zod...). */
  baselineRssKiB: number;
  /** VmHWM at the end: the peak resident set of the whole process. */
  peakRssKiB: number;
}

const WEEK_MS = 7 * 864e5;

/** The kernel's high-water mark of this process's resident set (proc(5): VmHWM), KiB. */
function vmHwmKiB(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m !== null ? Number(m[1]) : process.resourceUsage().maxRSS;
}

function step<T>(steps: StepReport[], name: string, run: () => T, counts: (x: T) => Record<string, number>): T {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const x = run();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  steps.push({ name, ms, cpuMs: (c.user + c.system) / 1000, counts: counts(x) });
  return x;
}

function main(argv: string[]): void {
  const file = z.string().min(1).parse(argv[0]);
  // As trustmap.ts does before every command that analyses.
  moderateHeapGrowth();
  const db = openStore(file, { readonly: true });
  const baselineRssKiB = vmHwmKiB();
  const steps: StepReport[] = [];
  try {
    step(steps, 'graph (workload level)', () => buildGraph(db, { level: 'workload' }), (g) => ({
      nodes: g.nodes.length, edges: g.edges.length,
      workloadNodes: g.nodes.filter((n) => n.kind === 'workload').length,
      unattributedNodes: g.nodes.filter((n) => n.kind === 'unattributed').length,
      externalNodes: g.nodes.filter((n) => n.kind === 'external').length,
      count: g.edges.reduce((s, e) => s + e.count, 0),
    }));
    step(steps, 'readiness', () => checkReadiness(db, { minWindowMs: WEEK_MS }), (r) => ({
      namespaces: r.namespaces.length,
      workloads: r.namespaces.reduce((s, n) => s + n.workloads.length, 0),
      ready: r.namespaces.reduce((s, n) => s + n.workloads.filter((w) => w.verdict === 'ready').length, 0),
      blocked: r.namespaces.reduce((s, n) => s + n.workloads.filter((w) => w.verdict === 'blocked').length, 0),
      insufficientData: r.namespaces.reduce((s, n) => s + n.workloads.filter((w) => w.verdict === 'insufficient-data').length, 0),
    }));
    for (const format of POLICY_FORMATS) {
      step(steps, `policy ${format}`, () => proposePolicies(db, { format, granularity: 'path', trustDomain: 'cluster.local', istioVersion: '1.26', dryRun: false }), (p) => ({
        files: p.files.length, workloads: Object.keys(p.workloads).length, blockers: p.blockers.length,
        yamlBytes: p.files.reduce((s, f) => s + f.yaml.length, 0),
      }));
    }
  } finally {
    db.close();
  }
  const report: ChildReport = {
    steps, totalMs: steps.reduce((s, x) => s + x.ms, 0), totalCpuMs: steps.reduce((s, x) => s + x.cpuMs, 0), baselineRssKiB, peakRssKiB: vmHwmKiB(),
  };
  process.stdout.write(JSON.stringify(report) + '\n');
}

main(process.argv.slice(2));
