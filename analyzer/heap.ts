// How fast V8 may grow the heap during an analysis. Between full collections V8 lets the old
// generation grow to up to four times what the last one left alive, more when it sized the heap
// from a large machine (24 GiB: a 4 GB limit). An analysis allocates fast and keeps little: on
// the 5,000-workload benchmark store at most 162 MB is alive, yet the heap reached 438 MB and the
// process 450-530 MiB, V8's growth rather than the data (docs/benchmarks.md, "The analyzer
// suite"). Capped at 1.5 times, the peak is 340-360 MiB for 10-15% more CPU in the extra
// collections. A growth factor, unlike a heap limit, cannot turn a larger store into an
// out-of-memory crash. The flag is read at every collection, so setting it at run time works;
// it is process-wide, so only the commands that analyse set it (trustmap.ts), not the collector,
// whose ingest worker has its own bounded heap.
import { setFlagsFromString } from 'node:v8';

export const ANALYSIS_HEAP_GROWING_PERCENT = 50;

export function moderateHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${ANALYSIS_HEAP_GROWING_PERCENT}`);
}
