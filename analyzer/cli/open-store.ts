// The store as the analyzer's commands read it: read-only, so never migrated (docs/cli.md).
import { openDb } from '../../collector/cli/commands.js';
import { InputError } from '../../collector/cli/support.js';
import { schemaVersion, type Db } from '../../collector/store/db.js';

/**
 * Opens `file` read-only. A file without trustmap's tables (an empty file, `touch trustmap.db`,
 * another program's SQLite database) opens fine read-only and then failed at the first query with
 * "no such table" (exit 1); it is an input error, one line, exit 2.
 */
export function openStoreToRead(file: string): Db {
  const db = openDb(file, true);
  if (schemaVersion(db) !== 0) return db;
  db.close();
  throw new InputError(`${file} is not a trustmap store (it has no trustmap tables): record calls into it first (trustmap collect ...), or name another with --db or $TRUSTMAP_DB`);
}
