// Running the system tools the testbed drives (ip, iptables, openssl, sysctl), one line per failure.
import { execFileSync } from 'node:child_process';

export class TestbedError extends Error {}

export const run = (cmd: string, args: string[], input?: string): string => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const detail = (e.stderr ?? e.message).trim().split('\n')[0] ?? '';
    throw new TestbedError(`${cmd} ${args.join(' ')}: ${detail}`);
  }
};

/** For cleanup: a failure (the thing is already gone) is not an error. */
export const tryRun = (cmd: string, args: string[]): boolean => {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

export const ipNetns = (ns: string, args: string[]): string => run('ip', ['netns', 'exec', ns, ...args]);
