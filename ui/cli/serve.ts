// `trustmap serve`: the web UI and its JSON API over one store.
import { z } from 'zod';
import type { Command } from '../../collector/cli/command.js';
import { openDb } from '../../collector/cli/commands.js';
import { defaultDb, EXIT_OK, InputError, parseFlags, UsageError } from '../../collector/cli/support.js';
import { schemaVersion, type Db } from '../../collector/store/db.js';
import { storeAnalysis } from '../api/analysis.js';
import { IngestTokens, TokenFileError } from '../api/ingest-tokens.js';
import { duration } from '../api/params.js';
import { readToken } from '../security.js';
import { bind, serveUntilStopped } from './serve-loop.js';

export const hostFlag = z.string().min(1).max(253).regex(/^[A-Za-z0-9.:_-]+$/, 'not a host name or address');
export const portFlag = z.coerce.number().int().min(0).max(65535);

const serveFlags = z.object({
  db: z.string().min(1).default(defaultDb()),
  host: hostFlag.default('127.0.0.1'),
  port: portFlag.default(7070),
  'token-file': z.string().min(1).optional(),
  'min-window': duration.default(24 * 36e5),
  'trust-domain': z.string().min(1).max(253).optional(),
  'ingest-tokens': z.string().min(1).optional(),
  help: z.boolean().optional(),
});

export const serveSpec = {
  db: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, 'token-file': { type: 'string' },
  'min-window': { type: 'string' }, 'trust-domain': { type: 'string' }, 'ingest-tokens': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const serve: Command = {
  path: ['serve'],
  help: `Serve the web UI and its JSON API (under /api/) over a store: the service map, each
workload's callers and proposed policies, and the strict-mTLS readiness overview.

Usage:
  trustmap serve [flags]

Flags:
  --db FILE          store file (default $TRUSTMAP_DB or ./trustmap.db)
  --host ADDR        address to listen on (default 127.0.0.1)
  --port N           port (default 7070; 0 picks a free one)
  --token-file FILE  a file holding the access token (or set TRUSTMAP_TOKEN); required when
                     --host is not a loopback address. Never pass the token as a flag: ps shows it.
  --min-window D     observed time readiness needs before a workload can be "ready" (default 24h)
  --trust-domain D   SPIFFE trust domain (default cluster.local)
  --ingest-tokens FILE
                     accept batches from collectors (collect --push) at POST /api/v1/ingest;
                     FILE has one "node-name token" line per node. Edit it (or send SIGHUP) to
                     add or revoke a node; it is read again within a second.

Examples:
  trustmap serve
  openssl rand -hex 24 > ~/.trustmap-token && chmod 600 ~/.trustmap-token
  trustmap serve --host 0.0.0.0 --token-file ~/.trustmap-token

  # a central store for many nodes (docs/deploy/README.md)
  echo "worker-1 $(openssl rand -hex 24)" >> tokens && chmod 600 tokens
  trustmap serve --host 0.0.0.0 --token-file ~/.trustmap-token --ingest-tokens tokens
`,
  async run(argv, io) {
    const { flags, args } = parseFlags(argv, serveSpec, serveFlags);
    if (args.length > 0) throw new UsageError(`serve takes no arguments (got ${JSON.stringify(args[0])})`);
    const token = readToken(flags['token-file'], process.env);
    let tokens: IngestTokens | null = null;
    if (flags['ingest-tokens'] !== undefined) {
      try {
        tokens = new IngestTokens(flags['ingest-tokens']);
      } catch (err) {
        if (err instanceof TokenFileError) throw new InputError(err.message);
        throw new InputError(`cannot read the ingest tokens file ${flags['ingest-tokens']}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    // Ingest writes through its own connection, opened first: it creates and migrates the store.
    const writer: Db | null = tokens ? openDb(flags.db) : null;
    const db = openDb(flags.db, true);
    const closeAll = () => { db.close(); writer?.close(); };
    // A read-only open does not migrate: an empty file (touch trustmap.db) or another program's
    // SQLite database opens fine and then every API request failed with "no such table" (500).
    if (schemaVersion(db) === 0) {
      closeAll();
      throw new InputError(`${flags.db} is not a trustmap store (it has no trustmap tables): record calls into it first (trustmap collect ...), or name another with --db or $TRUSTMAP_DB`);
    }
    const onHangup = () => tokens?.reload();
    if (tokens) process.on('SIGHUP', onHangup);
    let running;
    try {
      running = await bind({
        db, analysis: storeAnalysis, host: flags.host, port: flags.port, token,
        minWindowMs: flags['min-window'], trustDomain: flags['trust-domain'],
        ingest: writer && tokens ? { db: writer, tokens } : undefined,
      });
    } catch (err) {
      closeAll();
      throw err;
    }
    await serveUntilStopped(running, io, () => { process.off('SIGHUP', onHangup); closeAll(); }, `Store: ${flags.db}\n`);
    return EXIT_OK;
  },
};
