// `collect live` runs on a worker thread with a bounded heap, like `collect pcap`
// (ingest-worker.ts): over days the live data stays bounded by the flow table, the per-edge path
// cap and one flush interval of aggregated rows, and the heap limit makes V8 collect instead of
// growing. tcpdump is started here, so its stream never crosses threads.
import { parentPort, workerData } from 'node:worker_threads';
import { ingestLive, type LiveOptions, type LiveOutcome, type LiveStatus } from '../ingest.js';
import { openStore, StoreError } from '../store/db.js';
import { Tcpdump, TcpdumpStartError, type TcpdumpOptions } from './tcpdump.js';

export interface LiveJob {
  dbFile: string;
  tcpdump: TcpdumpOptions;
  options: Omit<LiveOptions, 'onFlush' | 'onStatus' | 'now'>;
  wantsStatus: boolean;
}

export type ToLiveWorker = { type: 'stop' };

export type FromLiveWorker =
  | { type: 'listening'; pid: number | null }
  | { type: 'status'; status: LiveStatus }
  | { type: 'outcome'; outcome: LiveOutcome }
  | { type: 'failed'; message: string; isInputError: boolean };

const port = parentPort!;
const job = workerData as LiveJob;

async function run(): Promise<void> {
  let db;
  try {
    db = openStore(job.dbFile);
  } catch (err) {
    port.postMessage({ type: 'failed', message: (err as Error).message, isInputError: err instanceof StoreError } satisfies FromLiveWorker);
    return;
  }
  let isStopRequested = false;
  let tcpdump: Tcpdump | null = null;
  port.on('message', (m: ToLiveWorker) => {
    if (m.type !== 'stop') return;
    isStopRequested = true;
    tcpdump?.stop();
  });
  try {
    tcpdump = await Tcpdump.start(job.tcpdump);
    // A stop that arrived while tcpdump was starting.
    if (isStopRequested) tcpdump.stop();
    port.postMessage({ type: 'listening', pid: tcpdump.pid ?? null } satisfies FromLiveWorker);
    const outcome = await ingestLive(db, tcpdump, {
      ...job.options,
      onStatus: job.wantsStatus ? (status) => port.postMessage({ type: 'status', status } satisfies FromLiveWorker) : undefined,
    });
    port.postMessage({ type: 'outcome', outcome } satisfies FromLiveWorker);
  } catch (err) {
    tcpdump?.stop();
    port.postMessage({ type: 'failed', message: (err as Error).message, isInputError: err instanceof TcpdumpStartError } satisfies FromLiveWorker);
  } finally {
    db.close();
    port.close();
  }
}

void run();
