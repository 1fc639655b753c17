// The owner of a running capture: alive while its process runs, certainly gone once it ended on
// this host (or the host rebooted), and never "gone" when this host cannot tell.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { currentOwner, isOwnerGone } from '../../../collector/capture-owner.js';

const startOf = (pid: number): string => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
};
const boot = (): string => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const owner = (o: { host?: string; boot?: string; pid: number; start: string }): string =>
  JSON.stringify({ host: o.host ?? hostname(), boot: o.boot ?? boot(), pid: o.pid, start: o.start });

test('this process owns its captures and is not gone', () => {
  const me = currentOwner();
  assert.notEqual(me, null);
  assert.deepEqual(JSON.parse(me!), { host: hostname(), boot: boot(), pid: process.pid, start: startOf(process.pid) });
  assert.equal(isOwnerGone(me), false);
});

test('a process that ended is gone; its pid reused by a later process is still gone', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  await new Promise((r) => child.once('spawn', r));
  const its = owner({ pid: child.pid!, start: startOf(child.pid!) });
  assert.equal(isOwnerGone(its), false, 'alive while it runs');
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.equal(isOwnerGone(its), true);
  // Same pid, another start time: this process, as if the pid had been handed to it later.
  assert.equal(isOwnerGone(owner({ pid: process.pid, start: String(Number(startOf(process.pid)) + 1) })), true);
});

test('a reboot ends every owner of the host; another host or anything unreadable is never gone', () => {
  const start = startOf(process.pid);
  assert.equal(isOwnerGone(owner({ pid: process.pid, start, boot: '00000000-0000-0000-0000-000000000000' })), true);
  assert.equal(isOwnerGone(owner({ pid: 999_999_999, start, host: `not-${hostname()}` })), false);
  for (const bad of [null, '', 'garbage', '{"host":1}', JSON.stringify({ host: hostname(), boot: boot(), pid: '1', start })]) {
    assert.equal(isOwnerGone(bad), false, String(bad));
  }
});
