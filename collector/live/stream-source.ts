// A Source over a stream that may stay silent for a long time (tcpdump's stdout on a quiet
// interface): read() hands over whatever arrived, or TICK when nothing came within `tickMs`, so
// the live ingest can look at its clock and flush without any per-packet timer.
import type { Readable } from 'node:stream';
import { TICK, type Source, type Window } from '../ingest.js';

export function tickingSource(name: string, stream: Readable, tickMs: number): Source {
  let isEnded = false;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  stream.on('readable', () => wake?.());
  stream.on('end', () => { isEnded = true; wake?.(); });
  stream.on('error', (err) => { failure = err; isEnded = true; wake?.(); });
  const wait = () => new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => { wake = null; resolve(false); }, tickMs);
    wake = () => { clearTimeout(timer); wake = null; resolve(true); };
  });
  return {
    name,
    totalBytes: null,
    async read(w: Window) {
      for (;;) {
        const chunk = stream.read() as Buffer | null;
        if (chunk !== null) {
          w.reserve(chunk.length);
          chunk.copy(w.buf, w.end);
          w.end += chunk.length;
          return chunk.length;
        }
        if (failure !== null) throw failure;
        if (isEnded) return 0;
        if (!(await wait())) return TICK;
      }
    },
    close() { stream.destroy(); },
  };
}
