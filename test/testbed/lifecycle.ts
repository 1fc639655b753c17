// up / down / status: the testbed's lifecycle, with its state in RUN_DIR so that `down` can undo
// a crashed `up` (and finds leftovers by the tm- prefix even without that state).
import * as fs from 'node:fs';
import type { Logger } from 'pino';
import { PODS } from './definitions.js';
import { TestbedError, run } from './exec.js';
import { listIptables, listLinks, listNetns, setUpNetwork, tearDownNetwork } from './network.js';
import { RUN_DIR, STATE_FILE } from './paths.js';
import { createPki } from './pki.js';
import { bundleServices, startPods, stopPods, waitReady } from './processes.js';

export interface State {
  /** When `up` created the pods: their creationTimestamp in the inventory. */
  createdAt: string;
  sysctls: Record<string, string>;
  pids: number[];
}

export const readState = (): State | null =>
  fs.existsSync(STATE_FILE) ? JSON.parse(fs.readFileSync(STATE_FILE, 'utf8')) as State : null;

const writeState = (s: State): void => fs.writeFileSync(STATE_FILE, JSON.stringify(s, null, 2));

/** Why the testbed cannot run here, or null when it can (root and a working `ip netns`). */
export const cannotRun = (): string | null => {
  if (process.getuid?.() !== 0) return 'the testbed needs root (network namespaces, iptables, tcpdump)';
  try {
    run('ip', ['netns', 'list']);
    run('iptables', ['-w', '5', '-t', 'nat', '-S', 'PREROUTING']);
  } catch (err) {
    return `ip netns / iptables do not work here: ${(err as Error).message}`;
  }
  return null;
};

export const up = async (log: Logger): Promise<State> => {
  if (readState() || listNetns().length > 0) throw new TestbedError('the testbed is already up (run `down` first)');
  fs.mkdirSync(RUN_DIR, { recursive: true, mode: 0o700 });
  const state: State = { createdAt: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString(), sysctls: {}, pids: [] };
  writeState(state);
  try {
    createPki();
    log.info('test CA and workload certificates created');
    state.sysctls = setUpNetwork();
    writeState(state);
    log.info({ pods: PODS.length }, 'namespaces, bridge and service DNAT set up');
    await bundleServices();
    state.pids = startPods();
    writeState(state);
    await waitReady();
    log.info('all pods ready');
    return state;
  } catch (err) {
    await down(log);
    throw err;
  }
};

export const down = async (log: Logger): Promise<string[]> => {
  const state = readState();
  const stopped = await stopPods();
  const removed = tearDownNetwork(state?.sysctls ?? null);
  fs.rmSync(RUN_DIR, { recursive: true, force: true });
  log.info({ processes: stopped.length, removed: removed.length }, 'testbed down');
  return removed;
};

export interface Status { isUp: boolean; state: State | null; netns: string[]; links: string[]; iptables: string[] }

export const status = (): Status => {
  const state = readState();
  const netns = listNetns();
  return { isUp: state !== null && netns.length === PODS.length, state, netns, links: listLinks(), iptables: listIptables() };
};
