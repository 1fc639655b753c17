// The analyzer's answers, reused while the store is unchanged. Building the workload graph of a
// 1,000-workload store takes 100–280 ms (docs/benchmarks.md), and one page load asks for it up to
// three times (summary, map, side panel). contentVersion (SQLite's data_version with this
// connection's own changes) tells exactly when a collector, a merge or the demo's ingest has
// committed something new, and everything computed before is dropped. Entries are whole graphs
// or their JSON (tens of MB at that size), so few are kept.
import { contentVersion, type Db } from '../../collector/store/db.js';

export const MEMO_ENTRIES = 8;

export class StoreMemo {
  private version: string | null = null;
  /** Insertion order is recency order: a hit moves its entry to the end. */
  private readonly entries = new Map<string, unknown>();

  constructor(private readonly db: Db, private readonly maxEntries = MEMO_ENTRIES) {}

  /** `compute()`'s result for `key`, computed at most once per store version. */
  get<T>(key: string, compute: () => T): T {
    const v = contentVersion(this.db);
    if (v !== this.version) {
      this.entries.clear();
      this.version = v;
    }
    if (this.entries.has(key)) {
      const hit = this.entries.get(key) as T;
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const value = compute();
    this.entries.set(key, value);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }
}
