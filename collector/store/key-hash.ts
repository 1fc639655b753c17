// A 64-bit hash of an aggregation key string, as two signed 32-bit halves: the calls table's
// unique key. Two independent 32-bit mixes (murmur3's finaliser over UTF-16 code units, with
// different seeds); computed once per row written, never per packet. The mixes read the string
// left to right, so the state after a prefix can be kept and continued: the aggregator keeps it
// per edge (the key's connection part), and a row's hash reads only the rest of its key.

const SEED_HI = 0x5bd1e995;
const SEED_LO = 0x27d4eb2f;

function run(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    let k = Math.imul(s.charCodeAt(i), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  return h;
}

function finish(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export function keyHash(s: string): [hi: number, lo: number] {
  return [finish(run(SEED_HI, s), s.length), finish(run(SEED_LO, s), s.length)];
}

/** Both mixes' state after a key's first characters. */
export interface KeyHashPrefix {
  hi: number;
  lo: number;
  length: number;
}

export function keyHashPrefix(prefix: string): KeyHashPrefix {
  return { hi: run(SEED_HI, prefix), lo: run(SEED_LO, prefix), length: prefix.length };
}

/** keyHash(prefix + rest), given keyHashPrefix(prefix). */
export function keyHashAfter(p: KeyHashPrefix, rest: string): [hi: number, lo: number] {
  const length = p.length + rest.length;
  return [finish(run(p.hi, rest), length), finish(run(p.lo, rest), length)];
}
