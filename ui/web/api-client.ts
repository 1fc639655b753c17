// The page's only door to the server: fetch, then check the answer's shape with zod before any of
// it reaches the DOM. Failures become one ApiError the page can explain (unreachable, signed out,
// refused, not available yet, or an answer it does not understand).
import { z } from 'zod';
import { BLOCKER_KINDS, LEVELS, NODE_KINDS, VERDICTS, type Graph, type Level, type ReadinessReport } from '../../analyzer/model.js';
import { CALL_SOURCES, PROTOCOLS, SECURITIES } from '../../collector/model.js';
import { POLICY_KINDS, SIM_VERDICTS } from '../../analyzer/simulate/model.js';
import type { NodeDetails, SimulatedFormat, Summary, WorkloadDenied, WorkloadPolicy } from '../api/types.js';
import { SIMULATED_FORMATS } from '../api/types.js';

export type ApiErrorKind = 'unreachable' | 'unauthorized' | 'unavailable' | 'not-found' | 'bad-request' | 'server' | 'malformed';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(readonly kind: ApiErrorKind, message: string, readonly status = 0) {
    super(message);
  }
}

const mix = z.object({ mtls: z.number(), tls: z.number(), plaintext: z.number(), unknown: z.number() });
const time = z.string();
const nodeSchema = z.object({
  id: z.string(), kind: z.enum(NODE_KINDS), namespace: z.string().nullable(), name: z.string(),
  workload_kind: z.string().nullable(), service_account: z.string().nullable(), spiffe: z.string().nullable(),
  labels: z.record(z.string(), z.string()), addresses: z.array(z.string()), reason: z.string().nullable(),
});
const callSchema = z.object({
  port: z.number(), transport: z.enum(['tcp', 'udp']), protocol: z.enum(PROTOCOLS), method: z.string().nullable(),
  path: z.string().nullable(), host: z.string().nullable(), sni: z.string().nullable(), security: z.enum(SECURITIES),
  security_reason: z.string().nullable(), count: z.number(), first_seen: time, last_seen: time,
  credentials_in_plaintext: z.boolean(), via_service: z.boolean(), sources: z.array(z.enum(CALL_SOURCES)),
  // Absent when Hubble saw none of the calls DROPPED; kept (zod drops unknown keys) so the panel can say Cilium refused them.
  dropped: z.number().int().min(0).optional(),
});
const edgeSchema = z.object({
  source: z.string(), target: z.string(), ports: z.array(z.number()), protocols: z.array(z.enum(PROTOCOLS)),
  methods: z.array(z.string()), paths: z.array(z.string()), security: mix, security_counts: mix, count: z.number(),
  connections: z.number(), bytes: z.number(), first_seen: time, last_seen: time, credentials_in_plaintext: z.boolean(),
  services: z.array(z.string()), calls: z.array(callSchema),
});
const graphSchema: z.ZodType<Graph> = z.object({
  level: z.enum(LEVELS),
  window: z.object({ since: time.nullable(), until: time.nullable(), first_seen: time.nullable(), last_seen: time.nullable() }),
  nodes: z.array(nodeSchema),
  edges: z.array(edgeSchema),
});
const blockerSchema = z.object({
  kind: z.enum(BLOCKER_KINDS), sources: z.array(z.string()), count: z.number(), last_seen: time.nullable(), detail: z.string(),
});
const workloadReadiness = z.object({
  name: z.string(), verdict: z.enum(VERDICTS),
  coverage: z.object({ observed_from: time.nullable(), observed_to: time.nullable(), calls: z.number(), sources: z.array(z.enum(CALL_SOURCES)) }),
  blockers: z.array(blockerSchema),
});
const readinessSchema: z.ZodType<ReadinessReport> = z.object({
  verdict: z.enum(VERDICTS),
  namespaces: z.array(z.object({ namespace: z.string(), verdict: z.enum(VERDICTS), workloads: z.array(workloadReadiness) })),
});
const summarySchema: z.ZodType<Summary> = z.object({
  counts: z.object({ calls: z.number(), call_rows: z.number(), nodes: z.number(), edges: z.number(), namespaces: z.number(), captures: z.number(),
    dropped: z.number().nullable(), spool_dropped_calls: z.number().nullable(), spool_dropped_verdicts: z.number().nullable() }),
  window: z.object({ first_seen: time.nullable(), last_seen: time.nullable() }),
  namespaces: z.array(z.string()),
  captures: z.array(z.object({
    id: z.number(), source: z.string(), name: z.string(), node: z.string().nullable(), packets: z.number(), malformed: z.number(), dropped: z.number().nullable(), spool_dropped_calls: z.number().nullable(),
    spool_dropped_verdicts: z.number().nullable(), connections: z.number(), calls_written: z.number(), status: z.string(), started_at: z.string(), finished_at: z.string().nullable(),
  })),
  features: z.object({ readiness: z.boolean(), policies: z.boolean(), policy_formats: z.array(z.string()), sign_in: z.boolean() }),
  min_window_ms: z.number(),
});
const peerSchema = z.object({
  peer: z.string(), peer_kind: z.enum(NODE_KINDS).nullable(), count: z.number(), dropped: z.number().int().min(0), security: mix, calls: z.array(callSchema),
});
const detailsSchema: z.ZodType<NodeDetails> = z.object({
  node: nodeSchema, callers: z.array(peerSchema), callees: z.array(peerSchema),
  readiness: workloadReadiness.nullable(),
  namespace_readiness: z.object({ namespace: z.string(), verdict: z.enum(VERDICTS) }).nullable(),
  features: z.object({ readiness: z.boolean() }),
});
const policySchema: z.ZodType<WorkloadPolicy> = z.object({
  format: z.string(), workload: z.string(), yaml: z.string().nullable(),
  blockers: z.array(z.object({ workload: z.string(), callers: z.array(z.string()), reason: z.string() })),
});
const policyRefSchema = z.object({ kind: z.enum(POLICY_KINDS), namespace: z.string(), name: z.string(), file: z.string(), line: z.number() });
const ruleRefSchema = z.object({ policy: policyRefSchema, rule: z.string() });
const deniedSchema: z.ZodType<WorkloadDenied> = z.object({
  format: z.enum(SIMULATED_FORMATS), workload: z.string(),
  window: z.object({ since: time.nullable(), until: time.nullable(), first_seen: time.nullable(), last_seen: time.nullable() }),
  policies: z.object({
    files: z.number(),
    loaded: z.array(z.object({ kind: z.enum(POLICY_KINDS), count: z.number() })),
    unknown: z.array(z.object({ kind: z.string(), count: z.number() })),
  }),
  summary: z.object({ calls: z.number(), requests: z.number(), allowed: z.number(), denied: z.number(), indeterminate: z.number() }),
  calls: z.array(z.object({
    source: z.string(), destination: z.string(), source_ip: z.string().nullable(), destination_ip: z.string().nullable(), port: z.number(), transport: z.enum(['tcp', 'udp']),
    protocol: z.enum(PROTOCOLS), method: z.string().nullable(), path: z.string().nullable(), security: z.enum(SECURITIES),
    count: z.number(), last_seen: time, verdict: z.enum(SIM_VERDICTS),
    findings: z.array(z.object({ layer: z.string(), verdict: z.enum(SIM_VERDICTS), policy: policyRefSchema.nullable(), reason: z.string() })),
    matched: z.array(ruleRefSchema), notes: z.array(z.string()),
  })),
});
const problemSchema = z.object({ detail: z.string() });

async function get<T>(path: string, schema: z.ZodType<T>, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { headers: { accept: 'application/json' }, credentials: 'same-origin', signal });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError('unreachable', 'The trustmap server cannot be reached. Is "trustmap serve" still running?');
  }
  let body: unknown;
  try { body = await res.json(); } catch { body = null; }
  if (!res.ok) {
    const p = problemSchema.safeParse(body);
    const detail = p.success ? p.data.detail : `HTTP ${res.status}`;
    const kind: ApiErrorKind = res.status === 401 ? 'unauthorized' : res.status === 501 ? 'unavailable' : res.status === 404 ? 'not-found'
      : res.status >= 400 && res.status < 500 ? 'bad-request' : 'server';
    throw new ApiError(kind, detail, res.status);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ApiError('malformed', `The server's answer to ${path.split('?')[0]} has an unexpected shape (${issue.message} at ${issue.path.join('.')})`);
  }
  return parsed.data;
}

function withWorkload(q: URLSearchParams, workload: string): URLSearchParams {
  const p = new URLSearchParams(q);
  p.set('workload', workload);
  return p;
}

export const api = {
  summary: (signal?: AbortSignal) => get('/api/summary', summarySchema, signal),
  graph: (q: URLSearchParams, signal?: AbortSignal) => get(`/api/graph?${q}`, graphSchema, signal),
  /** Any node of the map at its level: a service or a namespace is found in that level's graph. */
  node: (id: string, level: Level, q: URLSearchParams, signal?: AbortSignal) => {
    const p = new URLSearchParams(q);
    p.set('id', id);
    p.set('level', level);
    // The panel asks /api/readiness for the verdict itself, so the calls need not wait for it.
    p.set('readiness', 'false');
    return get(`/api/node?${p}`, detailsSchema, signal);
  },
  readiness: (q: URLSearchParams, signal?: AbortSignal) => get(`/api/readiness?${q}`, readinessSchema, signal),
  /** One workload's proposed policy, from the calls of the window `q` (since/until). */
  workloadPolicy: (format: string, workload: string, q: URLSearchParams, signal?: AbortSignal) =>
    get(`/api/policies/${encodeURIComponent(format)}?${withWorkload(q, workload)}`, policySchema, signal),
  denied: (format: SimulatedFormat, workload: string, q: URLSearchParams, signal?: AbortSignal) => {
    const p = new URLSearchParams(q);
    p.set('format', format);
    const [ns, name] = workload.split('/');
    return get(`/api/workloads/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/denied?${p}`, deniedSchema, signal);
  },
  policyDownloadUrl: (format: string, workload: string, q: URLSearchParams) =>
    `/api/policies/${encodeURIComponent(format)}/download?${withWorkload(q, workload)}`,
};
