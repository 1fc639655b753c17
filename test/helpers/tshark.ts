// Test-only: ask tshark (an independent decoder) what a capture contains, so expected values in
// tests come from a peer implementation and not from our own output.
import { execFileSync } from 'node:child_process';

/** One row per packet, one column per field; empty rows dropped. */
export function tsharkFields(file: string, fields: string[], extra: string[] = []): string[][] {
  const args = ['-r', file, ...extra, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const f of fields) args.push('-e', f);
  const out = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out
    .split('\n')
    .map((l) => l.split('\t'))
    .filter((cols) => cols.some((c) => c !== ''));
}
