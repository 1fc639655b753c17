// record: tcpdump on every interface of the root namespace (as on a node: the veths and the bridge,
// so each packet appears more than once, and Service traffic both before and after DNAT) while the
// driver runs; then capture.pcap, inventory.json and expected-calls.json into the output folder.
// Brings the testbed up (and down again) when it is not already up.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { NODE_IP, PODS, POD_CIDR, SERVICES, SERVICE_CIDR } from './definitions.js';
import type { TrafficSummary } from './driver.js';
import { drive } from './driver.js';
import { TestbedError } from './exec.js';
import { buildExpected } from './ground-truth.js';
import { buildInventory } from './inventory.js';
import { down, readState, status, up } from './lifecycle.js';
import { ledgers } from './processes.js';

export interface RecordOptions { seconds: number; sessionsPerSecond: number; out: string }

export interface RecordResult {
  out: string;
  files: Record<string, number>;
  traffic: TrafficSummary;
  calls: number;
  applicationCalls: number;
}

/** Only the testbed's addresses: the VM's own traffic (and its ARP) stays out of the file. */
export const captureFilter = (): string => {
  const outside = PODS.filter((p) => !p.isInCluster).map((p) => `host ${p.ip}`);
  const lbs = SERVICES.flatMap((s) => (s.loadBalancerIP ? [`host ${s.loadBalancerIP}`] : []));
  return ['net', POD_CIDR, 'or net', SERVICE_CIDR, ...[...outside, ...lbs].map((h) => `or ${h}`)].join(' ');
};

const startTcpdump = (file: string): Promise<{ stop: () => Promise<string> }> =>
  new Promise((resolve, reject) => {
    const child = spawn('tcpdump', ['-i', 'any', '-n', '-U', '-Z', 'root', '-w', file, captureFilter()], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let isListening = false;
    const exited = new Promise<string>((done) => child.on('exit', () => done(stderr)));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => {
      stderr += c;
      if (!isListening && stderr.includes('listening on')) {
        isListening = true;
        resolve({ stop: () => { child.kill('SIGINT'); return exited; } });
      }
    });
    child.on('error', (err) => reject(new TestbedError(`tcpdump: ${err.message}`)));
    void exited.then(() => { if (!isListening) reject(new TestbedError(`tcpdump: ${stderr.trim().split('\n')[0] ?? 'exited'}`)); });
  });

export const record = async (opts: RecordOptions, log: Logger): Promise<RecordResult> => {
  const wasUp = status().isUp;
  if (!wasUp) await up(log);
  try {
    const state = readState();
    if (!state) throw new TestbedError('no testbed state');
    fs.mkdirSync(opts.out, { recursive: true });
    const pcap = path.join(opts.out, 'capture.pcap');
    const tcpdump = await startTcpdump(pcap);
    const startedAt = new Date().toISOString();
    let traffic: TrafficSummary;
    try {
      traffic = await drive({ seconds: opts.seconds, sessionsPerSecond: opts.sessionsPerSecond }, log);
    } finally {
      const summary = await tcpdump.stop();
      log.info({ tcpdump: summary.trim().split('\n').slice(-3).join('; ') }, 'capture stopped');
    }
    const expected = buildExpected(await ledgers(), { started_at: startedAt, seconds: opts.seconds });
    fs.writeFileSync(path.join(opts.out, 'expected-calls.json'), `${JSON.stringify(expected, null, 2)}\n`);
    fs.writeFileSync(path.join(opts.out, 'inventory.json'), `${JSON.stringify(buildInventory(state.createdAt), null, 2)}\n`);
    const files = Object.fromEntries(['capture.pcap', 'inventory.json', 'expected-calls.json']
      .map((f) => [f, fs.statSync(path.join(opts.out, f)).size]));
    log.info({ out: opts.out, node: NODE_IP, ...files }, 'recorded');
    return { out: opts.out, files, traffic, calls: expected.calls.length, applicationCalls: expected.application_calls.length };
  } finally {
    if (!wasUp) await down(log);
  }
};
