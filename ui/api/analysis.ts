// What the API asks of the analyzer, as one seam: the server takes an `Analysis` so tests and the
// benchmark can serve a fixture graph, while `trustmap serve` wires the analyzer's own functions.
// No analysis happens in ui/: this file only names and forwards.
import type { Graph, GraphQuery, ReadinessReport } from '../../analyzer/model.js';
import type { Db } from '../../collector/store/db.js';
import { buildGraph } from '../../analyzer/graph.js';
import { checkReadiness } from '../../analyzer/readiness.js';

export interface ReadinessOptions {
  namespaces?: string[];
  minWindowMs: number;
  sinceMs?: number;
  untilMs?: number;
  nowMs?: number;
  trustDomain?: string;
}

export interface PolicyOptions {
  format: string;
  granularity?: string;
  trustDomain?: string;
  istioVersion?: string;
  dryRun?: boolean;
  namespaces?: string[];
  sinceMs?: number;
  untilMs?: number;
}

export interface PolicySet {
  format: string;
  files: Array<{ namespace: string; filename: string; yaml: string }>;
  /** 'NS/NAME' → the YAML of that workload's policies. */
  workloads: Record<string, string>;
  blockers: Array<{ workload: string; callers: string[]; reason: string }>;
}

export interface Analysis {
  /** Policy formats proposePolicies accepts (empty while the policy generator is not there). */
  policyFormats: readonly string[];
  buildGraph(db: Db, q: GraphQuery): Graph;
  /** null while the readiness check is not there. */
  checkReadiness: ((db: Db, opts: ReadinessOptions) => ReadinessReport) | null;
  proposePolicies: ((db: Db, opts: PolicyOptions) => PolicySet) | null;
}

/** The analyzer as `trustmap serve` uses it. */
export const storeAnalysis: Analysis = {
  policyFormats: [],
  buildGraph,
  checkReadiness,
  proposePolicies: null,
};
