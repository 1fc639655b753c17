// Every query and path parameter the API accepts, as zod schemas: one place says what is valid.
// Objects are strict, so a misspelt parameter is a 400 rather than silently ignored.
import { z } from 'zod';
import { LEVELS } from '../../analyzer/model.js';
import { timeFlag } from '../../collector/cli/commands.js';
import { PROTOCOLS, SECURITIES } from '../../collector/model.js';
import { SIMULATED_FORMATS } from './types.js';

/** `a,b` or `?x=a&x=b` (or both) as one list; empty items dropped. */
function list<O extends string>(item: z.ZodType<O, string>) {
  return z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== ''))
    .pipe(z.array(item).max(200));
}

/** A Kubernetes namespace name (RFC 1123 label). */
export const namespaceName = z.string().max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'not a Kubernetes namespace name');
/** A workload name (RFC 1123 subdomain). */
const objectName = z.string().max(253).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'not a Kubernetes object name');

const bool = z.enum(['true', 'false', '1', '0']).transform((s) => s === 'true' || s === '1');

/** ISO-8601 time or a duration back from now (30m, 24h, 7d), as epoch milliseconds. */
const time = z.string().max(64).pipe(timeFlag);

/** Durations like 90s, 30m, 24h, 7d, 2w (also 0s). */
export const duration = z
  .string()
  .regex(/^\d{1,6}(s|m|h|d|w)$/, 'not a duration like 30m, 24h or 7d')
  .transform((s) => Number(s.slice(0, -1)) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 }[s.slice(-1) as 's' | 'm' | 'h' | 'd' | 'w']);

const window = {
  since: time.optional(),
  until: time.optional(),
};

function checkWindow(v: { since?: number; until?: number }, ctx: z.RefinementCtx): void {
  if (v.since !== undefined && v.until !== undefined && v.since >= v.until) {
    ctx.addIssue({ code: 'custom', message: 'since must be before until', path: ['since'] });
  }
}

export const graphQuery = z
  .strictObject({
    level: z.enum(LEVELS).default('workload'),
    ...window,
    namespace: list(namespaceName).optional(),
    protocol: list(z.enum(PROTOCOLS)).optional(),
    security: list(z.enum(SECURITIES)).optional(),
    /** Hide infrastructure traffic: kubelet probes, metrics scrapes, DNS. */
    hide_infra: bool.default(false),
  })
  .superRefine(checkWindow);
export type GraphParams = z.infer<typeof graphQuery>;


/** `NAMESPACE/NAME` of a workload. */
export const workloadId = z
  .string()
  .max(320)
  .transform((s) => s.split('/'))
  .pipe(z.tuple([namespaceName, objectName]))
  .transform(([namespace, name]) => ({ namespace, name, id: `${namespace}/${name}` }));

export const workloadPath = z.strictObject({ namespace: namespaceName, name: objectName });

/** Any graph node id: NS/NAME, node:NAME, external:NAME-OR-IP, unattributed:IP. Printable ASCII only. */
export const nodeId = z.string().min(1).max(320).regex(/^[\x21-\x7e]+$/, 'not a node id');

/**
 * `readiness=false` leaves the verdict out: the page shows a node's calls at once and asks
 * /api/readiness for the verdict beside them (that check reads the whole graph).
 */
const withReadiness = { readiness: bool.default(true) };

/** The map's level: a service or namespace node is looked up in that level's graph, not the workloads'. */
export const nodeQuery = z.strictObject({ ...window, ...withReadiness, id: nodeId, level: z.enum(LEVELS).default('workload') }).superRefine(checkWindow);
export const workloadQuery = z.strictObject({ ...window, ...withReadiness }).superRefine(checkWindow);

export const readinessQuery = z
  .strictObject({
    ...window,
    namespace: list(namespaceName).optional(),
    min_window: duration.optional(),
    trust_domain: z.string().max(253).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'not a trust domain').optional(),
  })
  .superRefine(checkWindow);

/** GET /api/workloads/:ns/:name/denied: the formats the simulator evaluates (Linkerd's are not). */
export const deniedQuery = z.strictObject({ ...window, format: z.enum(SIMULATED_FORMATS) }).superRefine(checkWindow);

export const policyFormatPath = z.strictObject({ format: z.string().max(32).regex(/^[a-z0-9-]+$/, 'not a policy format') });

export const policyQuery = z
  .strictObject({
    ...window,
    namespace: list(namespaceName).optional(),
    granularity: z.string().max(32).regex(/^[a-z-]+$/, 'not a granularity').optional(),
    trust_domain: z.string().max(253).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'not a trust domain').optional(),
    istio_version: z.string().max(16).regex(/^\d+\.\d+(\.\d+)?$/, 'not a version like 1.24').optional(),
    dry_run: bool.optional(),
    /** Only this workload's policy (NS/NAME): what the side panel shows and downloads. */
    workload: workloadId.optional(),
  })
  .superRefine(checkWindow);

export const callsQuery = z
  .strictObject({
    ...window,
    limit: z.coerce.number().int().min(1).max(100_000).default(1000),
  })
  .superRefine(checkWindow);

/**
 * Where the sign-in form returns to: the page's own view (`/` and its query string, what the user
 * was sent to sign in from). Nothing else, so the form cannot be made to redirect to another site
 * (`//evil.example` and `/\evil.example` are refused).
 */
export const returnTo = z.string().max(2000).regex(/^\/(\?[\x21-\x7e]*)?$/, 'not a view of this page');

export const loginBody = z.strictObject({ token: z.string().min(1).max(4096), next: returnTo.optional() });

/** Endpoints without parameters still refuse unknown ones. */
export const parseNone = z.strictObject({});
