// Opening the store: one SQLite file in WAL mode, migrated to the newest schema.
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

export class StoreError extends Error {
  override name = 'StoreError';
}

export interface OpenOptions {
  readonly?: boolean;
}

export function openStore(file: string, opts: OpenOptions = {}): Db {
  let db: Db;
  try {
    db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  } catch (err) {
    // Read-only opens are the commands that read a store: the usual cause is that none was made yet.
    if (opts.readonly && !existsSync(file)) throw new StoreError(`no store at ${file}: record calls into it first (trustmap collect ...), or name another with --db or $TRUSTMAP_DB`);
    throw new StoreError(`cannot open database ${file}: ${(err as Error).message}`);
  }
  try {
    // An ingest holds the write lock for its whole input (one transaction); a second writer waits.
    db.pragma("busy_timeout = 60000");
    if (!opts.readonly) {
      db.pragma('journal_mode = WAL');
      // NORMAL is durable across process crashes in WAL mode; only an OS crash can lose the
      // last transactions, never corrupt the file.
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      migrate(db);
    } else {
      checkVersion(db);
    }
  } catch (err) {
    db.close();
    if (err instanceof StoreError) throw err;
    throw new StoreError(`${file} is not a trustmap database: ${(err as Error).message}`);
  }
  return db;
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * A number that changes whenever another connection commits to the store (SQLite's
 * `PRAGMA data_version`): how a reader such as `trustmap serve` knows that what it computed from
 * the store is stale. This connection's own commits do not change it.
 */
export function dataVersion(db: Db): number {
  return db.pragma('data_version', { simple: true }) as number;
}

/**
 * Like dataVersion, but this connection's own writes change it too (SQLite's total_changes()):
 * what a cache on a connection that may also write (tests, `trustmap demo`) must compare.
 */
export function contentVersion(db: Db): string {
  return `${dataVersion(db)}/${db.prepare('SELECT total_changes()').pluck().get() as number}`;
}

function latestVersion(): number {
  return MIGRATIONS[MIGRATIONS.length - 1].version;
}

function checkVersion(db: Db): void {
  const v = schemaVersion(db);
  if (v > latestVersion()) {
    throw new StoreError(`database schema version ${v} is newer than this trustmap (${latestVersion()}); upgrade trustmap`);
  }
}

function migrate(db: Db): void {
  checkVersion(db);
  const current = schemaVersion(db);
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
}
