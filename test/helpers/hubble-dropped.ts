// Test helper: the synthetic Hubble export with DROPPED flows between the bookinfo pods
// (test/fixtures/hubble/hubble-observe-synthetic-bookinfo-dropped.jsonl, see its ATTRIBUTION.md)
// and the bookinfo inventory that names those pods, ingested through the CLI as a user would.
// ratings-v1 -> details-v1 was refused both times, reviews-v2 -> ratings-v1 once of two.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runCli } from './cli.js';
import { tempDir } from './ingest.js';

const FIX = new URL('../fixtures/', import.meta.url).pathname;
export const HUBBLE_DROPPED_FLOWS = FIX + 'hubble/hubble-observe-synthetic-bookinfo-dropped.jsonl';
export const BOOKINFO_INVENTORY = [FIX + 'k8s/bookinfo-pods-list.json', FIX + 'k8s/bookinfo-ns-list.json'];

/** A store with the flows (as `node`) and the inventory; returns its file. */
export function hubbleDroppedStore(node = 'node-a'): string {
  const db = join(tempDir('tm-hubble-dropped-'), 'store.db');
  for (const args of [['collect', 'hubble', '--db', db, '--node', node, HUBBLE_DROPPED_FLOWS], ['inventory', 'load', '--db', db, ...BOOKINFO_INVENTORY]]) {
    const r = runCli(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  return db;
}
