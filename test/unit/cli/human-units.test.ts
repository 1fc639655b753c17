// Sizes and counts in the progress bar and status lines: SI units, as the progress test reads them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { humanBytes, humanCount } from '../../../collector/cli/support.js';

test('bytes in SI units: B, kB, MB, GB, TB (powers of 1000)', () => {
  // "524 KB" on the first frame of a slow read made the progress test's [kMG]?B fail.
  assert.deepEqual([0, 999, 524_288, 1_500_000, 101_000_000, 2e9, 3e12].map(humanBytes), ['0 B', '999 B', '524 kB', '1.5 MB', '101 MB', '2.0 GB', '3.0 TB']);
});

test('counts: plain below 10,000, then k and M', () => {
  assert.deepEqual([7, 9999, 10_000, 2_135_000].map(humanCount), ['7', '9999', '10.0k', '2.13M']);
});
