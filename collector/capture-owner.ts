// Which process owns a running capture, and whether it is certainly gone. A collector killed with
// SIGKILL (or by the OOM killer, or a power cut) cannot mark its capture finished, so without an
// owner the record would say 'running' forever. The owner is the host name, the kernel's boot id
// and the process id with the process's start time (pids are reused; pid and start time are
// not, within one boot). Only a process on the same host can tell: in another container or on
// another machine the answer is "unknown", never "gone".
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

const read = (file: string): string | null => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
};

/** Field 22 of /proc/PID/stat: start time in clock ticks since boot. The name (field 2) may hold spaces and parentheses. */
function startTicks(pid: number): string | null {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === null) return null;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): a zombie has ended, whatever its parent does about it.
  if (fields[0] === 'Z') return null;
  return fields[19] ?? null;
}

const bootId = (): string | null => read('/proc/sys/kernel/random/boot_id')?.trim() || null;

interface Owner { host: string; boot: string; pid: number; start: string }

/** This process as a capture owner, or null where /proc does not tell (not Linux). */
export function currentOwner(): string | null {
  const boot = bootId();
  const start = startTicks(process.pid);
  if (boot === null || start === null) return null;
  return JSON.stringify({ host: hostname(), boot, pid: process.pid, start } satisfies Owner);
}

function parseOwner(s: string): Owner | null {
  try {
    const o = JSON.parse(s) as Partial<Owner>;
    if (typeof o.host !== 'string' || typeof o.boot !== 'string' || typeof o.pid !== 'number' || typeof o.start !== 'string') return null;
    return o as Owner;
  } catch {
    return null;
  }
}

/** True only when the owner certainly ended: same host, and it was rebooted or the process is gone. */
export function isOwnerGone(owner: string | null): boolean {
  if (owner === null) return false;
  const o = parseOwner(owner);
  if (o === null || o.host !== hostname()) return false;
  const boot = bootId();
  if (boot === null) return false;
  if (o.boot !== boot) return true;
  return startTicks(o.pid) !== o.start;
}

/** The error an interrupted capture is marked with. */
export const INTERRUPTED = 'interrupted: the collector process ended without finishing (killed?); what it committed before is kept';
