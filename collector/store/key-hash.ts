// A 64-bit hash of an aggregation key string, as two signed 32-bit halves: the calls table's
// unique key. Two independent 32-bit mixes (murmur3's finaliser over UTF-16 code units, with
// different seeds); computed once per row written, never per packet.

function mix(s: string, seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < s.length; i++) {
    let k = Math.imul(s.charCodeAt(i), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= s.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export function keyHash(s: string): [hi: number, lo: number] {
  return [mix(s, 0x5bd1e995), mix(s, 0x27d4eb2f)];
}
