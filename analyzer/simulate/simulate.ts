// The simulator: every recorded call of the window → each policy layer → one verdict. A call is
// denied when any layer denies it (Istio's PeerAuthentication or AuthorizationPolicy on the
// destination, NetworkPolicy or Cilium on either end: each must let it through), indeterminate
// when no layer denies but one cannot decide, allowed otherwise. docs/simulate.md.
import { z } from 'zod';
import { DEFAULT_TRUST_DOMAIN } from '../../collector/identity/attribute.js';
import type { Db } from '../../collector/store/db.js';
import { simulationCalls } from './calls.js';
import { loadPolicyTexts } from './load.js';
import { evaluateCilium, hasRulesFor } from './cilium.js';
import { sidecarNote, type IstioOptions } from './istio-common.js';
import { evaluateAuthorization } from './istio-authorization.js';
import { evaluatePeerAuthentication } from './istio-peer-authentication.js';
import { POLICY_KINDS, type CallVerdict, type Finding, type LayerResult, type LoadedPolicy, type LoadResult, type SimCall, type SimulationReport, type SimVerdict } from './model.js';
import { evaluateNetworkPolicy, isolatesPods } from './network-policy.js';
import { hasKind, policiesIn } from './policy-index.js';

export const simulateOptionsSchema = z.object({
  rootNamespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/).default('istio-system'),
  trustDomain: z.string().min(1).max(253).regex(/^[a-z0-9.-]+$/).default(DEFAULT_TRUST_DOMAIN),
  sinceMs: z.number().finite().optional(),
  untilMs: z.number().finite().optional(),
  namespaces: z.array(z.string().min(1)).optional(),
});
export type SimulateOptions = z.input<typeof simulateOptionsSchema>;

/** Kinds that select the destination's pods: a Service with several backends leaves them open. */
function serviceDestination(policies: LoadedPolicy[], call: SimCall, o: IstioOptions): LayerResult | null {
  if (call.destination.kind !== 'service') return null;
  const ns = call.destination.namespace;
  const p = POLICY_KINDS.flatMap((k) => [...policiesIn(policies, k, ns), ...(k === 'AuthorizationPolicy' || k === 'PeerAuthentication' ? policiesIn(policies, k, o.rootNamespace) : [])])[0];
  if (p === undefined) return null;
  return {
    finding: { layer: 'destination', verdict: 'indeterminate', policy: p.ref, reason: `the call went to Service ${call.destination.id}, which has several backends; which pod answered (and so which policies apply) is unknown` },
    matched: [], notes: [],
  };
}

/** Whether a policy can refuse calls at that end: Istio's act on the destination's sidecar. */
function actsAt(p: LoadedPolicy, dir: 'ingress' | 'egress'): boolean {
  switch (p.ref.kind) {
    case 'NetworkPolicy': return isolatesPods(p, dir);
    case 'CiliumNetworkPolicy': return hasRulesFor(p, dir);
    default: return dir === 'ingress';
  }
}

/**
 * An end the inventory does not know is probably a pod it does not list (docs/identity.md,
 * `unattributed`): which policies select it, and so whether they let the call through, is
 * unknown. Any policy of a kind that applies at that end makes the call indeterminate, never
 * allowed (as for a Service whose answering pod is unknown, above).
 */
function unknownEnd(policies: LoadedPolicy[], call: SimCall): LayerResult | null {
  const isSource = call.source.kind === 'unattributed' && policies.some((p) => actsAt(p, 'egress'));
  const isDest = call.destination.kind === 'unattributed' && policies.some((p) => actsAt(p, 'ingress'));
  if (!isDest && !isSource) return null;
  const ends = [...(isSource ? [call.source.id] : []), ...(isDest ? [call.destination.id] : [])];
  const one = ends.length === 1;
  return {
    // No one policy decides: any of them may select the unknown pod.
    finding: {
      layer: 'unknown-address', verdict: 'indeterminate', policy: null,
      reason: `${ends.join(' and ')} ${one ? 'is' : 'are'} not in the inventory (probably ${one ? 'an unlisted pod' : 'unlisted pods'}): whether the policies select ${one ? 'it' : 'them'} is unknown; load a fresher inventory`,
    },
    matched: [], notes: [],
  };
}

/**
 * The note on a call Hubble saw DROPPED every time: it never worked, so a proposal leaves it out
 * (docs/policies.md) and its denial is no change from today.
 */
export const REFUSED_TODAY = 'Hubble saw every one of these calls DROPPED: the cluster refuses them today (trustmap policy leaves refused calls out)';

/** Every layer's answer for one call. */
export function evaluateCall(policies: LoadedPolicy[], call: SimCall, o: IstioOptions): CallVerdict {
  const layers: LayerResult[] = [
    ...[serviceDestination(policies, call, o), unknownEnd(policies, call)].filter((x): x is LayerResult => x !== null),
    evaluatePeerAuthentication(policies, call, o),
    evaluateAuthorization(policies, call, o),
    ...evaluateNetworkPolicy(policies, call),
    ...evaluateCilium(policies, call),
  ];
  const findings = layers.map((l) => l.finding).filter((f): f is Finding => f !== null);
  const istio = hasKind(policies, 'AuthorizationPolicy') || hasKind(policies, 'PeerAuthentication') ? sidecarNote(call) : null;
  const verdict: SimVerdict = findings.some((f) => f.verdict === 'denied') ? 'denied' : findings.some((f) => f.verdict === 'indeterminate') ? 'indeterminate' : 'allowed';
  return {
    source: call.source.id, destination: call.destination.id, source_ip: call.source.ip, destination_ip: call.destination.ip,
    port: call.port, transport: call.transport, protocol: call.protocol, method: call.method, path: call.path,
    security: call.security, count: call.count, last_seen: call.last_seen,
    verdict, findings,
    matched: layers.flatMap((l) => l.matched),
    notes: [...new Set([...layers.flatMap((l) => l.notes), ...(istio !== null ? [istio] : []), ...((call.dropped ?? 0) >= call.count ? [REFUSED_TODAY] : [])])],
  };
}

export function simulateCalls(loaded: LoadResult, calls: SimCall[], o: IstioOptions, window: SimulationReport['window']): SimulationReport {
  const verdicts = calls.map((c) => evaluateCall(loaded.policies, c, o));
  const counts = new Map<string, number>();
  for (const p of loaded.policies) counts.set(p.ref.kind, (counts.get(p.ref.kind) ?? 0) + 1);
  return {
    window,
    policies: {
      files: loaded.files.length,
      loaded: POLICY_KINDS.filter((k) => counts.has(k)).map((kind) => ({ kind, count: counts.get(kind)! })),
      unknown: loaded.unknown,
    },
    summary: summarize(verdicts),
    calls: verdicts,
  };
}

export function summarize(verdicts: CallVerdict[]): SimulationReport['summary'] {
  const summary = { calls: verdicts.length, requests: 0, allowed: 0, denied: 0, indeterminate: 0 };
  for (const v of verdicts) { summary[v.verdict]++; summary.requests += v.count; }
  return summary;
}

/**
 * One workload's calls (as caller and as callee) against policy text in memory: what the UI's
 * workload panel shows for the proposed policies ("would be denied").
 */
export function simulateWorkload(db: Db, texts: Array<{ name: string; text: string; namespace?: string }>, workload: { namespace: string; name: string }, options: SimulateOptions): SimulationReport {
  const o = simulateOptionsSchema.parse(options);
  const id = `${workload.namespace}/${workload.name}`;
  const calls = simulationCalls(db, { sinceMs: o.sinceMs, untilMs: o.untilMs, namespaces: [workload.namespace], trustDomain: o.trustDomain })
    .filter((c) => c.source.id === id || c.destination.id === id);
  // Only the policy files of namespaces these calls touch (and the root namespace) can decide
  // them; parsing YAML is most of the cost (3.3 MB of proposals: 3 s, docs/simulate.md).
  const needed = new Set([o.rootNamespace, workload.namespace, ...calls.flatMap((c) => [c.source.namespace, c.destination.namespace])]);
  const loaded = loadPolicyTexts(texts.filter((t) => t.namespace === undefined || needed.has(t.namespace)));
  return simulateCalls(loaded, calls, o, windowOf(calls, o));
}

function windowOf(calls: SimCall[], o: { sinceMs?: number; untilMs?: number }): SimulationReport['window'] {
  let first: string | null = null, last: string | null = null;
  for (const c of calls) {
    if (first === null || c.first_seen < first) first = c.first_seen;
    if (last === null || c.last_seen > last) last = c.last_seen;
  }
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  return { since: iso(o.sinceMs), until: iso(o.untilMs), first_seen: first, last_seen: last };
}

/** `trustmap simulate`: the store's calls in the window against the loaded policies. */
export function simulate(db: Db, loaded: LoadResult, options: SimulateOptions): SimulationReport {
  const o = simulateOptionsSchema.parse(options);
  const calls = simulationCalls(db, { sinceMs: o.sinceMs, untilMs: o.untilMs, namespaces: o.namespaces, trustDomain: o.trustDomain });
  return simulateCalls(loaded, calls, o, windowOf(calls, o));
}
