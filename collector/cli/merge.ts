// `trustmap merge A.db B.db ... --into C.db`: stores collected offline on each node, combined
// (collector/store/merge.ts). Every source is checked before anything is written, so an
// unreadable or refused source leaves the target unchanged.
import { resolve } from 'node:path';
import { z } from 'zod';
import { inspectSource, mergeStore, planMerge, type MergeResult, type SourceInfo } from '../store/merge.js';
import { StoreError } from '../store/db.js';
import type { Command } from './command.js';
import { openDb } from './commands.js';
import { EXIT_OK, InputError, parseFlags, printable, table, UsageError } from './support.js';

const mergeFlags = z.object({
  into: z.string({ error: 'merge needs --into FILE' }).min(1, 'merge needs --into FILE'),
  json: z.boolean().default(false),
  help: z.boolean().optional(),
});

export const merge: Command = {
  path: ['merge'],
  help: `Fold trustmap stores into one: calls summed by call key, captures, inventory snapshots,
DNS names, certificates and verdicts combined as if everything had been collected into it.

Usage:
  trustmap merge STORE... --into FILE

FILE is created when missing. Each store is folded in with one transaction. Every store has an
identity (a random id written when it was created): merging the same store again is reported
and changes nothing; a store that changed since it was merged, or that already holds a store
the target holds, is refused rather than counted twice. A store written by a newer trustmap is
refused; an older one is upgraded in place first.

Flags:
  --into FILE   the store to merge into
  --json        print the results as JSON

Examples:
  trustmap merge worker-1.db worker-2.db worker-3.db --into cluster.db
  trustmap merge late-node.db --into cluster.db     # add one more later

Exit codes: 0 every store merged or already merged, 2 bad flags or a store that is unreadable,
damaged, newer, or refused (nothing is merged then).
`,
  async run(argv, io) {
    const { flags, args } = parseFlags(argv, { into: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      mergeFlags);
    if (args.length === 0) throw new UsageError('merge needs at least one STORE to merge');
    const into = resolve(flags.into);
    const paths = args.map((a) => resolve(a));
    if (paths.includes(into)) throw new UsageError(`${flags.into} is both a source and the target`);
    if (new Set(paths).size !== paths.length) throw new UsageError('a store is named twice');
    // Check every source before writing anything.
    const sources: SourceInfo[] = [];
    for (const p of paths) {
      try {
        sources.push(inspectSource(p));
      } catch (err) {
        if (err instanceof StoreError) throw new InputError(err.message);
        throw err;
      }
    }
    const target = openDb(into);
    const results: MergeResult[] = [];
    try {
      // Each store given, and every store it was merged from, may appear once among the sources.
      const holder = new Map<string, string>();
      for (const s of sources) {
        for (const id of [s.identity, ...s.contains]) {
          const other = holder.get(id);
          if (other !== undefined) throw new InputError(`${s.file} and ${other} both hold store ${id}; merging both would count it twice`);
          holder.set(id, s.file);
        }
        const plan = planMerge(target, s);
        if (plan.action === 'refuse') throw new InputError(plan.reason);
      }
      const now = new Date().toISOString();
      for (const s of sources) {
        try {
          results.push(mergeStore(target, s, now));
        } catch (err) {
          if (err instanceof StoreError) throw new InputError(err.message);
          throw err;
        }
      }
    } finally {
      target.close();
    }
    if (flags.json) {
      io.stdout.write(JSON.stringify(results.map((r) => ({
        store: r.source.file, identity: r.source.identity, status: r.status,
        ...(r.status === 'merged' ? { captures_added: r.capturesAdded, call_rows: r.callRows, snapshots_added: r.snapshotsAdded } : { merged_at: r.mergedAt }),
      })), null, 2) + '\n');
    } else {
      io.stdout.write(table(['STORE', 'IDENTITY', 'RESULT', 'CAPTURES', 'CALL ROWS'], results.map((r) => [
        printable(r.source.file), r.source.identity.slice(0, 12),
        r.status === 'merged' ? 'merged' : `already merged at ${r.mergedAt}`,
        r.status === 'merged' ? String(r.capturesAdded) : '-', r.status === 'merged' ? String(r.callRows) : '-',
      ])));
    }
    return EXIT_OK;
  },
};
