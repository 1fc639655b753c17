// isoTime must write exactly what Date#toISOString writes, for every millisecond it caches and
// for everything it hands back to Date.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isoTime } from '../../../analyzer/iso-time.js';

test('equal to toISOString: random times, every millisecond of one minute, the edges of the range', () => {
  let seed = 7;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const times: number[] = [0, 1, 59_999, 60_000, 951_782_400_000 /* 2000-02-29 */, 253402300799999, Date.UTC(2026, 10, 23, 23, 59, 59, 999)];
  for (let i = 0; i < 200_000; i++) times.push(Math.floor(random() * 4_102_444_800_000)); // up to 2100
  const minute = Date.UTC(2026, 10, 23, 12, 34);
  for (let ms = 0; ms < 60_000; ms++) times.push(minute + ms);
  for (const t of times) assert.equal(isoTime(t), new Date(t).toISOString(), String(t));
});

test('outside what it caches it defers to Date: before 1970, after 9999, fractions, and what Date refuses', () => {
  for (const t of [-1, -62_135_596_800_000, 253402300800000, 1.5, 8.64e15]) assert.equal(isoTime(t), new Date(t).toISOString(), String(t));
  assert.throws(() => isoTime(Number.NaN), RangeError);
});
