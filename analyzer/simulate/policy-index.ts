// Policies by kind and namespace, built once per loaded set: a call only ever looks at the
// policies of its ends' namespaces (and Istio's root namespace), so evaluating a call costs the
// policies of those namespaces, not all of them (measured on the 5,000-workload bench store with
// 4,968 NetworkPolicies: docs/simulate.md#performance).
import type { LoadedPolicy, PolicyKind } from './model.js';

type Index = Map<PolicyKind, Map<string, LoadedPolicy[]>>;
const cache = new WeakMap<LoadedPolicy[], Index>();
const NONE: LoadedPolicy[] = [];

function index(all: LoadedPolicy[]): Index {
  let idx = cache.get(all);
  if (idx !== undefined) return idx;
  idx = new Map();
  for (const p of all) {
    let byNs = idx.get(p.ref.kind);
    if (byNs === undefined) idx.set(p.ref.kind, (byNs = new Map()));
    const l = byNs.get(p.ref.namespace);
    if (l === undefined) byNs.set(p.ref.namespace, [p]); else l.push(p);
  }
  cache.set(all, idx);
  return idx;
}

/** The policies of `kind` in `namespace`, in load order. */
export function policiesIn<S>(all: LoadedPolicy[], kind: PolicyKind, namespace: string | null): Array<LoadedPolicy<S>> {
  if (namespace === null) return NONE as Array<LoadedPolicy<S>>;
  return (index(all).get(kind)?.get(namespace) ?? NONE) as Array<LoadedPolicy<S>>;
}

/** Whether any policy of `kind` was loaded. */
export const hasKind = (all: LoadedPolicy[], kind: PolicyKind): boolean => index(all).has(kind);
