// Drift between policies in force and the traffic of a window (docs/simulate.md#drift): allow
// rules no call matched (cleanup candidates: least privilege decays as services change), rules
// whose peers are wider than what was observed through them (a whole namespace let in, two
// workloads seen), and calls that pass only because of such a wide rule.
import { ciliumRules } from './cilium.js';
import { authorizationRules } from './istio-authorization.js';
import type { BroadOnlyCall, BroadRule, CallVerdict, DriftReport, LoadResult, RuleInfo, RuleRef, SimulationReport, UnusedRule } from './model.js';
import { networkPolicyRules } from './network-policy.js';

const key = (r: RuleRef): string => `${r.policy.kind}\u0000${r.policy.namespace}\u0000${r.policy.name}\u0000${r.policy.file}\u0000${r.rule}`;

/** Which end of a call a rule names: egress rules name the destination, the others the source. */
const isEgress = (r: RuleRef): boolean => /(^|\.)egress\[/.test(r.rule);

/** The policy layer a matched rule belongs to: a call passes a layer on any one of its rules. */
const layerOf = (r: RuleRef): string => `${r.policy.kind}/${r.policy.kind === 'AuthorizationPolicy' ? 'istio' : isEgress(r) ? 'egress' : 'ingress'}`;

export function allowRules(loaded: LoadResult): RuleInfo[] {
  return [...authorizationRules(loaded.policies), ...networkPolicyRules(loaded.policies), ...ciliumRules(loaded.policies)];
}

/**
 * `namespaces`: the calls were limited to these (simulate --namespace), so only rules of policies
 * in them are judged; the others could not have matched calls that were left out.
 */
export function drift(loaded: LoadResult, report: SimulationReport, namespaces?: string[]): DriftReport {
  const wanted = namespaces !== undefined && namespaces.length > 0 ? new Set(namespaces) : null;
  const rules = allowRules(loaded).filter((r) => wanted === null || wanted.has(r.policy.namespace));
  const info = new Map(rules.map((r) => [key(r), r]));
  const uses = new Map<string, CallVerdict[]>();
  for (const c of report.calls) {
    for (const m of c.matched) {
      const k = key(m);
      const l = uses.get(k);
      if (l === undefined) uses.set(k, [c]); else l.push(c);
    }
  }
  const window = `${report.window.first_seen ?? 'n/a'} → ${report.window.last_seen ?? 'n/a'}`;
  // With no call in the window there is nothing to judge a rule by: none is called unused.
  const unused: UnusedRule[] = report.calls.length === 0 ? [] : rules.filter((r) => !uses.has(key(r)))
    .map((r) => ({ ...r, reason: `matched no recorded call (${window}): a cleanup candidate, or traffic the window did not see` }));

  const broad: BroadRule[] = [];
  for (const r of rules) {
    const calls = uses.get(key(r));
    if (calls === undefined || r.breadth === 'narrow') continue;
    const observed = [...new Set(calls.map((c) => (isEgress(r) ? c.destination : c.source)))].sort();
    broad.push({ ...r, observed, reason: `allows ${r.detail}; observed through it: ${observed.length} peer${observed.length === 1 ? '' : 's'} (${observed.join(', ')})` });
  }

  // One entry per source, destination, port and deciding rules: the calls' other differences (a
  // replica's address, the method and path) are not in the entry, so they are summed into one.
  const broadOnly = new Map<string, BroadOnlyCall>();
  for (const c of report.calls) {
    if (c.verdict !== 'allowed') continue;
    const byLayer = new Map<string, RuleRef[]>();
    for (const m of c.matched) byLayer.set(layerOf(m), [...(byLayer.get(layerOf(m)) ?? []), m]);
    for (const [layer, refs] of byLayer) {
      if (!refs.every((m) => (info.get(key(m))?.breadth ?? 'narrow') !== 'narrow')) continue;
      const reason = `${layer}: allowed only by ${refs.map((m) => `${m.policy.namespace}/${m.policy.name} ${m.rule} (${info.get(key(m))!.detail})`).join(', ')}`;
      const k = JSON.stringify([c.source, c.destination, c.port, reason]);
      const had = broadOnly.get(k);
      if (had !== undefined) had.count += c.count;
      else broadOnly.set(k, { source: c.source, destination: c.destination, port: c.port, count: c.count, rules: refs, reason });
    }
  }
  const byRule = (a: RuleRef, b: RuleRef) => key(a).localeCompare(key(b));
  return {
    window: report.window,
    unused_rules: unused.sort(byRule),
    broad_rules: broad.sort(byRule),
    broad_only_calls: [...broadOnly.values()].sort((a, b) => a.source.localeCompare(b.source) || a.destination.localeCompare(b.destination) || a.port - b.port || a.reason.localeCompare(b.reason)),
  };
}
