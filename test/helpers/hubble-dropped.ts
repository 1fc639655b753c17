// Test helper: the synthetic Hubble export with DROPPED flows between the bookinfo pods
// (test/fixtures/hubble/hubble-observe-synthetic-bookinfo-dropped.jsonl, see its ATTRIBUTION.md)
// and the bookinfo inventory that names those pods, ingested through the CLI as a user would.
// ratings-v1 -> details-v1 was refused both times, reviews-v2 -> ratings-v1 once of two.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
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

/**
 * `calls` calls Cilium refused half the time, as a Hubble export in `dir`: the fixture's first
 * DROPPED flow (ratings-v1 -> details-v1:9080, SYN, POLICY_DENIED) repeated from 10.245.X.Y, once
 * FORWARDED and once DROPPED per source address, each from its own source port, a millisecond
 * apart. Each call has two verdict rows (FORWARDED 1, DROPPED 1): more verdict rows than calls,
 * so a collector sends the calls with the first VERDICTS_PER_BATCH of them and the rest later.
 */
export function halfRefusedFlows(calls: number, dir: string): string {
  const template = readFileSync(HUBBLE_DROPPED_FLOWS, 'utf8').split('\n').find((l) => l.includes('"verdict":"DROPPED"'))!;
  const t0 = Date.parse('2021-08-02T07:04:22.730Z');
  const lines: string[] = [];
  for (let i = 0; i < calls; i++) {
    for (const [j, verdict] of (['FORWARDED', 'DROPPED'] as const).entries()) {
      const line = JSON.parse(template) as { flow: HubbleLine; time: string };
      const time = new Date(t0 + 2 * i + j).toISOString();
      line.flow.IP.source = `10.245.${i >> 8}.${i & 255}`;
      line.flow.l4.TCP.source_port = 20_000 + 2 * i + j;
      line.flow.verdict = verdict;
      line.flow.time = line.time = time;
      lines.push(JSON.stringify(line));
    }
  }
  const file = join(dir, `half-refused-${calls}.jsonl`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

interface HubbleLine { time: string; verdict: string; IP: { source: string }; l4: { TCP: { source_port: number } } }
