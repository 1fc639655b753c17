// Opening the store: one SQLite file in WAL mode, migrated to the newest schema.
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname } from 'node:path';
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
  // SQLite takes "" for a private temporary database, deleted on close: an ingest into it would
  // report its calls recorded and keep none.
  if (file === '') throw new StoreError('the store\'s file name is empty (TRUSTMAP_DB set to ""?): name it with --db FILE or TRUSTMAP_DB');
  let db: Db;
  try {
    db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  } catch (err) {
    // Read-only opens are the commands that read a store: the usual cause is that none was made yet.
    if (opts.readonly && !existsSync(file)) throw new StoreError(`no store at ${file}: record calls into it first (trustmap collect ...), or name another with --db or $TRUSTMAP_DB`);
    throw new StoreError(`cannot open database ${file}: ${deniedAccess(file) ?? (err as Error).message}`);
  }
  try {
    // An ingest holds the write lock for its whole input (one transaction); a second writer waits.
    db.pragma("busy_timeout = 60000");
    if (!opts.readonly) {
      // SQLite opens a file it may not write read-only without a word, and fails at the first
      // write: an ingest would stop midway with "attempt to write a readonly database".
      checkWritable(file);
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
    throw new StoreError(permissionProblem(file, err, opts.readonly ?? false) ?? `${file} is not a trustmap database: ${(err as Error).message}`);
  }
  return db;
}

/** Why SQLite's "unable to open database file" happened, when it is a permission. */
function deniedAccess(file: string): string | null {
  const [path, mode, what] = existsSync(file) ? [file, constants.R_OK, 'read it'] : [dirname(file), constants.W_OK, `write to ${dirname(file)}`];
  try {
    accessSync(path, mode);
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EACCES' ? `this user may not ${what}` : null;
  }
}

function checkWritable(file: string): void {
  try {
    accessSync(file, constants.W_OK);
  } catch (err) {
    throw new StoreError(`cannot write to the store ${file}: ${(err as NodeJS.ErrnoException).code === 'EROFS' ? 'a read-only file system' : 'this user may not write it'}`);
  }
}

/** The store could not be used for lack of permission, not because it is not a store: what to say. */
function permissionProblem(file: string, err: unknown, readonly: boolean): string | null {
  const code = (err as { code?: unknown }).code;
  if (code === 'SQLITE_READONLY_DIRECTORY') {
    // WAL mode (every store): a reader needs FILE-shm. While a collector has the store open it
    // exists and a reader may use it read-only; otherwise the reader must create it.
    return readonly
      ? `cannot read the store ${file}: SQLite must create ${file}-shm to read it while no collector has it open, and this user may not write to ${dirname(file)}; read it as the user that writes it`
      : `cannot write to the store ${file}: this user may not write to ${dirname(file)} (SQLite keeps ${file}-wal and -shm beside it)`;
  }
  if (typeof code === 'string' && code.startsWith('SQLITE_READONLY')) return `cannot ${readonly ? 'read' : 'write to'} the store ${file}: this user may not write it or ${dirname(file)}`;
  return null;
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
      // Read again under the write lock: two collectors opening a new store at once both saw
      // version 0, and the second one failed on "table captures already exists".
      if (schemaVersion(db) >= m.version) return;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
}
