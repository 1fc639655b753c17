// The policy generators' types, in one place. Every format is a plugin of one shape
// (`{ name, generate(graph, ctx, opts) }`, like knip's plugins); index.ts turns what they return
// into YAML files. Enums have one source of truth each (a const tuple).
import type { Graph, GraphNode } from '../model.js';

export const POLICY_FORMATS = ['istio', 'netpol', 'cilium', 'linkerd'] as const;
export type PolicyFormat = (typeof POLICY_FORMATS)[number];

/** How much an allow rule says: path (default, narrowest) ⊂ method ⊂ port ⊂ workload. */
export const GRANULARITIES = ['workload', 'port', 'method', 'path'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

export interface PolicyOptions {
  format: PolicyFormat;
  granularity: Granularity;
  /** SPIFFE / Linkerd trust domain, `cluster.local` unless the mesh was installed otherwise. */
  trustDomain: string;
  /** Istio version as `X.Y[.Z]`; below 1.22 the objects are `v1beta1` and path templates become prefix matches. */
  istioVersion: string;
  /** Istio's root namespace (meshConfig.rootNamespace): policies there apply mesh-wide, so none is proposed in it. */
  istioRootNamespace?: string;
  /** Emit in each format's non-enforcing mode (docs/policies.md says what that is per format). */
  dryRun: boolean;
  namespaces?: string[];
  sinceMs?: number;
  untilMs?: number;
  /** Observed traffic the readiness check needs before it calls anything ready (Istio's PeerAuthentication). */
  minWindowMs?: number;
  /**
   * Istio only: allow node and external callers by their observed /32 address (`ipBlocks`).
   * Off by default: such callers are reported as blockers instead of being let in by address.
   */
  allowByAddress?: boolean;
}

export interface PolicyBlocker {
  /** NAMESPACE/NAME of the workload the policy protects. */
  workload: string;
  /** Caller node ids. */
  callers: string[];
  reason: string;
}

export interface PolicyFile {
  namespace: string;
  filename: string;
  yaml: string;
}

export interface PolicySet {
  format: PolicyFormat;
  /** One file per namespace, sorted by namespace. */
  files: PolicyFile[];
  /** NAMESPACE/NAME → the YAML of the objects written for that workload. */
  workloads: Record<string, string>;
  blockers: PolicyBlocker[];
}

/** The cluster's DNS servers as the inventory lists them (never assumed labels). */
export interface DnsTarget {
  namespace: string;
  /** Workload labels of the DNS pods: what a selector uses. */
  labels: Record<string, string>;
  /** Pod ports DNS is served on (the Service's target ports), usually 53. */
  ports: number[];
}

/** The readiness check's verdict on STRICT mTLS for one workload or namespace (analyzer/readiness.ts). */
export interface StrictVerdict {
  isReady: boolean;
  /** Why, one phrase, for the comment above the PeerAuthentication. */
  reason: string;
}

export interface GeneratorContext {
  dns: DnsTarget[];
  /**
   * Whether STRICT mTLS is safe for a workload (NAMESPACE/NAME) or a namespace, as the readiness
   * check decided. null when there is no verdict (a hand-built graph in a test): the generator
   * then decides from the observed calls alone.
   */
  strictReadiness(workloadIdOrNamespace: string): StrictVerdict | null;
}

/** One Kubernetes object a generator proposes, with the observations it comes from. */
export interface ProposedObject {
  namespace: string;
  /** NAMESPACE/NAME of the workload it is for; null for namespace-wide objects. */
  workload: string | null;
  /** One line each; made safe (no line breaks or control characters) when written. */
  comments: string[];
  object: { apiVersion: string; kind: string; metadata: { name: string; namespace: string; annotations?: Record<string, string> }; spec: object };
}

export interface GeneratorOutput {
  objects: ProposedObject[];
  blockers: PolicyBlocker[];
}

export interface PolicyGenerator {
  name: PolicyFormat;
  generate(graph: Graph, ctx: GeneratorContext, opts: PolicyOptions): GeneratorOutput;
}

export type { Graph, GraphNode };
