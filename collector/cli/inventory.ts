// `trustmap inventory load|snapshot|list`: Kubernetes inventories in, workloads and identities out.
import { spawn } from 'node:child_process';
import { z } from 'zod';
import { AttributionIndex, DEFAULT_TRUST_DOMAIN } from '../identity/attribute.js';
import { loadInventory, loadInventoryBytes, type LoadOutcome } from '../inventory/load.js';
import { listSnapshots } from '../store/inventory.js';
import type { Command, Io } from './command.js';
import { openDb, timeFlag } from './commands.js';
import { defaultDb, EXIT_OK, EXIT_USAGE, InputError, parseFlags, printable, table, UsageError } from './support.js';

/** The kinds trustmap reads, in one kubectl call. */
export const KUBECTL_KINDS = 'pods,svc,endpointslices,rs,deploy,sts,ds,jobs,cronjobs,nodes,namespaces,serviceaccounts';

const trustDomain = z.string().min(1).max(253).regex(/^[a-z0-9.-]+$/, 'a trust domain is lowercase letters, digits, "." and "-"');
const atFlag = z.string().transform((s, ctx) => {
  const t = Date.parse(s);
  if (Number.isNaN(t)) {
    ctx.addIssue({ code: 'custom', message: `not an ISO-8601 time: ${JSON.stringify(s)}` });
    return z.NEVER;
  }
  return t;
});

const loadFlags = z.object({
  db: z.string().min(1).default(defaultDb()),
  at: atFlag.optional(),
  force: z.boolean().default(false),
  json: z.boolean().default(false),
  help: z.boolean().optional(),
});

function report(outcomes: LoadOutcome[], json: boolean, io: Io): number {
  for (const o of outcomes) {
    if (o.status === 'error') io.stderr.write(`error: ${printable(o.message)}\n`);
    else if (o.status === 'duplicate') io.stderr.write(`${printable(o.name)}: already loaded as snapshot ${o.previousId}; use --force to load again\n`);
  }
  const loaded = outcomes.filter((o) => o.status === 'loaded');
  if (json) {
    io.stdout.write(JSON.stringify(outcomes.map((o) => (o.status === 'loaded' ? { ...o, takenAt: new Date(o.takenAtMs).toISOString() } : o)), null, 2) + '\n');
  } else {
    for (const o of loaded) {
      io.stdout.write(
        `${printable(o.name)}: snapshot ${o.snapshotId} at ${new Date(o.takenAtMs).toISOString()} (${o.timeSource})`
        + `  objects ${o.objects}  pods ${o.pods}  services ${o.services}  skipped ${o.skipped}  ignored ${o.ignored}`
        + (o.byConvention > 0 ? `  ${o.byConvention} pods resolved by naming convention (owner object not in the listing)` : '') + '\n',
      );
    }
  }
  return outcomes.some((o) => o.status === 'error') ? EXIT_USAGE : EXIT_OK;
}

export const inventoryLoad: Command = {
  path: ['inventory', 'load'],
  help: `Load Kubernetes objects (what kubectl get -o json or -o yaml prints) as inventory snapshots.

Usage:
  trustmap inventory load [flags] FILE... | -

Each FILE is one snapshot, loaded in one transaction. Reads Lists, single objects and
multi-document YAML; uses Pods, Services, EndpointSlices, ReplicaSets, Deployments, StatefulSets,
DaemonSets, Jobs, CronJobs, Nodes and Namespaces, and ignores other kinds. A malformed object is
skipped with a warning and counted; a file that is not JSON or YAML is refused (exit 2).

The snapshot time is --at, else the newest timestamp in the file, else now. Load complete
listings (-A): a later snapshot that lists Pods ends the life of pods it no longer lists.

Flags:
  --db FILE      store file (default $TRUSTMAP_DB or ./trustmap.db)
  --at TIME      when the listing was taken (ISO-8601)
  --force        load a file again even if the same bytes were loaded before
  --json         print the outcomes as JSON

Examples:
  kubectl get ${KUBECTL_KINDS} -A -o json > inv.json
  trustmap inventory load --at "$(date -u +%FT%TZ)" inv.json
  kubectl get pods -A -o yaml | trustmap inventory load -
`,
  async run(argv, io) {
    const { flags, args } = parseFlags(argv, {
      db: { type: 'string' }, at: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    }, loadFlags);
    if (args.length === 0) throw new UsageError('inventory load needs at least one FILE, or - for standard input');
    if (args.filter((a) => a === '-').length > 1) throw new UsageError('standard input (-) can be read only once');
    const db = openDb(flags.db);
    const outcomes: LoadOutcome[] = [];
    try {
      for (const input of args) outcomes.push(await loadInventory(db, input, io.stdin, { atMs: flags.at ?? null, force: flags.force }));
    } finally {
      db.close();
    }
    return report(outcomes, flags.json, io);
  },
};

const snapshotFlags = z.object({
  db: z.string().min(1).default(defaultDb()),
  context: z.string().min(1).max(253).regex(/^[^\s-][^\s]*$/, 'a kubectl context name has no spaces and does not start with "-"').optional(),
  json: z.boolean().default(false),
  help: z.boolean().optional(),
});

/** Runs kubectl and returns what it printed; one-line errors for a missing kubectl or a failure. */
function runKubectl(args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(new InputError(e.code === 'ENOENT' ? 'kubectl is not on PATH; install it, or save a listing and use "trustmap inventory load FILE"' : `cannot run kubectl: ${e.message}`));
    });
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else {
        const first = Buffer.concat(err).toString('utf8').trim().split('\n')[0] ?? '';
        reject(new InputError(`kubectl exited with ${code}: ${printable(first).slice(0, 300)}`));
      }
    });
  });
}

export const inventorySnapshot: Command = {
  path: ['inventory', 'snapshot'],
  help: `Run kubectl get ... -A -o json for the current context and load the result as a snapshot.

Usage:
  trustmap inventory snapshot [--context NAME] [--db FILE] [--json]

Runs: kubectl get ${KUBECTL_KINDS} -A -o json
The snapshot time is now. Needs kubectl on PATH (exit 2 otherwise).

Examples:
  trustmap inventory snapshot
  trustmap inventory snapshot --context prod-eu
`,
  async run(argv, io) {
    const { flags, args } = parseFlags(argv, {
      db: { type: 'string' }, context: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    }, snapshotFlags);
    if (args.length > 0) throw new UsageError(`inventory snapshot takes no arguments (got ${JSON.stringify(args[0])})`);
    const kargs = ['get', KUBECTL_KINDS, '-A', '-o', 'json', ...(flags.context ? ['--context', flags.context] : [])];
    const at = Date.now();
    const bytes = await runKubectl(kargs);
    const db = openDb(flags.db);
    let outcome: LoadOutcome;
    try {
      outcome = loadInventoryBytes(db, `kubectl${flags.context ? ` --context ${flags.context}` : ''}`, bytes, { atMs: at, force: true });
    } finally {
      db.close();
    }
    return report([outcome], flags.json, io);
  },
};

const listFlags = z.object({
  db: z.string().min(1).default(defaultDb()),
  'trust-domain': trustDomain.default(DEFAULT_TRUST_DOMAIN),
  json: z.boolean().default(false),
  help: z.boolean().optional(),
});

const listHelp = `Show the workloads of the loaded inventory with their addresses and identities.

Usage:
  trustmap inventory [list] [--db FILE] [--trust-domain DOMAIN] [--json]

Flags:
  --trust-domain D   SPIFFE trust domain (default ${DEFAULT_TRUST_DOMAIN})
  --json             workloads, services and snapshots as one JSON object

Examples:
  trustmap inventory
  trustmap inventory list --json | jq '.workloads[] | .spiffe'
`;

async function runList(argv: string[], io: Io): Promise<number> {
  const { flags, args } = parseFlags(argv, {
    db: { type: 'string' }, 'trust-domain': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  }, listFlags);
  if (args.length > 0) throw new UsageError(`unknown inventory subcommand "${printable(args[0])}"; use load, snapshot or list`);
  const db = openDb(flags.db, true);
  let index: AttributionIndex;
  let snapshots;
  try {
    index = AttributionIndex.fromDb(db, { trustDomain: flags['trust-domain'] });
    snapshots = listSnapshots(db);
  } finally {
    db.close();
  }
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  if (flags.json) {
    io.stdout.write(JSON.stringify({
      snapshots: snapshots.map((s) => ({ id: s.id, name: s.name, taken_at: iso(s.takenAtMs), time_source: s.timeSource, objects: s.objects, skipped: s.skipped })),
      workloads: index.workloads().map((w) => ({ ...w, pods: w.pods.map((p) => ({ ...p, from: iso(p.from), until: iso(p.until) })) })),
      services: index.services(),
    }, null, 2) + '\n');
    return EXIT_OK;
  }
  if (snapshots.length === 0) {
    io.stdout.write('No inventory loaded. Run "trustmap inventory load FILE" or "trustmap inventory snapshot".\n');
    return EXIT_OK;
  }
  io.stdout.write(table(
    ['NAMESPACE', 'WORKLOAD', 'KIND', 'SERVICE ACCOUNT', 'ADDRESSES', 'IDENTITY'],
    index.workloads().map((w) => [
      w.namespace, w.name + (w.resolution === 'pod-template-hash' || w.resolution === 'name-convention' ? ' *' : ''), w.workloadKind,
      w.serviceAccount, [...new Set(w.pods.flatMap((p) => p.addresses))].sort().join(',') || '-', w.spiffe,
    ].map(printable)),
  ));
  if (index.workloads().some((w) => w.resolution === 'pod-template-hash' || w.resolution === 'name-convention')) {
    io.stdout.write('* inferred from pod names: the ReplicaSet or Job was not in the listing\n');
  }
  io.stdout.write(`${snapshots.length} snapshot(s), ${index.workloads().length} workload(s), ${index.services().length} service(s)\n`);
  return EXIT_OK;
}

export const inventoryList: Command = {
  path: ['inventory', 'list'],
  help: listHelp,
  run: runList,
};

export const inventory: Command = {
  path: ['inventory'],
  help: listHelp,
  run: runList,
};

export const INVENTORY_COMMANDS: Command[] = [inventoryLoad, inventorySnapshot, inventoryList, inventory];
