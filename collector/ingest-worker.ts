// `collect pcap` runs its ingest on a worker thread with a bounded heap. The ingest's live data is
// small and bounded by design (flow table, aggregation batch, side records: at most 63 MiB at the
// defaults, measured after forced GCs on the 1 GB synthetic capture), but V8 grows the old
// generation lazily: the process peaked at 330 MiB RSS. With a 160 MiB old and 8 MiB young
// generation it peaks at 208 MiB, at a cost in speed (5.4 s → 7.3 s; docs/benchmarks.md).
// Standard input is read here too, through /dev/stdin.
import { parentPort, workerData } from 'node:worker_threads';
import { ingestCapture, type FileHash, type IngestOptions, type IngestOutcome, type Progress } from './ingest.js';
import { openStore, StoreError } from './store/db.js';

export interface IngestJob {
  dbFile: string;
  inputs: string[];
  options: Omit<IngestOptions, 'onProgress' | 'now' | 'hashBeside'>;
  wantsProgress: boolean;
}

/** The main thread hashes regular files for the worker, on the core the worker does not use. */
export type ToWorker =
  | { type: 'hashed'; id: number; hash: FileHash }
  | { type: 'hashed'; id: number; error: string };

export type FromWorker =
  | { type: 'hash'; id: number; input: string }
  | { type: 'progress'; progress: Progress }
  | { type: 'outcome'; outcome: IngestOutcome }
  | { type: 'done' }
  | { type: 'failed'; message: string; isInputError: boolean };

const port = parentPort!;
const job = workerData as IngestJob;

const hashes = new Map<number, { resolve: (h: FileHash) => void; reject: (e: Error) => void }>();
let nextHash = 0;
port.on('message', (m: ToWorker) => {
  const waiting = hashes.get(m.id);
  hashes.delete(m.id);
  if ('error' in m) waiting?.reject(new Error(m.error)); else waiting?.resolve(m.hash);
});

/** Asked when an ingest starts on a regular file; awaited once it has read the file. */
function hashBeside(input: string): Promise<FileHash> {
  return new Promise((resolve, reject) => {
    const id = nextHash++;
    hashes.set(id, { resolve, reject });
    port.postMessage({ type: 'hash', id, input } satisfies FromWorker);
  });
}

async function run(): Promise<void> {
  let db;
  try {
    db = openStore(job.dbFile);
  } catch (err) {
    port.postMessage({ type: 'failed', message: (err as Error).message, isInputError: err instanceof StoreError } satisfies FromWorker);
    // The open port (its 'message' listener) keeps the worker, and so the process, alive.
    port.close();
    return;
  }
  try {
    for (const input of job.inputs) {
      // '-' is read through /dev/stdin by the ingest itself (no stream handed over).
      const outcome = await ingestCapture(db, input, null, {
        ...job.options,
        hashBeside,
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
