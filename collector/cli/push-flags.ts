// The flags every collect command shares for pushing to a central server: --push URL
// --token-file F --node NAME [--local] [--spool-max MB] [--drain-timeout S]. The collector writes
// batches to the outbox in its --db store (the spool) in the same transaction as its capture
// records; a sender on the main thread posts them, in order, while the ingest runs and after.
import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { log } from '../log.js';
import type { PushSpoolOptions } from '../push/outbox-sink.js';
import { Sender } from '../push/sender.js';
import { openStore, StoreError, type Db } from '../store/db.js';
import { collectorIdOf } from '../store/outbox.js';
import type { Io } from './command.js';
import { InputError, printable, UsageError } from './support.js';

export const pushFlagSpec = {
  push: { type: 'string' }, 'token-file': { type: 'string' }, local: { type: 'boolean' },
  'spool-max': { type: 'string' }, 'drain-timeout': { type: 'string' },
} as const;

export const pushFlagSchema = {
  push: z.url({ protocol: /^https?$/, error: 'not an http(s) URL' }).optional(),
  'token-file': z.string().min(1).optional(),
  local: z.boolean().default(false),
  'spool-max': z.coerce.number().min(0.001).max(1_000_000).default(512),
  'drain-timeout': z.coerce.number().int().min(0).max(86_400).default(60),
};

export const PUSH_HELP = `  --push URL        send the calls to a central "trustmap serve --ingest-tokens" at URL
                    instead of writing them to --db; --db keeps the capture records and the
                    spool of batches not yet accepted (needs --token-file and --node)
  --token-file FILE this node's ingest token (one line)
  --local           with --push: write the calls to --db as well
  --spool-max MB    spool bound (default 512); when full, new batches are dropped and counted
                    with a warning, queued ones are kept
  --drain-timeout S after the input ends, wait this long for the spool to drain (default 60);
                    what is left is sent by the next run with --push (exit 1)
`;

interface PushFlags {
  db: string;
  node: string;
  push?: string;
  'token-file'?: string;
  local: boolean;
  'spool-max': number;
  'drain-timeout': number;
}

export interface Push {
  spool: PushSpoolOptions;
  /** Waits for the spool to drain (bounded); returns an error line when batches are left, else null. */
  finish(): Promise<string | null>;
}

/** The sender's own connection to the spool store (not commands.ts openDb: that module imports this one). */
function openSpool(file: string): Db {
  try {
    return openStore(file);
  } catch (err) {
    if (err instanceof StoreError) throw new InputError(err.message);
    throw err;
  }
}

function readNodeToken(file: string): string {
  let token: string;
  try {
    if ((statSync(file).mode & 0o077) !== 0) log.warn({ file }, 'the token file is readable by other users; chmod 600 it');
    token = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new InputError(`cannot read the token file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (token.length < 16 || /\s/.test(token)) throw new UsageError(`the token in ${file} must be at least 16 characters without spaces`);
  return token;
}

/** Sets up pushing when --push is given (null otherwise); flags that need --push without it are usage errors. */
export function startPush(flags: PushFlags, io: Io): Push | null {
  if (flags.push === undefined) {
    if (flags['token-file'] !== undefined || flags.local) throw new UsageError('--token-file and --local go with --push URL');
    return null;
  }
  if (flags['token-file'] === undefined) throw new UsageError('--push needs --token-file FILE (this node\'s ingest token)');
  if (flags.node === '') throw new UsageError('--push needs --node NAME (the node its token is for)');
  const token = readNodeToken(flags['token-file']);
  const db = openSpool(flags.db);
  // Relative to the URL's path, so a server behind a path prefix (https://gw/trustmap/) works.
  const url = new URL('api/v1/ingest', flags.push.endsWith('/') ? flags.push : `${flags.push}/`).toString();
  const sender = new Sender(db, { url, token });
  const spool: PushSpoolOptions = {
    node: flags.node, collector: collectorIdOf(db), isLocal: flags.local, spoolMaxBytes: flags['spool-max'] * 1_000_000,
  };
  sender.start();
  return {
    spool,
    async finish() {
      try {
        const left = await sender.finish(flags['drain-timeout'] * 1000);
        const s = sender.stats;
        log.debug({ ...s, spooled: left.batches }, 'push finished');
        if (left.rejected > 0) io.stderr.write(`warning: ${left.rejected} batches were rejected by the server and are kept in ${printable(flags.db)} (push_outbox)\n`);
        if (left.batches === 0) return null;
        return `${left.batches} batches (${left.rows} calls) are still spooled in ${printable(flags.db)}: ${printable(url)} did not accept them within --drain-timeout; the next collect --push sends them`;
      } finally {
        db.close();
      }
    },
  };
}
