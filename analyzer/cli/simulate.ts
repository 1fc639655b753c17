// `trustmap simulate`: argv → zod → loadPolicies + simulate → table, JSON (exactly
// SimulationReport, docs/simulate.md) or Markdown. Exit 1 when any recorded call would be denied
// or the window holds none, 0 otherwise, 2 on bad flags, an unreadable store or policy file.
import { z } from 'zod';
import type { Command } from '../../collector/cli/command.js';
import { timeFlag } from '../../collector/cli/commands.js';
import { defaultDb, EXIT_FAILURE, EXIT_OK, InputError, parseFlags, printable, table, UsageError } from '../../collector/cli/support.js';
import { loadPolicies, PolicyLoadError } from '../simulate/load.js';
import type { CallVerdict, LoadResult, SimulationReport } from '../simulate/model.js';
import { REFUSED_TODAY, simulate } from '../simulate/simulate.js';
import { namespaceFlag, trustDomainFlag } from './graph.js';
import { openStoreToRead } from './open-store.js';
import { mdEscape } from './readiness.js';

/** Flags `simulate` and `drift` share. */
export const simulationFlags = {
  db: z.string().min(1).default(defaultDb()),
  policies: z.array(z.string().min(1), { error: 'give at least one --policies FILE or folder' }).min(1, 'give at least one --policies FILE or folder'),
  namespace: namespaceFlag,
  since: timeFlag.optional(),
  until: timeFlag.optional(),
  format: z.enum(['table', 'json', 'markdown']).default('table'),
  'root-namespace': z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'not a Kubernetes namespace name').default('istio-system'),
  'trust-domain': trustDomainFlag.optional(),
  help: z.boolean().optional(),
};

export const simulationSpec = {
  db: { type: 'string' }, policies: { type: 'string', multiple: true }, namespace: { type: 'string', multiple: true },
  since: { type: 'string' }, until: { type: 'string' }, format: { type: 'string' }, 'root-namespace': { type: 'string' },
  'trust-domain': { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

const simulateFlags = z.object({ ...simulationFlags, all: z.boolean().default(false) });
type Flags = z.infer<z.ZodObject<typeof simulationFlags>>;

/** What simulate and drift say when the window holds no call. */
export const noCalls = (namespaces: string[] | undefined): string =>
  `no recorded call in the window${namespaces !== undefined && namespaces.length > 0 ? ` with an end in ${namespaces.join(', ')}` : ''}`;

/** Loads the policy files, turning what cannot be used into a one-line input error (exit 2). */
export function loadOrFail(paths: string[]): LoadResult {
  let loaded: LoadResult;
  try {
    loaded = loadPolicies(paths);
  } catch (err) {
    if (err instanceof PolicyLoadError) throw new InputError(err.message);
    throw err;
  }
  // Nothing to evaluate would allow every call: a "0 denied" (exit 0) that checked nothing.
  if (loaded.policies.length === 0) {
    const found = loaded.unknown.length > 0 ? `only ${loaded.unknown.map((u) => `${u.count} ${u.kind}`).join(', ')}` : 'no Kubernetes objects';
    throw new InputError(`no policy to evaluate in ${paths.join(', ')} (${found}): simulate and drift read Istio AuthorizationPolicy and PeerAuthentication, NetworkPolicy and CiliumNetworkPolicy`);
  }
  return loaded;
}

/** Parses and checks the shared flags, loads the policies and simulates the window. */
export function runSimulation(argv: string[], spec: Record<string, unknown>, schema: z.ZodType<Flags & { all?: boolean }>, name: string): { flags: Flags & { all?: boolean }; loaded: LoadResult; report: SimulationReport } {
  const { flags, args } = parseFlags(argv, spec as typeof simulationSpec, schema);
  if (args.length > 0) throw new UsageError(`${name} takes no arguments (got ${JSON.stringify(args[0])}); policy files go after --policies`);
  if (flags.since !== undefined && flags.until !== undefined && flags.since >= flags.until) throw new UsageError('--since must be before --until');
  const loaded = loadOrFail(flags.policies);
  const db = openStoreToRead(flags.db);
  try {
    const report = simulate(db, loaded, {
      rootNamespace: flags['root-namespace'], trustDomain: flags['trust-domain'], sinceMs: flags.since, untilMs: flags.until, namespaces: flags.namespace,
    });
    return { flags, loaded, report };
  } finally {
    db.close();
  }
}

export const simulateCommand: Command = {
  path: ['simulate'],
  help: `Evaluate every recorded call of the window against policy files, with the semantics of
Istio AuthorizationPolicy and PeerAuthentication, Kubernetes NetworkPolicy and
CiliumNetworkPolicy (L3/L4 and L7 HTTP): each call is allowed, denied (with the policy and the
reason) or indeterminate (it depends on something a recording does not show). docs/simulate.md.

Usage:
  trustmap simulate --policies PATH... [flags]

Flags:
  --policies PATH    policy file or folder (YAML/JSON, multi-document, Lists; folders are read
                     recursively); repeatable
  --since T          calls seen at or after T (ISO time, or 24h, 7d back from now)
  --until T          calls that started before T
  --namespace NS     only calls with an end in these namespaces (repeatable)
  --format F         table (default: denied and indeterminate calls), json (SimulationReport) or
                     markdown
  --all              table and markdown list allowed calls too
  --root-namespace N Istio's root namespace (default istio-system)
  --trust-domain D   SPIFFE trust domain (default cluster.local)
  --db FILE          store file (default $TRUSTMAP_DB or ./trustmap.db)

Examples:
  trustmap policy --format istio --out proposed/ && trustmap simulate --policies proposed/
  kubectl get authorizationpolicies,peerauthentications -A -o yaml > live.yaml
  trustmap simulate --policies live.yaml --since 7d --format markdown > comment.md

Exit codes: 0 nothing would be denied, 1 some recorded call would be denied or no call was in
the window, 2 bad flags, an unreadable store, an unreadable or invalid policy file (with file and
line), or no policy of a kind listed above in the paths given.
`,
  async run(argv, io) {
    const { flags, report } = runSimulation(argv, { ...simulationSpec, all: { type: 'boolean' } }, simulateFlags, 'simulate');
    io.stdout.write(flags.format === 'json' ? JSON.stringify(report, null, 2) + '\n'
      : flags.format === 'markdown' ? simulationMarkdown(report, flags.all === true) : simulationTable(report, flags.all === true));
    // "0 denied" over no calls checked nothing: a CI gate must not pass on it (collector down, a typo in --namespace).
    if (report.summary.calls === 0) {
      io.stderr.write(`${noCalls(flags.namespace)}: nothing was checked\n`);
      return EXIT_FAILURE;
    }
    return report.summary.denied > 0 ? EXIT_FAILURE : EXIT_OK;
  },
};

const request = (c: CallVerdict): string => (c.method !== null ? `${c.method} ${c.path ?? ''}` : c.protocol);
const decidedBy = (c: CallVerdict): string => {
  const f = c.findings.find((x) => x.verdict === c.verdict) ?? c.findings[0];
  return f === undefined ? '' : f.policy !== null ? `${f.policy.kind} ${f.policy.namespace}/${f.policy.name}` : f.layer;
};
const reasons = (c: CallVerdict): string => [
  ...c.findings.filter((f) => f.verdict === c.verdict).map((f) => f.reason),
  // A denial of what the cluster refuses already is no change: say so where the reason is read.
  ...(c.verdict !== 'allowed' && c.notes.includes(REFUSED_TODAY) ? [REFUSED_TODAY] : []),
].join('; ');

function loadedLine(r: SimulationReport): string {
  const kinds = r.policies.loaded.map((k) => `${k.count} ${k.kind}`).join(', ') || 'no supported policies';
  const unknown = r.policies.unknown.length > 0 ? `; not evaluated: ${r.policies.unknown.map((u) => `${u.count} ${u.kind}`).join(', ')}` : '';
  return `Policies: ${kinds} from ${r.policies.files} file${r.policies.files === 1 ? '' : 's'}${unknown}`;
}

function summaryLine(r: SimulationReport): string {
  const s = r.summary;
  return `${s.calls} calls (${s.requests} requests): ${s.allowed} allowed, ${s.denied} denied, ${s.indeterminate} indeterminate`;
}

/**
 * The calls a table or Markdown lists: those that would read the same there (they differ only in
 * an address the row does not show, such as which replica answered) are one row with their
 * counts summed. The JSON keeps one entry per address pair.
 */
function shownCalls(r: SimulationReport, showAll: boolean): CallVerdict[] {
  const rows = new Map<string, CallVerdict>();
  for (const c of r.calls) {
    if (!showAll && c.verdict === 'allowed') continue;
    const key = JSON.stringify([c.verdict, c.source, c.destination, c.port, c.transport, request(c), c.security, decidedBy(c), reasons(c)]);
    const had = rows.get(key);
    rows.set(key, had === undefined ? c : { ...had, count: had.count + c.count });
  }
  return [...rows.values()];
}

export function simulationTable(r: SimulationReport, showAll: boolean): string {
  const rows = shownCalls(r, showAll).map((c) => [
    c.verdict, printable(c.source), printable(c.destination), `${c.port}/${c.transport}`, printable(request(c)), c.security, String(c.count),
    printable(decidedBy(c)), printable(reasons(c)),
  ]);
  let out = rows.length > 0 ? table(['VERDICT', 'SOURCE', 'DESTINATION', 'PORT', 'REQUEST', 'SECURITY', 'COUNT', 'POLICY', 'REASON'], rows) + '\n' : '';
  out += `${printable(loadedLine(r))}\n`;
  return out + `${summaryLine(r)}\n`;
}

const ICON = { allowed: '✅', denied: '⛔', indeterminate: '❔' } as const;

export function simulationMarkdown(r: SimulationReport, showAll: boolean): string {
  const worst = r.summary.denied > 0 ? 'denied' : r.summary.indeterminate > 0 ? 'indeterminate' : 'allowed';
  const lines = [`### Policy simulation: ${ICON[worst]} ${mdEscape(summaryLine(r))}`, '', mdEscape(loadedLine(r)), ''];
  const shown = shownCalls(r, showAll);
  if (shown.length > 0) {
    lines.push('| Verdict | Source | Destination | Port | Request | Security | Count | Policy | Reason |', '|---|---|---|---:|---|---|---:|---|---|');
    for (const c of shown) {
      lines.push(`| ${ICON[c.verdict]} ${c.verdict} | ${mdEscape(c.source)} | ${mdEscape(c.destination)} | ${c.port}/${c.transport} | ${mdEscape(request(c))} | ${c.security} | ${c.count} | ${mdEscape(decidedBy(c))} | ${mdEscape(reasons(c))} |`);
    }
  }
  return lines.join('\n') + '\n';
}
