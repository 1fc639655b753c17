// `trustmap graph` and `trustmap graph diff`: argv → zod → buildGraph/diffWindows → table, JSON
// (exactly the Graph / GraphDiff shapes of analyzer/model.ts, docs/graph.md), dot or mermaid.
import { z } from 'zod';
import type { Command } from '../../collector/cli/command.js';
import { timeFlag } from '../../collector/cli/commands.js';
import { defaultDb, EXIT_FAILURE, EXIT_OK, parseFlags, printable, table, UsageError } from '../../collector/cli/support.js';
import { diffWindows } from '../diff.js';
import { buildGraph } from '../graph.js';
import { LEVELS, type GraphDiff } from '../model.js';
import { openStoreToRead } from './open-store.js';
import { graphDot, graphMermaid, graphTable, securityText } from './render-graph.js';

export const GRAPH_FORMATS = ['table', 'json', 'dot', 'mermaid'] as const;

/** Kubernetes namespace names: RFC 1123 labels. */
export const namespaceFlag = z.array(z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'not a Kubernetes namespace name')).optional();

/**
 * A SPIFFE trust domain: lowercase letters, digits, '.' and '-' (the SPIFFE ID spec's trust domain
 * name), as every command that builds identities from it takes it. Anything else made identities
 * like `spiffe://Bad Domain/ns/...` that no policy or mesh can match.
 */
export const trustDomainFlag = z.string().max(253).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'not a trust domain (lowercase DNS name)');

const common = {
  db: z.string().min(1).default(defaultDb()),
  level: z.enum(LEVELS).default('workload'),
  namespace: namespaceFlag,
  'trust-domain': trustDomainFlag.optional(),
  help: z.boolean().optional(),
};

const commonSpec = {
  db: { type: 'string' }, level: { type: 'string' }, namespace: { type: 'string', multiple: true },
  'trust-domain': { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

const graphFlags = z.object({
  ...common,
  since: timeFlag.optional(),
  until: timeFlag.optional(),
  format: z.enum(GRAPH_FORMATS).default('table'),
});

export const graph: Command = {
  path: ['graph'],
  help: `Print the dependency graph built from the recorded calls: each call attributed to its
workloads at the time it happened, sources merged (docs/identity.md), one edge per caller and
callee with ports, protocols, methods, paths and the security mix of its calls.

Usage:
  trustmap graph [flags]

Flags:
  --level L          workload (default), service (callees become the Services called) or namespace
  --since T          calls seen at or after T (ISO time, or 30m, 24h, 7d back from now)
  --until T          calls that started before T
  --namespace NS     keep edges with an end in NS (repeatable)
  --format F         table (default), json (docs/graph.md), dot (Graphviz) or mermaid
  --trust-domain D   SPIFFE trust domain of workload identities (default cluster.local)
  --db FILE          store file (default $TRUSTMAP_DB or ./trustmap.db)

Edges are coloured by security in dot and mermaid: green mTLS, blue TLS, red plaintext,
grey unknown, orange a mix.

Examples:
  trustmap graph --since 24h
  trustmap graph --level namespace --format dot | dot -Tsvg > mesh.svg
  trustmap graph --namespace shop --format json | jq '.edges[] | select(.security.plaintext > 0)'
`,
  async run(argv, io) {
    const { flags, args } = parseFlags(argv, {
      ...commonSpec, since: { type: 'string' }, until: { type: 'string' }, format: { type: 'string' },
    }, graphFlags);
    if (args.length > 0) throw new UsageError(`graph takes no arguments (got ${JSON.stringify(args[0])}); did you mean "graph diff"?`);
    checkOrder(flags.since, flags.until, '--since', '--until');
    const db = openStoreToRead(flags.db);
    let text: string;
    try {
      const g = buildGraph(db, {
        level: flags.level, sinceMs: flags.since, untilMs: flags.until, namespaces: flags.namespace, trustDomain: flags['trust-domain'],
      });
      text = flags.format === 'json' ? JSON.stringify(g, null, 2) + '\n'
        : flags.format === 'dot' ? graphDot(g)
          : flags.format === 'mermaid' ? graphMermaid(g)
            : graphTable(g, flags.namespace);
    } finally {
      db.close();
    }
    io.stdout.write(text);
    return EXIT_OK;
  },
};

function checkOrder(a: number | undefined, b: number | undefined, an: string, bn: string): void {
  if (a !== undefined && b !== undefined && a >= b) throw new UsageError(`${an} must be before ${bn}`);
}

const diffFlags = z.object({
  ...common,
  'baseline-since': timeFlag.optional(),
  'baseline-until': timeFlag,
  since: timeFlag.optional(),
  until: timeFlag.optional(),
  format: z.enum(['table', 'json']).default('table'),
});

export const graphDiff: Command = {
  path: ['graph', 'diff'],
  help: `Compare the graph of a baseline window with the graph of the current one: edges that are
new, gone, or whose security changed (plaintext appeared or disappeared, the mTLS share moved by
a point or more, credentials started to travel in plaintext).

Usage:
  trustmap graph diff --baseline-until T [flags]
  trustmap graph diff --baseline-since T1 --baseline-until T2 --since T3 [--until T4] [flags]

The baseline is the calls before --baseline-until (from --baseline-since when given); the current
window starts at --since, or at --baseline-until when --since is not given, and ends at --until.
Calls are stored per hour, so a call row spanning the boundary counts in both windows.

Flags:
  --baseline-since T, --baseline-until T, --since T, --until T
                     ISO times, or durations back from now (30m, 24h, 7d)
  --level L          workload (default), service or namespace
  --namespace NS     keep edges with an end in NS (repeatable)
  --format F         table (default) or json (docs/graph.md, "graph diff")
  --db FILE          store file (default $TRUSTMAP_DB or ./trustmap.db)

Examples:
  trustmap graph diff --baseline-until 24h
  trustmap graph diff --baseline-since 14d --baseline-until 7d --since 7d --format json

Exit codes: 0 no changes, 1 changes found, 2 bad flags or unreadable store.
`,
  async run(argv, io) {
    const { flags, args } = parseFlags(argv, {
      ...commonSpec, 'baseline-since': { type: 'string' }, 'baseline-until': { type: 'string' },
      since: { type: 'string' }, until: { type: 'string' }, format: { type: 'string' },
    }, diffFlags);
    if (args.length > 0) throw new UsageError(`graph diff takes no arguments (got ${JSON.stringify(args[0])})`);
    const currentSince = flags.since ?? flags['baseline-until'];
    checkOrder(flags['baseline-since'], flags['baseline-until'], '--baseline-since', '--baseline-until');
    checkOrder(currentSince, flags.until, '--since', '--until');
    const db = openStoreToRead(flags.db);
    let d: GraphDiff;
    try {
      d = diffWindows(db, { level: flags.level, namespaces: flags.namespace, trustDomain: flags['trust-domain'] }, {
        baseline: { sinceMs: flags['baseline-since'], untilMs: flags['baseline-until'] },
        current: { sinceMs: currentSince, untilMs: flags.until },
      });
    } finally {
      db.close();
    }
    io.stdout.write(flags.format === 'json' ? JSON.stringify(d, null, 2) + '\n' : diffTable(d));
    return d.changes.length > 0 ? EXIT_FAILURE : EXIT_OK;
  },
};

function diffTable(d: GraphDiff): string {
  const span = (w: GraphDiff['baseline']) => `${w.since ?? 'start'} → ${w.until ?? 'now'}`;
  const head = `baseline ${span(d.baseline)}   current ${span(d.current)}\n`;
  if (d.changes.length === 0) return `${head}No changes.\n`;
  return head + table(
    ['CHANGE', 'SOURCE', 'TARGET', 'BEFORE', 'AFTER', 'WHY'],
    d.changes.map((c) => [
      c.change + (c.is_worse ? ' (worse)' : ''), printable(c.source), printable(c.target),
      c.before ? securityText(c.before.security) : '-', c.after ? securityText(c.after.security) : '-', c.reasons.join('; '),
    ]),
  );
}
