// The main thread's side of ingest-worker.ts: starts the worker with a heap limit sized from the
// flags that bound the ingest's live data, forwards standard input with flow control, and relays
// progress and outcomes.
import { Worker } from 'node:worker_threads';
import type { Readable } from 'node:stream';
import type { FromWorker, IngestJob, ToWorker } from './ingest-worker.js';
import type { IngestOutcome, Progress } from './ingest.js';
import { DEFAULT_TRACKER_OPTIONS } from './track/tracker.js';

const MAX_UNACKED_CHUNKS = 4;

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

export function runIngest(job: IngestJob, stdin: Readable, on: { progress?: (p: Progress) => void; outcome: (o: IngestOutcome) => void }): Promise<void> {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const worker = new Worker(new URL(`./ingest-worker${ext}`, import.meta.url), {
    workerData: job,
    resourceLimits: { maxOldGenerationSizeMb: heapLimitMb(job.options.maxFlows, job.options.batchRows), maxYoungGenerationSizeMb: 8 },
  });
  return new Promise((resolve, reject) => {
    let unacked = 0;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      stdin.removeAllListeners('data');
      stdin.pause();
      if (err) reject(err); else resolve();
    };
    if (job.inputs.includes('-')) {
      stdin.on('data', (chunk: Buffer) => {
        worker.postMessage({ type: 'chunk', bytes: chunk } satisfies ToWorker);
        if (++unacked >= MAX_UNACKED_CHUNKS) stdin.pause();
      });
      stdin.once('end', () => worker.postMessage({ type: 'end' } satisfies ToWorker));
    }
    worker.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'ack':
          if (--unacked < MAX_UNACKED_CHUNKS && !settled) stdin.resume();
          break;
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
