// Policy proposals (docs/policies.md): the entry points the CLI and the UI use.
//   proposePolicies(db, opts)          store → graph → generator → YAML files, per-workload YAML, blockers
//   generatePolicies(graph, ctx, opts) the same from a graph in hand
export { POLICY_FORMATS, GRANULARITIES } from './model.js';
export type { DnsTarget, GeneratorContext, Granularity, PolicyBlocker, PolicyFile, PolicyFormat, PolicyGenerator, PolicyOptions, PolicySet, StrictVerdict } from './model.js';
export { asStream, generatePolicies, GENERATORS, namespaceFilename } from './generate.js';
export { DEFAULT_ISTIO_VERSION, DEFAULT_MIN_WINDOW_MS, policyOptionsSchema, proposePolicies } from './propose.js';
