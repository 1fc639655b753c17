// The traffic driver: a fixed, bounded schedule of user sessions, kubelet probes, Prometheus
// scrapes and one report Job run, then a drain so every pooled connection closes inside the run.
import * as http from 'node:http';
import type { Logger } from 'pino';
import { ADMIN_PORT, PODS, onePod } from './definitions.js';
import { TestbedError } from './exec.js';
import { allPods, ctl } from './processes.js';

/** Hard caps, whatever the flags say. */
export const LIMITS = { maxSeconds: 120, maxSessionsPerSecond: 10, maxActions: 3000 } as const;

export interface TrafficOptions { seconds: number; sessionsPerSecond: number }

export interface TrafficSummary {
  seconds: number;
  sessions: { started: number; completed: number };
  probes: { started: number; completed: number };
  scrapes: number;
  reportJobRuns: number;
  failures: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A kubelet HTTP probe: from the node address, a fresh connection each time (no keep-alive). */
const probe = (ip: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const req = http.get({ host: ip, port: ADMIN_PORT, path: '/healthz', agent: false, timeout: 5000,
      headers: { 'user-agent': 'kube-probe/1.35', accept: '*/*' } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`probe ${ip}: ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`probe ${ip}: timeout`)));
    req.on('error', reject);
  });

export const drive = async (opts: TrafficOptions, log: Logger): Promise<TrafficSummary> => {
  if (opts.seconds > LIMITS.maxSeconds || opts.sessionsPerSecond > LIMITS.maxSessionsPerSecond) {
    throw new TestbedError(`traffic is capped at ${LIMITS.maxSeconds} s and ${LIMITS.maxSessionsPerSecond} sessions/s`);
  }
  const user = onePod('/internet-user');
  const prometheus = onePod('monitoring/prometheus');
  const reportJob = onePod('legacy/report-job');
  const probed = PODS.filter((p) => p.isProbed);
  const summary: TrafficSummary = {
    seconds: opts.seconds, sessions: { started: 0, completed: 0 }, probes: { started: 0, completed: 0 },
    scrapes: 0, reportJobRuns: 0, failures: [],
  };
  const inFlight: Array<Promise<void>> = [];
  let actions = 0;
  const launch = (what: string, work: () => Promise<void>): void => {
    if (++actions > LIMITS.maxActions) return;
    inFlight.push(work().catch((err: Error) => {
      summary.failures.push(`${what}: ${err.message}`);
      log.warn({ what, err: err.message }, 'traffic action failed');
    }));
  };

  await allPods('/reset');
  const started = Date.now();
  let session = 0;
  for (let t = 0; t < opts.seconds; t++) {
    const secondStart = started + t * 1000;
    if (t % 3 === 0) {
      for (const p of probed) {
        summary.probes.started += 1;
        launch(`probe ${p.name}`, async () => { await probe(p.ip); summary.probes.completed += 1; });
      }
    }
    if (t % 5 === 2) launch('scrape', async () => { await ctl(prometheus, 'POST', '/act', {}); summary.scrapes += 1; });
    if (t === Math.floor(opts.seconds / 2)) {
      launch('report-job', async () => { await ctl(reportJob, 'POST', '/act', {}); summary.reportJobRuns += 1; });
    }
    for (let i = 0; i < opts.sessionsPerSecond; i++) {
      const n = session++;
      summary.sessions.started += 1;
      launch(`session ${n}`, async () => {
        await ctl(user, 'POST', '/act', { session: n, checkout: n % 2 === 0 });
        summary.sessions.completed += 1;
      });
      await sleep(Math.max(0, secondStart + ((i + 1) * 1000) / opts.sessionsPerSecond - Date.now()));
    }
    await sleep(Math.max(0, secondStart + 1000 - Date.now()));
  }
  await Promise.all(inFlight);
  // Close every pooled connection so the capture holds whole conversations.
  await allPods('/drain');
  await sleep(500);
  return summary;
};
