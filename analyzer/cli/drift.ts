// `trustmap drift`: the simulation of `trustmap simulate`, read the other way round: which allow
// rules no call used, which let in more than was observed, and which calls pass only through such
// a wide rule. Table, JSON (exactly DriftReport, docs/simulate.md#drift) or Markdown. Exit 1 when
// there is drift to look at, 0 when none, 2 on bad flags or unreadable input.
import { z } from 'zod';
import type { Command } from '../../collector/cli/command.js';
import { EXIT_FAILURE, EXIT_OK, printable, table } from '../../collector/cli/support.js';
import { drift } from '../simulate/drift.js';
import type { DriftReport } from '../simulate/model.js';
import { mdEscape } from './readiness.js';
import { noCalls, runSimulation, simulationFlags, simulationSpec } from './simulate.js';

const ruleName = (r: { policy: { kind: string; namespace: string; name: string }; rule: string }) => `${r.policy.kind} ${r.policy.namespace}/${r.policy.name} ${r.rule}`;

export const driftCommand: Command = {
  path: ['drift'],
  help: `Compare policies in force with the traffic of a window (the same evaluation as "trustmap
simulate"):
  unused rules      allow rules that matched no recorded call: cleanup candidates
  broad rules       rules that let in a whole namespace, any caller or an address range, with
                    the peers actually observed through them
  broad-only calls  calls that pass only because of such a rule (tighten it to these callers)

Usage:
  trustmap drift --policies PATH... [flags]

Flags:
  --policies PATH    policy file or folder (YAML/JSON; folders recursively); repeatable
  --since T          calls seen at or after T (ISO time, or 24h, 7d back from now)
  --until T          calls that started before T
  --namespace NS     only calls with an end in these namespaces (repeatable)
  --format F         table (default), json (DriftReport) or markdown
  --root-namespace N Istio's root namespace (default istio-system)
  --trust-domain D   SPIFFE trust domain (default cluster.local)
  --db FILE          store file (default $TRUSTMAP_DB or ./trustmap.db)

Examples:
  kubectl get networkpolicies -A -o yaml > live.yaml && trustmap drift --policies live.yaml --since 30d
  trustmap drift --policies policies/ --format json | jq '.unused_rules[].rule'

Exit codes: 0 no drift, 1 drift found or no call in the window, 2 bad flags, an unreadable
store, an unreadable or invalid policy file (with file and line), or no policy "trustmap
simulate" evaluates in them.
`,
  async run(argv, io) {
    const { flags, loaded, report } = runSimulation(argv, simulationSpec, z.object(simulationFlags), 'drift');
    const d = drift(loaded, report, flags.namespace);
    io.stdout.write(flags.format === 'json' ? JSON.stringify(d, null, 2) + '\n' : flags.format === 'markdown' ? driftMarkdown(d) : driftTable(d));
    if (report.summary.calls === 0) {
      io.stderr.write(`${noCalls(flags.namespace)}: no rule can be judged unused\n`);
      return EXIT_FAILURE;
    }
    return d.unused_rules.length + d.broad_rules.length + d.broad_only_calls.length > 0 ? EXIT_FAILURE : EXIT_OK;
  },
};

export function driftTable(d: DriftReport): string {
  const parts: string[] = [];
  if (d.unused_rules.length > 0) {
    parts.push('Unused rules:\n' + table(['RULE', 'FILE', 'ALLOWS'], d.unused_rules.map((r) => [printable(ruleName(r)), printable(`${r.policy.file}:${r.policy.line}`), printable(r.detail)])));
  }
  if (d.broad_rules.length > 0) {
    parts.push('Broader than observed:\n' + table(['RULE', 'ALLOWS', 'OBSERVED'], d.broad_rules.map((r) => [printable(ruleName(r)), printable(r.detail), printable(r.observed.join(', '))])));
  }
  if (d.broad_only_calls.length > 0) {
    parts.push('Calls allowed only by a broad rule:\n' + table(['SOURCE', 'DESTINATION', 'PORT', 'COUNT', 'ONLY THROUGH'], d.broad_only_calls.map((c) => [printable(c.source), printable(c.destination), String(c.port), String(c.count), printable(c.reason)])));
  }
  const counts = `${d.unused_rules.length} unused rules, ${d.broad_rules.length} broad rules, ${d.broad_only_calls.length} calls allowed only by a broad rule`;
  return [...parts, `Window: ${d.window.first_seen ?? 'no calls'} → ${d.window.last_seen ?? 'no calls'}\n${counts}\n`].join('\n');
}

export function driftMarkdown(d: DriftReport): string {
  const lines = [`### Policy drift: ${d.unused_rules.length} unused, ${d.broad_rules.length} broad, ${d.broad_only_calls.length} broad-only calls`, ''];
  if (d.unused_rules.length > 0) {
    lines.push('**Unused rules**', '', '| Rule | File | Allows |', '|---|---|---|');
    for (const r of d.unused_rules) lines.push(`| ${mdEscape(ruleName(r))} | ${mdEscape(`${r.policy.file}:${r.policy.line}`)} | ${mdEscape(r.detail)} |`);
    lines.push('');
  }
  if (d.broad_rules.length > 0) {
    lines.push('**Broader than observed**', '', '| Rule | Allows | Observed |', '|---|---|---|');
    for (const r of d.broad_rules) lines.push(`| ${mdEscape(ruleName(r))} | ${mdEscape(r.detail)} | ${mdEscape(r.observed.join(', '))} |`);
    lines.push('');
  }
  if (d.broad_only_calls.length > 0) {
    lines.push('**Calls allowed only by a broad rule**', '', '| Source | Destination | Port | Count | Only through |', '|---|---|---:|---:|---|');
    for (const c of d.broad_only_calls) lines.push(`| ${mdEscape(c.source)} | ${mdEscape(c.destination)} | ${c.port} | ${c.count} | ${mdEscape(c.reason)} |`);
  }
  return lines.join('\n') + '\n';
}
