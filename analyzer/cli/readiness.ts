// `trustmap readiness`: argv → zod → checkReadiness → table, JSON (exactly ReadinessReport) or
// Markdown for a pull-request comment. Exit 0 when everything asked about is ready, 1 when not.
import { z } from 'zod';
import type { Command } from '../../collector/cli/command.js';
import { timeFlag } from '../../collector/cli/commands.js';
import { defaultDb, EXIT_FAILURE, EXIT_OK, parseFlags, printable, table, UsageError } from '../../collector/cli/support.js';
import type { Blocker, ReadinessReport } from '../model.js';
import { checkReadiness, fmtDuration } from '../readiness.js';
import { namespaceFlag, trustDomainFlag } from './graph.js';
import { openStoreToRead } from './open-store.js';

/** A duration: 90s, 30m, 24h, 7d, 2w. */
export const durationFlag = z.string().transform((s, ctx) => {
  const m = /^(\d{1,6})(s|m|h|d|w)$/.exec(s);
  if (m === null) {
    ctx.addIssue({ code: 'custom', message: `not a duration like 30m, 24h or 7d: ${JSON.stringify(s)}` });
    return z.NEVER;
  }
  return Number(m[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 }[m[2] as 's' | 'm' | 'h' | 'd' | 'w'];
});

const flagsSchema = z.object({
  db: z.string().min(1).default(defaultDb()),
  namespace: namespaceFlag,
  'min-window': durationFlag.default(7 * 864e5),
  since: timeFlag.optional(),
  until: timeFlag.optional(),
  format: z.enum(['table', 'json', 'markdown']).default('table'),
  'trust-domain': trustDomainFlag.optional(),
  help: z.boolean().optional(),
});

export const readiness: Command = {
  path: ['readiness'],
  help: `Check whether PeerAuthentication STRICT is safe, per namespace and per workload (as a
server), from the calls observed: ready, blocked (every blocker named and counted, with its
callers and last sighting) or insufficient-data (observed too briefly, or never seen).

Usage:
  trustmap readiness [flags]

Blockers: plaintext, unmeshed-caller, probe, metrics-scrape, pod-ip, unknown-security,
credentials-in-plaintext, short-window, not-observed (docs/readiness.md). Probes and scrapes on
Istio's agent ports (15020, 15021, 15090) and UDP are warnings: STRICT does not affect them.

Flags:
  --namespace NS     only these namespaces (repeatable; default every namespace known)
  --min-window D     observed traffic needed before "ready" (default 7d; 30m, 24h, 2w)
  --since T          calls seen at or after T (ISO time, or 24h, 7d back from now)
  --until T          calls that started before T
  --format F         table (default), json (ReadinessReport, docs/readiness.md) or markdown
  --trust-domain D   SPIFFE trust domain (default cluster.local)
  --db FILE          store file (default $TRUSTMAP_DB or ./trustmap.db)

Examples:
  trustmap readiness --namespace shop
  trustmap readiness --since 14d --format markdown > comment.md

Exit codes: 0 everything asked about is ready, 1 blocked or insufficient data, 2 bad flags or
unreadable store.
`,
  async run(argv, io) {
    const { flags, args } = parseFlags(argv, {
      db: { type: 'string' }, namespace: { type: 'string', multiple: true }, 'min-window': { type: 'string' },
      since: { type: 'string' }, until: { type: 'string' }, format: { type: 'string' }, 'trust-domain': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    }, flagsSchema);
    if (args.length > 0) throw new UsageError(`readiness takes no arguments (got ${JSON.stringify(args[0])})`);
    if (flags.since !== undefined && flags.until !== undefined && flags.since >= flags.until) throw new UsageError('--since must be before --until');
    const db = openStoreToRead(flags.db);
    let report: ReadinessReport;
    try {
      report = checkReadiness(db, {
        namespaces: flags.namespace, minWindowMs: flags['min-window'], sinceMs: flags.since, untilMs: flags.until,
        trustDomain: flags['trust-domain'],
      });
    } finally {
      db.close();
    }
    io.stdout.write(flags.format === 'json' ? JSON.stringify(report, null, 2) + '\n'
      : flags.format === 'markdown' ? readinessMarkdown(report) : readinessTable(report));
    return report.verdict === 'ready' ? EXIT_OK : EXIT_FAILURE;
  },
};

/** The short-window blocker (the same on every workload it is on), if any. */
const shortWindow = (r: ReadinessReport): Blocker | undefined =>
  r.namespaces.flatMap((ns) => ns.workloads).flatMap((w) => w.blockers).find((b) => b.kind === 'short-window');

const summary = (bs: Blocker[] | undefined): string =>
  (bs ?? []).map((b) => (b.count > 0 && b.kind !== 'short-window' ? `${b.kind} (${b.count})` : b.kind)).join(', ');

/** Why there is nothing to list: no workload known at all, so no call could be attributed. */
const NO_WORKLOADS = 'No workloads known: the inventory lists none and no call was attributed to one. Load an inventory (trustmap inventory load) and run this again.';

export function readinessTable(r: ReadinessReport): string {
  if (r.namespaces.length === 0) return `${NO_WORKLOADS}\n\nOverall: ${r.verdict}\n`;
  const rows = r.namespaces.flatMap((ns) => (ns.workloads.length === 0
    ? [[ns.namespace, '-', ns.verdict, 'no workloads known', '', '0']]
    : ns.workloads.map((w) => [ns.namespace, printable(w.name), w.verdict, summary(w.blockers), summary(w.warnings), String(w.coverage.calls)])));
  let out = table(['NAMESPACE', 'WORKLOAD', 'VERDICT', 'BLOCKERS', 'WARNINGS', 'CALLS'], rows);
  const details = r.namespaces.flatMap((ns) => ns.workloads.flatMap((w) => w.blockers
    .filter((b) => b.kind !== 'short-window')
    .map((b) => `  ${ns.namespace}/${printable(w.name)} ${b.kind}: ${printable(b.detail)}`)));
  if (details.length > 0) out += `\nBlockers:\n${details.join('\n')}\n`;
  const short = shortWindow(r);
  if (short) out += `\nshort-window: ${short.detail}\n`;
  return out + `\nOverall: ${r.verdict}\n`;
}

/**
 * Text for a Markdown table cell or line: HTML-significant characters become entities and
 * Markdown punctuation is backslash-escaped, so a path or DNS name from traffic cannot inject
 * markup, links or table columns into a pull-request comment.
 */
export function mdEscape(s: string): string {
  return printable(s)
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/[\\`*_{}[\]()#+!|~]/g, (c) => `\\${c}`);
}

const ICON: Record<ReadinessReport['verdict'], string> = { ready: '✅', blocked: '⛔', 'insufficient-data': '⏳' };

export function readinessMarkdown(r: ReadinessReport): string {
  const lines = [`### Strict mTLS readiness: ${ICON[r.verdict]} ${r.verdict}`, ''];
  if (r.window) {
    lines.push(`Observed ${mdEscape(r.window.first_seen ?? 'nothing')} → ${mdEscape(r.window.last_seen ?? 'nothing')}; minimum window ${fmtDuration(r.window.min_window_ms)}.`, '');
  }
  if (r.namespaces.length === 0) return [...lines, NO_WORKLOADS].join('\n') + '\n';
  lines.push('| Namespace | Workload | Verdict | Blockers | Warnings | Calls |', '|---|---|---|---|---|---:|');
  for (const ns of r.namespaces) {
    if (ns.workloads.length === 0) lines.push(`| ${mdEscape(ns.namespace)} | – | ${ICON[ns.verdict]} ${ns.verdict} | no workloads known | | 0 |`);
    for (const w of ns.workloads) {
      lines.push(`| ${mdEscape(ns.namespace)} | ${mdEscape(w.name)} | ${ICON[w.verdict]} ${w.verdict} | ${mdEscape(summary(w.blockers))} | ${mdEscape(summary(w.warnings))} | ${w.coverage.calls} |`);
    }
  }
  const blocked = r.namespaces.flatMap((ns) => ns.workloads.map((w) => ({ ns: ns.namespace, w })))
    .filter(({ w }) => w.blockers.some((b) => b.kind !== 'short-window'));
  if (blocked.length > 0) {
    lines.push('', '<details><summary>What blocks strict mTLS</summary>', '');
    for (const { ns, w } of blocked) {
      lines.push(`**${mdEscape(`${ns}/${w.name}`)}**`, '');
      for (const b of w.blockers) if (b.kind !== 'short-window') lines.push(`- \`${b.kind}\`: ${mdEscape(b.detail)} Last seen ${mdEscape(b.last_seen ?? 'never')}.`);
      lines.push('');
    }
    lines.push('</details>');
  }
  // The table only says `short-window`: the comment's reader needs how much was seen and needed.
  const short = shortWindow(r);
  if (short) lines.push('', `\`short-window\`: ${mdEscape(short.detail)}`);
  return lines.join('\n') + '\n';
}
