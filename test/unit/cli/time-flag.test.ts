// --since/--until (and every other time flag): an ISO-8601 date or time, or a duration back from
// now. Anything else is a usage error, never a guess: Date.parse alone read "7" as 2001-07-01.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { timeFlag } from '../../../collector/cli/commands.js';

test('ISO dates and times are read, with or without seconds, fraction and zone', () => {
  for (const [s, iso] of [
    ['2026-11-23', '2026-11-23T00:00:00.000Z'],
    ['2026-11-23T10:00Z', '2026-11-23T10:00:00.000Z'],
    ['2026-11-23T10:00:05.123Z', '2026-11-23T10:00:05.123Z'],
    ['2026-11-23T10:00:00+02:00', '2026-11-23T08:00:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
  ]) assert.equal(new Date(timeFlag.parse(s)).toISOString(), iso, s);
});

test('durations count back from now', () => {
  const before = Date.now();
  const t = timeFlag.parse('24h');
  assert.ok(t >= before - 864e5 && t <= Date.now() - 864e5);
});

test('what Date.parse would guess at is refused, a bare number with the hint that a duration needs its unit', () => {
  for (const [s, msg] of [
    ['7', /^not an ISO time or a duration like 24h: "7" \(a duration needs its unit: 30m, 24h, 7d; a date is like 2026-11-01\)$/],
    ['1.5', /a duration needs its unit/],
    ['0', /a duration needs its unit/],
    ['Nov 1', /^not an ISO time or a duration like 24h: "Nov 1"$/],
    ['2026-02-30', /not an ISO time/],
    ['2025-02-29', /not an ISO time/],
    ['2026-11-23T25:00', /not an ISO time/],
    ['yesterday', /not an ISO time/],
  ] as Array<[string, RegExp]>) {
    const r = timeFlag.safeParse(s);
    assert.equal(r.success, false, `${s} was read as ${r.success ? new Date(r.data).toISOString() : ''}`);
    assert.match(r.error!.issues[0].message, msg);
  }
});
