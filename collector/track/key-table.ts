// An open-addressing hash map from four int32 key words to an int32 value, in typed arrays.
// The packet path looks up flows and addresses here without building string keys, i.e. without
// allocating. Linear probing with backward-shift deletion (no tombstones), so lookups stay short
// however many flows come and go.

const EMPTY = -1;

export class KeyTable {
  private keys: Int32Array;
  private vals: Int32Array;
  private mask: number;
  size = 0;

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.keys = new Int32Array(cap * 4);
    this.vals = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
  }

  private static hash(a: number, b: number, c: number, d: number): number {
    let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ b, 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 16) ^ c, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ d, 0xc2b2ae35);
    return h ^ (h >>> 16);
  }

  /** The value stored for the key, or -1. */
  get(a: number, b: number, c: number, d: number): number {
    const keys = this.keys, vals = this.vals, mask = this.mask;
    for (let s = KeyTable.hash(a, b, c, d) & mask; ; s = (s + 1) & mask) {
      const v = vals[s];
      if (v === EMPTY) return EMPTY;
      const k = s * 4;
      if (keys[k] === a && keys[k + 1] === b && keys[k + 2] === c && keys[k + 3] === d) return v;
    }
  }

  /** Inserts or overwrites. Values must be >= 0. */
  set(a: number, b: number, c: number, d: number, value: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    const keys = this.keys, vals = this.vals, mask = this.mask;
    for (let s = KeyTable.hash(a, b, c, d) & mask; ; s = (s + 1) & mask) {
      const k = s * 4;
      if (vals[s] === EMPTY) {
        keys[k] = a; keys[k + 1] = b; keys[k + 2] = c; keys[k + 3] = d;
        vals[s] = value;
        this.size++;
        return;
      }
      if (keys[k] === a && keys[k + 1] === b && keys[k + 2] === c && keys[k + 3] === d) {
        vals[s] = value;
        return;
      }
    }
  }

  delete(a: number, b: number, c: number, d: number): boolean {
    const keys = this.keys, vals = this.vals, mask = this.mask;
    let s = KeyTable.hash(a, b, c, d) & mask;
    for (; ; s = (s + 1) & mask) {
      if (vals[s] === EMPTY) return false;
      const k = s * 4;
      if (keys[k] === a && keys[k + 1] === b && keys[k + 2] === c && keys[k + 3] === d) break;
    }
    // Backward-shift: pull later members of the probe run into the hole when their home slot
    // allows it, so no tombstone is needed.
    let hole = s;
    for (let j = (s + 1) & mask; vals[j] !== EMPTY; j = (j + 1) & mask) {
      const k = j * 4;
      const home = KeyTable.hash(keys[k], keys[k + 1], keys[k + 2], keys[k + 3]) & mask;
      const movable = hole <= j ? home <= hole || home > j : home <= hole && home > j;
      if (!movable) continue;
      keys.copyWithin(hole * 4, k, k + 4);
      vals[hole] = vals[j];
      hole = j;
    }
    vals[hole] = EMPTY;
    this.size--;
    return true;
  }

  clear(): void {
    this.vals.fill(EMPTY);
    this.size = 0;
  }

  private grow(): void {
    const oldKeys = this.keys, oldVals = this.vals;
    const cap = (this.mask + 1) * 2;
    this.keys = new Int32Array(cap * 4);
    this.vals = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
    this.size = 0;
    for (let s = 0; s < oldVals.length; s++) {
      if (oldVals[s] === EMPTY) continue;
      const k = s * 4;
      this.set(oldKeys[k], oldKeys[k + 1], oldKeys[k + 2], oldKeys[k + 3], oldVals[s]);
    }
  }
}
