// Graph → the format's generator → one YAML file per namespace and the YAML per workload (what
// the UI shows), with the blockers. Pure: tests call it with hand-built graphs.
import type { Graph } from '../model.js';
import { cilium } from './cilium.js';
import { istio } from './istio.js';
import { linkerd } from './linkerd.js';
import { POLICY_FORMATS, type GeneratorContext, type PolicyFormat, type PolicyGenerator, type PolicyOptions, type PolicySet } from './model.js';
import { netpol } from './netpol.js';
import { renderObject, streamHeader } from './render.js';

export const GENERATORS: Record<PolicyFormat, PolicyGenerator> = { istio, netpol, cilium, linkerd };

/** A file name for a namespace: namespace names are DNS labels; anything else is neutralized. */
export function namespaceFilename(ns: string): string {
  const safe = ns.replace(/[^a-z0-9-]/g, '_').slice(0, 63);
  return `${safe === '' ? '_' : safe}.yaml`;
}

function header(graph: Graph, opts: PolicyOptions, ns: string): string[] {
  const w = graph.window;
  return [
    `trustmap policy --format ${opts.format} --granularity ${opts.granularity}${opts.dryRun ? ' --dry-run' : ''}: namespace ${ns}`,
    `observed from ${w.first_seen ?? 'n/a'} to ${w.last_seen ?? 'n/a'}; only what was observed is allowed. Review before applying.`,
  ];
}

/** The pure part: a graph in, a policy set out (tests call this with hand-built graphs). */
export function generatePolicies(graph: Graph, ctx: GeneratorContext, opts: PolicyOptions): PolicySet {
  if (!POLICY_FORMATS.includes(opts.format)) throw new Error(`unknown policy format ${JSON.stringify(opts.format)}`);
  const out = GENERATORS[opts.format].generate(graph, ctx, opts);
  // Each object is rendered once and its text shared by its namespace's file and its workload's
  // entry: rendering is most of a proposal's time (5,000 workloads: 16 MB of YAML per format,
  // docs/benchmarks.md "The analyzer suite").
  const byNs = new Map<string, string[]>();
  const byWorkload = new Map<string, string[]>();
  const push = (m: Map<string, string[]>, k: string, doc: string) => { const l = m.get(k); if (l === undefined) m.set(k, [doc]); else l.push(doc); };
  for (const o of out.objects) {
    const doc = `---\n${renderObject(o)}`;
    push(byNs, o.namespace, doc);
    if (o.workload !== null) push(byWorkload, o.workload, doc);
  }
  const files = [...byNs.keys()].sort().map((ns) => ({ namespace: ns, filename: namespaceFilename(ns), yaml: streamHeader(header(graph, opts, ns)) + byNs.get(ns)!.join('') }));
  const workloads: Record<string, string> = {};
  for (const id of [...byWorkload.keys()].sort()) workloads[id] = byWorkload.get(id)!.join('');
  return { format: opts.format, files, workloads, blockers: out.blockers };
}

/** All files as one multi-document stream (what `trustmap policy` prints without --out). */
export function asStream(set: PolicySet): string {
  return set.files.map((f) => f.yaml).join('');
}
