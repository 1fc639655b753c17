// What the API asks of the analyzer, as one seam: the server takes an `Analysis` so tests and the
// benchmark can serve a fixture graph, while `trustmap serve` wires the analyzer's own functions.
// No analysis happens in ui/: this file only names and forwards.
import type { Graph, GraphQuery, ReadinessReport } from '../../analyzer/model.js';
import type { Db } from '../../collector/store/db.js';
import { buildGraph } from '../../analyzer/graph.js';
import { POLICY_FORMATS, policyOptionsSchema, proposePolicies } from '../../analyzer/policy/index.js';
import { HttpProblem } from './problem.js';
import { checkReadiness, type ReadinessOptions } from '../../analyzer/readiness.js';
import type { SimulationReport } from '../../analyzer/simulate/model.js';
import { simulateWorkload } from '../../analyzer/simulate/simulate.js';

export interface PolicyOptions {
  format: string;
  granularity?: string;
  trustDomain?: string;
  istioVersion?: string;
  dryRun?: boolean;
  namespaces?: string[];
  sinceMs?: number;
  untilMs?: number;
  /** The window readiness needs before PeerAuthentication goes STRICT (serve's --min-window). */
  minWindowMs?: number;
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
  /** Policy files replayed against one workload's calls (docs/simulate.md); absent where not wired. */
  simulatePolicies?: ((db: Db, files: Array<{ namespace: string; filename: string; yaml: string }>, workload: { namespace: string; name: string }, opts: { sinceMs?: number; untilMs?: number; trustDomain?: string }) => SimulationReport) | null;
}

/** The API's query names for the policy options the analyzer validates beyond params.ts. */
const POLICY_PARAM: Record<string, string> = { granularity: 'granularity', istioVersion: 'istio_version', trustDomain: 'trust_domain', format: 'format' };

/** The analyzer's own validation of policy options; a refusal is the caller's 400, not a 500. */
function policyOptionsOr400(opts: PolicyOptions) {
  const r = policyOptionsSchema.safeParse(opts);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const key = String(issue.path[0] ?? '');
  throw new HttpProblem(400, `${issue.message} (at: query.${POLICY_PARAM[key] ?? key})`, 'urn:trustmap:problem:invalid-parameter');
}

/** The analyzer as `trustmap serve` uses it. */
export const storeAnalysis: Analysis = {
  policyFormats: POLICY_FORMATS,
  buildGraph,
  checkReadiness,
  proposePolicies: (db, opts) => proposePolicies(db, policyOptionsOr400(opts)),
  simulatePolicies: (db, files, workload, opts) => simulateWorkload(db, files.map((f) => ({ name: f.filename, text: f.yaml, namespace: f.namespace })), workload, opts),
};
