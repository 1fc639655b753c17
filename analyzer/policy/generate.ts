// Graph → the format's generator → one YAML file per namespace and the YAML per workload (what
// the UI shows), with the blockers. Pure: tests call it with hand-built graphs.
import type { Graph } from '../model.js';
import { cilium } from './cilium.js';
import { istio } from './istio.js';
import { linkerd } from './linkerd.js';
import { POLICY_FORMATS, type GeneratorContext, type PolicyFormat, type PolicyGenerator, type PolicyFile, type PolicyOptions, type PolicySet } from './model.js';
import { netpol } from './netpol.js';
import { renderObject, streamHeader } from './render.js';
import { YamlWriter } from './yaml-emit.js';

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
  // One namespace at a time: its objects are written once into its file (one writer, its buffer
  // reused from file to file), and a workload's YAML is a slice of that file (V8 shares a slice's
  // characters with the file) rather than a second copy of the documents (5,000 workloads,
  // docs/benchmarks.md "The analyzer suite").
  const byNs = new Map<string, number[]>();
  for (let i = 0; i < out.objects.length; i++) {
    const ns = out.objects[i].namespace;
    const list = byNs.get(ns);
    if (list === undefined) byNs.set(ns, [i]);
    else list.push(i);
  }
  const files: PolicyFile[] = [];
  const spans = new Map<string, Array<{ object: number; ns: string; file: string; start: number; end: number }>>();
  const w = new YamlWriter();
  for (const ns of [...byNs.keys()].sort()) {
    const head = streamHeader(header(graph, opts, ns));
    w.reset();
    w.text(head);
    const ends: number[] = [];
    for (const i of byNs.get(ns)!) {
      w.text('---\n');
      renderObject(w, out.objects[i]);
      ends.push(w.length);
    }
    const yaml = w.toString();
    files.push({ namespace: ns, filename: namespaceFilename(ns), yaml });
    byNs.get(ns)!.forEach((i, k) => {
      const w = out.objects[i].workload;
      if (w === null) return;
      const span = { object: i, ns, file: yaml, start: k === 0 ? head.length : ends[k - 1], end: ends[k] };
      const had = spans.get(w);
      if (had === undefined) spans.set(w, [span]);
      else had.push(span);
    });
  }
  const workloads: Record<string, string> = {};
  for (const id of [...spans.keys()].sort()) {
    // In object order, as the generator wrote them; adjacent spans of one file are one slice.
    const list = spans.get(id)!.sort((a, b) => a.object - b.object);
    const parts: string[] = [];
    let first = list[0];
    let last = list[0];
    for (const s of list.slice(1)) {
      if (s.ns === last.ns && s.start === last.end) { last = s; continue; }
      parts.push(first.file.slice(first.start, last.end));
      first = last = s;
    }
    parts.push(first.file.slice(first.start, last.end));
    workloads[id] = parts.length === 1 ? parts[0] : parts.join('');
  }
  return { format: opts.format, files, workloads, blockers: out.blockers };
}

/** All files as one multi-document stream (what `trustmap policy` prints without --out). */
export function asStream(set: PolicySet): string {
  return set.files.map((f) => f.yaml).join('');
}
