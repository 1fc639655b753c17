// The main thread's side of the live worker: starts it with the same heap bound as a file
// ingest, relays status and the outcome, and turns SIGINT/SIGTERM into a clean stop (tcpdump
// stopped, final flush) instead of an abrupt exit.
import { Worker } from 'node:worker_threads';
import type { LiveOutcome, LiveStatus } from '../ingest.js';
import { heapLimitMb, IngestFailure } from '../ingest-runner.js';
import type { FromLiveWorker, LiveJob, ToLiveWorker } from './worker.js';

export interface LiveHandlers {
  listening?: (pid: number | null) => void;
  status?: (s: LiveStatus) => void;
  /** A stop signal arrived; the final flush follows. */
  stopping?: (signal: NodeJS.Signals) => void;
}

export function runLive(job: LiveJob, on: LiveHandlers): Promise<LiveOutcome> {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const limit = heapLimitMb(job.options.maxFlows, job.options.batchRows);
  const worker = new Worker(new URL(`./worker${ext}`, import.meta.url), {
    workerData: job,
    resourceLimits: { maxOldGenerationSizeMb: limit, maxYoungGenerationSizeMb: 8 },
  });
  let isStopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (isStopping) return;
    isStopping = true;
    on.stopping?.(signal);
    worker.postMessage({ type: 'stop' } satisfies ToLiveWorker);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return new Promise<LiveOutcome>((resolve, reject) => {
    let settled = false;
    const finish = (outcome: LiveOutcome | null, err?: Error) => {
      if (settled) return;
      settled = true;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (outcome !== null) resolve(outcome); else reject(err);
    };
    worker.on('message', (m: FromLiveWorker) => {
      switch (m.type) {
        case 'listening': on.listening?.(m.pid); break;
        case 'status': on.status?.(m.status); break;
        case 'outcome': finish(m.outcome); break;
        case 'failed': finish(null, new IngestFailure(m.message, m.isInputError)); break;
      }
    });
    worker.on('error', (err) => {
      const oom = (err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      finish(null, new IngestFailure(oom ? `the live ingest ran out of its ${limit} MiB heap; lower --max-flows` : err.message, false));
    });
    worker.on('exit', (code) => finish(null, new IngestFailure(`the live ingest stopped unexpectedly (exit ${code})`, false)));
  });
}
