// The main thread's side of ingest-worker.ts: starts the worker with a heap limit sized from the
// flags that bound the ingest's live data, hashes regular files for it (on the other core), and
// relays progress and outcomes.
import { Worker } from 'node:worker_threads';
import type { FromWorker, IngestJob, ToWorker } from './ingest-worker.js';
import { hashFile, type IngestOutcome, type Progress } from './ingest.js';
import { DEFAULT_TRACKER_OPTIONS } from './track/tracker.js';


export class IngestFailure extends Error {
  constructor(message: string, readonly isInputError: boolean) {
    super(message);
  }
}

/** Old-generation heap for the ingest: 160 MiB at the defaults, more when the bounds are raised. */
export function heapLimitMb(maxFlows?: number, batchRows?: number): number {
  const extraFlows = Math.max(0, (maxFlows ?? DEFAULT_TRACKER_OPTIONS.maxFlows) - DEFAULT_TRACKER_OPTIONS.maxFlows);
  const extraRows = Math.max(0, (batchRows ?? 50_000) - 50_000);
  // Per flow slot ~300 B of state, per aggregated row ~800 B (key, row, map entry), with slack.
  return 160 + Math.ceil((extraFlows * 300 + extraRows * 800) / 1048576);
}

// The young generation is kept small: the ingest's short-lived objects die young either way. On
// the 1 GiB synthetic capture 4 and 8 MiB measured the same time and peak RSS within noise, while
// 16 MiB cost ~20 MiB more RSS (docs/benchmarks.md).
const YOUNG_GENERATION_MB = 4;

export function runIngest(job: IngestJob, on: { progress?: (p: Progress) => void; outcome: (o: IngestOutcome) => void }): Promise<void> {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const worker = new Worker(new URL(`./ingest-worker${ext}`, import.meta.url), {
    workerData: job,
    resourceLimits: { maxOldGenerationSizeMb: heapLimitMb(job.options.maxFlows, job.options.batchRows), maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
  });
  // The worker's requests to hash a file, one at a time, in the order asked.
  let hashing: Promise<void> = Promise.resolve();
  const hash = (id: number, input: string) => {
    hashing = hashing.then(() => hashFile(input)).then(
      (h) => worker.postMessage({ type: 'hashed', id, hash: h } satisfies ToWorker),
      (err: Error) => worker.postMessage({ type: 'hashed', id, error: err.message } satisfies ToWorker),
    );
  };
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      if (err) reject(err); else resolve();
    };
    worker.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'hash': hash(m.id, m.input); break;
        case 'progress': on.progress?.(m.progress); break;
        case 'outcome': on.outcome(m.outcome); break;
        case 'done': finish(); break;
        case 'failed': finish(new IngestFailure(m.message, m.isInputError)); break;
      }
    });
    worker.on('error', (err) => {
      const oom = (err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      finish(new IngestFailure(oom ? `the ingest ran out of its ${heapLimitMb(job.options.maxFlows, job.options.batchRows)} MiB heap; lower --max-flows or --batch-rows` : err.message, false));
    });
    worker.on('exit', (code) => finish(code === 0 ? undefined : new IngestFailure(`the ingest stopped unexpectedly (exit ${code})`, false)));
  });
}
