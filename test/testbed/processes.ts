// The pod processes: one bundled Node program started per pod inside its namespace, reached
// through a unix-domain control socket, stopped by pid (and by namespace membership after a crash).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PodDef } from './definitions.js';
import { PODS, netnsName } from './definitions.js';
import { TestbedError } from './exec.js';
import type { LedgerEntry } from './ledger.js';
import { netnsPids } from './network.js';
import { BUNDLE, CTL_DIR, LOG_DIR, PID_DIR, ctlSocket } from './paths.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** One ESM file for all pods: plain `node` starts in ~50 ms, where tsx would compile per pod. */
export const bundleServices = async (): Promise<void> => {
  const { build } = await import('esbuild');
  await build({
    entryPoints: [path.join(HERE, 'services', 'main.ts')], bundle: true, platform: 'node', format: 'esm',
    target: 'node20', outfile: BUNDLE, logLevel: 'error',
    // pino's CommonJS wants require() in an ESM bundle.
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
};

export const startPods = (): number[] => {
  for (const dir of [CTL_DIR, LOG_DIR, PID_DIR]) fs.mkdirSync(dir, { recursive: true });
  return PODS.map((p, i) => {
    const out = fs.openSync(path.join(LOG_DIR, `${netnsName(p)}.log`), 'a');
    const child = spawn('ip', ['netns', 'exec', netnsName(p), process.execPath, BUNDLE, String(i)], {
      detached: true, stdio: ['ignore', out, out],
    });
    child.unref();
    fs.closeSync(out);
    if (child.pid === undefined) throw new TestbedError(`could not start ${p.name}`);
    fs.writeFileSync(path.join(PID_DIR, `${i}.pid`), String(child.pid));
    return child.pid;
  });
};

export const ctl = <T>(p: PodDef, method: 'GET' | 'POST', url: string, body?: unknown, timeoutMs = 15_000): Promise<T> =>
  new Promise((resolve, reject) => {
    const payload = body === undefined ? '' : JSON.stringify(body);
    const req = http.request({ socketPath: ctlSocket(p), method, path: url, timeout: timeoutMs,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new TestbedError(`${p.name} ${url}: ${text}`));
        resolve(JSON.parse(text) as T);
      });
    });
    req.on('timeout', () => req.destroy(new TestbedError(`${p.name} ${url}: timeout`)));
    req.on('error', reject);
    req.end(payload);
  });

export const waitReady = async (timeoutMs = 30_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (const p of PODS) {
    for (;;) {
      try {
        await ctl(p, 'GET', '/ready', undefined, 1000);
        break;
      } catch {
        if (Date.now() > deadline) {
          throw new TestbedError(`pod ${p.namespace}/${p.name} not ready; see ${path.join(LOG_DIR, `${netnsName(p)}.log`)}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
};

export const ledgers = async (): Promise<LedgerEntry[]> =>
  (await Promise.all(PODS.map((p) => ctl<LedgerEntry[]>(p, 'GET', '/ledger')))).flat();

export const allPods = (url: '/reset' | '/drain'): Promise<unknown[]> =>
  Promise.all(PODS.map((p) => ctl(p, 'POST', url)));

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Stops the pods' processes: the recorded pids, plus anything still inside a testbed namespace. */
export const stopPods = async (): Promise<number[]> => {
  const recorded = fs.existsSync(PID_DIR)
    ? fs.readdirSync(PID_DIR).map((f) => Number(fs.readFileSync(path.join(PID_DIR, f), 'utf8')))
    : [];
  // A recorded pid counts only while it still runs our bundle (pids are reused).
  const ours = recorded.filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(BUNDLE);
    } catch {
      return false;
    }
  });
  const pids = [...new Set([...ours, ...netnsPids()])].filter((pid) => pid > 1 && alive(pid));
  for (const pid of pids) process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 3000;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
  return pids;
};
