// `collect pcap` runs its ingest on a worker thread with a bounded heap. The ingest's live data is
// small and bounded by design (flow table, aggregation batch, side records: at most 63 MiB at the
// defaults, measured after forced GCs on the 1 GB synthetic capture), but V8 grows the old
// generation lazily: the process peaked at 330 MiB RSS. With a 160 MiB old and 8 MiB young
// generation it peaks at 208 MiB, at a cost in speed (5.4 s → 7.3 s; docs/benchmarks.md).
// Standard input is read by the main thread and handed over chunk by chunk, acknowledged, so at
// most a few chunks are ever queued.
import { Readable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { ingestCapture, type IngestOptions, type IngestOutcome, type Progress } from './ingest.js';
import { openStore, StoreError } from './store/db.js';

export interface IngestJob {
  dbFile: string;
  inputs: string[];
  options: Omit<IngestOptions, 'onProgress' | 'now'>;
  wantsProgress: boolean;
}

export type FromWorker =
  | { type: 'progress'; progress: Progress }
  | { type: 'outcome'; outcome: IngestOutcome }
  | { type: 'ack' }
  | { type: 'done' }
  | { type: 'failed'; message: string; isInputError: boolean };

export type ToWorker = { type: 'chunk'; bytes: Uint8Array } | { type: 'end' };

const port = parentPort!;
const job = workerData as IngestJob;

/** Standard input as the main thread forwards it; each chunk consumed is acknowledged. */
function stdinFromParent(): Readable {
  const ack = () => port.postMessage({ type: 'ack' } satisfies FromWorker);
  let owed = 0;
  // A chunk is acknowledged once the stream has room for more, so the sender never runs ahead.
  const s = new Readable({ read() { for (; owed > 0; owed--) ack(); } });
  port.on('message', (m: ToWorker) => {
    if (m.type === 'end') { s.push(null); return; }
    if (s.push(Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength))) ack();
    else owed++;
  });
  return s;
}

async function run(): Promise<void> {
  let db;
  try {
    db = openStore(job.dbFile);
  } catch (err) {
    port.postMessage({ type: 'failed', message: (err as Error).message, isInputError: err instanceof StoreError } satisfies FromWorker);
    return;
  }
  try {
    const stdin = job.inputs.includes('-') ? stdinFromParent() : null;
    for (const input of job.inputs) {
      const outcome = await ingestCapture(db, input, stdin, {
        ...job.options,
        onProgress: job.wantsProgress ? (progress) => port.postMessage({ type: 'progress', progress } satisfies FromWorker) : undefined,
      });
      port.postMessage({ type: 'outcome', outcome } satisfies FromWorker);
    }
    port.postMessage({ type: 'done' } satisfies FromWorker);
  } catch (err) {
    port.postMessage({ type: 'failed', message: (err as Error).message, isInputError: false } satisfies FromWorker);
  } finally {
    db.close();
    port.close();
  }
}

void run();
