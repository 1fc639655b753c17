// `trustmap policy`: argv → zod → proposePolicies → one multi-document YAML stream on stdout, or
// one file per namespace under --out (each written to a temporary file and renamed into place, so
// a reader never sees half a file). Blockers go to stderr, or into the --json document.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Command } from '../../collector/cli/command.js';
import { timeFlag } from '../../collector/cli/commands.js';
import { defaultDb, EXIT_FAILURE, EXIT_OK, InputError, parseFlags, printable, UsageError } from '../../collector/cli/support.js';
import { DEFAULT_TRUST_DOMAIN } from '../../collector/identity/attribute.js';
import {
  asStream, DEFAULT_ISTIO_VERSION, DEFAULT_MIN_WINDOW_MS, GRANULARITIES, POLICY_FORMATS, proposePolicies, type PolicyBlocker, type PolicySet,
} from '../policy/index.js';
import { namespaceFlag, trustDomainFlag } from './graph.js';
import { openStoreToRead } from './open-store.js';
import { durationFlag } from './readiness.js';

const flagsSchema = z.object({
  format: z.enum(POLICY_FORMATS, { error: `--format is one of ${POLICY_FORMATS.join(', ')}` }),
  out: z.string().min(1).optional(),
  namespace: namespaceFlag,
  granularity: z.enum(GRANULARITIES).default('path'),
  'istio-version': z.string().regex(/^\d{1,3}\.\d{1,3}(\.\d{1,3})?$/, 'an Istio version is X.Y or X.Y.Z, like 1.21').optional(),
  'istio-root-namespace': z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'not a Kubernetes namespace name').optional(),
  'trust-domain': trustDomainFlag.optional(),
  'dry-run': z.boolean().default(false),
  'allow-by-address': z.boolean().default(false),
  prune: z.boolean().default(false),
  'min-window': durationFlag.default(DEFAULT_MIN_WINDOW_MS),
  since: timeFlag.optional(),
  until: timeFlag.optional(),
  json: z.boolean().default(false),
  db: z.string().min(1).default(defaultDb()),
  help: z.boolean().optional(),
});

const FLAG_SPEC = {
  format: { type: 'string' }, out: { type: 'string' }, namespace: { type: 'string', multiple: true }, granularity: { type: 'string' },
  'istio-version': { type: 'string' }, 'istio-root-namespace': { type: 'string' }, 'trust-domain': { type: 'string' }, 'dry-run': { type: 'boolean' }, 'allow-by-address': { type: 'boolean' },
  prune: { type: 'boolean' }, 'min-window': { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, json: { type: 'boolean' }, db: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const policy: Command = {
  path: ['policy'],
  help: `Propose the policies that allow exactly the calls observed in the window and nothing else:
only observed callers, ports, methods and path templates. Each object is commented with the
callers, call counts and last sighting it comes from; infrastructure traffic (DNS, kubelet
probes, metrics scrapes, host-network peers) is allowed with a comment or listed as a blocker.
Callers a format cannot allow safely (no mesh identity, no pod labels, unknown addresses) are
blockers: never let in by a broad rule. docs/policies.md has the rules per format.

Usage:
  trustmap policy --format F [flags]

Formats:
  istio     AuthorizationPolicy (ALLOW per workload, principals from service accounts),
            allow-nothing per namespace, PeerAuthentication (STRICT where readiness passes)
  netpol    Kubernetes NetworkPolicy per workload (L4), egress to callees and DNS, default-deny
  cilium    CiliumNetworkPolicy (L3/L4 and L7 HTTP method and path regex)
  linkerd   Server, MeshTLSAuthentication, NetworkAuthentication, HTTPRoute, AuthorizationPolicy

Flags:
  --format F          istio, netpol, cilium or linkerd (required)
  --out DIR           write one file per namespace (DIR/NAMESPACE.yaml, replaced atomically);
                      without it, one multi-document YAML stream goes to stdout. Files an
                      earlier run of the same format wrote there and this one did not are
                      named on stderr: kubectl apply -f DIR would still apply them
  --prune             with --out: delete those files instead
  --namespace NS      only policies protecting workloads in NS (repeatable)
  --granularity G     what a rule names: path (default), method, port or workload (wider)
  --istio-version V   the mesh's Istio version (default ${DEFAULT_ISTIO_VERSION}); before 1.22: v1beta1 APIs and
                      path templates as prefix matches
  --istio-root-namespace NS
                      the mesh's root namespace (default istio-system): policies there apply
                      to every namespace, so none is proposed in it
  --trust-domain D    SPIFFE / Linkerd trust domain (default cluster.local)
  --dry-run           shadow mode: istio.io/dry-run on AuthorizationPolicies, Linkerd
                      accessPolicy audit, Cilium without default deny (docs/policies.md)
  --allow-by-address  istio: allow node and external callers by their observed /32
  --min-window D      observed traffic the readiness check needs before STRICT (default 7d)
  --since T           calls seen at or after T (ISO time, or 30m, 24h, 7d back from now)
  --until T           calls that started before T
  --json              print {format, files, blockers} as JSON instead of YAML
  --db FILE           store file (default $TRUSTMAP_DB or ./trustmap.db)

Examples:
  trustmap policy --format istio --since 7d > proposal.yaml
  trustmap policy --format netpol --namespace shop --out policies/
  trustmap policy --format istio --istio-version 1.20 --dry-run | kubectl apply --dry-run=server -f -
  trustmap policy --format cilium --granularity port --json | jq '.blockers'

Exit codes: 0 policies proposed and no blockers, 1 blockers (calls the proposal would cut off,
listed on stderr) or nothing observed, 2 bad flags, unreadable store or unwritable --out.
`,
  async run(argv, io) {
    const { flags, args } = parseFlags(argv, FLAG_SPEC, flagsSchema);
    if (args.length > 0) throw new UsageError(`policy takes no arguments (got ${JSON.stringify(args[0])})`);
    if (flags.since !== undefined && flags.until !== undefined && flags.since >= flags.until) throw new UsageError('--since must be before --until');
    if (flags.format !== 'istio' && flags['istio-version'] !== undefined) throw new UsageError('--istio-version applies to --format istio only');
    if (flags.format !== 'istio' && flags['istio-root-namespace'] !== undefined) throw new UsageError('--istio-root-namespace applies to --format istio only');
    if (flags.format !== 'istio' && flags['allow-by-address']) throw new UsageError('--allow-by-address applies to --format istio only');
    if (flags.prune && flags.out === undefined) throw new UsageError('--prune goes with --out');
    if (flags.out !== undefined) checkOutDir(flags.out);

    const db = openStoreToRead(flags.db);
    let set: PolicySet;
    try {
      set = proposePolicies(db, {
        format: flags.format, granularity: flags.granularity, trustDomain: flags['trust-domain'] ?? DEFAULT_TRUST_DOMAIN,
        istioVersion: flags['istio-version'] ?? DEFAULT_ISTIO_VERSION, istioRootNamespace: flags['istio-root-namespace'], dryRun: flags['dry-run'], namespaces: flags.namespace,
        sinceMs: flags.since, untilMs: flags.until, minWindowMs: flags['min-window'], allowByAddress: flags['allow-by-address'],
      });
    } finally {
      db.close();
    }

    const outDir = flags.out;
    const written = outDir !== undefined ? set.files.map((f) => writeAtomically(outDir, f.filename, f.yaml)) : [];
    const stale = outDir !== undefined ? staleFiles(outDir, set.format, new Set(set.files.map((f) => f.filename)), flags.namespace) : [];
    if (flags.prune) for (const f of stale) removeFile(f);
    if (flags.json) {
      io.stdout.write(JSON.stringify({
        format: set.format,
        files: set.files.map((f, i) => ({ namespace: f.namespace, filename: f.filename, ...(outDir !== undefined ? { path: written[i] } : { yaml: f.yaml }) })),
        ...(outDir !== undefined ? { [flags.prune ? 'removed' : 'stale']: stale } : {}),
        blockers: set.blockers,
      }, null, 2) + '\n');
    } else if (outDir !== undefined) {
      for (let i = 0; i < set.files.length; i++) {
        const n = objectCount(set.files[i].yaml);
        io.stdout.write(`wrote ${printable(written[i])} (${n} object${n === 1 ? '' : 's'})\n`);
      }
      for (const f of stale) {
        if (flags.prune) io.stdout.write(`removed ${printable(f)} (no longer proposed)\n`);
        else io.stderr.write(`warning: ${printable(f)} is from an earlier run and no longer proposed; kubectl apply -f ${printable(outDir)} would still apply it (delete it, or rerun with --prune)\n`);
      }
    } else {
      io.stdout.write(asStream(set));
    }

    if (set.files.length === 0 && set.blockers.length === 0) {
      io.stderr.write(`no policy proposed: no workload${flags.namespace ? ` in ${flags.namespace.join(', ')}` : ''} was called in the window\n`);
      return EXIT_FAILURE;
    }
    if (!flags.json && set.blockers.length > 0) io.stderr.write(blockerSummary(set.blockers));
    return set.blockers.length > 0 ? EXIT_FAILURE : EXIT_OK;
  },
};

/** --out must be a directory (created when missing); anything else is a usage problem, exit 2. */
function checkOutDir(dir: string): void {
  try {
    if (existsSync(dir) && !statSync(dir).isDirectory()) throw new Error('not a directory');
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new InputError(`--out ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}, cannot write policies there`);
  }
}

/**
 * YAML files in `dir` that an earlier `trustmap policy --format FORMAT --out` wrote and this run
 * did not: a namespace nothing is proposed for any more. Recognised by the header line every file
 * starts with; with --namespace, only files of those namespaces are this run's business.
 */
function staleFiles(dir: string, format: string, written: ReadonlySet<string>, namespaces: readonly string[] | undefined): string[] {
  const header = new RegExp(`^# trustmap policy --format ${format} [^\\n]*: namespace ([a-z0-9-]+)\\n`);
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.yaml') || written.has(name)) continue;
    const file = join(dir, name);
    const m = header.exec(firstBytes(file, 512));
    if (m !== null && (namespaces === undefined || namespaces.includes(m[1]))) out.push(file);
  }
  return out;
}

/** The start of a regular file, '' for anything else or unreadable. */
function firstBytes(file: string, n: number): string {
  try {
    if (!statSync(file).isFile()) return '';
    const fd = openSync(file, 'r');
    try {
      const b = Buffer.alloc(n);
      return b.toString('utf8', 0, readSync(fd, b, 0, n, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

function removeFile(file: string): void {
  try {
    rmSync(file);
  } catch (err) {
    throw new InputError(`${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}, cannot remove`);
  }
}

/** Writes DIR/NAME through a temporary file in DIR, flushed, then renamed over NAME. */
function writeAtomically(dir: string, name: string, text: string): string {
  const target = join(dir, name);
  const tmp = join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = openSync(tmp, 'wx', 0o644);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new InputError(`${target}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}, cannot write`);
  }
  return target;
}

const objectCount = (yaml: string): number => yaml.split('\n').filter((l) => l === '---').length;

/** Blockers for people: one line per protected workload and reason, with the callers. */
function blockerSummary(list: PolicyBlocker[]): string {
  const lines = list.map((b) => `  ${printable(b.workload)} ← ${b.callers.length > 0 ? printable(b.callers.join(', ')) : '-'}: ${printable(b.reason)}`);
  return `${list.length} blocker${list.length === 1 ? '' : 's'}: observed calls these policies do not allow:\n${lines.join('\n')}\n`;
}
