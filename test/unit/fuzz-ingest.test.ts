// No byte sequence may crash the collector. Random bytes, and real captures with random
// mutations (bit flips, overwritten runs, truncation, spliced duplicates), go through the whole
// ingest — reader, decoders, tracker, inspectors, store — and must end as a recorded capture or
// a one-line "unsupported input" error. Seeded and bounded, so a failure reproduces.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ingestCapture } from '../../collector/ingest.js';
import { openStore } from '../../collector/store/db.js';
import { tempDir } from '../helpers/ingest.js';

const FIX = new URL('../fixtures/pcap/', import.meta.url).pathname;
const seeds = readdirSync(FIX).filter((f) => /\.pcap(ng)?$/.test(f)).map((f) => readFileSync(join(FIX, f)));
const db = openStore(join(tempDir(), 'fuzz.db'));

async function ingestBytes(bytes: Uint8Array, chunk: number): Promise<void> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) chunks.push(Buffer.from(bytes.subarray(i, i + chunk)));
  const outcome = await ingestCapture(db, '-', Readable.from(chunks), { node: '', force: true, maxFlows: 2048 });
  if (outcome.status === 'error') {
    assert.ok(!outcome.message.includes('\n'), `multi-line error: ${outcome.message}`);
    assert.ok(outcome.message.length < 300);
  } else {
    assert.equal(outcome.status, 'complete');
    if (outcome.status === 'complete') assert.ok(outcome.stats.packets >= 0 && outcome.stats.malformed >= 0);
  }
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('run' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), from: fc.nat(), len: fc.integer({ min: 1, max: 2048 }) }),
);

type Mutation = { kind: string; at: number; bit?: number; bytes?: Uint8Array; from?: number; len?: number };

function mutate(base: Uint8Array, muts: Mutation[]): Uint8Array {
  let b = Buffer.from(base);
  for (const m of muts) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.kind === 'flip') b[at] ^= 1 << m.bit!;
    else if (m.kind === 'run') b.set(m.bytes!.subarray(0, b.length - at), at);
    else if (m.kind === 'truncate') b = b.subarray(0, at);
    else {
      const from = m.from! % b.length;
      b = Buffer.concat([b.subarray(0, at), b.subarray(from, from + m.len!), b.subarray(at)]);
    }
  }
  return b;
}

test('random bytes never crash the ingest', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), fc.integer({ min: 1, max: 5000 }), (bytes, chunk) => ingestBytes(bytes, chunk)),
    { numRuns: 300, seed: 20261123 },
  );
});

test('random bytes behind a valid capture header never crash the ingest', async () => {
  const headers = [seeds[0].subarray(0, 24)];
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...headers), fc.uint8Array({ maxLength: 8192 }), fc.integer({ min: 1, max: 5000 }),
      (h, body, chunk) => ingestBytes(Buffer.concat([h, body]), chunk)),
    { numRuns: 150, seed: 7 },
  );
});

test('mutated real captures never crash the ingest', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: seeds.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 70000 }),
      (i, muts, chunk) => ingestBytes(mutate(seeds[i], muts), chunk)),
    { numRuns: 1000, seed: 42 },
  );
});
